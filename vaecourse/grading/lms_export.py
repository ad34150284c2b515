"""What `export` writes for the LMS and the instructor, besides the long CSV: a gradebook import file,
one summary per student, and lateness with an optional penalty (never written into the gradebook).

<course>/exports/lms_grades.csv, one row per roster student, one column per notebook (its score;
empty when there is no submission or the notebook could not be graded, never 0), then `Total`,
`Max total`, `Adjusted total (...)` (the late penalty applied, the policy in its header) and `Late`,
in the layout of the grades import of the LMS that `--lms-format` names (a name of
`vaecourse.grading.lms_platforms.LMS_PLATFORMS`, whose class documents its layout): canvas (the
default), Canvas's "Import grades in the Gradebook"; moodle, Moodle's "Grade import" CSV.

Lateness (`lateness`): the due date is nbgrader's `duedate` of the assignment in the gradebook
(`--due NOTEBOOK=ISO-DATE` sets it, `set_due_dates`), the submission time nbgrader's timestamp
(timestamp.txt at collect); a submission the LMS marked LATE (lms.py's record) with no time to
measure counts as one day late. Days late are started days (1 s late = 1 day). The penalty
(`--late-penalty PERCENT_PER_DAY`, default 0 = report only) removes that percentage of a late
notebook's score per day, at most 100 %, only in the adjusted column and the summaries.

<course>/exports/summary/<student>.txt: plain text for an email: each notebook's score, the tests
lost (with the first line of their failure message, from the autograded notebook), lateness, and
the number of review flags.
"""
import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

from vaecourse.grading import classroom, lms
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.lms_platforms import LMS_PLATFORMS, Person
from vaecourse.grading.outcome import NOT_GRADED
from vaecourse.grading.report import NEEDS_MANUAL, NOT_RUN, Row, fmt
from vaecourse.masters import grade_id
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import AUTOGRADED, SUBMITTED
from vaecourse.verdicts.record import CellResult, is_result_output

DAY_S = 86400


@dataclass
class Lateness:
    due: datetime | None = None
    submitted: datetime | None = None
    lms_late: bool = False  # the LMS marked the file LATE (lms.py's record)

    @property
    def seconds(self) -> float | None:
        if self.due is None or self.submitted is None:
            return None
        return (self.submitted - self.due).total_seconds()

    @property
    def days(self) -> int:
        """Started days late; an LMS LATE mark with no time to measure is one day."""
        if self.seconds is not None:
            return math.ceil(self.seconds / DAY_S) if self.seconds > 0 else 0
        return 1 if self.lms_late else 0

    def text(self) -> str:
        if self.seconds is not None and self.seconds > 0:
            return f"{self.days} d late (submitted {self.submitted:%Y-%m-%d %H:%M}, due {self.due:%Y-%m-%d %H:%M} UTC)"
        if self.days:
            return "late (the LMS marked it LATE; counted as 1 d)"
        return ""


def penalty_factor(days: int, percent_per_day: float) -> float:
    """What is left of a score `days` late: 1 - days * percent / 100, never below 0."""
    return 1 - min(100.0, max(0.0, days * percent_per_day)) / 100


def policy(percent_per_day: float) -> str:
    if not percent_per_day:
        return "no late penalty (lateness reported only)"
    return f"late penalty {percent_per_day:g}% of the notebook's score per started day late, at most 100%"


def parse_due(values: list[str] | None) -> dict[str, datetime]:
    """NOTEBOOK=ISO-DATE options -> {notebook: naive UTC datetime}, as nbgrader stores due dates."""
    from nbgrader.utils import parse_utc

    dues = {}
    for value in values or ():
        name, sep, when = value.partition("=")
        try:
            if not sep or not name or not when:
                raise ValueError("expected NOTEBOOK=ISO-DATE")
            dues[name] = parse_utc(when)
        except (ValueError, OverflowError) as error:
            raise classroom.CourseError(f"--due {value}: {error} (e.g. 01_mnist=2026-10-01T23:59:00+02:00)") from None
    return dues


