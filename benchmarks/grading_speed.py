"""How fast the grading command grades complete submissions, in each way it can grade them.

    python benchmarks/grading_speed.py [--students 20] [--jobs 2] [--notebooks 01_mnist ...]
    python benchmarks/grading_speed.py --no-serial --without-sandbox --dask local:2

Builds a class of perfect, complete submissions (every notebook that has a master and a
student version; tests/simulated_class.py), releases them into a temporary course folder,
and grades the whole class once per way, `--force` each time: `--jobs 1` (unless
--no-serial), `--jobs N`, `--jobs N --no-sandbox` (with --without-sandbox), `--dask ADDRESS`
(with --dask). It checks that every way gives the same grades CSV and prints seconds per
complete submission for each, its ratio to `--jobs N`, and the mean seconds per notebook job.
Target: one complete submission of the core notebooks in under 30 s of wall time on a
2-core machine (with --jobs 2). Uses the offline MNIST set ($VAE_COURSE_DATA, default data/).
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
from vaecourse.grading.course_folder import CourseFolder  # noqa: E402
from vaecourse.nbg.layout import AUTOGRADED, FEEDBACK, SUBMITTED  # noqa: E402
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
    parser.add_argument("--no-serial", action="store_true", help="leave out the --jobs 1 run")
    parser.add_argument("--without-sandbox", action="store_true", help="also grade with --jobs N --no-sandbox")
    parser.add_argument("--dask", metavar="ADDRESS", help="also grade with --dask ADDRESS (e.g. local:2)")
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
        ways = ([["--jobs", "1"]] if not args.no_serial else []) + [["--jobs", str(args.jobs)]]
        ways += [["--jobs", str(args.jobs), "--no-sandbox"]] if args.without_sandbox else []
        ways += [["--dask", args.dask]] if args.dask else []
        figures = {}
        for way in ways:
            label = " ".join(way)
            csv_path = tmp / f"grades_{len(figures)}.csv"
            wall = cli(course, "autograde", "--force", *way, "--no-progress", "--csv", str(csv_path), env=env)
            timings = json.loads(CourseFolder(course).timings.read_text())
            per_notebook = {nb: sum(v for k, v in timings.items() if k.endswith("/" + nb)) / args.students
                            for nb in notebooks}
            figures[label] = (wall, csv_path.read_text())
            print(f"{label}: {wall:.1f} s wall for {args.students} submissions = "
                  f"{wall / args.students:.1f} s per complete submission; mean seconds per notebook job: "
                  + ", ".join(f"{nb} {s:.1f}" for nb, s in per_notebook.items()), flush=True)
        reference = f"--jobs {args.jobs}"
        for label, (wall, _) in figures.items():
            print(f"{label:28s} {wall / args.students:6.1f} s per complete submission of {len(notebooks)} notebooks, "
                  f"{wall / figures[reference][0]:.2f}x the time of {reference}")
        print(footprint(course, args.students))
        identical = len({text for _, text in figures.values()}) == 1
        print(f"grades CSVs identical across the {len(figures)} ways: {identical}")
        return 0 if identical else 1

def footprint(course: Path, students: int) -> str:
    """Gradebook rows and disk per complete submission, for sizing a term (README: Grading at scale)."""
    import sqlite3

    db = sqlite3.connect(CourseFolder(course).gradebook)
    per_student = ["submitted_assignment", "submitted_notebook", "grade", "comment"]
    rows = sum(db.execute(f"select count(*) from {table}").fetchone()[0] for table in per_student)  # noqa: S608
    db.close()
    size = {kind: sum(p.stat().st_size for p in CourseFolder(course).folder(kind).rglob("*") if p.is_file())
            for kind in (SUBMITTED, AUTOGRADED, FEEDBACK)}
    return (f"per complete submission: {rows / students:.0f} gradebook rows ({', '.join(per_student)}); "
            f"disk {sum(size.values()) / students / 2**20:.1f} MiB (submitted {size['submitted'] / students / 2**20:.1f}, "
            f"autograded {size['autograded'] / students / 2**20:.1f}, feedback {size['feedback'] / students / 2**20:.1f})")


if __name__ == "__main__":
    sys.exit(main())
