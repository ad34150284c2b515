"""Where the seconds of grading one notebook go: kernel start, imports, the notebook's cells, the probes,
the feedback page and nbgrader's bookkeeping.

    python benchmarks/grading_profile.py [--notebooks 04_elbo ...] [--no-sandbox]

Releases the notebooks into a temporary course folder, collects one perfect submission of each
(tests/simulated_class.py) and grades them with the grading command's own code
(`vaecourse.grading.runner.grade_class`, one job at a time, the sandbox on unless --no-sandbox).
Each job runs in a process forked from this one, as the grading command forks its jobs from a
server that has imported the same modules; in that process the methods below are timed, and
nothing else is changed:

- kernel start: nbclient's `start_new_kernel` + `start_new_kernel_client` (the sandbox, Python,
  ipykernel, until the kernel answers);
- course helpers cell: the notebook's first cell (imports torch, numpy, matplotlib; defines helpers);
- student's answers, course cells, visible checks: every other `execute_cell` by the cell's role;
- warm-up and probes: what `VerdictExecute` runs beside the cells (`_warm_up`, `_apply`: the probe
  in the kernel and the verdict judged here);
- kernel shutdown: nbclient's `_cleanup_kernel`;
- nbgrader's bookkeeping in the job: the rest of its `autograde` (reading, checksums, gradebook);
- feedback page: `generate_feedback`;
- job process: from the fork to the end of the job function, less all of the above;
- grader: the job as the grader sees it (`run_job`: the data check, the result, the notes) less the job
  process; and, once per run, the grader's own load of MNIST before the first job, the repairs and
  gradebook writes.
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

PROFILE = "profile.json"  # written by the job process into its job folder
FEEDBACK = "feedback page (generate_feedback)"
IN_AUTOGRADE = ["kernel start", "course helpers cell (imports)", "student's answers", "course cells", "visible checks",
                "warm-up", "probes (run in the kernel, judged here)", "kernel shutdown"]  # timed inside autograde
ORDER = [*IN_AUTOGRADE, "nbgrader bookkeeping (autograde)", FEEDBACK, "job process (fork, config, result)",
         "grader around the job"]  # the table's rows; the last three are what is left of each enclosing total


class Stopwatch:
    """Seconds added up per phase. A phase inside another (a probe's execute_cell) counts for the outer one
    only; an `enclosing` phase (the whole autograde) is a total that the phases inside it count in too."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.inside = 0

    @contextmanager
    def phase(self, name: str, enclosing: bool = False):
        if self.inside and not enclosing:
            yield
            return
        started = time.perf_counter()
        counted = 0 if enclosing else 1
        self.inside += counted
        try:
            yield
        finally:
            self.inside -= counted
            self.seconds[name] += time.perf_counter() - started


def cell_role(cell) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("grade_id") == "course_helpers":
        return "course helpers cell (imports)"
    if meta.get("solution"):
        return "student's answers"
    if meta.get("grade"):
        return "visible checks"
    return "course cells"


def timed(cls, name: str, watch: Stopwatch, phase, enclosing: bool = False):
    """Wrap cls.name so that each call adds its seconds to `phase` (a name, or a function of the call's args)."""
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        with watch.phase(phase(*args) if callable(phase) else phase, enclosing):
            return original(self, *args, **kwargs)

    setattr(cls, name, wrapper)


def profiled_job_main(job_dir: str, spec, grader_pid=None) -> None:
    """The grading job's own function (vaecourse.grading.jobs.job_main) with its phases timed."""
    entered = time.perf_counter()
    from nbclient import NotebookClient
    from nbgrader.apps import NbGraderAPI

    from vaecourse.nbg.verdictexecute import VerdictExecute
    from vaecourse.nbg.witness import Witness

    watch = Stopwatch()
    timed(NotebookClient, "start_new_kernel", watch, "kernel start")
    timed(NotebookClient, "start_new_kernel_client", watch, "kernel start")
    timed(NotebookClient, "execute_cell", watch, lambda cell, *rest: cell_role(cell))
    timed(NotebookClient, "_cleanup_kernel", watch, "kernel shutdown")
    timed(VerdictExecute, "_warm_up", watch, "warm-up")
    timed(VerdictExecute, "_apply", watch, "probes (run in the kernel, judged here)")
    timed(Witness, "autograde", watch, "autograde total", enclosing=True)  # NbGraderAPI.autograde, witnessed
    timed(NbGraderAPI, "generate_feedback", watch, FEEDBACK)
    try:
        _job_main(job_dir, spec, grader_pid)
    finally:
        watch.seconds["job process total"] = time.perf_counter() - entered
        Path(job_dir, PROFILE).write_text(json.dumps(watch.seconds))


_job_main = None  # vaecourse.grading.jobs.job_main itself, set by profile_jobs (the forked job inherits it)


def profile_jobs(course: Path, notebooks: list[str], isolation, data: str) -> tuple[dict, float, dict]:
    """Grade the course's one student with the phases timed: (phases per notebook, grade_class seconds, run_job seconds)."""
    global _job_main
    from vaecourse.grading import jobs, runner
    from vaecourse.grading.course_folder import CourseFolder

    for module in jobs.JOB_SERVER_PRELOAD:  # what the grading command's job server imports before it forks
        __import__(module)
    _job_main, jobs.job_main = jobs.job_main, profiled_job_main
    jobs._CONTEXT = multiprocessing.get_context("fork")  # forked from this process, which holds the wrappers' code
    profiles, run_job_seconds, original_run_job = {}, {}, jobs.run_job

    def run_job(job_dir, spec):
        started = time.perf_counter()
        try:
            return original_run_job(job_dir, spec)
        finally:
            run_job_seconds[spec.assignment] = time.perf_counter() - started
            profile = Path(job_dir, PROFILE)
            if profile.is_file():
                profiles[spec.assignment] = json.loads(profile.read_text())

    jobs.run_job = run_job
    started = time.perf_counter()
    outcomes = runner.grade_class(course, f"sqlite:///{CourseFolder(course).gradebook}", notebooks, ["student000"],
                                  jobs=1, progress=False, isolation=isolation, env_extra={"VAE_COURSE_DATA": data})
    total = time.perf_counter() - started
    bad = [f"{o.assignment}: {o.status} {o.reason}" for o in outcomes if o.status != runner.GRADED]
    if bad:
        sys.exit("not graded: " + "; ".join(bad))
    return profiles, total, run_job_seconds


def phases_of(profile: dict, run_job_seconds: float) -> dict:
    """The table's rows for one notebook, from what its job process measured."""
    rows = {name: profile.get(name, 0.0) for name in [*IN_AUTOGRADE, FEEDBACK]}
    rows["nbgrader bookkeeping (autograde)"] = profile["autograde total"] - sum(rows[name] for name in IN_AUTOGRADE)
    rows["job process (fork, config, result)"] = profile["job process total"] - profile["autograde total"] - rows[FEEDBACK]
    rows["grader around the job"] = run_job_seconds - profile["job process total"]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["04_elbo"])
    parser.add_argument("--no-sandbox", action="store_true", help="grade without the sandbox (the kernel unconfined)")
    args = parser.parse_args()
    from simulated_class import write_complete_submissions

    from vaecourse.grading.runner import sandbox_or_refuse
    from vaecourse.nbg.run import tool_env
    from vaecourse.isolation import NoIsolation

    data = os.environ.get("VAE_COURSE_DATA", str(ROOT / "data"))
    env = tool_env({"VAE_COURSE_DATA": data, "PYTHONPATH": str(ROOT)})
    env.pop("NBGRADER_EXECUTION", None)
    isolation = NoIsolation("--no-sandbox") if args.no_sandbox else sandbox_or_refuse()
    print(f"notebooks: {', '.join(args.notebooks)}; one perfect submission each; {isolation.describe()}; data: {data}")
    with tempfile.TemporaryDirectory(prefix="vaecourse-profile-") as tmp:
        course, submissions = Path(tmp) / "course", Path(tmp) / "class"
        write_complete_submissions(submissions, args.notebooks, 1)
        for command in (["release", *args.notebooks], ["collect", "--folder", str(submissions)]):
            subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *command],
                           check=True, capture_output=True, env=env)
        profiles, total, run_job_seconds = profile_jobs(course, args.notebooks, isolation, data)
    table = {nb: phases_of(profiles[nb], run_job_seconds[nb]) for nb in args.notebooks}
    width = max(len(name) for name in ORDER)
    print(f"\n{'seconds':{width}s} " + " ".join(f"{nb:>14s}" for nb in args.notebooks))
    for name in ORDER:
        print(f"{name:{width}s} " + " ".join(f"{table[nb][name]:8.2f} {100 * table[nb][name] / run_job_seconds[nb]:4.0f}%"
                                             for nb in args.notebooks))
    print(f"{'the job (run_job)':{width}s} " + " ".join(f"{run_job_seconds[nb]:8.2f}  100%" for nb in args.notebooks))
    print(f"\ngrade_class for the {len(args.notebooks)} notebook(s): {total:.1f} s, of which "
          f"{total - sum(run_job_seconds.values()):.1f} s outside the jobs (the grader's own load of MNIST in the "
          f"sandbox, repairs, gradebook writes, copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
