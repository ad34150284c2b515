"""Real nbgrader for tests: build submissions from the masters and autograde them.

A submission is the generated student notebook with its solution cells filled in, the way
a student would: from the master's solution (markers removed) or from a replacement
source (a catalogued mistake, or another correct implementation). Grading runs real
`nbgrader generate_assignment` and `nbgrader autograde` with a real sqlite gradebook
and real kernels, in a temporary course folder, with the offline MNIST set.
"""
import copy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaecourse import build

ROOT = build.ROOT


def load_master(name: str):
    return nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)


def load_student(name: str):
    return nbformat.read(ROOT / "course" / f"{name}.ipynb", as_version=4)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_sources(master) -> dict[str, str]:
    """grade_id -> the master's solution code with the BEGIN/END SOLUTION lines removed."""
    return {
        grade_id(cell): build.strip_solution_markers(cell.source)
        for cell in master.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.cell_type == "code"
    }


def filled_student(name: str, replace: dict[str, str] | None = None, edit=None):
    """The student notebook of `name` with every solution cell filled in.

    replace maps a solution grade_id to the source a student wrote instead of the
    master's solution; it may also hold `"old text" -> "new text"` edits via `edit`,
    a function (grade_id, source) -> source applied after the replacement.
    """
    student = copy.deepcopy(load_student(name))
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


def mutate(name: str, grade_id_: str, old: str, new: str):
    """The filled student notebook with one textual change in one solution cell.

    Fails loudly if `old` is not in that solution, so a catalogue entry cannot silently
    test nothing after the master changes.
    """
    source = solution_sources(load_master(name))[grade_id_]
    if old not in source:
        raise AssertionError(f"mutation of {name}:{grade_id_} expects {old!r} in the master's solution:\n{source}")
    return filled_student(name, {grade_id_: source.replace(old, new, 1)})


@dataclass
class CellScore:
    score: float
    max_score: float


@dataclass
class Graded:
    """One student's autograded notebook: scores and error messages by grade_id."""
    scores: dict
    errors: dict  # grade_id -> "ExceptionName: message" of the test cell, if it failed

    def total(self) -> float:
        return sum(s.score for s in self.scores.values())

    def max_total(self) -> float:
        return sum(s.max_score for s in self.scores.values())

    def lost(self) -> list[str]:
        """grade_ids of the test cells that lost points."""
        return sorted(gid for gid, s in self.scores.items() if s.score < s.max_score)


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def _errors(path: Path) -> dict[str, str]:
    errors = {}
    if not path.is_file():
        return errors
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[grade_id(cell) or cell.get("id", "?")] = f"{output.ename}: {output.evalue}"
    return errors


def autograde(name: str, submissions: dict[str, "nbformat.NotebookNode"], workdir: Path,
              data_dir: Path) -> tuple[dict[str, Graded], str]:
    """Autograde one notebook for many students with real nbgrader.

    Returns (student -> Graded, nbgrader's log). A student missing from the result had
    a notebook nbgrader could not grade; callers assert on that.
    """
    from nbgrader.api import Gradebook

    env = build.tool_env({"VAE_COURSE_DATA": str(data_dir)})
    masters = {name: build.bundle_master(load_master(name), name, {})}
    build.write_course_source(workdir, masters)
    result = _run(["generate_assignment", name, "--force"], workdir, env)
    assert result.returncode == 0, result.stdout + result.stderr
    for student, nb in submissions.items():
        folder = workdir / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    result = _run(["autograde", name, "--force", "--create"], workdir, env)
    log = result.stdout + result.stderr
    graded: dict[str, Graded] = {}
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gb:
        for student in submissions:
            try:
                submission = gb.find_submission_notebook(name, name, student)
            except Exception:
                continue
            scores = {grade.name: CellScore(grade.score, grade.max_score)
                      for grade in submission.grades if grade.cell.cell_type == "code"}
            errors = _errors(workdir / "autograded" / student / name / f"{name}.ipynb")
            graded[student] = Graded(scores, errors)
    return graded, log
