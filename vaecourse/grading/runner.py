"""Autograde a class: one isolated nbgrader job per (student, notebook), in parallel.

1. Each submission is repaired against the release (`repair`); one that cannot be read
   is not graded, with the reason.
2. Each job gets its own small course folder under autograder/.grading/run/jobs/: the
   assignment's source, the repaired submission and a private sqlite gradebook holding
   only the assignment's definitions (`merge.write_template`). Jobs share nothing, so
   `--jobs N` gives exactly the results of a serial run, and no two processes write one
   sqlite file.
3. Before the first job the grader loads the MNIST folder itself, as the kernels will see it
   (vaecourse.grading.faults.data_check): if that fails nothing is graded (CourseError). The jobs
   run through the executor `grade_class` is handed (`LocalExecutor(jobs)` unless told
   otherwise); each is `vaecourse.grading.jobs.run_job`: real nbgrader, a time limit, its kernel
   killed with it, and only the faults the grader established put down to the machine.
4. The main process writes every job's scores into the instructor's gradebook (sqlite or
   any SQLAlchemy URL nbgrader accepts), in a fixed order, copies the autograded
   notebooks and the feedback pages into the course folder, where formgrader finds them,
   and writes each notebook's status record (`outcome`).
"""
import hashlib
import hmac
import json
import os
import secrets
import shutil
from pathlib import Path

import nbformat

from vaecourse.grading.classroom import CourseError, released, students_to_grade
from vaecourse.grading.course_folder import CourseFolder, JobFolder
from vaecourse.grading.evidence import sha256, verify_submission
from vaecourse.grading.faults import data_check, data_folder
from vaecourse.grading.jobs import JobResult, JobSpec, LocalExecutor
from vaecourse.grading.merge import merge, unchanged_answers, write_template
from vaecourse.grading.outcome import (GRADED, NOT_GRADED, Outcome, read_status, write_not_graded_page,
                                       write_status)
from vaecourse.grading.repair import CannotGrade, repair
from vaecourse.grading.verify import tampered
from vaecourse.nbg.config import CELL_TIMEOUT_S
from vaecourse.nbg.layout import AUTOGRADED, FEEDBACK, RELEASE, SOURCE, SUBMITTED, TIMESTAMP_FILE
from vaecourse.nbg.run import tool_env

Key = tuple[str, str]  # (student, assignment)


def grade_class(course: Path, course_db: str, assignments: list[str] | None = None,
                students: list[str] | None = None, jobs: int = 1, cell_timeout: int = CELL_TIMEOUT_S,
                time_limit: float = 600, env_extra: dict | None = None, progress: bool = True,
                executor=None, isolation=None, force: bool = False) -> list[Outcome]:
    """Repair, autograde and make feedback for every (student, notebook); see the module doc.

    executor: runs the jobs (the protocol is in vaecourse.grading.jobs); default LocalExecutor(jobs).
    isolation: the isolation backend every kernel runs in (vaecourse.isolation); default: the sandbox
    `sandbox_or_refuse()` finds. NoIsolation(reason) grades without one.
    force: grade again what is already graded; without it a notebook whose status record says
    graded, for the very bytes submitted now, is kept as it is (a run that was stopped goes on).
    """
    isolation = isolation if isolation is not None else sandbox_or_refuse()
    course = Path(course).resolve()
    assignments = assignments or released(course)
    missing = set(assignments) - set(released(course))
    if missing:
        raise CourseError(f"not released: {sorted(missing)}; run `python -m vaecourse.grade release` first")
    students = students_to_grade(course, course_db, students)
    folder = CourseFolder(course)
    if folder.run.exists():
        shutil.rmtree(folder.run)
    folder.jobs.mkdir(parents=True)
    write_template(course_db, folder.template_db, assignments)
    outcomes, job_dirs = prepare_jobs(course, assignments, students, force)
    env = tool_env(env_extra)
    env.pop("NBGRADER_EXECUTION", None)
    data, where = data_folder(env)
    if not env.get("VAE_COURSE_DATA") and data.is_dir():
        env["VAE_COURSE_DATA"] = str(data)  # the course's default (vaecourse.runtime), made explicit:
        # a sandboxed kernel sees only the data folder it is shown
    if job_dirs and (executor is None or data.is_dir()):  # elsewhere (Dask) each worker checks its own
        check_data_or_refuse(data, where, isolation)
    folder.isolation_note.write_text(isolation.describe() + "\n")
    secret = verdict_secret(course)
    items = [(key, job_dir, JobSpec(*key, cell_timeout, time_limit, env, isolation,
                                    verdict_seed(secret, *key, outcomes[key].submission_sha256)))
             for key, job_dir in job_dirs.items()]
    for key in sorted(set(outcomes) - set(job_dirs)):
        if not outcomes[key].kept:
            publish(course, course_db, outcomes[key], None)  # nothing to run: why not, at once

    def finished(key: Key) -> None:  # each job is published as it finishes: a stopped run loses only those running
        publish(course, course_db, outcomes[key], job_dirs[key])

    timings = run_jobs(items, outcomes, executor or LocalExecutor(jobs), students, progress, finished)
    folder.timings.write_text(json.dumps(timings, indent=1, sort_keys=True))
    return [outcomes[key] for key in sorted(outcomes)]


