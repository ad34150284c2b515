"""The master-notebook grammar, in one place: where masters live, the roles of their cells,
their BEGIN/END regions, exercise numbers, and the canonical text of a generated notebook.

- Paths: masters in solutions/ (or $VAECOURSE_SOLUTIONS, for an installed package run
  outside the repository), student notebooks in course/, reference modules in
  vaecourse/reference/, reference figures in figures/ (beside the masters' folder).
- Cell roles are nbgrader's (`nbgrader.utils.is_solution`, `is_grade`, `is_locked`), read
  from the metadata here so that the grammar needs no nbgrader at run time (the GPU check
  fills notebooks on machines without it; tests/test_master_roles.py proves they agree):
  an answer cell is a solution cell, a test cell a graded code cell that is not a
  solution, a course cell a locked code cell that is neither.
- Regions: `### BEGIN SOLUTION` / `### END SOLUTION`, matched by one boundary pattern (`BOUNDARY`);
  `### BEGIN HIDDEN TESTS` regions are refused (`check_no_hidden_tests`: the hidden tests are the
  grader's verdicts, vaecourse/verdicts/).
- Exercises: solution cell k of notebook NN is Exercise N.k; its stub is `STUB_TEMPLATE`,
  naming the def or class the solution sits in.
"""
import copy
import os
import re
from collections.abc import Callable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
STUDENT_DIR = ROOT / "course"  # the generated student notebooks (not the nbgrader course folder)
PACKAGE_DIR = ROOT / "vaecourse"
REFERENCE_DIR = PACKAGE_DIR / "reference"
README = ROOT / "README.md"
FIGURES_DIR = ROOT / "figures"  # the reference figures and their manifest (make figures)

HELPERS_TAG = "course-helpers"
HELPERS_GRADE_ID = "course_helpers"  # the grade_id the build gives the inlined helpers cell
EXPORT_TAG = "export"


class MasterError(RuntimeError):
    """A master breaks a course convention; the message says which and how to fix it."""


def solutions_dir() -> Path:
    """The masters' folder: $VAECOURSE_SOLUTIONS, else solutions/ beside the package."""
    return Path(os.environ.get("VAECOURSE_SOLUTIONS") or ROOT / "solutions")


def figures_dir(solutions: Path | None = None) -> Path:
    """The reference figures beside the masters' folder (figures/ beside solutions/ in the repository).

    Beside the masters, not the package: an installed package releasing the repository's
    masters (`grade release --solutions DIR`) finds them there too.
    """
    return Path(solutions or solutions_dir()).resolve().parent / FIGURES_DIR.name


def master_paths(solutions: Path | None = None) -> list[Path]:
    return sorted(Path(solutions or solutions_dir()).glob("[0-9][0-9]_*.ipynb"))


def read_master(name: str, solutions: Path | None = None) -> "nbformat.NotebookNode":
    return nbformat.read(Path(solutions or solutions_dir()) / f"{name}.ipynb", as_version=4)


def student_notebook(name: str, lang: str = "en") -> Path:
    """course/NN_name.ipynb, or course/<lang>/NN_name.ipynb for a translated edition."""
    return (STUDENT_DIR if lang == "en" else STUDENT_DIR / lang) / f"{name}.ipynb"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


# ---------------------------------------------------------------- cell roles

def nbgrader_md(cell) -> dict:
    md = cell.get("metadata", {}).get("nbgrader")
    return md if isinstance(md, dict) else {}


def grade_id(cell) -> str | None:
    return nbgrader_md(cell).get("grade_id")


def is_answer(cell) -> bool:
    """A solution cell (code or a written answer): nbgrader.utils.is_solution."""
    return bool(nbgrader_md(cell).get("solution"))


