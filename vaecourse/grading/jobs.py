"""One grading job: a self-contained folder in, a result out; and the executors that run jobs.

A job grades one student's notebook. Its folder is a complete nbgrader course of its own:

    source/<assignment>/<assignment>.ipynb          the released source (solutions and rubrics included)
    submitted/<student>/<assignment>/<assignment>.ipynb   the repaired submission (+ timestamp.txt)
    gradebook.db                                    sqlite, the assignment's definitions only

`run_job(job_dir, spec)` runs real nbgrader in a process forked from a server that has
already imported it (nbgrader's autograde, witnessed: vaecourse/nbg/witness.py, with the
grader-side verdicts judged after each test cell; then `generate_feedback`) and kills the process and its kernel at
`spec.time_limit`. What a status may put down to the machine is established by the grader
itself (vaecourse/grading/faults.py): its own load of the data folder on this machine before
the first job, and, when a course cell ran past the cell timeout or a cell's output came late,
the same course work run alone in a fresh kernel after the student's kernel is gone. Only when
that is slow too is the job run a second time (and then, slow again, `could not grade`: grade
it again); otherwise the notebook is graded as it ran, with a note for review. It adds to the folder

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

from vaecourse.grading import faults
from vaecourse.grading.course_folder import JobFolder
from vaecourse.nbg.config import configure
from vaecourse.nbg.layout import AUTOGRADED, FEEDBACK, SOURCE


@dataclass(frozen=True)
class JobSpec:
    """What a job needs besides its folder."""
    student: str
    assignment: str
    cell_timeout: int  # seconds per cell (nbgrader's Execute.timeout)
    time_limit: float  # seconds for the whole notebook, enforced from outside
    env: dict = field(default_factory=dict, hash=False)  # the job process's environment variables
    isolation: object = None  # the vaecourse.isolation backend the kernel runs in (pickled: its module is imported
    # where the job runs); None: no sandbox
    verdict_seed: int | None = None  # the seed the verdicts draw their inputs from (runner.verdict_seed); None: a new one


@dataclass
class JobResult:
    """What came of a job: nbgrader's answers (None if it never finished) and why it is not graded ('' if it is)."""
    result: dict | None
    reason: str = ""
    seconds: float = 0.0
    attempts: int = 1
    notes: list[str] = field(default_factory=list)  # what happened that is not put down to the machine (review)

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
    job = JobFolder(job_dir)
    log = os.open(job.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)  # nbgrader's and the kernel's own chatter go to the job's log, not the terminal
    os.dup2(log, 2)
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from vaecourse.nbg.witness import Witness

    config = Config()
    configure(config, grading=True, cell_timeout=spec.cell_timeout, root=job_dir,
              db_url=f"sqlite:///{job.gradebook}", isolation=spec.isolation,
              data_dir=spec.env.get("VAE_COURSE_DATA"), verdict_seed=spec.verdict_seed)
    witness = Witness()  # what this process sees nbclient do: the only evidence of a timeout
    witness.install(config)
    api = NbGraderAPI(config=config)
    result = {"autograde": witness.autograde(api, spec.assignment, spec.student)}
    result["witness"] = witness.summary()
    if result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(spec.assignment, spec.student, force=True)
    job.result.write_text(json.dumps(result, default=str))


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


# What the job server imports once, before it forks a job (each job would pay these imports again).
JOB_SERVER_PRELOAD = ["vaecourse.grading.jobs", "nbgrader.apps", "vaecourse.nbg.sandboxedexecute", "vaecourse.nbg.witness",
                      "nbclient", "vaecourse.nbg.verdictexecute", "vaecourse.nbg.capoutput", "vaecourse.nbg.droplinks",
                      "vaecourse.nbg.stderrnotcounted", "vaecourse.nbg.shorterrors", "vaecourse.nbg.showrubrics"]


def _context():
    """A forkserver that has imported nbgrader once; every job is forked from it."""
    global _CONTEXT
    if _CONTEXT is None:
        _short_multiprocessing_tempdir()
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(JOB_SERVER_PRELOAD)
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
    result_file = JobFolder(job_dir).result
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
    """Why nbgrader did not finish (vaecourse.grading.faults.failure_reason: from the witness, not the log)."""
    return faults.failure_reason(result)


def _reset(job_dir: Path, gradebook: bytes) -> None:
    """Back to the folder as it came in, for a second attempt."""
    job = JobFolder(job_dir)
    for step in (AUTOGRADED, FEEDBACK):
        if job.folder(step).exists():
            shutil.rmtree(job.folder(step))
    job.result.unlink(missing_ok=True)
    job.gradebook.write_bytes(gradebook)


def machine_check(job_dir: Path, spec: JobSpec, fault: faults.Fault) -> faults.MachineCheck:
    """The course's cells up to the fault, alone in a fresh kernel in a process of their own
    (vaecourse.grading.faults.machine_check_main), once the student's kernel is gone."""
    folder = JobFolder(job_dir).machine_check
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    source = JobFolder(job_dir).notebook(SOURCE, spec.assignment)
    timeout, iopub = faults.timeouts(spec.cell_timeout)
    limit = 120 + 4 * (timeout + iopub)
    process = _context().Process(target=faults.machine_check_main, args=(str(folder), str(source), fault.upto, spec))
    process.start()
    process.join(limit)
    if process.is_alive():
        _kill_tree(process.pid)
        process.join(10)
        check = faults.MachineCheck(failed=f"the course's cells alone, in a fresh kernel with no student code, "
                                           f"did not finish within {limit} s")
    else:
        _kill_tree(process.pid)
        check = faults.read_check(folder, f"the machine check stopped: {died_reason(process.exitcode)}")
    shutil.rmtree(folder, ignore_errors=True)
    return check


def data_reason(spec: JobSpec) -> str:
    """'' when the grader itself loads MNIST on this machine (once per folder: faults.data_check); else the reason."""
    folder, where = faults.data_folder(spec.env)
    problem = faults.data_check(folder, spec.isolation)
    if not problem:
        return ""
    return (f"the grader itself could not load MNIST on the machine that graded it ({problem}; looked in {folder}, "
            f"{where}): fix its data folder (README: For instructors) and grade again")


def run_job(job_dir: Path, spec: JobSpec) -> JobResult:
    """Grade the job folder (see the module doc); twice when a timeout came with a slow machine check."""
    job_dir, job = Path(job_dir), JobFolder(job_dir)
    started = time.monotonic()
    gradebook = job.gradebook.read_bytes()
    result, notes, attempt = None, [], 1
    reason = data_reason(spec)
    for attempt in (1, 2):
        if reason:
            break
        result, reason = run_once(job_dir, spec)
        if result is not None and not result["autograde"].get("success"):
            reason = failure_reason(result)
        fault = faults.timeout_fault(result.get("witness") or {}, spec.cell_timeout) \
            if result is not None and not reason else None
        if fault is not None:
            check = machine_check(job_dir, spec, fault)
            if check.slow(spec.cell_timeout) and attempt == 1:
                _reset(job_dir, gradebook)  # established: the machine was slow; the student's work is graded again
                continue
            if check.slow(spec.cell_timeout):
                reason = faults.the_machine(fault, check, spec.cell_timeout)
            else:
                notes.append(faults.not_the_machine(fault, check, spec.cell_timeout))
        break
    if result is not None and not reason:
        notes += faults.mnist_notes(job.notebook(AUTOGRADED, spec.assignment, spec.student))
    job.log.write_text(json.dumps(result, indent=1, default=str) if result else reason)
    return JobResult(result, reason, round(time.monotonic() - started, 2), attempt, notes)


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
