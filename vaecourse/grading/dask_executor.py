"""Grade on a Dask cluster: each job one Dask task, its folder's bytes in and its outputs' bytes out.

    autograde --dask tcp://scheduler:8786   a running cluster (`dask scheduler` and `dask worker`,
                                            dask-jobqueue on SLURM, dask-gateway on JupyterHub)
    autograde --dask local:2                a LocalCluster of 2 single-threaded worker processes here

A task runs `vaecourse.grading.jobs.run_job`, the code `--jobs` runs (repair is done before, in
the main process; nbgrader autograde with the grader-side verdicts, the cell timeout, the notebook
time limit and the feedback pages all happen on the worker). No shared filesystem is assumed: the job
folder travels with the task as a tar archive (a few MB: the source, the repaired submission, a
small sqlite gradebook) and only the outputs come back (JobFolder.OUTPUTS, capped at OUTPUT_LIMIT bytes).
The main process unpacks them into the job folder and hands them to the runner, which merges
every gradebook in a fixed order: the grades and files equal a serial run.

Faults. A worker that dies mid-job (killed, out of memory) takes its job's processes with it
(the job process dies with its parent, the kernel with the job); Dask runs the task again on
another worker. A task whose worker died twice comes back as KilledWorker and is reported as
`could not grade` with that reason (a LocalCluster allows one retry; a cluster of your own
decides with its `distributed.scheduler.allowed-failures`). Losing the scheduler raises
DaskUnavailable before anything is merged, so the gradebook stays as it was.

A worker needs the course package and its dependencies (the same environment as the main
machine) and MNIST: the worker's own VAE_COURSE_DATA wins over the main machine's, so a worker
can keep the data elsewhere.
"""
import io
import os
import sys
import tarfile
import tempfile
from collections.abc import Callable, Hashable
from dataclasses import replace
from pathlib import Path

from vaecourse.grading.course_folder import JobFolder
from vaecourse.grading.jobs import Item, JobResult, JobSpec, run_job

OUTPUT_LIMIT = 200 * 2**20  # bytes: an autograded notebook with a huge output is refused, not copied


class DaskUnavailable(RuntimeError):
    """The scheduler cannot be reached, or was lost while grading."""


def pack(folder: Path, names=None) -> bytes:
    """A gzipped tar of folder (or of its entries named in names), regular files and folders only."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for entry in sorted(Path(folder).iterdir()):
            if names is None or entry.name in names:
                tar.add(entry, arcname=entry.name, filter=_no_links)
    return buffer.getvalue()


def _no_links(info: tarfile.TarInfo):
    return info if info.isfile() or info.isdir() else None


def unpack(data: bytes, folder: Path) -> None:
    """Extract pack()'s archive into folder; members that would land outside it or are links are refused."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def run_packed(data: bytes, spec: JobSpec) -> tuple[bytes, JobResult]:
    """The Dask task: unpack a job folder in a private temporary folder, run it, pack its outputs."""
    _allow_children()
    env = dict(spec.env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if os.environ.get("VAE_COURSE_DATA"):
        env["VAE_COURSE_DATA"] = os.environ["VAE_COURSE_DATA"]  # the worker knows where its data is
    with tempfile.TemporaryDirectory(prefix="vaecourse-job-") as tmp:
        job_dir = Path(tmp) / "job"
        unpack(data, job_dir)
        result = run_job(job_dir, replace(spec, env=env))
        outputs = pack(job_dir, JobFolder.OUTPUTS)  # what comes back: the job's outputs, nothing else
        if len(outputs) > OUTPUT_LIMIT:  # nothing comes back, and the reason says why
            return pack(job_dir, ()), JobResult(None, f"the graded notebook's outputs exceed "
                                                f"{OUTPUT_LIMIT // 2**20} MB (huge prints?)", result.seconds)
    return outputs, result


def _allow_children() -> None:
    """Let this worker process start the job's process.

    Dask's worker processes are daemonic unless `distributed.worker.daemon` is False, and
    multiprocessing refuses children to a daemonic process so that none outlives it. A job's
    process already dies with its parent (vaecourse.grading.jobs._die_with_parent) and its
    kernel with it, so the rule protects nothing here, and a worker started by a plain
    `dask worker` needs no configuration.
    """
    import multiprocessing

    multiprocessing.current_process()._config["daemon"] = False


class DaskExecutor:
    """Runs jobs as Dask tasks on the cluster at `address` ("tcp://host:port", or "local:N")."""

    def __init__(self, address: str):
        self.address = address

    def describe(self) -> str:
        if self.address.startswith("local:"):
            return f"Dask LocalCluster of {self.address.split(':', 1)[1]} single-threaded workers"
        return f"Dask cluster at {self.address}"

    def run(self, items: list[Item], on_done: Callable[[Hashable, JobResult], None]) -> None:
        from distributed import as_completed

        with self._client() as client:
            futures = {client.submit(run_packed, pack(job_dir), spec, pure=False,
                                     key=f"grade-{spec.student}-{spec.assignment}-{os.urandom(4).hex()}"):
                       (key, job_dir) for key, job_dir, spec in items}
            for future in as_completed(futures):
                key, job_dir = futures[future]
                on_done(key, self._collect(future, job_dir))

    def _collect(self, future, job_dir: Path) -> JobResult:
        from distributed import KilledWorker

        try:
            outputs, result = future.result()
        except KilledWorker:
            return JobResult(None, "the Dask worker grading it died twice (killed, or out of memory)")
        except Exception as error:
            if type(error).__name__ in {"CancelledError", "CommClosedError", "FutureCancelledError"} or \
                    isinstance(error, (OSError, TimeoutError)):
                raise DaskUnavailable(f"lost the Dask scheduler at {self.address} ({type(error).__name__}): "
                                      "nothing was merged; run the same command again") from error
            raise
        unpack(outputs, job_dir)
        return result

    def _client(self):
        import dask
        from distributed import Client, LocalCluster

        if self.address.startswith("local:"):
            workers = int(self.address.split(":", 1)[1])
            with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
            return _OwnedClient(Client(cluster), cluster)
        try:
            return Client(self.address, timeout="20s")
        except OSError as error:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {self.address}: {error}") from error


class _OwnedClient:
    """A client that also closes the LocalCluster it was made for."""

    def __init__(self, client, cluster):
        self.client, self.cluster = client, cluster

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        self.cluster.close()