def set_due_dates(db_url: str, dues: dict[str, datetime]) -> None:
    """nbgrader's own duedate of each named assignment of the gradebook."""
    with open_gradebook(db_url) as gb:
        known = {a.name for a in gb.assignments}
        if unknown := sorted(set(dues) - known):
            raise classroom.CourseError(f"--due {', '.join(unknown)}: not in the gradebook "
                                        f"(it holds {', '.join(sorted(known)) or 'none'})")
        for name, when in dues.items():
            gb.update_or_create_assignment(name, duedate=when)


def lateness(course: Path, db_url: str, assignments: list[str], students: list[str]) -> dict:
    """(student, assignment) -> Lateness, for every submission the gradebook or the LMS records know."""
    from nbgrader.api import MissingEntry

    out = {}
    with open_gradebook(db_url) as gb:
        for assignment in assignments:
            due = gb.find_assignment(assignment).duedate
            for student in students:
                try:
                    submitted = gb.find_submission(assignment, student).timestamp
                except MissingEntry:
                    submitted = None
                out[(student, assignment)] = Lateness(due, submitted, lms.marked_late(course, student, assignment))
    return out


def late_lines(late: dict) -> list[str]:
    """One report line per submission measured late (the LMS's own LATE marks are lms.late_lines)."""
    return [f"{student} / {assignment}: submitted {record.text()}"
            for (student, assignment), record in sorted(late.items()) if record.seconds and record.seconds > 0]


def roster(db_url: str, students: list[str]) -> list[Person]:
    """Every student to export, with the roster's names, email and lms_id (empty when the roster has none)."""
    known = lms.roster_people(db_url)
    return [known.get(student, Person(student, "", "", "", "")) for student in students]


def scored(row: Row) -> float | None:
    """A notebook's score for the LMS: None (an empty cell) without a submission or when it could not be graded."""
    return None if row.status in (NOT_RUN, NOT_GRADED) else (row.score or 0.0)


def student_line(person: Person, notebooks: list[Row], late: dict, percent: float) -> dict:
    """The LMS file's values for one student: scores, total, max total, adjusted total, late."""
    scores = {r.notebook: scored(r) for r in notebooks}
    present = [r for r in notebooks if scores[r.notebook] is not None]
    adjusted = sum(scores[r.notebook] * penalty_factor(late[(person.id, r.notebook)].days, percent) for r in present)
    late_text = "; ".join(f"{r.notebook} {late[(person.id, r.notebook)].days} d"
                          for r in notebooks if late[(person.id, r.notebook)].days)
    return {"scores": [fmt(scores[r.notebook]) for r in notebooks],
            "total": fmt(sum(scores[r.notebook] for r in present)) if present else "",
            "max": fmt(sum(r.max_score for r in notebooks)),
            "adjusted": fmt(round(adjusted, 4)) if present else "", "late": late_text}


def lms_table(rows: list[Row], people: list[Person], late: dict, percent: float, layout: str) -> list[list[str]]:
    """The LMS file's rows, header first, in the import layout of the LMS named `layout` (the module doc)."""
    notebooks = sorted({r.notebook for r in rows if r.level == "notebook"})
    maxes = {r.notebook: r.max_score for r in rows if r.level == "notebook"}
    tail = ["Total", "Max total", f"Adjusted total ({policy(percent)})", "Late"]
    most = fmt(sum(maxes.values()))
    points = [*(fmt(maxes[n]) for n in notebooks), most, most, most, ""]  # the points possible of each column
    lines = []
    for person in people:
        mine = sorted((r for r in rows if r.level == "notebook" and r.student == person.id), key=lambda r: r.notebook)
        line = student_line(person, mine, late, percent)
        lines.append((person, [*line["scores"], line["total"], line["max"], line["adjusted"], line["late"]]))
    return LMS_PLATFORMS[layout].import_table([*notebooks, *tail], points, lines)


