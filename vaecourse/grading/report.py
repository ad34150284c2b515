"""Grades CSV, summary table and problems list, read from the gradebook and grading's notes.

The CSV has one row per student, per notebook and per test (column `level`), so a
spreadsheet can filter any of them. Scores come from the gradebook, so manual grades given
later in formgrader appear after a new `export`. A notebook that could not be graded has
status `could not grade` and its reason on every row: never a silent 0.
"""
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.outcome import GRADED, NOT_GRADED, Outcome, read_status
from vaecourse.masters import grade_id
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import RELEASE

COLUMNS = ["student", "notebook", "level", "item", "kind", "score", "max_score", "status", "reason"]
NEEDS_MANUAL = "needs manual grading"
NOT_RUN = "not graded yet"


def fmt(value) -> str:
    return "" if value is None else f"{float(value):g}"


@dataclass
class Row:
    student: str
    notebook: str
    level: str  # "student", "notebook" or "test"
    item: str
    kind: str  # "auto", "manual" or ""
    score: float | None
    max_score: float
    status: str
    reason: str
    repairs: str = ""  # the part of a graded notebook's reason that says what repair restored (not a column)

    def values(self) -> list[str]:
        return [self.student, self.notebook, self.level, self.item, self.kind, fmt(self.score),
                fmt(self.max_score), self.status, self.reason]


def gradebook_assignments(course_db: str) -> list[str]:
    """Every assignment of the gradebook (release puts each there), in course order (NN_name sorts so)."""
    with open_gradebook(course_db) as gb:
        return sorted(assignment.name for assignment in gb.assignments)


def cell_order(course: Path, assignment: str) -> list[str]:
    path = CourseFolder(course).notebook(RELEASE, assignment)
    if not path.is_file():
        return []
    return [grade_id(c) for c in nbformat.read(path, as_version=4).cells if grade_id(c)]


def grade_rows(course: Path, course_db: str, assignments: list[str], students: list[str]) -> list[Row]:
    """Every row of the grades CSV: per test, per notebook, per student."""
    rows: list[Row] = []
    with open_gradebook(course_db) as gb:
        definitions = {assignment: graded_cells(gb, course, assignment) for assignment in assignments}
        for student in students:
            student_rows: list[Row] = []
            for assignment in assignments:
                outcome = read_status(course, student, assignment)
                for notebook, cells in definitions[assignment]:
                    grades = submitted_grades(gb, notebook, assignment, student)
                    test_rows = [row_of_test(student, notebook, cell, grades.get(cell.name), outcome) for cell in cells]
                    student_rows.append(notebook_row(student, notebook, test_rows, outcome))
                    student_rows.extend(test_rows)
            notebooks = [r for r in student_rows if r.level == "notebook"]
            problems = sorted({r.status for r in notebooks} - {GRADED})
            rows.append(Row(student, "", "student", "(total)", "", sum(r.score or 0 for r in notebooks),
                            sum(r.max_score for r in notebooks), ", ".join(problems) if problems else GRADED, ""))
            rows.extend(student_rows)
    return rows


def graded_cells(gb, course: Path, assignment: str) -> list[tuple[str, list]]:
    """(notebook name, its grade cells in the release's order) for each notebook of the assignment."""
    order = cell_order(course, assignment)
    return [(nb.name, sorted(nb.grade_cells, key=lambda c: order.index(c.name) if c.name in order else len(order)))
            for nb in sorted(gb.find_assignment(assignment).notebooks, key=lambda n: n.name)]


def submitted_grades(gb, notebook: str, assignment: str, student: str) -> dict:
    from nbgrader.api import MissingEntry

    try:
        return {grade.name: grade for grade in gb.find_submission_notebook(notebook, assignment, student).grades}
    except MissingEntry:
        return {}


