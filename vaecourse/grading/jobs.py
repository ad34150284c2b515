"""One grading job: a self-contained folder in, a result out; and the executors that run jobs.

A job grades one student's notebook. Its folder is a complete nbgrader course of its own:

    source/<assignment>/<assignment>.ipynb          the released source (hidden tests included)
    submitted/<student>/<assignment>/<assignment>.ipynb   the repaired submission (+ timestamp.txt)
    gradebook.db                                    sqlite, the assignment's definitions only

`run_job(job_dir, spec)` runs real nbgrader in a process forked from a server that has
already imported it (`NbGraderAPI.autograde`, then `generate_feedback` with the hidden
tests hidden), kills the process and its kernel at `spec.time_limit`, and runs the job a
second time when a locked course cell (not the student's work) timed out: that only
happens on an overloaded machine. It adds to the folder

    autograded/<student>/<assignment>/   feedback/<student>/<assignment>/   gradebook.db (scores)
    result.json (nbgrader's answers)     output.txt (nbgrader's and the kernel's chatter)   log.txt

and returns a `JobResult`. Nothing else is read or written, so a job can run anywhere the
folder can be copied to, and `JobSpec` and `JobResult` are plain picklable dataclasses.

The executor protocol. `grade_class` is handed an executor, any object with

    run(items: list[tuple[key, Path, JobSpec]], on_done: Callable[[key, JobResult], None]) -> None

which runs `run_job(job_dir, spec)` for every item and calls `on_done(key, result)` once per
item as it finishes, never two calls at once; `run` returns when every item is done, with
each job folder holding the job's outputs. `LocalExecutor(jobs=N)` runs N jobs at once in
this machine's threads. An executor for other machines (Dask, a sandbox) ships the job
folder's bytes to a worker, calls `run_job` there, and copies the folder back before on_done.
"""
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from vaecourse.masters import grade_id, is_course_cell
from vaecourse.nbg.config import TIMEOUT_ERRORS, configure
from vaecourse.nbg.layout import notebook_path



@dataclass(frozen=True)
class JobSpec:
    """What a job needs besides its folder."""
    student: str
    assignment: str
    cell_timeout: int  # seconds per cell (nbgrader's Execute.timeout)
    time_limit: float  # seconds for the whole notebook, enforced from outside
    env: dict = field(default_factory=dict, hash=False)  # the job process's environment variables
    isolation: object = None  # a vaecourse.sandbox.Isolation the kernel runs in; None: no sandbox
    verdict_seed: int | None = None  # the seed the verdicts draw their inputs from (runner.verdict_seed); None: a new one


@dataclass
class JobResult:
    """What came of a job: nbgrader's answers (None if it never finished) and why it is not graded ('' if it is)."""
    result: dict | None
    reason: str = ""
    seconds: float = 0.0
    attempts: int = 1

    @property
    def graded(self) -> bool:
        return not self.reason


# ---------------------------------------------------------------- the job process

def job_main(job_dir: str, spec: JobSpec, grader_pid: int | None = None) -> None:
    """Run in a forked process: autograde one student's notebook and make its feedback."""
    _die_with_parent()
    if grader_pid:
        _watch_grader(grader_pid)
    os.environ.update(spec.env)
    os.chdir(job_dir)
    log = os.open(Path(job_dir) / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)  # nbgrader's and the kernel's own chatter go to the job's log, not the terminal
    os.dup2(log, 2)
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    config = Config()
    configure(config, grading=True, cell_timeout=spec.cell_timeout, root=job_dir,
              db_url=f"sqlite:///{Path(job_dir) / 'gradebook.db'}", isolation=spec.isolation,
              data_dir=spec.env.get("VAE_COURSE_DATA"), verdict_seed=spec.verdict_seed)
    api = NbGraderAPI(config=config)
    result = {"autograde": api.autograde(spec.assignment, spec.student, force=True, create=True)}
    if result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(spec.assignment, spec.student, force=True)
    Path(job_dir, "result.json").write_text(json.dumps(result, default=str))


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the forkserver that forked it ends (the kernel then follows
    its parent). The forkserver need not end with the grading process or Dask worker that started the
    job (a kernel outlived a killed run in the hostile suite), so `_watch_grader` watches that process
    itself; this is the cheap first line."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _watch_grader(grader_pid: int, every: float = 0.5) -> None:
    """A thread that ends this job, its kernel and the kernel's sandbox when the grading process is gone.

    PR_SET_PDEATHSIG ties the job to the forkserver, which need not end with the grading
    process at once (a killed grading run left kernels running for a minute): the job
    watches the grading process itself too.
    """
    import psutil

    try:
        started = psutil.Process(grader_pid).create_time()
    except psutil.Error:
        started = None

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                alive = started is not None and psutil.Process(grader_pid).create_time() == started
            except psutil.Error:
                alive = False
            if not alive:
                for child in psutil.Process().children(recursive=True):
                    try:
                        child.kill()
                    except psutil.Error:
                        pass
                os._exit(1)

    threading.Thread(target=watch, name="watch-grader", daemon=True).start()


_CONTEXT = None
SOCKET_PATH_ROOM = 60  # multiprocessing's folder + "/pymp-xxxxxxxx/listener-xxxxxxxx" must stay under 108 bytes


def _short_multiprocessing_tempdir() -> None:
    """Put multiprocessing's temporary folder in /tmp itself when $TMPDIR is long.

    The forkserver listens on a Unix socket in that folder, and a socket path may not pass
    107 bytes. A Dask worker's TMPDIR is often a deep folder of its own, and the job then
    failed with "AF_UNIX path too long" before grading anything.
    """
    import tempfile
    from multiprocessing import util

    if len(tempfile.gettempdir()) <= SOCKET_PATH_ROOM or not os.path.isdir("/tmp"):
        return
    saved, tempfile.tempdir = tempfile.tempdir, "/tmp"
    try:
        util.get_temp_dir()  # made now, then kept for this process's lifetime
    finally:
        tempfile.tempdir = saved


