"""A simulated class built from the masters, for the grading command's tests and benchmark.

`write_class(root, notebooks)` writes `<root>/<student>/<notebook>/<notebook>.ipynb` (the
folder layout `python -m vaecourse.grade collect --folder` reads) and returns what each
student must get. Every broken submission is made from the perfect one (the master's
solutions filled into the student notebook, tests/harness.py) with one realistic breakage
in the notebook's first exercise, so the expected scores follow from the masters.
"""
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from harness import filled_student, grade_id, load_master, load_student, solution_sources
from vaecourse.masters import is_answer, is_test

GRADED, NOT_GRADED = "graded", "could not grade"


@dataclass
class Expected:
    status: str  # GRADED or NOT_GRADED
    lost: set = field(default_factory=set)  # autograded tests that must lose points (the blank notebook: all of them)
    reason: str = ""  # words the reason of a NOT_GRADED row must contain
    note: str = ""  # words the repair notes must contain


def points_of_tests(name: str) -> dict[str, float]:
    """Autograded test grade_id -> points, in notebook order."""
    return {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in load_master(name).cells
            if is_test(c)}


def first_exercise(name: str) -> tuple[str, str, list[str]]:
    """(grade_id of the first answer cell, the function it defines, the tests before the next answer)."""
    cells = load_master(name).cells
    answers = [i for i, c in enumerate(cells) if c.cell_type == "code" and is_answer(c)]
    first, following = answers[0], (answers[1] if len(answers) > 1 else len(cells))
    tests = [grade_id(c) for c in cells[first:following] if grade_id(c) in points_of_tests(name)]
    function = re.search(r"^(?:def|class)\s+(\w+)", cells[first].source, re.M).group(1)
    return grade_id(cells[first]), function, tests


def filled(name: str, replace: dict | None = None) -> "nbformat.NotebookNode":
    """harness.filled_student with the written answers filled in too (from the master's model answer)."""
    nb = filled_student(name, replace)
    answers = {grade_id(c): c.source for c in load_master(name).cells
               if c.cell_type == "markdown" and is_answer(c)}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def _with_first(name: str, change) -> "nbformat.NotebookNode":
    gid, function, _ = first_exercise(name)
    source = build_solution(name, gid)
    return filled(name, {gid: change(source, function)})


def build_solution(name: str, gid: str) -> str:
    return solution_sources(load_master(name))[gid]


def stripped_metadata(nb) -> str:
    """As saved by an editor that keeps neither nbgrader metadata nor cell ids (nbformat 4.4)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return json.dumps(nb, indent=1)


def without_cell(nb, gid: str):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if grade_id(c) != gid]
    return nb


def reordered(nb, answer: str, test: str):
    """The test cell moved above its answer cell, and the first two markdown cells swapped."""
    nb = copy.deepcopy(nb)
    ids = [grade_id(c) for c in nb.cells]
    a, t = ids.index(answer), ids.index(test)
    cell = nb.cells.pop(t)
    nb.cells.insert(a, cell)
    md = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"][:2]
    nb.cells[md[0]], nb.cells[md[1]] = nb.cells[md[1]], nb.cells[md[0]]
    return nb


def duplicated(nb, student_nb, answer: str):
    """The answer cell copied twice: the filled one once more and an untouched stub copy after
    it (same nbgrader metadata, as copy-paste keeps it)."""
    nb = copy.deepcopy(nb)
    ids = [grade_id(c) for c in nb.cells]
    index = ids.index(answer)
    stub = copy.deepcopy(next(c for c in student_nb.cells if grade_id(c) == answer))
    copied = copy.deepcopy(nb.cells[index])
    copied.id, stub.id = f"{copied.id}-copy1", f"{stub.id}-copy2"  # Jupyter gives a pasted cell a new id
    nb.cells.insert(index + 1, copied)
    nb.cells.insert(index + 2, stub)
    return nb


def catalogue_of(name: str):
    """tests/test_mistakes_NN.py's CATALOGUE (tests/catalogue.py), or None if it has none."""
    import importlib

    try:
        module = importlib.import_module(f"test_mistakes_{name[:2]}")
    except ImportError:
        return None
    return getattr(module, "CATALOGUE", None)


