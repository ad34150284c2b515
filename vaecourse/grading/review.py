"""Review flags: submissions whose code touches grading's internals, or whose grading saw a timeout or an
error the grader did not put down to the machine (the status record's notes, vaecourse.grading.faults), for
the instructor to look at.

A static scan (Python's `ast`) of every code cell a student wrote: answer cells and cells
they added, that is every code cell whose source is not a cell of the release. It names
IPython hooks and transformers, NBGRADER_EXECUTION, subprocesses, signals and kills,
imports of the course's model answers (vaecourse.reference) or grading code,
sqlite3, ctypes, assignments to attributes of torch, math or builtins, exec / eval /
compile / __import__, sys.modules, and files written at paths outside the working folder
(absolute, `..`, or computed). (Whether a visible check printed its "✓" says nothing of a
score any more: scores come from the grader-side verdicts, vaecourse/verdicts/.)

A flag is a pointer for a human, never a penalty: nothing here changes a score.
"""
import ast
import re
from pathlib import Path

import nbformat

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.outcome import GRADED, read_status
from vaecourse.masters import grade_id
from vaecourse.nbg.layout import RELEASE, SUBMITTED

HOOK_ATTRIBUTES = {"input_transformers", "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                   "set_custom_exc", "register_magic_function", "run_cell", "showtraceback"}
RISKY_MODULES = {"subprocess", "signal", "sqlite3", "ctypes", "multiprocessing", "pty", "socket"}
OS_PROCESS_CALLS = {"kill", "killpg", "fork", "forkpty", "setsid", "system", "popen", "execv", "execve", "execl",
                    "execvp", "spawnv", "spawnl", "posix_spawn", "symlink", "link"}
DYNAMIC_CODE = {"exec", "eval", "compile", "__import__"}
PATCHED_MODULES = {"torch", "math", "builtins", "__builtins__"}
WRITE_CALLS = {"makedirs", "mkdir", "rename", "replace", "remove", "unlink", "rmtree", "copyfile", "copy", "copy2",
               "copytree", "move", "write_text", "write_bytes", "symlink", "symlink_to", "truncate"}
# The course package is readable in the sandbox (the notebooks import from it), and with it the
# model answers the build exports to vaecourse.reference; the grading code is there too.
COURSE_INTERNALS = ("vaecourse.reference", "vaecourse.grading", "vaecourse.nbg")
MAGIC_LINE = re.compile(r"^\s*[%!]")


def _dotted(node) -> str:
    """'torch.nn.functional' for an attribute chain of names, '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    if isinstance(node, ast.Call):
        inner = _dotted(node.func)
        return ".".join([f"{inner}()", *reversed(parts)]) if inner else ""
    return ""


def _outside(path_node) -> str:
    """Why a path argument may lie outside the working folder, '' when it is a plain relative name."""
    if isinstance(path_node, ast.Constant) and isinstance(path_node.value, str):
        text = path_node.value
        return f"to {text[:60]!r}" if text.startswith(("/", "~")) or ".." in text.split("/") else ""
    return "to a computed path"


def _write_mode(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax+")


def _call_findings(call: ast.Call) -> list[str]:
    name = _dotted(call.func)
    last = name.rsplit(".", 1)[-1]
    found = []
    if name in DYNAMIC_CODE:
        found.append(name)
    if name in {"setattr", "delattr"} and call.args and _dotted(call.args[0]) in PATCHED_MODULES:
        found.append(f"{name} on {_dotted(call.args[0])}")
    if name.startswith("os.") and last in OS_PROCESS_CALLS:
        found.append(name)
    if name.endswith("events.register") or name.endswith("events.unregister"):
        found.append("events.register")
    if name == "open" and _write_mode(call) and call.args and _outside(call.args[0]):
        found.append(f"writes a file {_outside(call.args[0])}")
    elif last in WRITE_CALLS and (name.startswith(("os.", "shutil.")) or "Path" in name):
        target = call.args[0] if call.args else None
        if target is not None and _outside(target):
            found.append(f"{name} {_outside(target)}")
    return found


def _node_findings(node) -> list[str]:
    if isinstance(node, ast.Call):
        return _call_findings(node)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.module == "vaecourse":  # from vaecourse import reference
            names = [f"vaecourse.{a.name}" for a in node.names]
        return [f"import {n}" for n in names
                if n.split(".")[0] in RISKY_MODULES or n.startswith(COURSE_INTERNALS)]
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        return [f"assigns {_dotted(t)}" for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))
                and _dotted(t.value).split(".")[0] in PATCHED_MODULES]
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        if node.attr in HOOK_ATTRIBUTES or dotted == "sys.modules":
            return [node.attr if node.attr in HOOK_ATTRIBUTES else dotted]
    if isinstance(node, ast.Name) and node.id == "get_ipython":
        return ["get_ipython"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "NBGRADER_EXECUTION" in node.value:
        return ["NBGRADER_EXECUTION"]
    return []


def scan_source(source: str) -> list[tuple[str, int]]:
    """(what, line) for each use of grading internals in one cell's code; [] if it does not parse."""
    code = "\n".join("" if MAGIC_LINE.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        for what in _node_findings(node):
            found.append((what, getattr(node, "lineno", 0)))
    return sorted(set(found), key=lambda f: (f[1], f[0]))


def _sources(nb) -> set[str]:
    return {" ".join(c.source.split()) for c in nb.cells if c.cell_type == "code"}


def scan_submission(submitted: Path, release) -> list[str]:
    """'what (cell, line N)' for the student's own code of one submitted notebook."""
    try:
        nb = nbformat.read(submitted, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook is reported by grading, not here
        return []
    course_code = _sources(release)
    flags = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or " ".join(str(cell.get("source", "")).split()) in course_code:
            continue
        where = grade_id(cell) or f"cell {index + 1}"
        flags += [f"{what} ({where}, line {line})" for what, line in scan_source(str(cell.get("source", "")))]
    return flags


def review_lines(course: Path, rows) -> list[str]:
    """'review: <student> <notebook>: <what, where>; ...' for every flagged submission (rows: report.grade_rows)."""
    folder = CourseFolder(course)
    releases, lines = {}, []
    for r in rows:
        if r.level != "notebook":
            continue
        if r.notebook not in releases:
            path = folder.notebook(RELEASE, r.notebook)
            releases[r.notebook] = nbformat.read(path, as_version=4) if path.is_file() else nbformat.v4.new_notebook()
        outcome = read_status(course, r.student, r.notebook)
        flags = list(outcome.notes) if outcome is not None and outcome.status == GRADED else []
        flags += scan_submission(folder.notebook(SUBMITTED, r.notebook, r.student), releases[r.notebook])
        if flags:
            lines.append(f"review: {r.student} {r.notebook}: {'; '.join(flags)}")
    return lines
