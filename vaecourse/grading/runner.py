"""Autograde a class: one isolated nbgrader job per (student, notebook), in parallel.

Each job gets its own small course folder under autograder/.grading/run/jobs/: the
assignment's source, the repaired submission and a private sqlite gradebook holding only
the assignment's definitions. Jobs share nothing, so `--jobs N` gives exactly the results
of a serial run, and no two processes write one sqlite file. The job process runs real
nbgrader (`NbGraderAPI.autograde`, then `generate_feedback` with the hidden tests hidden)
and is forked from a server that has already imported nbgrader (importing it costs
seconds here). A job that runs past the notebook time limit is killed with its kernel.
At the end the main process writes every job's scores into the instructor's gradebook
(sqlite or any SQLAlchemy URL nbgrader accepts), in a fixed order, and copies the
autograded notebooks and the feedback pages into the course folder, where formgrader
finds them.
"""
import json
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from vaecourse.grading import course as course_mod
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


# ---------------------------------------------------------------- the job process

def job_main(job_dir: str, assignment: str, student: str, cell_timeout: int, env: dict) -> None:
    """Run in a forked process: autograde one student's notebook and make its feedback."""
    os.environ.update(env)
    os.chdir(job_dir)
    log = os.open(Path(job_dir) / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)  # nbgrader's and the kernel's own chatter go to the job's log, not the terminal
    os.dup2(log, 2)
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from vaecourse.grading.nbgrader_config import apply_grading_config
    from vaecourse.nbgrader_ext import apply_course_config

    config = Config()
    apply_course_config(config)
    apply_grading_config(config, cell_timeout=cell_timeout)
    config.CourseDirectory.root = job_dir
    config.CourseDirectory.db_url = f"sqlite:///{Path(job_dir) / 'gradebook.db'}"
    api = NbGraderAPI(config=config)
    result = {"autograde": api.autograde(assignment, student, force=True, create=True)}
    if result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(assignment, student, force=True)
    Path(job_dir, "result.json").write_text(json.dumps(result, default=str))


_CONTEXT = None


def _context():
    """A forkserver that has imported nbgrader once; every job is forked from it."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["nbgrader.apps", "vaecourse.grading.runner",
                                         "vaecourse.grading.nbgrader_config"])
    return _CONTEXT


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        # Stop it first: a job killed while it launches its kernel could otherwise start the
        # kernel after we listed its children, and that kernel would outlive the job.
        parent.suspend()
    except psutil.NoSuchProcess:
        return
    victims = parent.children(recursive=True) + [parent]
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)


def run_job(job_dir: Path, assignment: str, student: str, cell_timeout: int, time_limit: float,
            env: dict) -> tuple[dict | None, str]:
    """Run one job with the notebook time limit; (nbgrader results or None, failure reason)."""
    process = _context().Process(target=job_main, args=(str(job_dir), assignment, student, cell_timeout, env))
    process.start()
    process.join(time_limit)
    if process.is_alive():
        _kill_tree(process.pid)
        process.join(10)
        return None, f"time limit of {time_limit:g} s for the notebook exceeded (an endless loop, or far too slow)"
    _kill_tree(process.pid)  # a kernel left behind by a crash
    result_file = job_dir / "result.json"
    if not result_file.is_file():
        return None, f"the grading process died (exit code {process.exitcode}): out of memory?"
    return json.loads(result_file.read_text()), ""


def failure_reason(result: dict) -> str:
    auto = result.get("autograde", {})
    text = (auto.get("error") or "") + "\n" + (auto.get("log") or "")
    if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text:
        return "the kernel died while running the notebook (os._exit, a crash, or out of memory)"
    if "Timeout waiting for IOPub output" in text:
        if "Interrupting kernel" in text:
            return ("a cell ran past the cell timeout and did not stop when interrupted "
                    "(an endless loop that catches KeyboardInterrupt?)")
        return "a cell's output did not arrive in time (machine overloaded?): grade it again"
    if "CellTimeoutError" in text:
        return "a cell ran past the cell timeout and could not be interrupted"
    lines = [line for line in (auto.get("error") or auto.get("log") or "").strip().splitlines() if line.strip()]
    return "nbgrader failed: " + (lines[-1].strip() if lines else "no message")[:300]


def course_cell_timeouts(job_dir: Path, student: str, assignment: str) -> str:
    """grade_id of a locked course cell (not the student's work) that timed out, else ''.

    Such a cell (the course helpers, which import torch) only times out when the machine
    is overloaded; the job is run again rather than the student losing every point.
    """
    path = job_dir / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        return ""
    for cell in nbformat.read(path, as_version=4).cells:
        md = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and md.get("locked") and not md.get("grade") and not md.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and output.get("ename") in TIMEOUT_ERRORS:
                    return md.get("grade_id", "?")
    return ""


TIMEOUT_ERRORS = {"KeyboardInterrupt", "CellTimeoutError", "TimeoutError"}


def reset_job(job_dir: Path, template: Path) -> None:
    for name in ("autograded", "feedback"):
        if (job_dir / name).exists():
            shutil.rmtree(job_dir / name)
    (job_dir / "result.json").unlink(missing_ok=True)
    shutil.copyfile(template, job_dir / "gradebook.db")


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
                time_limit: float = 600, env_extra: dict | None = None, progress: bool = True) -> list[Outcome]:
    """Repair, autograde and make feedback for every (student, notebook); see the module doc."""
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
    lock = threading.Lock()
    results: dict[tuple[str, str], dict | None] = {}

    timings: dict[str, float] = {}

    def work_on(item):
        student, assignment, job_dir = item
        started = time.monotonic()
        outcome = outcomes[(student, assignment)]
        for attempt in (1, 2):
            result, reason = run_job(job_dir, assignment, student, cell_timeout, time_limit, env)
            if result is None:
                outcome.status, outcome.reason = NOT_GRADED, reason
            elif not result["autograde"].get("success"):
                outcome.status, outcome.reason = NOT_GRADED, failure_reason(result)
            else:
                slow = course_cell_timeouts(job_dir, student, assignment)
                if slow and attempt == 1:
                    reset_job(job_dir, template)  # the machine was busy: not the student's fault
                    continue
                if slow:
                    outcome.status = NOT_GRADED
                    outcome.reason = (f"the course's own cell {slow} ran past the cell timeout twice "
                                      "(machine overloaded?): grade it again")
            break
        timings[f"{student}/{assignment}"] = round(time.monotonic() - started, 2)
        (job_dir / "log.txt").write_text(json.dumps(result, indent=1, default=str) if result else reason)
        with lock:
            results[(student, assignment)] = result
            remaining[student] -= 1
            if remaining[student] == 0:
                bar.update(1)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(work_on, todo))
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
