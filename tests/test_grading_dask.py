"""Grading on a real Dask cluster (a LocalCluster on 127.0.0.1): the same results as one machine.

- the simulated class (broken submissions included) graded with `--dask local:2` into PostgreSQL
  gives the CSV and files of a serial sqlite run: test_grading_end_to_end.py;
- 16 submissions on a cluster of 2 workers, one worker killed mid-run (after 6 are graded, so
  that 10 are still to go, one of them on the killed worker): every submission graded once, the CSV
  equal to the run without a fault, no job or kernel process left behind (until 2026-12-07 the
  class had 40: 24 more notebooks graded after the kill proved nothing the first 10 do not);
- an unreachable scheduler stops the command with a clear message before anything is merged;
- job folders travel as tar archives that refuse links and paths outside the folder.
"""
import io
import os
import shutil
import signal
import tarfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness import grading_env
from simulated_class import write_complete_submissions
from test_grading_end_to_end import grade_cli, read_csv
from vaecourse.grading.dask_executor import pack, unpack

COMMON = ["--cell-timeout", "30", "--time-limit", "300", "--no-progress"]
CLASS_SIZE = 16  # the worker is killed after 6 are graded (see the module doc)


def _course(tmp: Path, submissions: Path, notebooks: list[str], env: dict) -> Path:
    course = tmp / "course"
    grade_cli(course, "release", *notebooks, env=env)
    grade_cli(course, "collect", "--folder", str(submissions), env=env)
    return course


@pytest.fixture()
def env(offline_data):
    env = grading_env(offline_data)
    return env


# ---------------------------------------------------------------- the archive a job travels in

def test_a_job_folder_travels_whole_and_comes_back_with_only_its_files(tmp_path):
    job = tmp_path / "job"
    (job / "submitted" / "ann").mkdir(parents=True)
    (job / "submitted" / "ann" / "n.ipynb").write_text("{}")
    (job / "gradebook.db").write_bytes(b"db")
    (job / "secret").symlink_to("/etc/passwd")  # a link made by a job is never followed nor sent
    unpack(pack(job), tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").rglob("*")) == ["ann", "gradebook.db", "n.ipynb", "submitted"]
    assert sorted(p.name for p in (unpack(pack(job, ("gradebook.db",)), tmp_path / "out") or
                                   (tmp_path / "out")).iterdir()) == ["gradebook.db"]


def test_an_archive_that_escapes_its_folder_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.TarError):
        unpack(buffer.getvalue(), tmp_path / "inside")
    assert not (tmp_path / "escaped.txt").exists()


# ---------------------------------------------------------------- a cluster of one's own

def test_an_unreachable_scheduler_stops_with_a_clear_message_and_merges_nothing(env, tmp_path):
    import subprocess
    import sys

    submissions = tmp_path / "class"
    write_complete_submissions(submissions, ["01_mnist"], 1)
    course = _course(tmp_path, submissions, ["01_mnist"], env)
    gradebook = (course / "gradebook.db").read_bytes()
    run = subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), "autograde",
                          "--dask", "tcp://127.0.0.1:9", *COMMON], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in run.stderr
    assert (course / "gradebook.db").read_bytes() == gradebook


def _kernels_under(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(folder) in proc.cwd() and any("ipykernel" in part or "forkserver" in part or
                                                 "multiprocessing" in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _serial_csv_of_identical_submissions(tmp: Path, submissions: Path, course: Path, env: dict) -> str:
    """The CSV a serial run writes for the class of identical submissions in `course`: one of them is
    graded serially and its rows are repeated under each student's id. Identical notebooks get identical
    rows (test_grading_end_to_end shows runs agree), and the serial run of all 16 would cost minutes of CI."""
    students = sorted(p.name for p in (course / "submitted").iterdir())
    one = tmp / "one"
    (one / students[0]).mkdir(parents=True)
    shutil.copytree(submissions / students[0], one / students[0], dirs_exist_ok=True)
    assignments = sorted(p.name for p in (submissions / students[0]).iterdir())
    single = _course(tmp / "single", one, assignments, env)
    grade_cli(single, "autograde", "--jobs", "1", "--csv", str(tmp / "single.csv"), *COMMON, env=env)
    header, *rows = (tmp / "single.csv").read_text().splitlines(keepends=True)
    assert rows and all(row.startswith(students[0] + ",") for row in rows)
    return header + "".join(student + row[len(students[0]):] for student in students for row in rows)


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_a_retry_not_a_row(env, tmp_path):
    """16 submissions, 2 workers, one killed while grading: every row once, the CSV of a run without faults."""
    from distributed import LocalCluster

    submissions = tmp_path / "class"
    write_complete_submissions(submissions, ["02_encoder"], CLASS_SIZE)
    course = _course(tmp_path, submissions, ["02_encoder"], env)
    reference = _serial_csv_of_identical_submissions(tmp_path, submissions, course, env)

    worker_tmp = tmp_path / "workers"
    worker_tmp.mkdir()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"TMPDIR": str(worker_tmp)})  # daemonic workers, as by default
    killed = []

    def kill_one_worker_mid_run():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            tasks = cluster.scheduler.tasks.values()
            if sum(ts.state == "memory" for ts in tasks) >= 6:
                busy = next(ws for ws in cluster.scheduler.workers.values() if ws.processing)
                os.kill(busy.pid, signal.SIGKILL)
                killed.append(busy.pid)
                return
            time.sleep(0.2)

    try:
        killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
        killer.start()
        grade_cli(course, "autograde", "--force", "--dask", cluster.scheduler_address, "--csv", str(tmp_path / "faulty.csv"),
                  *COMMON, env=env)
        killer.join(5)
    finally:
        cluster.close()
    assert killed, "no worker was killed: the test proved nothing"
    rows = read_csv(tmp_path / "faulty.csv")
    assert (tmp_path / "faulty.csv").read_text() == reference
    totals = [r for r in rows if r["level"] == "notebook"] if "level" in rows[0] else rows
    assert len({r["student"] for r in totals}) == CLASS_SIZE
    time.sleep(3)  # a kernel notices its dead parent within a second or two
    assert _kernels_under(worker_tmp) == []


def test_outputs_over_the_cap_come_back_as_a_reason_not_a_copy(tmp_path, monkeypatch):
    """A job whose outputs exceed OUTPUT_LIMIT returns an empty archive and a 'could not grade' reason."""
    from vaecourse.grading import dask_executor
    from vaecourse.grading.jobs import JobResult, JobSpec

    def fake_run_job(job_dir, spec):  # stands in for nbgrader: writes a big feedback page
        (job_dir / "feedback").mkdir()
        (job_dir / "feedback" / "page.html").write_bytes(os.urandom(4096))
        return JobResult({"autograde": {"success": True}}, seconds=1.0)

    monkeypatch.setattr(dask_executor, "run_job", fake_run_job)
    monkeypatch.setattr(dask_executor, "OUTPUT_LIMIT", 1024)
    job = tmp_path / "job"
    job.mkdir()
    (job / "gradebook.db").write_bytes(b"db")
    outputs, result = dask_executor.run_packed(pack(job), JobSpec("ann", "01_mnist", 30, 60))
    assert not result.graded and "exceed" in result.reason
    unpack(outputs, tmp_path / "back")
    assert list((tmp_path / "back").iterdir()) == []
