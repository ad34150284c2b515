"""benchmarks/gpu_check.py keeps working on a machine without a GPU, so it is ready when one is lent.

CI has no GPU: this runs the same script in quick mode on the CPU (first run, re-run with the
checkpoints present, and the literal-student variants), and checks that every literal edit still
applies to its master, so that the script cannot rot between GPU runs.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from harness import solution_sources, load_master

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def test_every_literal_student_edit_applies_to_its_master():
    for name, grade_id, old, _ in gpu_check.LITERAL:
        assert old in solution_sources(load_master(name))[grade_id], f"{name}:{grade_id} no longer holds {old!r}"


def test_without_a_gpu_the_check_refuses_unless_told(offline_data):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--data", str(offline_data)],
                         capture_output=True, text=True)
    if "CUDA" not in run.stderr:
        pytest.skip("this machine has a GPU")
    assert run.returncode == 2


@pytest.mark.slow
def test_quick_run_on_the_cpu_first_rerun_and_literal(offline_data, tmp_path):
    report = tmp_path / "table.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--quick", "--allow-cpu",
                          "--notebooks", "05_training", "06_latent_space", "--data", str(offline_data),
                          "--json", str(report)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    import json

    rows = {row["notebook"]: row for row in json.loads(report.read_text())}
    for name in ("05_training", "06_latent_space"):
        assert rows[name]["errors"] == []
        assert rows[name]["first run"] > 0 and rows[name]["re-run"] > 0 and rows[name]["literal"] > 0
    assert set(rows["05_training"]["test -ELBO"]) == {"first run", "re-run", "literal"}
    assert "0 of 2 with errors" in run.stdout
