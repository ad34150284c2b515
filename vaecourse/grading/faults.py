"""What a grading status may put down to the machine: only what the grader has established itself.

Student code runs in the kernel, so a status never blames the grading machine for what the
kernel says, prints, raises, sends or withholds: a student can raise their own MNISTUnavailable,
hold back a cell's output, or write "Timeout waiting for IOPub output" into nbgrader's log
(vaecourse/nbg/witness.py says how). The grader establishes the machine's part itself:

1. The data (`data_check`). Before grading, the grader loads the MNIST folder with the course's
   own loader (vaecourse.data), in its own process and, when grading is sandboxed, in a fresh
   sandbox that is shown the folder as every kernel is: once per run (per folder, sandbox and
   file versions; a Dask worker checks its own folder once). If that fails the run stops
   (runner.grade_class) or, on a worker, the job is `could not grade` with the grader's reason.
   If it passes, an MNISTUnavailable in a notebook is the notebook's own error (`mnist_notes`).
2. Time (`timeout_fault`, `machine_check`). When the witness saw a course cell run past the
   cell timeout, or a cell's output not arrive in the IOPub wait after its reply, the grader
   runs the same course work alone once the student's kernel is gone: the course's cells up
   to that point, from the released source, in a fresh (sandboxed) kernel with no student code
   and the same timeouts, on its own clock. Only if that is slow too (a cell taking
   SLOW_SHARE of the cell timeout or more, a timeout, a late output, or no kernel at all) is
   the machine blamed (vaecourse.grading.jobs grades once more, then says "grade it again").

Where the machine is not established the notebook is graded as it ran: its points are kept,
its status says what happened without blaming the machine (the job's `notes`), and the notes
are review flags for the instructor (vaecourse.grading.review).

This module's top imports only the standard library: `python -m vaecourse.grading.faults DIR`
is the data check run inside the sandbox.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SLOW_SHARE = 0.5  # course work alone taking this share of its timeout or more is slow: the machine's fault
# (a course cell is written to finish well under the cell timeout: CONTRIBUTING.md, "Quick mode")
SANDBOX_CHECK_TIMEOUT = 300  # seconds for the sandboxed data check (a python importing torch)


# ---------------------------------------------------------------- 1. the data

def data_folder(env: dict | None = None) -> tuple[Path, str]:
    """The MNIST folder every job is given, and where that came from: $VAE_COURSE_DATA, else data/
    beside the course package (vaecourse.runtime's default, made explicit for the sandboxed kernels)."""
    from vaecourse.masters import ROOT

    env = os.environ if env is None else env
    if env.get("VAE_COURSE_DATA"):
        return Path(env["VAE_COURSE_DATA"]).expanduser(), f"VAE_COURSE_DATA={env['VAE_COURSE_DATA']}"
    return ROOT / "data", "VAE_COURSE_DATA is not set: data/ beside the course package"


def load_problem(folder) -> str:
    """'' when the course's loader (vaecourse.data) reads both splits from `folder`; else why not."""
    from vaecourse.data import MNISTUnavailable, ensure_mnist, mnist_tensors

    try:
        for train in (True, False):
            ensure_mnist(train=train, root=folder, download=False)
            x, y = mnist_tensors(train=train, root=folder, limit=64)  # (64, 1, 28, 28), (64,)
            if tuple(x.shape[1:]) != (1, 28, 28) or len(x) != len(y) or len(x) == 0:
                return f"the {'train' if train else 'test'} split loads as {tuple(x.shape)} images, {tuple(y.shape)} labels"
    except MNISTUnavailable as error:
        return (str(error).strip().splitlines() or ["MNISTUnavailable"])[0]
    except (OSError, ValueError, RuntimeError) as error:
        return f"{type(error).__name__}: {error}"[:300]
    return ""


_CHECKED: dict[tuple, str] = {}
_CHECK_LOCK = threading.Lock()


def data_check(folder, isolation=None) -> str:
    """'' when the course's loader reads MNIST from `folder` as the kernels will: in a fresh sandbox
    shown the folder as they are when `isolation` is one, else in this process; what failed otherwise.
    Once per folder, sandbox and file versions (the answer is kept)."""
    folder = Path(folder).expanduser().absolute()
    with _CHECK_LOCK:
        key = (str(folder), repr(isolation), _versions(folder))
        if key not in _CHECKED:
            sandboxed = isolation is not None and isolation.available
            problem = _sandboxed(folder, isolation) if sandboxed else load_problem(folder)
            if problem and sandboxed and not load_problem(folder):
                problem = (f"this process reads it, but a sandboxed kernel, which is shown only {folder}, cannot: "
                           f"{problem} (links to files outside the folder?)")
            _CHECKED[key] = problem
        return _CHECKED[key]


def _versions(folder: Path) -> tuple:
    from vaecourse.data import IDX_FILES, raw_dir

    out = []
    for name in IDX_FILES:
        try:
            stat = (raw_dir(folder) / name).stat()
            out.append((name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
        except OSError:
            out.append((name, None))
    return tuple(out)


def _sandboxed(folder: Path, isolation) -> str:
    """The course's loader in a fresh sandbox, the folder shown read-only as the kernels see it."""
    import vaecourse
    from vaecourse.sandbox import kernel_python

    package = Path(vaecourse.__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="vaecourse-datacheck-") as work:
        command = isolation.wrap([kernel_python(), "-m", "vaecourse.grading.faults", str(folder)],
                                 writable=[work], cwd=work, read_only=[str(folder), str(package)],
                                 env={"VAE_COURSE_DATA": str(folder), "PYTHONPATH": str(package.parent)})
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=SANDBOX_CHECK_TIMEOUT, check=False,
                                 preexec_fn=isolation.preexec(), stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as error:
            return f"the course's loader did not run in the sandbox ({type(error).__name__}: {error})"
    try:
        problem = json.loads(run.stdout.strip().splitlines()[-1])["problem"]
    except (IndexError, ValueError, KeyError, TypeError):
        return f"the course's loader did not run in the sandbox: {(run.stderr.strip() or 'no output')[-300:]}"
    return problem


def mnist_notes(notebook: Path) -> list[str]:
    """A note when a cell of the autograded notebook raised MNISTUnavailable: after the grader's own
    data check passed, that is the notebook's own error (its class or its loader may be the student's)."""
    import nbformat

    from vaecourse.masters import grade_id

    if not Path(notebook).is_file() or Path(notebook).is_symlink():
        return []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if any(o.get("output_type") == "error" and o.get("ename") == "MNISTUnavailable" for o in cell.get("outputs", [])):
            return [(f"cell {grade_id(cell) or index + 1} raised MNISTUnavailable, but the grader had loaded the "
                     "data folder itself before grading: the notebook's own error, graded as it ran")]
    return []


# ---------------------------------------------------------------- 2. what the witness saw

def timeouts(cell_timeout: int) -> tuple[int, int]:
    """(cell timeout, IOPub wait) in seconds, as vaecourse.nbg.config sets them for grading."""
    from traitlets.config import Config

    from vaecourse.nbg.config import configure

    config = Config()
    configure(config, cell_timeout=cell_timeout)
    return int(config.Execute.timeout), int(config.Execute.iopub_timeout)


@dataclass(frozen=True)
class Fault:
    """A timeout the witness saw that could be the machine's: what happened, and the course cell it came after."""
    what: str
    upto: str | None  # grade_id of the last course cell started by then (the machine check replays up to it)


def _where(event: dict) -> str:
    return f"cell {event['grade_id']}" if event.get("grade_id") else f"cell {(event.get('cell') or 0) + 1}"


def timeout_fault(witness: dict, cell_timeout: int) -> Fault | None:
    """The first course cell past the cell timeout, or output late after its reply (not after an
    interrupt: then the kernel kept running the cell), in the witness's events; None if neither."""
    from vaecourse.nbg.witness import EXECUTE_TIMEOUT, INTERRUPTED, IOPUB_TIMEOUT

    timeout, iopub = timeouts(cell_timeout)
    interrupted = set()
    for event in witness.get("events", []):
        if event["event"] == INTERRUPTED:
            interrupted.add(event["cell"])
        if event["event"] == EXECUTE_TIMEOUT and event.get("course"):
            return Fault(f"the course's own {_where(event)} ran past the {timeout} s cell timeout",
                         event.get("course_so_far"))
        if event["event"] == IOPUB_TIMEOUT and event["cell"] not in interrupted:
            return Fault(f"the output of {_where(event)} did not arrive within {iopub} s of its reply",
                         event.get("course_so_far"))
    return None


def failure_reason(result: dict) -> str:
    """Why nbgrader did not finish a notebook, from the witness (the grader's own record), never from
    the log text."""
    from vaecourse.nbg.witness import KERNEL_DIED

    witness = result.get("witness") or {}
    raised = witness.get("raised") or {}
    name = raised.get("type", "")
    events = [e["event"] for e in witness.get("events", [])]
    if name == "DeadKernelError" or KERNEL_DIED in events:
        return "the kernel died while running the notebook (os._exit, a crash, or out of memory)"
    if name == "InterruptIgnored":
        return ("a cell ran past the cell timeout and did not stop when interrupted "
                "(an endless loop that catches KeyboardInterrupt?)")
    if name == "CellTimeoutError":
        return "a cell ran past the cell timeout and could not be interrupted"
    if raised and raised.get("cell") is not None:  # its message may quote what the kernel sent: not shown
        return (f"nbgrader stopped with {name} while running cell {raised['cell'] + 1} (a message from the "
                "kernel it could not handle?); the traceback is in the job's log.txt under .grading/run/jobs/")
    if raised:
        return f"nbgrader failed: {name}: {raised.get('message', '')}"[:300]
    auto = result.get("autograde", {})
    lines = [line for line in (auto.get("error") or "").strip().splitlines() if line.strip()]
    return "nbgrader failed: " + (lines[-1].strip() if lines else "no message")[:300]


# ---------------------------------------------------------------- 3. the machine

@dataclass
class MachineCheck:
    """The course's cells run alone in a fresh kernel: seconds and what happened per cell, or why it could not run."""
    cells: list[dict] = field(default_factory=list)  # grade_id, seconds, timed_out, late
    failed: str = ""
    sandboxed: bool = False

    def slow(self, cell_timeout: int) -> bool:
        timeout, _ = timeouts(cell_timeout)
        return bool(self.failed) or not self.cells or any(
            c["timed_out"] or c["late"] or c["seconds"] >= SLOW_SHARE * timeout for c in self.cells)

    def describe(self, cell_timeout: int) -> str:
        timeout, iopub = timeouts(cell_timeout)
        if self.failed or not self.cells:
            return self.failed or "no course cell to run"
        kernel = "a fresh sandboxed kernel" if self.sandboxed else "a fresh kernel"
        worst = max(self.cells, key=lambda c: c["seconds"])
        late = [c["grade_id"] for c in self.cells if c["late"]]
        if worst["timed_out"]:
            how = f"ran past the {timeout} s cell timeout"
        elif late:
            how = f"sent its output over {iopub} s after its reply"
            worst = next(c for c in self.cells if c["late"])
        else:
            how = f"took {worst['seconds']:.1f} s of the {timeout} s cell timeout"
        ran = "" if len(self.cells) == 1 else f" (of {', '.join(c['grade_id'] for c in self.cells)})"
        return f"alone, in {kernel} with no student code, the course's cell {worst['grade_id']}{ran} {how}"


def not_the_machine(fault: Fault, check: MachineCheck, cell_timeout: int) -> str:
    return f"{fault.what}; {check.describe(cell_timeout)}: not put down to the machine, graded as it ran"


def the_machine(fault: Fault, check: MachineCheck, cell_timeout: int) -> str:
    return (f"{fault.what}, on both tries, and the course's own work was slow too ({check.describe(cell_timeout)}): "
            "the grading machine is overloaded; grade it again")


def replay_notebook(source: Path, upto: str | None):
    """The source notebook's course cells up to and with `upto` (the first course cell when None or absent)."""
    import nbformat

    from vaecourse.masters import grade_id, is_course_cell

    nb = nbformat.read(source, as_version=4)
    course = [cell for cell in nb.cells if is_course_cell(cell)]
    ids = [grade_id(cell) for cell in course]
    keep = course[:ids.index(upto) + 1] if upto in ids else course[:1]
    return nbformat.v4.new_notebook(cells=keep, metadata=nb.metadata)


def machine_check_main(folder: str, source: str, upto: str | None, spec) -> None:
    """Run in a forked process after the student's kernel is gone: the replay, into folder/check.json."""
    os.environ.update(spec.env)
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # quick mode, as nbgrader runs the notebook
    out = Path(folder) / "check.json"
    try:
        check = replay(replay_notebook(Path(source), upto), Path(folder), spec)
    except Exception as error:  # noqa: BLE001 - a fresh kernel that does not run is the machine's answer
        check = MachineCheck(failed=f"a fresh kernel with no student code did not run the course's cells "
                                    f"({type(error).__name__}: {str(error)[:200]})")
    out.write_text(json.dumps({"cells": check.cells, "failed": check.failed, "sandboxed": check.sandboxed}))


def replay(nb, folder: Path, spec) -> MachineCheck:
    """Execute `nb` in a fresh kernel (in the job's sandbox, if any) with the grading timeouts; time each cell."""
    import logging

    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from traitlets.config import Config

    from vaecourse.nbg.config import configure
    from vaecourse.nbg.witness import EXECUTE_TIMEOUT, IOPUB_TIMEOUT, Witness
    from vaecourse.sandbox import SandboxedKernelManager

    sandboxed = spec.isolation is not None and spec.isolation.available
    config = Config()
    configure(config, cell_timeout=spec.cell_timeout, isolation=spec.isolation,
              data_dir=spec.env.get("VAE_COURSE_DATA"))
    witness, took = Witness(), {}
    log = logging.getLogger("vaecourse.machine_check")
    log.propagate = False
    log.addHandler(witness.handler)
    client = NotebookClient(
        nb, config=config, kernel_manager_class=SandboxedKernelManager if sandboxed else AsyncKernelManager,
        timeout=config.Execute.timeout, iopub_timeout=config.Execute.iopub_timeout, interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "", "traceback": []}, allow_errors=True,
        raise_on_iopub_timeout=False, shutdown_kernel=config.Execute.shutdown_kernel,
        resources={"metadata": {"path": str(folder)}}, log=log,
        on_cell_start=witness.cell_started,
        on_cell_executed=lambda cell, cell_index, **_: took.__setitem__(cell_index, time.monotonic() - witness.started))
    try:
        client.execute()
    finally:
        log.removeHandler(witness.handler)
    cells = []
    for index, cell in enumerate(nb.cells):
        mine = [e["event"] for e in witness.events if e["cell"] == index]
        cells.append({"grade_id": cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}",
                      "seconds": round(took.get(index, float(config.Execute.timeout)), 2),
                      "timed_out": EXECUTE_TIMEOUT in mine, "late": IOPUB_TIMEOUT in mine})
    return MachineCheck(cells=cells, sandboxed=sandboxed)


def read_check(folder: Path, why_missing: str) -> MachineCheck:
    path = Path(folder) / "check.json"
    if not path.is_file():
        return MachineCheck(failed=why_missing)
    data = json.loads(path.read_text())
    return MachineCheck(cells=data["cells"], failed=data["failed"], sandboxed=data["sandboxed"])


if __name__ == "__main__":  # the data check inside the sandbox: python -m vaecourse.grading.faults DIR
    print(json.dumps({"problem": load_problem(sys.argv[1])}))