def _context():
    """A forkserver that has imported nbgrader once; every job is forked from it."""
    global _CONTEXT
    if _CONTEXT is None:
        _short_multiprocessing_tempdir()
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["nbgrader.apps", "vaecourse.grading.jobs", "vaecourse.nbg.sandboxedexecute",
                                         "vaecourse.nbg.verdictexecute",
                                         "vaecourse.nbg.capoutput", "vaecourse.nbg.droplinks",
                                         "vaecourse.nbg.stderrnotcounted", "vaecourse.nbg.hidehiddentests",
                                         "vaecourse.nbg.showrubrics"])
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


def run_once(job_dir: Path, spec: JobSpec) -> tuple[dict | None, str]:
    """Run the job process once with the notebook time limit; (nbgrader results or None, failure reason)."""
    process = _context().Process(target=job_main, args=(str(job_dir), spec, os.getpid()))
    process.start()
    process.join(spec.time_limit)
    if process.is_alive():
        _kill_tree(process.pid)
        process.join(10)
        return None, f"time limit of {spec.time_limit:g} s for the notebook exceeded (an endless loop, or far too slow)"
    _kill_tree(process.pid)  # a kernel left behind by a crash
    result_file = job_dir / "result.json"
    if not result_file.is_file():
        return None, died_reason(process.exitcode)
    return json.loads(result_file.read_text()), ""


def died_reason(exitcode: int | None) -> str:
    """Why the job process ended without a result, from its exit code (negative: the signal that killed it)."""
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        why = f"the grading process was killed (signal {-exitcode}: {name})"
        return why + (": out of memory, or killed by someone?" if -exitcode == signal.SIGKILL else "")
    return f"the grading process ended without a result (exit code {exitcode})"


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


TIMED_OUT_LOG = "Timeout waiting for execute reply"  # nbclient's log line when a cell passes the timeout


def course_cell_timeouts(job_dir: Path, student: str, assignment: str, log: str = "",
                         cell_timeout: float | None = None) -> str:
    """grade_id of a locked course cell (not the student's work) that timed out, else ''.

    Such a cell (the course helpers, which import torch) only times out when the machine
    is overloaded; the job is run again rather than the student losing every point. A
    timeout is nbclient's interrupt: its log says TIMED_OUT_LOG and the cell ran for the
    whole cell timeout (nbclient's recorded timing). A KeyboardInterrupt that a course cell
    merely raised (student code can make the helpers raise one) is not a timeout.
    """
    path = notebook_path(job_dir, "autograded", assignment, student)
    if TIMED_OUT_LOG not in log or not path.is_file():
        return ""
    for cell in nbformat.read(path, as_version=4).cells:
        if is_course_cell(cell) and _interrupted(cell, cell_timeout):
            return grade_id(cell) or "?"
    return ""


def _interrupted(cell, cell_timeout: float | None) -> bool:
    """The cell ended in an interrupt error, after running about the cell timeout (when timing was recorded)."""
    from datetime import datetime

    if not any(o.get("output_type") == "error" and o.get("ename") in TIMEOUT_ERRORS for o in cell.get("outputs", [])):
        return False
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (cell_timeout and start and end):
        return True
    try:
        took = (datetime.fromisoformat(end.replace("Z", "+00:00")) -
                datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return True
    return took >= 0.9 * cell_timeout


def _reset(job_dir: Path, gradebook: bytes) -> None:
    """Back to the folder as it came in, for a second attempt."""
    for name in ("autograded", "feedback"):
        if (job_dir / name).exists():
            shutil.rmtree(job_dir / name)
    (job_dir / "result.json").unlink(missing_ok=True)
    (job_dir / "gradebook.db").write_bytes(gradebook)


def run_job(job_dir: Path, spec: JobSpec) -> JobResult:
    """Grade the job folder (see the module doc); twice when a course cell timed out the first time."""
    job_dir = Path(job_dir)
    started = time.monotonic()
    gradebook = (job_dir / "gradebook.db").read_bytes()
    for attempt in (1, 2):
        result, reason = run_once(job_dir, spec)
        if result is not None and not result["autograde"].get("success"):
            reason = failure_reason(result)
        elif result is not None:
            slow = course_cell_timeouts(job_dir, spec.student, spec.assignment,
                                        result["autograde"].get("log") or "", spec.cell_timeout)
            if slow and attempt == 1:
                _reset(job_dir, gradebook)  # the machine was busy: not the student's fault
                continue
            if slow:
                reason = (f"the course's own cell {slow} ran past the cell timeout twice "
                          "(machine overloaded?): grade it again")
        break
    (job_dir / "log.txt").write_text(json.dumps(result, indent=1, default=str) if result else reason)
    return JobResult(result, reason, round(time.monotonic() - started, 2), attempt)


# ---------------------------------------------------------------- executors

Item = tuple[Hashable, Path, JobSpec]


class LocalExecutor:
    """Runs `jobs` jobs at once on this machine (threads, each waiting on its job process)."""

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, jobs)

    def run(self, items: list[Item], on_done: Callable[[Hashable, JobResult], None]) -> None:
        lock = threading.Lock()

        def one(item: Item) -> None:
            key, job_dir, spec = item
            outcome = run_job(job_dir, spec)
            with lock:
                on_done(key, outcome)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            list(pool.map(one, items))
