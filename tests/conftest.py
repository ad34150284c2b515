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


@pytest.fixture(scope="session")
def isolation():
    """The grading sandbox this machine gives (vaecourse.sandbox.probe). Without one the test skips,
    unless VAE_COURSE_REQUIRE_SANDBOX is set (CI sets it and installs bubblewrap): then it fails."""
    from vaecourse.sandbox import probe

    found = probe()
    if not found.available:
        if os.environ.get("VAE_COURSE_REQUIRE_SANDBOX"):
            pytest.fail(f"VAE_COURSE_REQUIRE_SANDBOX is set but there is no sandbox: {found.describe()}")
        pytest.skip(f"{found.describe()}; run .ci/install-sandbox, or set VAE_COURSE_REQUIRE_SANDBOX=1 "
                    f"to make this a failure")
    return found


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


# --- each test file's budget, and the order the files run in -------------------------------------------
# tests/budgets.toml holds the seconds each test file may take in a fresh-clone CI (2 cores, both workers
# busy); a new test file must state its budget there (tests/test_architecture.py fails otherwise).
# `make test` sends whole files to 2 workers (--dist loadfile --no-loadscope-reorder) in collection
# order. By default pytest-xdist would start the files with the most tests first, which puts the long
# end-to-end files (few tests, minutes each) last: one worker then grades a class alone at the end.
# Starting the files with the largest budget first (longest-processing-time-first scheduling) keeps
# both workers busy until the short unit-test files fill the gaps.
BUDGETS_FILE = Path(__file__).with_name("budgets.toml")


def file_budgets() -> dict[str, float]:
    """test file name -> the seconds it may take (tests/budgets.toml)."""
    import tomllib

    return {name: float(seconds) for name, seconds in tomllib.loads(BUDGETS_FILE.read_text())["budget"].items()}


def pytest_collection_modifyitems(items):
    budgets = file_budgets()
    items.sort(key=lambda item: -budgets.get(item.path.name, 0.0))  # stable: a file's tests stay in order


_seconds_per_file: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add up setup, call and teardown per file (under xdist this runs in the main process, on every report)."""
    name = report.nodeid.split("::")[0]
    _seconds_per_file[name] = _seconds_per_file.get(name, 0.0) + report.duration


def over_budget(seconds_per_file: dict[str, float], budgets: dict[str, float]) -> list[str]:
    """A line for each file that took longer than its budget, or has none."""
    lines = []
    for path, seconds in sorted(seconds_per_file.items(), key=lambda item: -item[1]):
        budget = budgets.get(Path(path).name)
        if budget is None:
            lines.append(f"{seconds:8.1f}  {path}: no budget in tests/budgets.toml")
        elif seconds > budget:
            lines.append(f"{seconds:8.1f}  {path}: over its budget of {budget:g} s by {seconds - budget:.0f} s")
    return lines


def pytest_terminal_summary(terminalreporter):
    if len(_seconds_per_file) < 2:
        return
    budgets = file_budgets()
    terminalreporter.write_sep("=", "slowest test files (seconds, and the budget in tests/budgets.toml)")
    for name, seconds in sorted(_seconds_per_file.items(), key=lambda item: -item[1])[:25]:
        budget = budgets.get(Path(name).name)
        terminalreporter.write_line(f"{seconds:8.1f}  {name}" + (f"  (budget {budget:g})" if budget else ""))
    late = over_budget(_seconds_per_file, budgets)
    terminalreporter.write_sep("=", f"test files over their budget: {len(late)}")
    for line in late:
        terminalreporter.write_line(line)