def check_data_or_refuse(folder: Path, where: str, isolation) -> None:
    """The grader's own load of the MNIST folder, before anything is graded (vaecourse.grading.faults.data_check):
    CourseError, and nothing graded, when the course's loader cannot read it as the kernels will see it."""
    if problem := data_check(folder, isolation):
        raise CourseError(f"cannot grade; nothing was graded and the gradebook is untouched:\n- MNIST, which every "
                          f"grading job needs, does not load with the course's loader: {problem} (looked in {folder}; "
                          f"{where}).\n  {DATA_HELP}")


def sandbox_or_refuse():
    """The sandbox this machine gives (vaecourse.sandbox.probe), or CourseError saying why there is none."""
    from vaecourse.sandbox import probe

    isolation = probe()
    if not isolation.available:
        raise CourseError(sandbox_problem(isolation))
    return isolation


def sandbox_problem(isolation) -> str:
    return (f"no sandbox for the students' code: {isolation.describe()}. Install bubblewrap "
            "(apt-get install bubblewrap), or grade without one with --no-sandbox: student code "
            "can then read the solutions and the verdicts' key and change the gradebook")


# ---------------------------------------------------------------- preflight: what every job needs

DATA_HELP = ("Every notebook reads MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte under the folder "
             "VAE_COURSE_DATA names: the folder that holds MNIST/raw/, not MNIST/raw itself.\n"
             "  Fix: export VAE_COURSE_DATA=/path/holding/MNIST/raw (the folder above MNIST/), or write the "
             "offline set (5,000 real digits) with `make offline-data` (python -m vaecourse.offline_mnist DIR) "
             "and export VAE_COURSE_DATA=DIR; then run the command again.")


def data_problem(folder: Path, where: str) -> str:
    """'' when `folder` holds the four raw MNIST files, readable and whole; else what is wrong,
    where it looked and how to fix it."""
    from vaecourse.data import IDX_FILES, MNISTUnavailable, check_raw_file, raw_dir

    raw = raw_dir(folder)
    missing = [name for name in IDX_FILES if not (raw / name).is_file()]
    if missing:
        what = f"no {', '.join(missing)} in {raw}"
        if folder.name == "raw" and all((folder / name).is_file() for name in IDX_FILES):
            what += f" (VAE_COURSE_DATA names MNIST/raw itself: point it at {folder.parent.parent})"
    else:
        try:
            for name in IDX_FILES:
                check_raw_file(raw / name)
            return ""
        except MNISTUnavailable as error:
            what = str(error).split("\n")[0]
        except OSError as error:
            what = f"{raw} cannot be read ({error.strerror or error})"
    return f"MNIST, which every grading job needs: {what} (looked in {folder}; {where}).\n  {DATA_HELP}"


