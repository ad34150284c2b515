"""The grading job seam (vaecourse/grading/jobs.py): picklable specs and results, and the executor protocol."""
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from vaecourse.grading import jobs
from vaecourse.grading.jobs import JobResult, JobSpec, LocalExecutor


def test_spec_and_result_survive_pickling():
    """A Dask (or any other) executor ships them to a worker and back."""
    spec = JobSpec("alice", "01_mnist", cell_timeout=30, time_limit=600, env={"VAE_COURSE_DATA": "/data"})
    result = JobResult({"autograde": {"success": True}}, "", seconds=1.5, attempts=2)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.graded and not JobResult(None, "time limit exceeded").graded


def test_the_local_executor_runs_every_item_and_reports_each_once(monkeypatch, tmp_path):
    ran, busy, overlaps = [], threading.Lock(), []

    def fake_run_job(job_dir: Path, spec: JobSpec) -> JobResult:
        ran.append((job_dir, spec.student))
        return JobResult({"autograde": {"success": True}}, "" if spec.student != "bob" else "the kernel died")

    def on_done(key, result: JobResult) -> None:
        if not busy.acquire(blocking=False):
            overlaps.append(key)  # on_done must never run twice at once
        try:
            done[key] = result
        finally:
            busy.release()

    monkeypatch.setattr(jobs, "run_job", fake_run_job)
    done: dict = {}
    items = [((s, "01_mnist"), tmp_path / s, JobSpec(s, "01_mnist", 30, 600, {})) for s in ("alice", "bob", "carol")]
    LocalExecutor(jobs=2).run(items, on_done)
    assert sorted(done) == [("alice", "01_mnist"), ("bob", "01_mnist"), ("carol", "01_mnist")]
    assert done[("bob", "01_mnist")].reason == "the kernel died" and done[("alice", "01_mnist")].graded
    assert len(ran) == 3 and not overlaps


def test_jobs_start_when_tmpdir_is_too_long_for_a_socket(tmp_path):
    """A Dask worker's TMPDIR is often deep; the forkserver's Unix socket must still fit in 107 bytes.

    Without the fix the first job failed with "OSError: AF_UNIX path too long" (CI, Dask fault test).
    """
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    probe = ("from vaecourse.grading import jobs\n"
             "process = jobs._context().Process(target=print, args=('forked',))\n"
             "process.start(); process.join(60); raise SystemExit(process.exitcode)\n")
    result = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TMPDIR": str(deep)}, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "forked" in result.stdout
