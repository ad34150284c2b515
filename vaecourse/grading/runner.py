"""Autograde a class: one isolated nbgrader job per (student, notebook), in parallel.

Each job gets its own small course folder under autograder/.grading/run/jobs/: the
assignment's source, the repaired submission and a private sqlite gradebook holding only
the assignment's definitions. Jobs share nothing, so `--jobs N` gives exactly the results
of a serial run, and no two processes write one sqlite file. A job is run by
`vaecourse.grading.jobs.run_job` (real nbgrader, a time limit, its kernel killed with it)
through the executor `grade_class` is handed (`LocalExecutor(jobs)` unless told otherwise).
At the end the main process writes every job's scores into the instructor's gradebook
(sqlite or any SQLAlchemy URL nbgrader accepts), in a fixed order, and copies the
autograded notebooks and the feedback pages into the course folder, where formgrader
finds them.
"""
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from vaecourse.grading import course as course_mod
from vaecourse.grading.jobs import JobResult, JobSpec, LocalExecutor
from vaecourse.grading.repair import CannotGrade, repair

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


def status_path(course: Path, student: str, assignment: str) -> Path:
    return Path(course) / course_mod.WORK / "status" / student / f"{assignment}.json"


def read_status(course: Path, student: str, assignment: str) -> Outcome | None:
    path = status_path(course, student, assignment)
    return Outcome(**json.loads(path.read_text())) if path.is_file() else None


# ---------------------------------------------------------------- the gradebook

def write_template(course_db: str, template: Path, assignments: list[str]) -> None:
    """A fresh sqlite gradebook holding the assignments' definitions, copied from the course's."""
    if template.exists():
        template.unlink()
    with course_mod.open_gradebook(course_db) as src, course_mod.open_gradebook(f"sqlite:///{template}") as dst:
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
        with course_mod.open_gradebook(f"sqlite:///{job_db}") as jgb:
            submission = jgb.find_submission(outcome.assignment, outcome.student)
            timestamp = submission.timestamp
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    job_grades[(notebook.name, grade.name)] = grade.auto_score
                for comment in notebook.comments:
                    job_comments[(notebook.name, comment.name)] = comment.auto_comment
    with course_mod.open_gradebook(course_db) as gb:
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


# ---------------------------------------------------------------- the class

def students_to_grade(course: Path, course_db: str, only: list[str] | None = None) -> list[str]:
    """Everyone on the roster and everyone who submitted something."""
    with course_mod.open_gradebook(course_db) as gb:
        roster = {student.id for student in gb.students}
    submitted_root = Path(course) / "submitted"
    submitted = {p.name for p in submitted_root.iterdir() if p.is_dir()} if submitted_root.is_dir() else set()
    everyone = sorted(roster | submitted)
    return [s for s in everyone if not only or s in only]


def not_graded_page(student: str, assignment: str, reason: str) -> str:
    import html

    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(assignment)}: feedback</title>"
            f"</head><body><h1>{html.escape(assignment)}</h1>\n<p>Dear {html.escape(student)}, your notebook "
            f"could not be graded automatically: <strong>{html.escape(reason)}</strong>.</p>\n<p>Every test of "
            "this notebook is scored 0 until it is fixed. Please contact your instructor.</p></body></html>\n")


def grade_class(course: Path, course_db: str, assignments: list[str] | None = None,
                students: list[str] | None = None, jobs: int = 1, cell_timeout: int = 30,
                time_limit: float = 600, env_extra: dict | None = None, progress: bool = True,
                executor=None) -> list[Outcome]:
    """Repair, autograde and make feedback for every (student, notebook); see the module doc.

    executor: runs the jobs (see vaecourse.grading.jobs); default LocalExecutor(jobs).
    """
    from vaecourse import build

    course = Path(course).resolve()
    assignments = assignments or course_mod.released(course)
    missing = set(assignments) - set(course_mod.released(course))
    if missing:
        raise course_mod.CourseError(f"not released: {sorted(missing)}; run `python -m vaecourse.grade release` first")
    students = students_to_grade(course, course_db, students)
    work = course / course_mod.WORK / "run"
    if work.exists():
        shutil.rmtree(work)
    (work / "jobs").mkdir(parents=True)
    template = work / "template.db"
    write_template(course_db, template, assignments)
    releases = {a: nbformat.read(course / "release" / a / f"{a}.ipynb", as_version=4) for a in assignments}
    env = build.tool_env(env_extra)
    env.pop("NBGRADER_EXECUTION", None)

    outcomes: dict[tuple[str, str], Outcome] = {}
    todo: list[tuple[str, str, Path]] = []
    for student in students:
        for assignment in assignments:
            outcome = Outcome(student, assignment, GRADED)
            outcomes[(student, assignment)] = outcome
            folder = course / "submitted" / student / assignment
            notebook = folder / f"{assignment}.ipynb"
            if not notebook.is_file():
                others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
                outcome.status = NOT_GRADED
                outcome.reason = f"no {assignment}.ipynb submitted" + (
                    f" (found {', '.join(others)})" if others else "")
                continue
            try:
                repaired = repair(notebook.read_bytes(), releases[assignment])
            except CannotGrade as error:
                outcome.status, outcome.reason = NOT_GRADED, str(error)
                continue
            outcome.repairs, outcome.test_notes = repaired.notes, repaired.test_notes
            job_dir = work / "jobs" / student / assignment
            shutil.copytree(course / "source" / assignment, job_dir / "source" / assignment)
            target = job_dir / "submitted" / student / assignment
            target.mkdir(parents=True)
            nbformat.write(repaired.nb, target / f"{assignment}.ipynb")
            if (folder / "timestamp.txt").is_file():
                shutil.copyfile(folder / "timestamp.txt", target / "timestamp.txt")
            shutil.copyfile(template, job_dir / "gradebook.db")
            todo.append((student, assignment, job_dir))

    remaining = {s: sum(1 for t in todo if t[0] == s) for s in students}
    bar = _progress(len(students), progress)
    bar.update(sum(1 for s in students if remaining[s] == 0))
    timings: dict[str, float] = {}

    def done(key: tuple[str, str], job: JobResult) -> None:
        student, assignment = key
        if not job.graded:
            outcomes[key].status, outcomes[key].reason = NOT_GRADED, job.reason
        timings[f"{student}/{assignment}"] = job.seconds
        remaining[student] -= 1
        if remaining[student] == 0:
            bar.update(1)

    executor = executor or LocalExecutor(jobs)
    executor.run([((s, a), d, JobSpec(s, a, cell_timeout, time_limit, env)) for s, a, d in todo], done)
    bar.close()
    (work / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True))

    job_dirs = {(s, a): d for s, a, d in todo}
    for key in sorted(outcomes):
        outcome = outcomes[key]
        student, assignment = key
        job_dir = job_dirs.get(key)
        merge(course_db, outcome, job_dir / "gradebook.db" if job_dir else None)
        for kind in ("autograded", "feedback"):
            dest = course / kind / student / assignment
            if dest.exists():
                shutil.rmtree(dest)
            made = job_dir / kind / student / assignment if job_dir else None
            if outcome.status == GRADED and made is not None and made.is_dir():
                shutil.copytree(made, dest)
            elif kind == "feedback":
                dest.mkdir(parents=True)
                (dest / f"{assignment}.html").write_text(not_graded_page(student, assignment, outcome.reason))
        path = status_path(course, student, assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(outcome), indent=1, sort_keys=True) + "\n")
    return [outcomes[key] for key in sorted(outcomes)]


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="student", desc="grading", dynamic_ncols=True)