def preflight(isolation, env: dict | None = None, data_required: bool = True, unisolated: bool = False):
    """Check, before anything is graded, what every job needs: the MNIST folder (`data_problem`) and
    an isolation backend that is available (`isolation`, vaecourse.isolation: what `--isolation` built),
    unless grading `unisolated` was chosen (--no-sandbox, --isolation none). Return the backend; raise
    one CourseError naming every problem otherwise.
    data_required: False only where the jobs find their data elsewhere (Dask workers with their own
    VAE_COURSE_DATA): a data problem is then printed as a warning.
    """
    problems = []
    if why := data_problem(*data_folder(env)):
        if data_required:
            problems.append(why)
        else:
            print(f"warning (the workers must have it): {why}")
    if not isolation.available and not unisolated:
        problems.append(sandbox_problem(isolation))
    if problems:
        raise CourseError("cannot grade; nothing was graded and the gradebook is untouched:\n"
                          + "\n".join(f"- {problem}" for problem in problems))
    return isolation


def prepare_jobs(course: Path, assignments: list[str], students: list[str],
                 force: bool = False) -> tuple[dict[Key, Outcome], dict[Key, Path]]:
    """Every (student, assignment)'s outcome so far, and the job folders (in the course folder's run/) of
    those there is something to grade."""
    folder = CourseFolder(course)
    releases = {a: nbformat.read(folder.notebook(RELEASE, a), as_version=4) for a in assignments}
    outcomes, job_dirs = {}, {}
    for student in students:
        for assignment in assignments:
            done = None if force else already_graded(course, student, assignment)
            if done is not None:
                outcomes[(student, assignment)] = done
                continue
            outcome = outcomes[(student, assignment)] = Outcome(student, assignment, GRADED)
            if changed := verify_submission(course, student, assignment):  # evidence: the bytes collect hashed
                outcome.status, outcome.reason = NOT_GRADED, changed
                continue
            outcome.submission_sha256 = submission_sha256(course, student, assignment)
            job_dir = folder.job(student, assignment)
            if prepare_job(course, job_dir, folder.template_db, releases[assignment], outcome):
                job_dirs[(student, assignment)] = job_dir
    return outcomes, job_dirs