def class_submissions(name: str) -> dict[str, tuple[object, Expected]]:
    """student -> (notebook, bytes or None for missing, Expected) for one notebook."""
    perfect = filled(name)
    student_nb = load_student(name)
    gid, function, first_tests = first_exercise(name)
    all_tests = set(points_of_tests(name))
    out: dict[str, tuple[object, Expected]] = {
        "perfect": (perfect, Expected(GRADED)),
        "blank": (student_nb, Expected(GRADED, lost=all_tests)),
        "infinite_loop": (_with_first(name, lambda s, f: s + f"\n\n\ndef {f}(*args, **kwargs):\n    while True:\n"
                                                          "        pass\n"), Expected(GRADED, lost=set(first_tests))),
        "loop_ignoring_interrupts": (_with_first(name, lambda s, f: s + "\nimport time\nwhile True:\n    try:\n"
                                                 "        time.sleep(1)\n    except KeyboardInterrupt:\n"
                                                 "        pass\n"), Expected(NOT_GRADED, reason="did not stop when interrupted")),
        "kernel_crash": (_with_first(name, lambda s, f: s + "\nimport os\nos._exit(1)\n"),
                         Expected(NOT_GRADED, reason="kernel died")),
        "huge_print": (_with_first(name, lambda s, f: "print('0123456789' * 5_000_000)  # 50 MB\n" + s),
                       Expected(GRADED)),
        "syntax_error": (_with_first(name, lambda s, f: s.replace("):\n", ")\n", 1)),
                         Expected(GRADED, lost=set(first_tests))),
        "invalid_json": (nbformat.writes(perfect)[: len(nbformat.writes(perfect)) * 3 // 5].encode(),
                         Expected(NOT_GRADED, reason="invalid notebook JSON")),
        "missing_notebook": (None, Expected(NOT_GRADED, reason=f"no {name}.ipynb submitted")),
        "metadata_stripped": (stripped_metadata(perfect).encode(), Expected(GRADED, note="metadata restored")),
        "test_deleted": (without_cell(perfect, first_tests[0]), Expected(GRADED, note="was deleted")),
        "stderr_warning": (_with_first(name, lambda s, f: s + f"\n\n_{f}_impl = {f}\n\n\ndef {f}(*args, **kwargs):\n"
                                                           "    import sys\n    print('UserWarning: this is slow',"
                                                           " file=sys.stderr)\n"
                                                           f"    return _{f}_impl(*args, **kwargs)\n"),
                           Expected(GRADED)),
        "reordered": (reordered(perfect, gid, first_tests[0]), Expected(GRADED, note="out of order")),
        "duplicated": (duplicated(perfect, student_nb, gid), Expected(GRADED, note="appears 3 times")),
    }
    catalogue = catalogue_of(name)
    for key in list(catalogue.mistakes)[:2] if catalogue else []:  # a few catalogued mistakes
        cell = catalogue.mistakes[key].cell
        out[f"mistake_{key}"] = (filled(name, {cell: catalogue.edited_source(key)}),
                                 Expected(GRADED, lost=set(catalogue.lost_by(key))))
    return out


def write_class(root: Path, notebooks: list[str], students: list[str] | None = None) -> dict:
    """Write the class under root; return {(student, notebook): Expected}."""
    expected = {}
    for name in notebooks:
        for student, (nb, exp) in class_submissions(name).items():
            if students and student not in students:
                continue
            folder = Path(root) / student / name
            folder.mkdir(parents=True, exist_ok=True)
            if nb is None:  # a folder without the notebook (e.g. an upload that failed)
                (folder / "README.txt").write_text("my notebook is attached\n")
            elif isinstance(nb, bytes):
                (folder / f"{name}.ipynb").write_bytes(nb)
            else:
                (folder / f"{name}.ipynb").write_text(nbformat.writes(nb))
            expected[(student, name)] = exp
    return expected


def write_complete_submissions(root: Path, notebooks: list[str], count: int) -> None:
    """`count` students, each with a perfect submission of every notebook (the benchmark's class)."""
    for name in notebooks:
        text = nbformat.writes(filled(name))
        for index in range(count):
            folder = Path(root) / f"student{index:03d}" / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.ipynb").write_text(text)


def write_roster(path: Path, students: list[str]) -> Path:
    """A roster CSV (`grade roster`) of `students` and one more, `absent`, who submits nothing."""
    Path(path).write_text("id,first_name,last_name,email\n" + "".join(
        f"{s},{s.title()},Student,{s}@example.org\n" for s in [*students, "absent"]))
    return Path(path)
