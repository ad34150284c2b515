"""The master grammar's cell roles (vaecourse.masters) are nbgrader's own, cell for cell.

masters.py reads them from the metadata so that it needs no nbgrader at run time; this
holds them to nbgrader.utils on every cell of every master and student notebook.
"""
from pathlib import Path

import nbformat
import pytest
from nbgrader import utils

from vaecourse import masters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("solutions/*.ipynb"), *ROOT.glob("course/*.ipynb")])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cell_roles_agree_with_nbgrader(path):
    cells = nbformat.read(path, as_version=4).cells
    roles = {"answer": 0, "test": 0, "course": 0}
    for cell in cells:
        md = "nbgrader" in cell.metadata
        assert masters.is_answer(cell) == bool(md and utils.is_solution(cell))
        assert masters.is_test(cell) == bool(cell.cell_type == "code" and md and utils.is_grade(cell)
                                             and not utils.is_solution(cell))
        assert masters.is_course_cell(cell) == bool(cell.cell_type == "code" and md and utils.is_locked(cell)
                                                    and not utils.is_grade(cell))
        roles["answer"] += masters.is_answer(cell)
        roles["test"] += masters.is_test(cell)
        roles["course"] += masters.is_course_cell(cell)
    assert roles["answer"] and roles["test"], roles  # the roles a master has are exercised


def test_a_locked_helper_cell_is_a_course_cell_as_nbgrader_says():
    """Locked helper cells appear in nbgrader's generated notebooks (the masters lock none)."""
    cell = nbformat.v4.new_code_cell("import torch", metadata={"nbgrader": {"locked": True, "grade": False,
                                                                           "solution": False, "grade_id": "h"}})
    assert masters.is_course_cell(cell) and utils.is_locked(cell) and not utils.is_grade(cell)
    cell.metadata["nbgrader"]["grade"] = True
    assert not masters.is_course_cell(cell) and masters.is_test(cell) and utils.is_grade(cell)