def verdict_secret(course: Path) -> bytes:
    """The course's secret for drawing the verdicts' inputs, made at the first grading (mode 0600).

    It never reaches a kernel (the sandbox shows no part of the course folder). Delete the file
    to draw new inputs for every submission from the next grading on.
    """
    path = CourseFolder(course).verdict_secret
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def verdict_seed(secret: bytes, student: str, assignment: str, submission: str) -> int:
    """The seed a submission's verdicts draw their inputs from: unknown without the course's secret,
    the same for the same submitted bytes (a regrade, any --jobs, any Dask worker give the same
    feedback), new for changed bytes."""
    digest = hmac.new(secret, f"{student}\n{assignment}\n{submission}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def submission_sha256(course: Path, student: str, assignment: str) -> str:
    """SHA-256 of the stored submission ('' if there is none)."""
    path = CourseFolder(course).notebook(SUBMITTED, assignment, student)
    return sha256(path.read_bytes()) if path.is_file() else ""


def already_graded(course: Path, student: str, assignment: str) -> Outcome | None:
    """The status record of a notebook graded earlier from the very bytes submitted now, else None."""
    record = read_status(course, student, assignment)
    if record is None or record.status != GRADED or not record.submission_sha256:
        return None
    if record.submission_sha256 != submission_sha256(course, student, assignment):
        return None
    record.kept = True
    return record


def prepare_job(course: Path, job_dir: Path, template: Path, release, outcome: Outcome) -> bool:
    """Make the job folder of one submission (see vaecourse.grading.jobs); False (and why in `outcome`) if none."""
    student, assignment = outcome.student, outcome.assignment
    folder = CourseFolder(course).folder(SUBMITTED, assignment, student)
    notebook = CourseFolder(course).notebook(SUBMITTED, assignment, student)
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
    job = JobFolder(job_dir)
    shutil.copytree(CourseFolder(course).folder(SOURCE, assignment), job.folder(SOURCE, assignment))
    target = job.notebook(SUBMITTED, assignment, student)
    target.parent.mkdir(parents=True)
    nbformat.write(repaired.nb, target)
    if (folder / TIMESTAMP_FILE).is_file():
        shutil.copyfile(folder / TIMESTAMP_FILE, target.parent / TIMESTAMP_FILE)
    shutil.copyfile(template, job.gradebook)
    return True


def run_jobs(items: list, outcomes: dict[Key, Outcome], executor, students: list[str],
             progress: bool, finished=lambda key: None) -> dict[str, float]:
    """Run the jobs, noting in `outcomes` those that could not be graded and calling `finished(key)`
    after each; seconds per job."""
    remaining = {s: sum(1 for (student, _), _, _ in items if student == s) for s in students}
    bar = _progress(len(students), progress)
    bar.update(sum(1 for s in students if remaining[s] == 0))
    timings: dict[str, float] = {}

    def done(key: Key, job: JobResult) -> None:
        student, assignment = key
        if not job.graded:
            outcomes[key].status, outcomes[key].reason = NOT_GRADED, job.reason
        outcomes[key].notes = list(getattr(job, "notes", []))
        timings[f"{student}/{assignment}"] = job.seconds
        finished(key)
        remaining[student] -= 1
        if remaining[student] == 0:
            bar.update(1)

    executor.run(items, done)
    bar.close()
    return timings


# What comes back from a job into the course folder: the graded notebook and its feedback page,
# nothing a kernel wrote beside them (its working folder is the autograded one), each capped.
RETURNED = (AUTOGRADED, FEEDBACK)
RETURNED_LIMIT = 20 * 2**20  # bytes; output is capped at 20,000 characters a cell, so far below this


def publish(course: Path, course_db: str, outcome: Outcome, job_dir: Path | None) -> None:
    """Scores into the course gradebook; autograded notebook and feedback into the course folder; status record."""
    student, assignment = outcome.student, outcome.assignment
    job, folder = JobFolder(job_dir) if job_dir else None, CourseFolder(course)
    made = {kind: job.notebook(kind, assignment, student) for kind in RETURNED} if job else {}
    links = [p.name for p in made.values() if p.is_symlink() or (p.is_file() and p.stat().st_nlink > 1)]
    too_big = [p.name for p in made.values() if p.is_file() and p.stat().st_size > RETURNED_LIMIT]
    if outcome.status == GRADED and links:  # vaecourse.nbg.droplinks removes them: defence in depth
        outcome.status, outcome.reason = NOT_GRADED, f"{', '.join(links)} came back as a link: not taken back"
        made = {}
    elif outcome.status == GRADED and too_big:
        outcome.status = NOT_GRADED
        outcome.reason = f"{', '.join(too_big)} over {RETURNED_LIMIT // 2**20} MB after grading: not taken back"
    changed = tampered(course_db, job.gradebook, assignment) if job and outcome.status == GRADED else ""
    if changed:
        outcome.status, outcome.reason = NOT_GRADED, f"tampered ({changed})"
    unchanged = unchanged_answers(folder.notebook(AUTOGRADED, assignment, student), made.get(AUTOGRADED))
    merge(course_db, outcome, job.gradebook if job else None, unchanged)
    for kind in RETURNED:
        dest = folder.folder(kind, assignment, student)
        if dest.exists():
            shutil.rmtree(dest)
        if outcome.status == GRADED and kind in made and made[kind].is_file():
            dest.mkdir(parents=True)
            shutil.copyfile(made[kind], dest / made[kind].name)
        elif kind == FEEDBACK:
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
