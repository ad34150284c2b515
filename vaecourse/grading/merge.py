"""Gradebooks of a grading run: a job's private template, and a job's scores merged into the course's.

Each job grades into its own sqlite gradebook made from `write_template` (the
assignments' definitions copied from the course's gradebook). `merge` then writes the
job's scores into the course gradebook as nbgrader's SaveAutoGrades would, or 0 with the
reason as the comment when the notebook could not be graded.

Hand grades of written answers outlive a regrade (`manual_after_regrade`): the grader
graded the text of the autograded notebook formgrader showed, which is the course folder's
autograded notebook until this merge replaces it, so `unchanged_answers` compares each
written answer there with the one just graded.
"""
from pathlib import Path

import nbformat

from vaecourse.grading.outcome import GRADED, Outcome
from vaecourse.masters import grade_id, is_written_answer
from vaecourse.nbg.gradebook import open_gradebook


def write_template(course_db: str, template: Path, assignments: list[str]) -> None:
    """A fresh sqlite gradebook holding the assignments' definitions, copied from the course's."""
    if template.exists():
        template.unlink()
    with open_gradebook(course_db) as src, open_gradebook(f"sqlite:///{template}") as dst:
        for name in assignments:
            assignment = src.find_assignment(name)
            dst.update_or_create_assignment(name, duedate=assignment.duedate)
            for notebook in assignment.notebooks:
                dst.update_or_create_notebook(notebook.name, name)
                for cell in notebook.grade_cells:
                    dst.update_or_create_grade_cell(cell.name, notebook.name, name, max_score=cell.max_score,
                                                    cell_type=cell.cell_type)
                for cell in notebook.solution_cells:
                    dst.update_or_create_solution_cell(cell.name, notebook.name, name)
                for cell in notebook.task_cells:
                    dst.update_or_create_task_cell(cell.name, notebook.name, name, max_score=cell.max_score,
                                                   cell_type=cell.cell_type)
                for cell in notebook.source_cells:
                    dst.update_or_create_source_cell(cell.name, notebook.name, name, source=cell.source,
                                                     checksum=cell.checksum, cell_type=cell.cell_type,
                                                     locked=cell.locked)


def written_answers(notebook: Path | None) -> dict[str, str]:
    """grade_id -> text of each written answer of a notebook ({} when there is no readable notebook)."""
    try:
        cells = nbformat.read(notebook, as_version=4).cells if notebook is not None else []
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return {}
    return {grade_id(cell): cell.source for cell in cells if is_written_answer(cell)}


def unchanged_answers(graded_before: Path | None, graded_now: Path | None) -> set[str]:
    """grade_ids of the written answers whose text is the same, character for character, in both
    autograded notebooks (none when either is missing: unknown counts as changed)."""
    before, now = written_answers(graded_before), written_answers(graded_now)
    return {gid for gid, text in now.items() if gid in before and before[gid] == text}


def flag_as_nbgrader_does(grade) -> None:
    """nbgrader's SaveAutoGrades rule: a grade with a hand score, or without an automatic one, needs a person."""
    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None


def manual_after_regrade(grade, comment, answer_unchanged: bool) -> str:
    """Set `needs_manual_grade` of a grade just autograded again; '' or a note when a hand grade was cleared.

    A written answer graded by hand (a manual score, not flagged) whose text is unchanged keeps
    its score and comment and is not flagged again. One whose text changed loses both and is
    flagged "to be graded": a score kept but flagged would count in the exports, the LMS file and
    the student's feedback page as if someone had read the new text; the note (old score) goes in
    the CSV's reason instead. Everything else is nbgrader's rule (SaveAutoGrades): a test cell's
    hand override stays but is flagged, as does a grade flagged before (nobody regraded it since).
    """
    if grade.manual_score is not None and not grade.needs_manual_grade and grade.cell.cell_type == "markdown":
        if answer_unchanged:
            return ""
        note = f"the answer changed since it was graded by hand ({grade.manual_score:g} points then, cleared)"
        grade.manual_score = None
        if comment is not None:
            comment.manual_comment = None
    else:
        note = ""
    flag_as_nbgrader_does(grade)
    return note


def merge(course_db: str, outcome: Outcome, job_db: Path | None, answers_unchanged: set[str] = frozenset()) -> None:
    """Write one job's scores into the course gradebook, as nbgrader's SaveAutoGrades would; a hand
    grade of a written answer in `answers_unchanged` stays (`manual_after_regrade`), and the note of
    one cleared goes in `outcome.manual_notes`."""
    job_grades, job_comments, timestamp = {}, {}, None
    if job_db is not None and outcome.status == GRADED:
        with open_gradebook(f"sqlite:///{job_db}") as jgb:
            submission = jgb.find_submission(outcome.assignment, outcome.student)
            timestamp = submission.timestamp
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    job_grades[(notebook.name, grade.name)] = grade.auto_score
                for comment in notebook.comments:
                    job_comments[(notebook.name, comment.name)] = comment.auto_comment
    with open_gradebook(course_db) as gb:
        gb.update_or_create_student(outcome.student)
        submission = gb.update_or_create_submission(outcome.assignment, outcome.student,
                                                    **({"timestamp": timestamp} if timestamp else {}))
        for notebook in submission.notebooks:
            comments = {comment.name: comment for comment in notebook.comments}
            for grade in notebook.grades:
                if outcome.status == GRADED:
                    grade.auto_score = job_grades.get((notebook.name, grade.name))
                    if note := manual_after_regrade(grade, comments.get(grade.name), grade.name in answers_unchanged):
                        outcome.manual_notes[grade.name] = note
                else:
                    grade.auto_score = 0.0
                    flag_as_nbgrader_does(grade)
            for comment in notebook.comments:
                comment.auto_comment = job_comments.get((notebook.name, comment.name)) \
                    if outcome.status == GRADED else f"Could not grade: {outcome.reason}"
        gb.db.commit()


