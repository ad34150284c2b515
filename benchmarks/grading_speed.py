"""How fast the grading command grades complete submissions, serially and with --jobs 2.

    python benchmarks/grading_speed.py [--students 20] [--jobs 2] [--notebooks 01_mnist ...]

Builds a class of perfect, complete submissions (every notebook that has a master and a
student version; tests/simulated_class.py), releases them into a temporary course folder,
grades them with `python -m vaecourse.grade autograde --jobs 1` and then `--jobs N`, checks
that both grades CSVs are identical, and prints seconds per submission for each, the
ratio, and the mean seconds per notebook. Target: one complete submission of the core
notebooks in under 30 s of wall time on a 2-core machine (with --jobs 2).
Uses the offline MNIST set ($VAE_COURSE_DATA, default data/).
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from vaecourse.grading import classroom  # noqa: E402
from vaecourse.nbg.run import tool_env  # noqa: E402


def cli(course: Path, *args: str, env: dict) -> float:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *args],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"grade {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--notebooks", nargs="+", help="default: every notebook that exists")
    args = parser.parse_args()
    from simulated_class import write_complete_submissions

    import os

    data = os.environ.get("VAE_COURSE_DATA", str(ROOT / "data"))
    env = tool_env({"VAE_COURSE_DATA": data, "PYTHONPATH": str(ROOT)})
    env.pop("NBGRADER_EXECUTION", None)
    notebooks = args.notebooks or classroom.notebook_names()
    print(f"notebooks: {', '.join(notebooks)}; {args.students} complete submissions; data: {data}")
    with tempfile.TemporaryDirectory(prefix="vaecourse-bench-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        release_s = cli(course, "release", *notebooks, env=env)
        write_complete_submissions(tmp / "class", notebooks, args.students)
        cli(course, "collect", "--folder", str(tmp / "class"), env=env)
        print(f"release: {release_s:.1f} s (once per course)")
        figures = {}
        for jobs in (1, args.jobs):
            csv_path = tmp / f"grades_jobs{jobs}.csv"
            wall = cli(course, "autograde", "--force", "--jobs", str(jobs), "--no-progress", "--csv", str(csv_path), env=env)
            timings = json.loads((course / ".grading" / "run" / "timings.json").read_text())
            per_notebook = {nb: sum(v for k, v in timings.items() if k.endswith("/" + nb)) / args.students
                            for nb in notebooks}
            figures[jobs] = (wall, per_notebook, csv_path.read_text())
            print(f"--jobs {jobs}: {wall:.1f} s wall for {args.students} submissions = "
                  f"{wall / args.students:.1f} s per complete submission; mean seconds per notebook job: "
                  + ", ".join(f"{nb} {s:.1f}" for nb, s in per_notebook.items()))
        serial, parallel = figures[1][0], figures[args.jobs][0]
        identical = figures[1][2] == figures[args.jobs][2]
        print(f"ratio serial / --jobs {args.jobs}: {serial / parallel:.2f}x; grades CSVs identical: {identical}")
        print(f"per complete submission of {len(notebooks)} notebooks: {serial / args.students:.1f} s serial, "
              f"{parallel / args.students:.1f} s with --jobs {args.jobs} (target: under 30 s)")
        return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
