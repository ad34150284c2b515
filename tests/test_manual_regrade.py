"""Hand grades of written answers across a regrade, on real nbgrader gradebooks (no grading run).

`merge` writes a job's scores into the course gradebook; a written answer graded by hand keeps
its score and comment when its text is unchanged, loses them (flagged "to be graded", the old
score named in the CSV's reason) when it changed. The whole round with formgrader and the
grading command is in test_instructor_term.py.
"""
import shutil
from pathlib import Path

import nbformat
import pytest

from vaecourse.grading.merge import merge, unchanged_answers, write_template
from vaecourse.grading.outcome import GRADED, Outcome
from vaecourse.grading.report import row_of_test
from vaecourse.nbg.gradebook import open_gradebook

pytestmark = pytest.mark.slow  # nbgrader gradebooks (each new one runs alembic)

A, WRITTEN, TEST = "01_mnist", "q_written", "t_check"


def autograded(path: Path, answer: str) -> Path:
    """A notebook with one written answer (nbgrader's manually graded markdown answer) and a test cell."""
    nb = nbformat.v4.new_notebook()
    written = nbformat.v4.new_markdown_cell(answer)
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": WRITTEN, "points": 2.0,
                                    "locked": False, "schema_version": 3, "task": False}
    test = nbformat.v4.new_code_cell("assert True")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": TEST, "points": 3.0,
                                 "locked": True, "schema_version": 3, "task": False}
    nb.cells = [written, test]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def gradebooks(tmp_path_factory) -> Path:
    """A course gradebook where carol's written answer got 1.5 and a comment in formgrader, and her test
    cell's 3 was overridden to 2 by hand; a job gradebook with the same submission autograded again.
    Made once (a new gradebook runs alembic): each test works on copies."""
    tmp_path = tmp_path_factory.mktemp("gradebooks")
    course_db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with open_gradebook(course_db) as gb:
        gb.update_or_create_assignment(A)
        gb.update_or_create_notebook(A, A)
        gb.update_or_create_grade_cell(WRITTEN, A, A, max_score=2.0, cell_type="markdown")
        gb.update_or_create_solution_cell(WRITTEN, A, A)
        gb.update_or_create_grade_cell(TEST, A, A, max_score=3.0, cell_type="code")
        gb.add_student("carol")
        gb.add_submission(A, "carol")
    job_db = tmp_path / "job.db"
    write_template(course_db, job_db, [A])
    with open_gradebook(f"sqlite:///{job_db}") as jgb:
        jgb.add_student("carol")
        jgb.add_submission(A, "carol")
        jgb.find_grade(TEST, A, A, "carol").auto_score = 3.0
        jgb.db.commit()
    merge(course_db, Outcome("carol", A, GRADED), job_db)  # the first autograde
    with open_gradebook(course_db) as gb:  # what formgrader's PUTs do
        written, test = gb.find_grade(WRITTEN, A, A, "carol"), gb.find_grade(TEST, A, A, "carol")
        assert written.needs_manual_grade and written.auto_score is None
        written.manual_score, written.needs_manual_grade = 1.5, False
        test.manual_score, test.needs_manual_grade = 2.0, False
        gb.find_comment(WRITTEN, A, A, "carol").manual_comment = "good"
        gb.db.commit()
    return tmp_path


@pytest.fixture()
def graded_by_hand(gradebooks, tmp_path) -> tuple[str, Path]:
    for name in ("gradebook.db", "job.db"):
        shutil.copyfile(gradebooks / name, tmp_path / name)
    return f"sqlite:///{tmp_path / 'gradebook.db'}", tmp_path / "job.db"


def state(course_db: str) -> dict:
    with open_gradebook(course_db) as gb:
        written, test = gb.find_grade(WRITTEN, A, A, "carol"), gb.find_grade(TEST, A, A, "carol")
        return {"written": (written.manual_score, written.needs_manual_grade),
                "comment": gb.find_comment(WRITTEN, A, A, "carol").manual_comment,
                "test": (test.auto_score, test.manual_score, test.needs_manual_grade)}


def test_unchanged_answers_compares_the_written_answers_text(tmp_path):
    before = autograded(tmp_path / "before.ipynb", "Pixels are nearly binary.")
    assert unchanged_answers(before, autograded(tmp_path / "same.ipynb", "Pixels are nearly binary.")) == {WRITTEN}
    assert unchanged_answers(before, autograded(tmp_path / "new.ipynb", "Pixels are nearly binary!")) == set()
    assert unchanged_answers(tmp_path / "missing.ipynb", before) == set()  # unknown counts as changed


def test_a_regrade_of_an_unchanged_answer_keeps_its_hand_grade_unflagged(graded_by_hand):
    course_db, job_db = graded_by_hand
    outcome = Outcome("carol", A, GRADED)
    merge(course_db, outcome, job_db, {WRITTEN})
    assert state(course_db) == {"written": (1.5, False), "comment": "good",
                                "test": (3.0, 2.0, True)}  # a test's hand override: nbgrader's rule, flagged
    assert outcome.manual_notes == {}


def test_a_regrade_of_a_changed_answer_clears_its_hand_grade_and_says_so(graded_by_hand):
    course_db, job_db = graded_by_hand
    outcome = Outcome("carol", A, GRADED)
    merge(course_db, outcome, job_db, set())
    assert state(course_db)["written"] == (None, True) and state(course_db)["comment"] is None
    with open_gradebook(course_db) as gb:
        grade = gb.find_grade(WRITTEN, A, A, "carol")
        row = row_of_test("carol", A, grade.cell, grade, outcome)
    assert (row.score, row.status) == (None, "needs manual grading"), row
    assert row.reason == ("the answer changed since it was graded by hand (1.5 points then, cleared): "
                          "grade it again in formgrader"), row.reason
    merge(course_db, Outcome("carol", A, GRADED), job_db, {WRITTEN})  # graded again unchanged: still to grade
    assert state(course_db)["written"] == (None, True)


def test_a_grade_flagged_before_stays_as_it_is(graded_by_hand):
    """Flagged with a hand score (nbgrader's own autograde, or a run that could not grade): nobody has
    regraded it since, so what text it was given for is unknown; it is neither cleared nor unflagged."""
    course_db, job_db = graded_by_hand
    with open_gradebook(course_db) as gb:
        gb.find_grade(WRITTEN, A, A, "carol").needs_manual_grade = True
        gb.db.commit()
    for unchanged in ({WRITTEN}, set()):
        merge(course_db, Outcome("carol", A, GRADED), job_db, unchanged)
        assert state(course_db)["written"] == (1.5, True) and state(course_db)["comment"] == "good"
