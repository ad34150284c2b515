"""Real nbgrader for tests: build submissions from the masters and autograde them.

A submission is the generated student notebook with its solution cells filled in, the way
a student would: from the master's solution (markers removed) or from a replacement
source (a catalogued mistake, or another correct implementation). Grading runs real
`nbgrader generate_assignment` and `nbgrader autograde` with a real sqlite gradebook
and real kernels, in a temporary course folder, with the offline MNIST set.
"""
import copy
import html
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from vaecourse.bundling import bundle_master
from vaecourse.masters import ROOT, grade_id, is_answer, strip_markers, student_notebook
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.config import config_text
from vaecourse.nbg.layout import write_course_source
from vaecourse.nbg.run import run_nbgrader, tool_env
from vaecourse.verdicts.core import Outputs
from vaecourse.verdicts.record import CellResult


def load_master(name: str):
    return nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)


def load_student(name: str, lang: str = "en"):
    """course/NN_name.ipynb, or course/<lang>/NN_name.ipynb (a translated edition)."""
    return nbformat.read(student_notebook(name, lang), as_version=4)


def solution_sources(master) -> dict[str, str]:
    """grade_id -> the master's solution code with the BEGIN/END SOLUTION lines removed."""
    return {
        grade_id(cell): strip_markers(cell.source)
        for cell in master.cells
        if is_answer(cell) and cell.cell_type == "code"
    }


def filled_student(name: str, replace: dict[str, str] | None = None, edit=None, lang: str = "en"):
    """The student notebook of `name` (in `lang`) with every solution cell filled in.

    replace maps a solution grade_id to the source a student wrote instead of the
    master's solution; it may also hold `"old text" -> "new text"` edits via `edit`,
    a function (grade_id, source) -> source applied after the replacement.
    """
    student = copy.deepcopy(load_student(name, lang))
    sources = solution_sources(load_master(name))
    for key in replace or {}:
        if key not in sources:
            raise KeyError(f"{name} has no solution cell {key!r} (has {sorted(sources)})")
    for cell in student.cells:
        gid = grade_id(cell)
        if gid in sources and cell.cell_type == "code":
            source = (replace or {}).get(gid, sources[gid])
            cell.source = edit(gid, source) if edit else source
    return student


@dataclass
class CellScore:
    score: float
    max_score: float


@dataclass
class Graded:
    """One student's autograded notebook: scores, error messages and grader-side parts by grade_id."""
    scores: dict
    errors: dict  # grade_id -> "ExceptionName: message" of the test cell, if it failed
    parts: dict = None  # grade_id -> [{"name", "points", "earned", "message"}] of its verdict (vaecourse.verdicts)

    def verdict_messages(self, gid: str) -> str:
        """The messages of the parts of test `gid` that lost points, one per line."""
        return "\n".join(p["message"] for p in (self.parts or {}).get(gid, []) if p["earned"] < p["points"])

    def total(self) -> float:
        return sum(s.score for s in self.scores.values())

    def max_total(self) -> float:
        return sum(s.max_score for s in self.scores.values())

    def lost(self) -> list[str]:
        """grade_ids of the test cells that lost points."""
        return sorted(gid for gid, s in self.scores.items() if s.score < s.max_score)


def probe_here(verdict, inputs: dict, namespace: dict) -> Outputs:
    """A verdict's probe run in `namespace` (the notebook's globals) exactly as it runs in the student's
    kernel, in this process: what it would display is collected, then read as the grader reads it."""
    from unittest import mock

    from vaecourse.verdicts.core import probe_source, read_outputs

    shown = []
    with mock.patch("IPython.display.display", lambda data, raw=False: shown.append(data)):
        exec(compile(probe_source(verdict, inputs), "<grader probe>", "exec"), namespace)  # noqa: S102 (the course's probe)
    return read_outputs([{"output_type": "display_data", "data": data} for data in shown])


def secret_lines(notebook: str, visible_text: str = "", min_length: int = 20) -> set[str]:
    """Lines no student may see (spaces collapsed): the grader-side probes and course helpers of the
    notebook's verdicts (a master holds no hidden-test region: masters.check_no_hidden_tests); a line
    the student's own notebook holds (visible_text) does not count."""
    from vaecourse.verdicts import verdicts_for

    lines = {" ".join(line.split()) for verdict in verdicts_for(notebook).values()
             for line in (verdict.probe + verdict.helpers).splitlines()}
    return {line for line in lines if len(line) >= min_length and line not in visible_text}


