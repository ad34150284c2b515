"""The course package installed as users install it, for tests that run it from outside this checkout.

- `build_wheel(tmp)`: the wheel `pip wheel --no-deps` makes of the package (from a copy of its files,
  so that the build leaves no build/ or *.egg-info in the checkout).
- `venv_env(python)`: an environment that runs that venv's python as an instructor's shell would:
  no PYTHONPATH (it would put the checkout first), no VIRTUAL_ENV, no nbgrader flag, the venv's
  bin first on PATH and then the system's only.
- `wheel_venv()`: a venv with the course's dependencies installed the way `make setup` installs
  them (the Makefile's torch pair from this machine's disk, the rest from PyPI), cached under
  ~/.cache keyed by pyproject.toml, with the wheel of this checkout installed in it.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vaecourse-tests"
READY = ".vaecourse-ready.json"


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def build_wheel(tmp: Path) -> Path:
    """The wheel of this checkout's package, built in tmp from a copy of its files."""
    source = Path(tmp) / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "vaecourse", source / "vaecourse", ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w",
         Path(tmp) / "dist"], cwd=source)
    return next((Path(tmp) / "dist").glob("vaecourse-*.whl"))


def venv_env(python: Path, extra: dict | None = None) -> dict:
    """The environment of a shell with the venv of `python` first on PATH and nothing of this checkout."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTHONPATH", "VIRTUAL_ENV", "NBGRADER_EXECUTION", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join([str(Path(python).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env.update(extra or {})
    return env


def makefile_torch() -> list[str]:
    """The torch and torchvision requirements `make setup` installs (the Makefile's TORCH)."""
    line = re.search(r"^TORCH \?= (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert line, "no `TORCH ?=` line in the Makefile"
    return line.group(1).split()


@contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _make_deps_venv(venv: Path, key: str, wheel: Path) -> float:
    """A fresh venv with the Makefile's torch pair, then the wheel with its dependencies (PyPI)."""
    for old in CACHE.glob("wheel-venv-*"):  # one cached venv at a time: each holds about 6 GB
        shutil.rmtree(old, ignore_errors=True)
    started = time.monotonic()
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    env = venv_env(python)
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env=env)
    run([python, "-m", "pip", "install", "--quiet", *makefile_torch()], env=env)
    run([python, "-m", "pip", "install", "--quiet", wheel], env=env)
    seconds = time.monotonic() - started
    (venv / READY).write_text(json.dumps({"key": key, "seconds": round(seconds, 1)}))
    return seconds


@contextmanager
def wheel_venv(tmp: Path):
    """(python, how the venv was had) of a venv holding this checkout's wheel and the course's dependencies.

    The venv is cached in ~/.cache/vaecourse-tests/wheel-venv-<key>, the key a hash of pyproject.toml,
    the Makefile's torch pair and this Python's version: a changed dependency makes a new one (and
    removes the old). Each use installs the wheel built now over the one there (--no-deps
    --force-reinstall: a few seconds). The cache is locked while in use, so two test runs on one
    machine take turns. VAE_COURSE_FRESH_VENV=1 rebuilds it.
    """
    torch = makefile_torch()
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + json.dumps([torch, sys.version]).encode()
                         ).hexdigest()[:16]
    venv = CACHE / f"wheel-venv-{key}"
    python = venv / "bin" / "python"
    wheel = build_wheel(tmp)
    with locked(CACHE / "wheel-venv.lock"):
        ready = venv / READY
        if ready.is_file() and python.is_file() and not os.environ.get("VAE_COURSE_FRESH_VENV"):
            how = f"reused {venv} (built cold in {json.loads(ready.read_text())['seconds']:.0f} s)"
        else:
            shutil.rmtree(venv, ignore_errors=True)
            how = f"built {venv} cold in {_make_deps_venv(venv, key, wheel):.0f} s"
        run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", "--no-index", wheel],
            env=venv_env(python))
        yield python, how
