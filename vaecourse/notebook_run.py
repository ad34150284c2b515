"""Run a course notebook top to bottom with nbclient, as a student's kernel would, outside nbgrader.

Used by `python -m vaecourse.reference_figures` (the reference figures) and by
benchmarks/notebook_memory.py (peak memory). The kernel gets its environment from
`course_env`: the course's variables (data, checkpoints, quick mode) set, nbgrader's
execution flag removed (it would force quick mode), this checkout's package first on
PYTHONPATH (a master imports `vaecourse`; an editable install elsewhere must not answer)
and this interpreter's bin folder first on PATH (the `python3` kernel is found there).
"""
import json
import os
import time
from pathlib import Path

from vaecourse.masters import ROOT
from vaecourse.nbg.run import tool_env
from vaecourse.runtime import CHECKPOINT_ENV, DATA_ENV, QUICK_ENV


def course_env(data: Path | None = None, checkpoints: Path | None = None, quick: bool = False) -> dict:
    """The environment of a notebook kernel: data and checkpoint folders, quick or full mode."""
    env = tool_env()
    env.pop("NBGRADER_EXECUTION", None)
    env.pop(QUICK_ENV, None)
    if quick:
        env[QUICK_ENV] = "1"
    if data is not None:
        env[DATA_ENV] = str(Path(data).resolve())
    if checkpoints is not None:
        env[CHECKPOINT_ENV] = str(Path(checkpoints).resolve())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def run_notebook(nb, env: dict, cwd: Path, timeout: int | None = None, allow_errors: bool = False) -> float:
    """Execute nb in place in a fresh kernel started in cwd with env; the seconds it took.

    allow_errors=False stops at the first failing cell with nbclient's CellExecutionError;
    True runs every cell and leaves the errors in the outputs (see `error_outputs`).
    timeout: seconds per cell, None for no limit (05 trains for minutes in full mode).
    """
    from nbclient import NotebookClient  # imported here: seconds, and only the runners need it

    from vaecourse.nbg.config import KERNEL_SHUTDOWN  # killed once the last cell has run, as when grading

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            shutdown_kernel=KERNEL_SHUTDOWN, resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute(env=env)  # the kernel process gets env, not this process's environment
    return time.perf_counter() - start


def error_outputs(nb) -> list[str]:
    """'Name: message' of every error output, shortened."""
    return [f"{o.ename}: {o.evalue}"[:300] for cell in nb.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.output_type == "error"]


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def printed_json(cell, marker: str) -> dict:
    """The JSON a probe cell printed after `marker` on one line; {} when it printed none."""
    line = next((line for line in stream_text(cell).splitlines() if line.startswith(marker)), None)
    return json.loads(line[len(marker):]) if line else {}
