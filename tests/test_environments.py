"""The three ways to get the course's environment agree, and Binder builds what we expect.

pyproject.toml (the pip route of the README and `make setup`), environment.yml (conda) and
binder/requirements.txt (Binder) must name the same packages with the same version bounds.
Binder is rendered offline by `jupyter-repo2docker --no-build --debug .`, which prints the
Dockerfile it would build; the start-up configuration that postBuild installs is tried on a
real Jupyter server.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the copy pip vendors
    from pip._vendor import tomli as tomllib
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge's names that differ from PyPI's
CONDA_ONLY = {"python", "pip"}  # the interpreter and the installer, not course dependencies
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
FIRST_NOTEBOOK = "course/01_mnist.ipynb"


def pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r.specifier for r in map(Requirement, project["dependencies"])}


def environment_yml() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_requirements() -> tuple[dict[str, SpecifierSet], list[str]]:
    """(pip name -> specifier of the conda packages, the lines of the pip: section)."""
    conda, pip_lines = {}, []
    for item in environment_yml()["dependencies"]:
        if isinstance(item, dict):
            pip_lines += item.get("pip", [])
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", item.strip())
        assert match, f"environment.yml: cannot read the dependency {item!r}"
        name, spec = match.groups()
        if name in CONDA_ONLY:
            continue
        conda[canonicalize_name(CONDA_TO_PIP.get(name, name))] = SpecifierSet(spec.replace(" ", ""))
    return conda, pip_lines


def binder_lines() -> list[str]:
    lines = []
    for raw in (BINDER / "requirements.txt").read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def binder_requirements() -> dict[str, SpecifierSet]:
    return {canonicalize_name(r.name): r.specifier
            for r in (Requirement(line) for line in binder_lines() if not line.startswith("-"))}


def test_pyproject_environment_yml_and_binder_name_the_same_packages():
    """Same package names and version bounds in pyproject.toml, environment.yml and binder/."""
    package = pyproject_requirements()
    conda, _ = conda_requirements()
    binder = binder_requirements()
    assert package, "pyproject.toml lists no dependencies"
    assert set(conda) == set(package), (
        f"environment.yml and pyproject.toml differ: only in environment.yml {sorted(set(conda) - set(package))}, "
        f"only in pyproject.toml {sorted(set(package) - set(conda))}")
    assert set(binder) == set(package), (
        f"binder/requirements.txt and pyproject.toml differ: only in binder {sorted(set(binder) - set(package))}, "
        f"only in pyproject.toml {sorted(set(package) - set(binder))}")
    for name, spec in package.items():
        assert conda[name] == spec, f"{name}: pyproject.toml says {spec!s:?}, environment.yml {conda[name]!s:?}"
        assert binder[name] == spec, f"{name}: pyproject.toml says {spec!s:?}, binder/requirements.txt {binder[name]!s:?}"


def test_environment_yml_installs_the_package_and_a_supported_python():
    """conda: conda-forge, a Python the course supports, and the package itself through pip."""
    env = environment_yml()
    assert env["name"] == "vaecourse"
    assert env["channels"] == ["conda-forge"], "conda-forge alone: mixing channels breaks the solver"
    _, pip_lines = conda_requirements()
    assert "-e ." in pip_lines, "environment.yml must install the course package (pip: - -e .)"
    python = next(item for item in env["dependencies"] if isinstance(item, str) and item.startswith("python"))
    allowed = SpecifierSet(python.removeprefix("python"))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    for version in ["3.11", "3.12", "3.13"]:  # 3.11 (CI) and 3.12 (CUDA) were run; README says so
        assert version in allowed and version in SpecifierSet(requires), f"Python {version} must be allowed"


def test_readme_pip_route_installs_the_package():
    """The README's pip route installs pyproject.toml (pip install -e .) and opens the first notebook."""
    section = (ROOT / "README.md").read_text().split("## Run it locally", 1)[1].split("\n## ", 1)[0]
    assert "pip install -e ." in section
    assert "conda env create -f environment.yml" in section
    assert f"jupyter lab {FIRST_NOTEBOOK}" in section


