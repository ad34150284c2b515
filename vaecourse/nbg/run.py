"""nbgrader as a subprocess of this interpreter."""
import os
import subprocess
import sys
from pathlib import Path


class NbgraderFailed(RuntimeError):
    """An nbgrader command exited with an error; the message holds its log (the last 4,000 characters)."""


def tool_env(extra: dict | None = None) -> dict:
    """The environment for nbgrader and Jupyter subprocesses: this process's, plus `extra`.

    nbgrader runs `alembic` from PATH, so this interpreter's bin folder goes first even
    when the virtual environment is not activated.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    if env.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env.update(extra or {})
    return env


def run_nbgrader(args: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m nbgrader ARGS` in cwd (which holds its nbgrader_config.py); env: default tool_env().
    Started as `python -m vaecourse.nbg` (the same command line, a second faster: vaecourse/nbg/__main__.py).

    check: raise NbgraderFailed, with the log, when it fails.
    """
    result = subprocess.run([sys.executable, "-m", "vaecourse.nbg", *args], cwd=cwd, capture_output=True,
                            text=True, env=env or tool_env())
    if check and result.returncode != 0:
        log = result.stdout + "\n" + result.stderr
        raise NbgraderFailed(f"nbgrader {' '.join(args)} failed in {cwd}:\n{log[-4000:]}")
    return result