def is_written_answer(cell) -> bool:
    """A written question's answer: a manually graded markdown answer cell (nbgrader's is_grade and is_solution)."""
    md = nbgrader_md(cell)
    return cell.cell_type == "markdown" and bool(md.get("grade")) and bool(md.get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell: graded code that is not a solution (nbgrader.utils.is_grade, not is_solution)."""
    md = nbgrader_md(cell)
    return cell.cell_type == "code" and bool(md.get("grade")) and not md.get("solution")


def is_course_cell(cell) -> bool:
    """A locked code cell that is neither graded nor a solution (the course helpers, setup):
    nbgrader.utils.is_locked and not is_grade."""
    md = nbgrader_md(cell)
    return cell.cell_type == "code" and bool(md.get("locked")) and not md.get("grade") and not md.get("solution")


# ---------------------------------------------------------------- regions

SOLUTION = "SOLUTION"
HIDDEN_TESTS = "HIDDEN TESTS"
BOUNDARY = re.compile(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)")
BEGIN, END, INSIDE, OUTSIDE = "begin", "end", "inside", "outside"


class RegionError(RuntimeError):
    """A BEGIN inside a region of its kind, or a region without its END."""


def places(lines: list[str], kind: str, strict: bool = False) -> list[str]:
    """Where each line stands with respect to `kind` regions: BEGIN, END, INSIDE or OUTSIDE.

    strict: raise RegionError on nested or unterminated regions (otherwise a second BEGIN
    starts another region and an unterminated one runs to the end).
    """
    out, inside = [], False
    for line in lines:
        match = BOUNDARY.search(line)
        if match and match.group(2) == kind and match.group(1) == "BEGIN":
            if inside and strict:
                raise RegionError(f"encountered nested begin {kind.lower()} statements")
            inside = True
            out.append(BEGIN)
        elif match and match.group(2) == kind:
            inside = False
            out.append(END)
        else:
            out.append(INSIDE if inside else OUTSIDE)
    if inside and strict:
        raise RegionError(f"no end {kind.lower()} statement found")
    return out


def has_region(source: str, kind: str) -> bool:
    return BEGIN in places(source.split("\n"), kind)


def replace_regions(source: str, kind: str, stub: Callable[[list[str], int], str],
                    strict: bool = False) -> tuple[str, int]:
    """The source with each `kind` region replaced by one line, indented like its BEGIN line:
    stub(lines, index of the BEGIN line). Returns the new source and how many regions."""
    lines = source.split("\n")
    out, count = [], 0
    for index, (line, place) in enumerate(zip(lines, places(lines, kind, strict))):
        if place == BEGIN:
            count += 1
            out.append(line[: len(line) - len(line.lstrip())] + stub(lines, index))
        elif place == OUTSIDE:
            out.append(line)
    return "\n".join(out), count


def strip_markers(source: str, kind: str = SOLUTION) -> str:
    """The source with the BEGIN/END lines of `kind` removed and what they enclosed kept."""
    lines = source.splitlines()
    return "\n".join(line for line, place in zip(lines, places(lines, kind)) if place not in (BEGIN, END))


# ---------------------------------------------------------------- exercises

# The stub a student sees in place of a solution; {exercise} and {name} are filled per cell.
STUB_TEMPLATE = 'raise NotImplementedError("Exercise {exercise}: implement {name}")'
_DEF_RE = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")


def notebook_number(name: str) -> str:
    """'04_elbo' -> '4': the number that prefixes every exercise of a notebook."""
    match = re.match(r"(\d+)", name)
    return str(int(match.group(1))) if match else name


def enclosing_name(lines: list[str], index: int) -> str:
    """The dotted def/class name that encloses line `index` (e.g. 'Encoder.forward')."""
    target_indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = _DEF_RE.match(line)
        if match and len(match.group(1)) < target_indent:
            names.append(match.group(3))
            target_indent = len(match.group(1))
            if target_indent == 0:
                break
    return ".".join(reversed(names)) if names else "this exercise"


def exercise_stub(exercise: str, lines: list[str], index: int) -> str:
    return STUB_TEMPLATE.format(exercise=exercise, name=enclosing_name(lines, index))


def check_no_hidden_tests(nb, name: str) -> None:
    """A master holds no `### BEGIN HIDDEN TESTS` region: the hidden tests are judged in the grader
    (vaecourse/verdicts/), out of the student code's reach, and the feedback pages no longer hide such
    regions (nbg/shorterrors.py), so one left in a master would be shown to every student."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and has_region(cell.source, HIDDEN_TESTS):
            raise MasterError(
                f"{name}: code cell {index} holds a '### BEGIN HIDDEN TESTS' region. Hidden tests run in the "
                f"grader: write the test as a Verdict in vaecourse/verdicts/ (CONTRIBUTING.md, 'Grader-side "
                "verdicts') and remove the region.")


def check_exercise_numbers(nb, name: str) -> None:
    """Solution cell k of notebook NN is Exercise N.k: the markdown before it must say so."""
    number = notebook_number(name)
    count, last_heading = 0, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.findall(r"Exercise (\d+\.\d+)", cell.source)
            if found:
                last_heading = found[-1]
        elif cell.cell_type == "code" and has_region(cell.source, SOLUTION):
            count += 1
            expected = f"{number}.{count}"
            if last_heading != expected:
                raise MasterError(
                    f"{name}: solution cell {count} is Exercise {expected} (its stub will say so), "
                    f"but the markdown before it names Exercise {last_heading or '(none)'}. "
                    "Number exercises in the order of their solution cells.")


# ---------------------------------------------------------------- generated notebooks

def normalise(nb) -> str:
    """One canonical text per notebook so that rebuilds are byte-identical."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb) + "\n"
