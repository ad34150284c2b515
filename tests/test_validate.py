"""The tests prove themselves in both directions, with real nbgrader and real kernels.

`nbgrader validate` passes on every master (the solutions pass their own tests), and
`nbgrader validate --invert` finds no passing graded cell in any student notebook (a blank
stub fails every test: no check passes by accident). The same of the Japanese edition is read
from the one grading of its notebooks in tests/test_mistakes_ja.py (answered, blank, and with
mistakes), which runs them anyway: validating them here as well ran each a second time.
"""
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import is_grade
from nbgrader.validator import Validator
from traitlets.config import Config

from vaecourse.masters import grade_id
from vaecourse.nbg.config import KERNEL_SHUTDOWN

# nbgrader validate as an instructor runs it, but for how the kernel is stopped once the last cell has run:
# killed, as the grading command does (vaecourse/nbg/config.py), not asked to exit (1.4-2.5 s per notebook)
VALIDATE_CONFIG = Config({"Execute": {"shutdown_kernel": KERNEL_SHUTDOWN}})

ROOT = Path(__file__).resolve().parents[1]
MASTERS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def graded_code_cells(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [grade_id(cell) for cell in nb.cells if cell.cell_type == "code" and is_grade(cell)]


@pytest.fixture()
def validation_env(offline_data, monkeypatch):
    monkeypatch.setenv("VAE_COURSE_DATA", str(offline_data))
    monkeypatch.delenv("VAE_COURSE_QUICK", raising=False)  # nbgrader's own flag must turn quick mode on


@pytest.mark.slow
@pytest.mark.parametrize("master", MASTERS, ids=[p.stem for p in MASTERS])
def test_master_passes_validate(master, validation_env):
    assert graded_code_cells(master), f"{master.name} has no graded test cell"
    start = time.perf_counter()
    results = Validator(config=VALIDATE_CONFIG).validate(str(master))
    elapsed = time.perf_counter() - start
    failed = results.get("failed", [])
    assert not failed, "\n\n".join(f"{f['source'][:200]}\n-> {f['raw_error'][-800:]}" for f in failed)
    assert not results.get("type_changed")
    print(f"{master.stem}: validate passed in {elapsed:.1f} s (quick mode, offline set)")


@pytest.mark.slow
@pytest.mark.parametrize("master", MASTERS, ids=[p.stem for p in MASTERS])
def test_student_version_fails_every_graded_cell(master, validation_env):
    student = ROOT / "course" / master.name
    assert len(graded_code_cells(student)) == len(graded_code_cells(master))
    results = Validator(invert=True, config=VALIDATE_CONFIG).validate(str(student))
    assert not results.get("changed"), "the student version's locked cells differ from their checksums"
    passing = [cell["source"].splitlines()[0] for cell in results.get("passed", [])]
    assert not passing, f"these tests pass on the blank student notebook, so they test nothing: {passing}"
