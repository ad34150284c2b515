"""Fixtures shared by the tests: the offline MNIST set and a clean environment for notebooks."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/harness.py
pytest_plugins = ["postgres_server"]  # the fixture postgres_url: a real PostgreSQL (tests/postgres_server.py)


@pytest.fixture(scope="session")
def offline_data(tmp_path_factory) -> Path:
    """A data folder holding the offline MNIST set (real digits, 4,000 / 1,000), never the network."""
    from vaecourse.offline_mnist import write_offline_mnist

    root = tmp_path_factory.mktemp("data")
    write_offline_mnist(root)
    return root


@pytest.fixture()
def notebook_env(offline_data, monkeypatch) -> dict:
    """Environment for executing notebooks: offline data, quick mode, no stray nbgrader flag."""
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    env["VAE_COURSE_DATA"] = str(offline_data)
    env["VAE_COURSE_QUICK"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def pytest_generate_tests(metafunc):
    """A mistakes catalogue's tests (tests/catalogue.py) run once per mistake and per alternative."""
    catalogue = getattr(metafunc.cls, "catalogue", None)
    if catalogue is None:
        return
    if "mistake" in metafunc.fixturenames:
        metafunc.parametrize("mistake", sorted(catalogue.mistakes))
    if "alternative" in metafunc.fixturenames:
        metafunc.parametrize("alternative", sorted(catalogue.correct))
