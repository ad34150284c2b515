"""Autograde a class: one isolated nbgrader job per (student, notebook), in parallel.

1. Each submission is repaired against the release (`repair`); one that cannot be read
   is not graded, with the reason.
2. Each job gets its own small course folder under autograder/.grading/run/jobs/: the
   assignment's source, the repaired submission and a private sqlite gradebook holding
   only the assignment's definitions (`merge.write_template`). Jobs share nothing, so
   `--jobs N` gives exactly the results of a serial run, and no two processes write one
   sqlite file.
3. The jobs run through the executor `grade_class` is handed (`LocalExecutor(jobs)` unless
   told otherwise); each is `vaecourse.grading.jobs.run_job`: real nbgrader, a time limit,
   its kernel killed with it.
4. The main process writes every job's scores into the instructor's gradebook (sqlite or
   any SQLAlchemy URL nbgrader accepts), in a fixed order, copies the autograded
   notebooks and the feedback pages into the course folder, where formgrader finds them,
   and writes each notebook's status record (`outcome`).
"""
import json
import shutil
from pathlib import Path

import nbformat

from vaecourse.grading.classroom import WORK, CourseError, released, students_to_grade
from vaecourse.grading.evidence import verify_submission
from vaecourse.grading.jobs import JobResult, JobSpec, LocalExecutor
from vaecourse.grading.merge import merge, write_template
from vaecourse.grading.outcome import GRADED, NOT_GRADED, Outcome, write_not_graded_page, write_status
from vaecourse.grading.repair import CannotGrade, repair
from vaecourse.nbg.config import CELL_TIMEOUT_S
from vaecourse.nbg.layout import notebook_path
from vaecourse.nbg.run import tool_env

Key = tuple[str, str]  # (student, assignment)


def grade_class(course: Path, course_db: str, assignments: list[str] | None = None,
                students: list[str] | None = None, jobs: int = 1, cell_timeout: int = CELL_TIMEOUT_S,
                time_limit: float = 600, env_extra: dict | None = None, progress: bool = True,
                executor=None) -> list[Outcome]:
    """Repair, autograde and make feedback for every (student, notebook); see the module doc.

    executor: runs the jobs (the protocol is in vaecourse.grading.jobs); default LocalExecutor(jobs).
    """
    course = Path(course).resolve()
    assignments = assignments or released(course)
    missing = set(assignments) - set(released(course))
    if missing:
        raise CourseError(f"not released: {sorted(missing)}; run `python -m vaecourse.grade release` first")
    students = students_to_grade(course, course_db, students)
    work = course / WORK / "run"
    if work.exists():
        shutil.rmtree(work)
    (work / "jobs").mkdir(parents=True)
    write_template(course_db, work / "template.db", assignments)
    outcomes, job_dirs = prepare_jobs(course, work, assignments, students)
    env = tool_env(env_extra)
    env.pop("NBGRADER_EXECUTION", None)
    items = [(key, job_dir, JobSpec(*key, cell_timeout, time_limit, env)) for key, job_dir in job_dirs.items()]
    timings = run_jobs(items, outcomes, executor or LocalExecutor(jobs), students, progress)
    (work / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True))
    for key in sorted(outcomes):
        publish(course, course_db, outcomes[key], job_dirs.get(key))
    return [outcomes[key] for key in sorted(outcomes)]


def prepare_jobs(course: Path, work: Path, assignments: list[str],
                 students: list[str]) -> tuple[dict[Key, Outcome], dict[Key, Path]]:
    """Every (student, assignment)'s outcome so far, and the job folders of those there is something to grade."""
    releases = {a: nbformat.read(notebook_path(course, "release", a), as_version=4) for a in assignments}
    outcomes, job_dirs = {}, {}
    for student in students:
        for assignment in assignments:
            outcome = outcomes[(student, assignment)] = Outcome(student, assignment, GRADED)
            if changed := verify_submission(course, student, assignment):  # evidence: the bytes collect hashed
                outcome.status, outcome.reason = NOT_GRADED, changed
                continue
            job_dir = work / "jobs" / student / assignment
            if prepare_job(course, job_dir, work / "template.db", releases[assignment], outcome):
                job_dirs[(student, assignment)] = job_dir
    return outcomes, job_dirs


def prepare_job(course: Path, job_dir: Path, template: Path, release, outcome: Outcome) -> bool:
    """Make the job folder of one submission (see vaecourse.grading.jobs); False (and why in `outcome`) if none."""
    student, assignment = outcome.student, outcome.assignment
    folder = course / "submitted" / student / assignment
    notebook = folder / f"{assignment}.ipynb"
    if not notebook.is_file():
        others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        outcome.status = NOT_GRADED
        outcome.reason = f"no {assignment}.ipynb submitted" + (f" (found {', '.join(others)})" if others else "")
        return False
    try:
        repaired = repair(notebook.read_bytes(), release)
    except CannotGrade as error:
        outcome.status, outcome.reason = NOT_GRADED, str(error)
        return False
    outcome.repairs, outcome.test_notes = repaired.notes, repaired.test_notes
    shutil.copytree(course / "source" / assignment, job_dir / "source" / assignment)
    target = notebook_path(job_dir, "submitted", assignment, student)
    target.parent.mkdir(parents=True)
    nbformat.write(repaired.nb, target)
    if (folder / "timestamp.txt").is_file():
        shutil.copyfile(folder / "timestamp.txt", target.parent / "timestamp.txt")
    shutil.copyfile(template, job_dir / "gradebook.db")
    return True


def run_jobs(items: list, outcomes: dict[Key, Outcome], executor, students: list[str],
             progress: bool) -> dict[str, float]:
    """Run the jobs, noting in `outcomes` those that could not be graded; seconds per job."""
    remaining = {s: sum(1 for (student, _), _, _ in items if student == s) for s in students}
    bar = _progress(len(students), progress)
    bar.update(sum(1 for s in students if remaining[s] == 0))
    timings: dict[str, float] = {}

    def done(key: Key, job: JobResult) -> None:
        student, assignment = key
        if not job.graded:
            outcomes[key].status, outcomes[key].reason = NOT_GRADED, job.reason
        timings[f"{student}/{assignment}"] = job.seconds
        remaining[student] -= 1
        if remaining[student] == 0:
            bar.update(1)

    executor.run(items, done)
    bar.close()
    return timings


def publish(course: Path, course_db: str, outcome: Outcome, job_dir: Path | None) -> None:
    """Scores into the course gradebook; autograded notebook and feedback into the course folder; status record."""
    student, assignment = outcome.student, outcome.assignment
    merge(course_db, outcome, job_dir / "gradebook.db" if job_dir else None)
    for kind in ("autograded", "feedback"):
        dest = course / kind / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        made = job_dir / kind / student / assignment if job_dir else None
        if outcome.status == GRADED and made is not None and made.is_dir():
            shutil.copytree(made, dest)
        elif kind == "feedback":
            write_not_graded_page(course, outcome)
    write_status(course, outcome)


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
