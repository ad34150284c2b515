"""Gradebooks of a grading run: a job's private template, and a job's scores merged into the course's.

Each job grades into its own sqlite gradebook made from `write_template` (the
assignments' definitions copied from the course's gradebook). `merge` then writes the
job's scores into the course gradebook as nbgrader's SaveAutoGrades would, or 0 with the
reason as the comment when the notebook could not be graded.
"""
from pathlib import Path

from vaecourse.grading.outcome import GRADED, Outcome
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


def merge(course_db: str, outcome: Outcome, job_db: Path | None) -> None:
    """Write one job's scores into the course gradebook, as nbgrader's SaveAutoGrades would."""
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
            for grade in notebook.grades:
                if outcome.status == GRADED:
                    grade.auto_score = job_grades.get((notebook.name, grade.name))
                else:
                    grade.auto_score = 0.0
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                comment.auto_comment = job_comments.get((notebook.name, comment.name)) \
                    if outcome.status == GRADED else f"Could not grade: {outcome.reason}"
        gb.db.commit()


