"""Feedback pages made again from the course gradebook, after grading (nbgrader generate_feedback with
the course's feedback preprocessors, vaecourse/nbg/config.py; a notebook that could not be graded keeps
its own page, outcome.py's).

- regenerate_feedback: every graded notebook of some assignments (the grading command's `feedback`,
  after manual grading);
- refresh_hand_graded_feedback: the notebooks a grading just graded that hold a hand grade (the end
  of `autograde`).
"""
from pathlib import Path

from vaecourse.grading import classroom
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.outcome import GRADED, NOT_GRADED, read_status, write_not_graded_page
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import AUTOGRADED, FEEDBACK


def regenerate_feedback(course: Path, db_url: str, assignments: list[str]) -> None:
    """nbgrader generate_feedback (vaecourse/nbg/config.py: no solutions, rubrics or verdict scores shown) for every
    graded notebook; not-graded pages kept."""
    folder = CourseFolder(course)
    for assignment in assignments:
        if any(folder.folder(AUTOGRADED).glob(f"*/{assignment}/{assignment}.ipynb")):
            # nbgrader fails on an assignment nobody's notebook was autograded in (one released, not due yet)
            classroom.run_in_course(["generate_feedback", assignment, "--force"], course, db_url)
        for student in classroom.students_to_grade(course, db_url):
            outcome = read_status(course, student, assignment)
            if outcome and outcome.status == NOT_GRADED:
                write_not_graded_page(course, outcome)
        print(f"feedback for {assignment}: {folder.folder(FEEDBACK)}/<student>/{assignment}/")


def refresh_hand_graded_feedback(course: Path, db_url: str, outcomes: list) -> int:
    """Make again, from the course gradebook, the feedback page of every notebook just graded that
    holds a hand grade; return how many.

    A grading job makes its page from its own gradebook, which has no hand grades, so the page of a
    written answer whose hand grade the merge kept (an unchanged answer, vaecourse.grading.merge)
    would say "to be graded". One nbgrader generate_feedback per such notebook: regrades with hand
    grades are few, and the other students' pages stay as they are.
    """
    regraded = [o for o in outcomes if o.status == GRADED and not o.kept]
    with open_gradebook(db_url) as gb:
        hand_graded = [(o.assignment, o.student) for o in regraded
                       if any(grade.manual_score is not None for grade in
                              gb.find_submission_notebook(o.assignment, o.assignment, o.student).grades)]
    for assignment, student in hand_graded:
        classroom.run_in_course(["generate_feedback", assignment, "--student", student, "--force"], course, db_url)
    return len(hand_graded)