def write_table(table: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(table)
    path.write_text(buffer.getvalue())


def failure_messages(course: Path, student: str, assignment: str) -> dict[str, str]:
    """grade_id -> why a test cell lost points ({} if none): the parts of its grader-side verdict that
    were lost with the first one's message, else the first line of the error the cell showed."""
    path = CourseFolder(course).notebook(AUTOGRADED, assignment, student)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return {}
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if grade_id(cell) else []:
            if is_result_output(output):  # the cell's result: the first output, and the only one read
                if why := (CellResult.from_output(output) or CellResult(())).why_lost():
                    out[grade_id(cell)] = why
                break
            if output.get("output_type") == "error":
                first = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
                out[grade_id(cell)] = f"{output.get('ename', 'Error')}: {first}" if first else output.get("ename", "")
    return out


def test_lines(course: Path, student: str, notebook: Row, rows: list[Row]) -> list[str]:
    """The summary's lines under a scored notebook: each test lost (with its message) or still to grade by hand."""
    messages, out = failure_messages(course, student, notebook.notebook), []
    for test in (t for t in rows if t.level == "test" and t.student == student and t.notebook == notebook.notebook):
        if test.status == NEEDS_MANUAL:
            out.append(f"    {test.item}: not graded yet (written answer, graded by hand)")
        elif test.score is not None and test.score < test.max_score:
            why = messages.get(test.item, "")
            out.append(f"    lost {fmt(test.max_score - test.score)} on {test.item}" + (f": {why}" if why else ""))
    return out


def summary_text(person: Person, rows: list[Row], late: dict, percent: float, flags: int, course: Path) -> str:
    """One student's plain-text summary (see the module doc)."""
    name = " ".join(p for p in (person.first_name, person.last_name) if p) or person.id
    mine = sorted((r for r in rows if r.level == "notebook" and r.student == person.id), key=lambda r: r.notebook)
    line = student_line(person, mine, late, percent)
    text = [f"Grades of {name} ({person.id})", ""]
    for r in mine:
        score, record = scored(r), late[(person.id, r.notebook)]
        handed_in = CourseFolder(course).notebook(SUBMITTED, r.notebook, person.id).is_file()
        shown = f"{fmt(score)} / {fmt(r.max_score)}" if score is not None else \
            (r.status if handed_in else "no submission")
        text.append(f"{r.notebook}: {shown}" + (f"  [{record.text()}]" if record.days else ""))
        if r.status == NOT_GRADED and handed_in:
            text.append(f"    could not grade: {r.reason}")
        text += test_lines(course, person.id, r, rows) if score is not None else []
    text += ["", f"Total: {line['total'] or '-'} / {line['max']}",
             f"Adjusted total: {line['adjusted'] or '-'} / {line['max']} ({policy(percent)})",
             f"Review flags: {flags}" + (" (the instructor reads these notebooks again)" if flags else ""), ""]
    return "\n".join(text)


def write_exports(course: Path, db_url: str, rows: list[Row], reviews: list[str], layout: str = "canvas",
                  percent: float = 0.0) -> dict:
    """The LMS file and the summaries of every student of `rows`; returns their lateness by (student, notebook)."""
    if layout not in LMS_PLATFORMS:
        raise classroom.CourseError(f"--lms-format {layout}: one of {', '.join(LMS_PLATFORMS)}")
    if not 0 <= percent <= 100:
        raise classroom.CourseError(f"--late-penalty {percent:g}: a percentage per day, 0 to 100")
    course = Path(course)
    students = [r.student for r in rows if r.level == "student"]
    notebooks = sorted({r.notebook for r in rows if r.level == "notebook"})
    people = roster(db_url, students)
    late = lateness(course, db_url, notebooks, students)
    write_table(lms_table(rows, people, late, percent, layout), CourseFolder(course).lms_grades_csv)
    CourseFolder(course).summaries.mkdir(parents=True, exist_ok=True)
    for person in people:
        flags = sum(line.startswith(f"review: {person.id} ") for line in reviews)
        CourseFolder(course).summary(person.id).write_text(summary_text(person, rows, late, percent, flags, course))
    return late