def page_text(page_html: str) -> str:
    """The text a reader sees in an HTML page: tags removed, entities decoded, spaces collapsed."""
    page_html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page_html)
    text = html.unescape(re.sub(r"<[^>]+>", "", page_html))
    return " ".join(text.split())


def errors_and_parts(path: Path) -> tuple[dict[str, str], dict[str, list]]:
    """(error message by cell, verdict parts by grade_id) of an autograded notebook (none if it is missing)."""
    errors, parts = {}, {}
    if not path.is_file():
        return errors, parts
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[grade_id(cell) or cell.get("id", "?")] = f"{output.ename}: {output.evalue}"
            if result := CellResult.from_output(output):
                parts[grade_id(cell)] = [asdict(part) for part in result.parts]
    return errors, parts


PLAIN_NBGRADER = """
# plain nbgrader: every test judged in the student's kernel, no grader-side verdicts (a control for tests)
from nbgrader.converters.autograde import Autograde
c.Autograde.autograde_preprocessors = Autograde.class_traits()["autograde_preprocessors"].default()
"""


def autograde(name: str, submissions: dict[str, "nbformat.NotebookNode"], workdir: Path,
              data_dir: Path, extra_config: str = "", lang: str = "en",
              grading: bool = False) -> tuple[dict[str, Graded], str]:
    """Autograde one notebook for many students with real nbgrader.

    Returns (student -> Graded, nbgrader's log). A student missing from the result had
    a notebook nbgrader could not grade; callers assert on that. extra_config: lines added to
    the nbgrader_config.py (e.g. PLAIN_NBGRADER). lang: the edition released (as `grade release --lang`).
    grading: the grading command's configuration (`configure(c, grading=True)`: output caps, sanitising,
    the feedback page's preprocessors), so that `generate_feedback` can follow in `workdir`.
    """
    env = tool_env({"VAE_COURSE_DATA": str(data_dir)})
    masters = {name: bundle_master(load_master(name), name, {}, lang)}
    # VAE_COURSE_TEST_SANDBOX=1: the kernels run in the grading sandbox, as the grading command runs them
    write_course_source(workdir, masters,
                        config_text(grading=grading, sandbox=bool(os.environ.get("VAE_COURSE_TEST_SANDBOX")))
                        + extra_config)
    result = run_nbgrader(["generate_assignment", name, "--force"], workdir, env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for student, nb in submissions.items():
        folder = workdir / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    result = run_nbgrader(["autograde", name, "--force", "--create"], workdir, env, check=False)
    log = result.stdout + result.stderr
    graded: dict[str, Graded] = {}
    with open_gradebook(f"sqlite:///{workdir / 'gradebook.db'}", env) as gb:
        for student in submissions:
            try:
                submission = gb.find_submission_notebook(name, name, student)
            except Exception:
                continue
            scores = {grade.name: CellScore(grade.score, grade.max_score)
                      for grade in submission.grades if grade.cell.cell_type == "code"}
            errors, parts = errors_and_parts(workdir / "autograded" / student / name / f"{name}.ipynb")
            graded[student] = Graded(scores, errors, parts)
    return graded, log


def graded_outputs(course: Path) -> dict[str, str]:
    """What grading wrote into a course folder, comparable across runs: every autograded notebook
    without the execution times Jupyter stamps into each cell, and every feedback page."""
    files = {}
    for kind in ("autograded", "feedback"):
        for path in sorted((Path(course) / kind).rglob("*")):
            if path.suffix == ".ipynb":
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    cell.get("metadata", {}).pop("execution", None)
                files[str(path.relative_to(course))] = nbformat.writes(nb)
            elif path.is_file():
                files[str(path.relative_to(course))] = path.read_text()
    return files


def grading_env(data_dir: Path) -> dict:
    """The environment of a `python -m vaecourse.grade` run in a test: the offline data, this
    interpreter's tools first on PATH, and no NBGRADER_EXECUTION inherited from a surrounding run."""
    env = tool_env({"VAE_COURSE_DATA": str(data_dir)})
    env.pop("NBGRADER_EXECUTION", None)
    return env