def row_of_test(student: str, notebook: str, cell, grade, outcome: Outcome | None) -> Row:
    kind = "auto" if cell.cell_type == "code" else "manual"
    score = grade.score if grade is not None else None
    if grade is not None and grade.manual_score is None and grade.auto_score is None:
        score = None  # a written answer nobody has graded yet
    if outcome is None or grade is None:
        status, reason = NOT_RUN, "run `python -m vaecourse.grade autograde`"
    elif outcome.status == NOT_GRADED:
        status, reason = NOT_GRADED, outcome.reason
    elif cell.name in outcome.test_notes:
        status, reason = NOT_GRADED, outcome.test_notes[cell.name].removeprefix("could not grade: ")
    elif score is None or grade.needs_manual_grade:
        note = outcome.manual_notes.get(cell.name)
        status, reason = NEEDS_MANUAL, f"{note}: grade it again in formgrader" if note else "grade it in formgrader"
    else:
        status, reason = GRADED, ""
    return Row(student, notebook, "test", cell.name, kind, score, cell.max_score, status, reason)


def notebook_row(student: str, notebook: str, test_rows: list[Row], outcome: Outcome | None) -> Row:
    status = outcome.status if outcome else NOT_RUN
    repairs = "; ".join(outcome.repairs) if outcome and outcome.status != NOT_GRADED else ""
    reason = outcome.reason if outcome and outcome.status == NOT_GRADED else \
        "; ".join([*outcome.notes, *outcome.repairs]) if outcome else ""
    if status == GRADED and any(r.status == NEEDS_MANUAL for r in test_rows):
        status = NEEDS_MANUAL
    if status == GRADED and any(r.status == NOT_GRADED for r in test_rows):
        status = "partly graded"
    return Row(student, notebook, "notebook", "(notebook)", "", sum(r.score or 0 for r in test_rows),
               sum(r.max_score for r in test_rows), status, reason, repairs)


def write_csv(rows: list[Row], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row.values() for row in rows)
    path.write_text(buffer.getvalue())


def summary_table(rows: list[Row]) -> str:
    """Per notebook: students, graded, could not grade, needs manual grading, mean and full marks."""
    notebooks = sorted({r.notebook for r in rows if r.level == "notebook"})
    header = ["notebook", "students", "graded", "could not grade", "manual pending", "mean score", "max", "full marks"]
    table = [header]
    for name in notebooks:
        nb_rows = [r for r in rows if r.level == "notebook" and r.notebook == name]
        scored = [r for r in nb_rows if r.status != NOT_GRADED and r.status != NOT_RUN]
        mean = sum(r.score or 0 for r in scored) / len(scored) if scored else 0.0
        full = sum(1 for r in nb_rows if r.score == r.max_score)
        table.append([name, str(len(nb_rows)), str(sum(r.status in (GRADED, NEEDS_MANUAL) for r in nb_rows)),
                      str(sum(r.status == NOT_GRADED for r in nb_rows)),
                      str(sum(r.status == NEEDS_MANUAL for r in nb_rows)), f"{mean:.2f}",
                      fmt(nb_rows[0].max_score if nb_rows else 0), str(full)])
    students = [r for r in rows if r.level == "student"]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"{len(students)} students; totals in the CSV (score of written answers counts once graded in formgrader)")
    return "\n".join(lines)


def problems(rows: list[Row]) -> list[str]:
    """One line per notebook or test that could not be graded, and per repaired notebook (a graded
    notebook's other notes are review flags: vaecourse.grading.review)."""
    out = []
    failed = {(r.student, r.notebook) for r in rows if r.level == "notebook" and r.status == NOT_GRADED}
    for r in rows:
        if r.level == "notebook" and r.status == NOT_GRADED:
            out.append(f"{r.student} / {r.notebook}: could not grade: {r.reason}")
        elif r.level == "notebook" and r.repairs:
            out.append(f"{r.student} / {r.notebook}: repaired: {r.repairs}")
        elif r.level == "test" and r.status == NOT_GRADED and (r.student, r.notebook) not in failed:
            out.append(f"{r.student} / {r.notebook} / {r.item}: could not grade: {r.reason}")
    return out


def render_report(rows: list[Row], reviews: list[str] = ()) -> str:
    """Summary and problems; `reviews`: review flags (vaecourse.grading.review), listed as problems too."""
    listed = problems(rows) + list(reviews)
    text = ["", "Summary", summary_table(rows), "", f"Problems ({len(listed)})"]
    text += [f"  - {line}" for line in listed] or ["  none"]
    return "\n".join(text)
