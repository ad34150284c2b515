"""Each student notebook stands alone: copied by itself into an empty folder, it runs top to
bottom (solutions filled in) in a fresh virtual environment holding only what Google Colab
preinstalls. No clone, no upload, no install of this repository.

The environment (`colab_venv`) is made once and kept in ~/.cache/vaecourse-tests/colab-venv (beside
the wheel's venv of tests/installs.py, so that a fresh clone on the same machine reuses it: a
rebuild per CI run proved nothing new): it holds exactly COLAB_PACKAGES, the packages Colab ships
that the course uses, plus ipykernel and nbclient, which are there only to run the notebook's
kernel (Colab runs its own). Installing torch with its CUDA libraries unpacks about 5 GB, which
takes minutes; the folder is reused while its package list matches and nothing else was installed
into it (`pip freeze` is compared), and rebuilt otherwise (VAE_COURSE_FRESH_VENV=1 forces a rebuild). It is a plain `python -m venv`, never
--system-site-packages (that would hide a missing install), and a test proves that
`import vaecourse` fails in it.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from harness import filled_student
from installs import CACHE, locked, venv_env

ROOT = Path(__file__).resolve().parents[1]
STUDENT_NOTEBOOKS = sorted(path.stem for path in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))

# What Colab preinstalls that the course uses. torch and torchvision are pinned to the pair
# the Makefile installs (the pair this machine has on disk); VAE_COURSE_COLAB_TORCH overrides.
COLAB_TORCH = os.environ.get("VAE_COURSE_COLAB_TORCH", "torch==2.14.1 torchvision==0.29.1").split()
COLAB_PACKAGES = [*COLAB_TORCH, "numpy", "matplotlib", "ipywidgets", "tqdm"]
KERNEL_PACKAGES = ["ipykernel", "nbclient"]  # only to run the kernel; Colab has its own
VENV_DIR = CACHE / "colab-venv"
READY = ".vaecourse-ready.json"

# Run by the venv's own interpreter: executes one notebook with nbclient and writes the result.
RUNNER = r'''
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, target = sys.argv[1], sys.argv[2]
nb = nbformat.read(source, as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                        shutdown_kernel="immediate",  # killed after the last cell, as the grader does
                        resources={"metadata": {"path": "."}})
try:
    client.execute()
    status = 0
except CellExecutionError as error:
    print(str(error)[-3000:], file=sys.stderr)
    status = 1
nbformat.write(nb, target)
import resource  # the kernel was this process's child: its peak memory, for the report
print(f"kernel peak RSS {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
sys.exit(status)
'''

# Appended to the executed copy only (never to the notebook itself): where the kernel ran.
PROBE = '''import json, sys
try:
    import vaecourse
    _where = vaecourse.__file__
except ImportError:
    _where = None
print("PROBE " + json.dumps({"prefix": sys.prefix, "vaecourse": _where}))'''


def _pip_freeze(python: Path) -> str:
    result = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                            check=True, env=venv_env(python))
    return result.stdout


def _make_venv(key: str) -> float:
    shutil.rmtree(VENV_DIR, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    python = VENV_DIR / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *COLAB_PACKAGES, *KERNEL_PACKAGES],
                   check=True, env=venv_env(python))
    seconds = time.monotonic() - started
    (VENV_DIR / READY).write_text(json.dumps({"key": key, "seconds": round(seconds, 1),
                                              "freeze": _pip_freeze(python)}))
    return seconds


@pytest.fixture(scope="session")
def colab_venv() -> Path:
    """The python of a venv holding only COLAB_PACKAGES + KERNEL_PACKAGES (made once, then reused)."""
    key = hashlib.sha256(json.dumps([sys.version, COLAB_PACKAGES, KERNEL_PACKAGES]).encode()).hexdigest()
    python = VENV_DIR / "bin" / "python"
    with locked(CACHE / "colab-venv.lock"):  # one builder at a time (pytest-xdist workers, two test runs)
        ready = VENV_DIR / READY
        reuse = False
        if ready.is_file() and python.is_file() and not os.environ.get("VAE_COURSE_FRESH_VENV"):
            recorded = json.loads(ready.read_text())
            # Reused only if nobody installed anything into it since it was made.
            reuse = recorded["key"] == key and recorded["freeze"] == _pip_freeze(python)
        if reuse:
            print(f"\nColab-like venv reused from {VENV_DIR} (made in {recorded['seconds']} s)")
        else:
            seconds = _make_venv(key)
            print(f"\nColab-like venv created in {seconds:.0f} s at {VENV_DIR}")
    return python


@pytest.mark.slow
def test_venv_holds_only_colab_packages(colab_venv):
    """The course package is not importable in the venv, and the Colab packages are."""
    env = venv_env(colab_venv)
    empty = colab_venv.parent.parent / "empty-cwd"
    empty.mkdir(exist_ok=True)
    result = subprocess.run([str(colab_venv), "-c", "import vaecourse"], cwd=empty, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "No module named 'vaecourse'" in result.stderr, (
        "vaecourse is importable in the Colab-like venv: the standalone test would prove nothing\n"
        + result.stdout + result.stderr)
    modules = "torch, torchvision, numpy, matplotlib, ipywidgets, tqdm"
    result = subprocess.run([str(colab_venv), "-c", f"import {modules}"], cwd=empty, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    freeze = _pip_freeze(colab_venv).lower()
    for name in ["nbgrader", "jupyterlab", "vaecourse", "mlxtend"]:
        assert f"{name}==" not in freeze, f"{name} is installed in the Colab-like venv:\n{freeze}"


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_notebook_runs_alone(name, colab_venv, offline_data, tmp_path):
    """course/NAME.ipynb, solutions filled in, alone in an empty folder, runs with no error."""
    folder = tmp_path / "alone"
    folder.mkdir()
    nb = filled_student(name)
    cells_in_notebook = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    source = folder / f"{name}.ipynb"
    nbformat.write(nb, source)
    runner = tmp_path / "runner.py"  # outside the notebook's folder
    runner.write_text(RUNNER)
    executed = tmp_path / "executed.ipynb"
    assert sorted(p.name for p in folder.iterdir()) == [source.name], "the notebook must be alone"

    env = venv_env(colab_venv, {"VAE_COURSE_DATA": str(offline_data), "VAE_COURSE_QUICK": "1"})
    env.pop("COLAB_RELEASE_TAG", None)
    started = time.monotonic()
    result = subprocess.run([str(colab_venv), str(runner), str(source), str(executed)], cwd=folder,
                            env=env, capture_output=True, text=True, timeout=1500)
    seconds = time.monotonic() - started
    print(f"\n{name} ran alone in the Colab-like venv in {seconds:.0f} s; {result.stdout.strip()[-40:]}")

    assert executed.is_file(), f"{name}: nothing was executed\n{result.stdout}\n{result.stderr}"
    out = nbformat.read(executed, as_version=4)
    errors = [(index, output.get("ename"), output.get("evalue"))
              for index, cell in enumerate(out.cells) for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert result.returncode == 0 and not errors, (
        f"{name} failed when run alone (cell index, error): {errors}\n{result.stderr[-3000:]}")

    probe = [output.text for output in out.cells[-1].outputs if output.get("name") == "stdout"]
    facts = json.loads("".join(probe).split("PROBE ", 1)[1])
    assert Path(facts["prefix"]).resolve() == colab_venv.parent.parent.resolve(), (
        f"the kernel ran in {facts['prefix']}, not in the Colab-like venv")
    assert facts["vaecourse"] is None, f"the kernel could import vaecourse from {facts['vaecourse']}"

    # The first code cells say where the notebook runs.
    texts = "".join(output.get("text", "") for cell in out.cells[:cells_in_notebook][:8]
                    if cell.cell_type == "code" for output in cell.get("outputs", []))
    assert "Running on a local or Binder Jupyter kernel, CPU" in texts, (
        f"{name}: the setup cells do not say which runtime is in use:\n{texts[:2000]}")


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_setup_advises_gpu_on_colab_cpu(name, colab_venv, offline_data, tmp_path):
    """On a Colab CPU runtime (COLAB_RELEASE_TAG set, no GPU) the setup cells advise a GPU runtime."""
    nb = filled_student(name)
    setup = next((index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
                  and "describe_runtime(" in cell.source and "def describe_runtime" not in cell.source), None)
    assert setup is not None and setup < 10, f"{name}: no early code cell prints describe_runtime(...)"
    nb.cells = nb.cells[:setup + 1]
    source = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, source)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    executed = tmp_path / "executed.ipynb"
    env = venv_env(colab_venv, {"VAE_COURSE_DATA": str(offline_data), "VAE_COURSE_QUICK": "1",
                                  "COLAB_RELEASE_TAG": "release-colab-emulated"})
    result = subprocess.run([str(colab_venv), str(runner), str(source), str(executed)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = nbformat.read(executed, as_version=4)
    text = "".join(output.get("text", "") for output in out.cells[setup].get("outputs", []))
    assert "Running on Google Colab, CPU" in text and "Change runtime type" in text, (
        f"{name}: on a Colab CPU the setup cell should say so and advise a GPU runtime; it printed:\n{text}")


# ---------------------------------------------------------------- the Japanese edition

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
FONT_PROBE = '''import json
import matplotlib.pyplot as plt
from matplotlib import font_manager
print("FONT " + json.dumps({"sans": plt.rcParams["font.sans-serif"][:1],
                            "path": font_manager.findfont(plt.rcParams["font.sans-serif"][0])}))'''


@pytest.fixture(scope="module")
def colab_venv_after_japanese(colab_venv):
    """The Colab-like venv, given back as it was: a Japanese notebook installs matplotlib-fontja into it
    (as it does on Colab, which has no Japanese font); the next session must find the venv unchanged."""
    yield colab_venv
    subprocess.run([str(colab_venv), "-m", "pip", "uninstall", "--yes", "--quiet", "matplotlib-fontja"],
                   env=venv_env(colab_venv), capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_japanese_notebook_runs_alone_and_brings_its_font(name, colab_venv_after_japanese, offline_data, tmp_path):
    """course/ja/NAME.ipynb, solutions filled in, alone, in the Colab-like venv (no Japanese font, no
    matplotlib-fontja): it runs with no error, talks Japanese, and draws with a Japanese font it installed."""
    colab_venv = colab_venv_after_japanese
    folder = tmp_path / "alone"
    folder.mkdir()
    nb = filled_student(name, lang="ja")
    nb.cells.append(nbformat.v4.new_code_cell(FONT_PROBE))
    source = folder / f"{name}.ipynb"
    nbformat.write(nb, source)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    executed = tmp_path / "executed.ipynb"
    env = venv_env(colab_venv, {"VAE_COURSE_DATA": str(offline_data), "VAE_COURSE_QUICK": "1"})
    env.pop("COLAB_RELEASE_TAG", None)
    result = subprocess.run([str(colab_venv), str(runner), str(source), str(executed)], cwd=folder,
                            env=env, capture_output=True, text=True, timeout=1500)
    assert executed.is_file(), f"{name}: nothing was executed\n{result.stdout}\n{result.stderr}"
    out = nbformat.read(executed, as_version=4)
    errors = [(index, output.get("ename"), output.get("evalue"))
              for index, cell in enumerate(out.cells) for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert result.returncode == 0 and not errors, f"{name} (ja) failed alone: {errors}\n{result.stderr[-3000:]}"
    texts = "".join(output.get("text", "") for cell in out.cells[:8] if cell.cell_type == "code"
                    for output in cell.get("outputs", []))
    assert JAPANESE.search(texts), f"{name} (ja): the setup cells do not talk Japanese:\n{texts[:1000]}"
    stderr = "".join(output.get("text", "") for cell in out.cells for output in cell.get("outputs", [])
                     if output.get("name") == "stderr")
    assert "missing from font" not in stderr, f"{name} (ja): Matplotlib drew tofu:\n{stderr[-2000:]}"
    font = json.loads("".join(output.text for output in out.cells[-1].outputs
                              if output.get("name") == "stdout").split("FONT ", 1)[1])
    assert font["sans"] == ["IPAexGothic"] and "matplotlib_fontja" in font["path"], font
