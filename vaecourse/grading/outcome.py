"""What happened to one student's notebook: the status record and, when it could not be graded, its page.

A record is written to <course>/.grading/status/<student>/<notebook>.json by the grading
run and read by the report and by `feedback`. A notebook that could not be graded gets a
feedback page saying why, in place of nbgrader's.
"""
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.nbg.layout import FEEDBACK

GRADED = "graded"
NOT_GRADED = "could not grade"


@dataclass
class Outcome:
    """What happened to one student's notebook; written to .grading/status/<student>/<name>.json."""
    student: str
    assignment: str
    status: str  # GRADED or NOT_GRADED
    reason: str = ""  # why not graded
    repairs: list[str] = field(default_factory=list)
    test_notes: dict[str, str] = field(default_factory=dict)  # grade_id -> "could not grade: ..."
    manual_notes: dict[str, str] = field(default_factory=dict)  # grade_id -> why its hand grade was cleared
    notes: list[str] = field(default_factory=list)  # what happened while grading that the grader did not put
    # down to the machine (vaecourse.grading.faults): graded as it ran, flagged for review
    submission_sha256: str = ""  # the bytes that were graded: a later run keeps this record while they are unchanged
    kept: bool = field(default=False, compare=False)  # kept from an earlier run in this one (not written)


def read_status(course: Path, student: str, assignment: str) -> Outcome | None:
    path = CourseFolder(course).status(student, assignment)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    known = set(Outcome.__dataclass_fields__) - {"kept"}
    return Outcome(**{k: v for k, v in record.items() if k in known})


def write_status(course: Path, outcome: Outcome) -> None:
    path = CourseFolder(course).status(outcome.student, outcome.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(outcome)
    record.pop("kept")
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def not_graded_page(student: str, assignment: str, reason: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(assignment)}: feedback</title>"
            f"</head><body><h1>{html.escape(assignment)}</h1>\n<p>Dear {html.escape(student)}, your notebook "
            f"could not be graded automatically: <strong>{html.escape(reason)}</strong>.</p>\n<p>Every test of "
            "this notebook is scored 0 until it is fixed. Please contact your instructor.</p></body></html>\n")


def write_not_graded_page(course: Path, outcome: Outcome) -> None:
    """The feedback page of a notebook that could not be graded, in place of nbgrader's."""
    page = CourseFolder(course).notebook(FEEDBACK, outcome.assignment, outcome.student)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(not_graded_page(outcome.student, outcome.assignment, outcome.reason))