def test_this_environment_satisfies_pyproject():
    """The environment the tests run in (made by the pip route) holds every dependency, in range."""
    for name, spec in pyproject_requirements().items():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} (a dependency in pyproject.toml) is not installed: run `make setup`")
        assert spec.contains(version, prereleases=True), f"{name} {version} is outside {spec}"


@pytest.mark.skipif(shutil.which("conda") is None and shutil.which("mamba") is None,
                    reason="no conda or mamba on this machine (and no network to conda-forge)")
def test_conda_solves_environment_yml():
    """conda resolves environment.yml (a dry run: nothing is installed)."""
    conda = shutil.which("mamba") or shutil.which("conda")
    result = subprocess.run([conda, "env", "create", "--dry-run", "-n", "vaecourse-dry-run",
                             "-f", str(ROOT / "environment.yml")], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# ---------------------------------------------------------------- Binder

def test_binder_torch_is_cpu_only():
    """binder/requirements.txt takes torch and torchvision from the PyTorch CPU index."""
    lines = binder_lines()
    assert f"--extra-index-url {CPU_INDEX}" in lines or f"--index-url {CPU_INDEX}" in lines, (
        f"binder/requirements.txt must name the CPU-only index {CPU_INDEX}")
    names = binder_requirements()
    assert "torch" in names and "torchvision" in names
    for line in lines:
        assert "cu1" not in line and "cuda" not in line.lower(), f"a CUDA build in binder/requirements.txt: {line}"


@pytest.fixture(scope="module")
def repo2docker_dockerfile() -> str:
    """What `jupyter-repo2docker --no-build --debug .` would build for this repository (offline)."""
    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).parent / "jupyter-repo2docker")
    if not Path(exe).exists():
        pytest.skip("jupyter-repo2docker is not installed (pip install -e '.[dev]')")
    # --no-build only prints the Dockerfile: it needs no Docker and no network.
    result = subprocess.run([exe, "--no-build", "--debug", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_repo2docker_installs_binder_requirements(repo2docker_dockerfile):
    """repo2docker reads binder/ (not environment.yml), installs binder/requirements.txt and runs postBuild."""
    text = repo2docker_dockerfile
    assert "Building conda environment for python=3.11" in text, text[:2000]
    assert re.search(r'pip install --no-cache-dir -r "binder/requirements.txt"', text), (
        "the Dockerfile does not install binder/requirements.txt")
    assert "RUN ./binder/postBuild" in text
    assert "environment.yml" not in text, "repo2docker used environment.yml instead of binder/"
    assert re.search(r'CMD \["jupyter", "notebook"', text), "the image no longer starts `jupyter notebook`"


def test_binder_postbuild_installs_package_and_start_config():
    """postBuild installs the package and the config that opens the first notebook."""
    post = (BINDER / "postBuild").read_text()
    assert os.access(BINDER / "postBuild", os.X_OK), "binder/postBuild must be executable"
    assert "pip install" in post and "-e ." in post
    assert "binder/jupyter_server_config.py" in post
    assert (ROOT / FIRST_NOTEBOOK).is_file()
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_binder_start_opens_first_notebook_in_jupyterlab(tmp_path):
    """`jupyter notebook` (the image's command) with binder's config redirects / to JupyterLab on 01."""
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(BINDER / "jupyter_server_config.py", config / "jupyter_server_config.py")
    port, token = _free_port(), "binder-test"
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env.update(JUPYTER_CONFIG_PATH=str(config), JUPYTER_CONFIG_DIR=str(tmp_path / "user-config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--allow-root", "--ip", "127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the Jupyter server did not start in 120 s"
                time.sleep(1)
        try:
            opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10)
            location = None
        except urllib.error.HTTPError as redirect:
            location = redirect.headers.get("Location")
        assert location and location.split("?")[0].endswith(f"/lab/tree/{FIRST_NOTEBOOK}"), (
            f"/ redirects to {location!r}, not to JupyterLab on {FIRST_NOTEBOOK}")
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab/tree/{FIRST_NOTEBOOK}?token={token}",
                                      timeout=30)
        assert page.status == 200 and "JupyterLab" in page.read().decode()
        model = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/contents/{FIRST_NOTEBOOK}?content=0&token={token}", timeout=30)
        assert model.status == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
