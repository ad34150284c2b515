"""The grades of the simulated class, to compare two versions of the grader.

    python benchmarks/class_grades.py OUT.json [--notebooks 01_mnist ...] [--jobs 2] [--key HEX] [--keep DIR] [--data DIR]
    python benchmarks/class_grades.py --compare BEFORE.json AFTER.json
    python benchmarks/class_grades.py --diff-folders BEFORE_DIR AFTER_DIR   # two --keep folders

Writes the simulated class of tests/simulated_class.py (perfect, blank, broken and hostile
submissions of each notebook), grades it with the grading command (sandbox on) in a temporary
course folder whose verdict key is `--key` (so two versions draw the same inputs), and writes
per student, notebook and graded cell: the score, the status, and the names of the verdict parts
lost; and the sha256 of every file grading wrote that a person reads (each autograded notebook
without Jupyter's execution times, each feedback page, and everything under exports/, written once
per LMS layout: `export --lms-format canvas`, then moodle). `--compare` prints every difference
between two such files and exits 1 if there is one.
Run it from the checkout whose grader you measure (PYTHONPATH=that checkout), both runs with the same
`--data` (the notebooks print the data folder). Two runs of the same grader still differ where a
notebook prints the seconds it took (07's training, `(3 s)`): with `--keep`, `--diff-folders` lists
every line that differs between two runs' files, its digits written N, so that such lines can be told
from a change.
"""
import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

DEFAULT_KEY = "5" * 64  # any fixed key: the same in both runs


def grade(out: Path, notebooks: list[str], jobs: int, key: str, keep: Path | None = None,
          data: Path | None = None) -> None:
    from simulated_class import write_class

    from vaecourse.grading.course_folder import CourseFolder
    from vaecourse.nbg.run import tool_env

    env = tool_env({"VAE_COURSE_DATA": str(data or ROOT / "data")})
    env.pop("NBGRADER_EXECUTION", None)
    with tempfile.TemporaryDirectory(prefix="class-grades-") as tmp:
        tmp = keep or tmp  # --keep: the class and course folder stay, to diff two runs file by file
        tmp = Path(tmp)
        write_class(tmp / "class", notebooks)
        course = tmp / "course"
        CourseFolder(course).work.mkdir(parents=True)
        CourseFolder(course).verdict_secret.write_text(key + "\n")

        def cli(*args):
            done = subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *args],
                                  capture_output=True, text=True, env=env)
            if done.returncode != 0:
                sys.exit(f"grade {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

        cli("release", *notebooks)
        cli("collect", "--folder", str(tmp / "class"))
        cli("autograde", "--jobs", str(jobs), "--no-progress", "--time-limit", "600")
        rows = list(csv.DictReader(io.StringIO(CourseFolder(course).grades_csv.read_text())))
        from harness import graded_outputs

        digests = {path: sha256(text.encode()) for path, text in graded_outputs(course).items()}
        for layout in ("canvas", "moodle"):
            cli("export", "--lms-format", layout)
            digests.update({f"{layout}:{path.relative_to(course)}": sha256(path.read_bytes())
                            for path in sorted(CourseFolder(course).exports.rglob("*")) if path.is_file()})

        lost = {}
        import nbformat

        from vaecourse.verdicts.record import CellResult
        for path, text in graded_outputs(course).items():
            if not path.endswith(".ipynb"):
                continue
            _, student, notebook, _ = Path(path).parts
            for cell in nbformat.reads(text, as_version=4).cells:
                for output in cell.get("outputs", []):
                    if result := CellResult.from_output(output):
                        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
                        lost[f"{student}/{notebook}/{gid}"] = sorted(p.name for p in result.lost)
    out.write_text(json.dumps({"rows": rows, "lost_parts": lost, "files": digests}, indent=1, sort_keys=True) + "\n")
    print(f"{len(rows)} rows, {len(lost)} judged cells, {len(digests)} files -> {out}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    key = lambda row: tuple(sorted(row.items()))  # noqa: E731
    differences = [f"row only before: {row}" for row in a["rows"] if key(row) not in {key(r) for r in b["rows"]}]
    differences += [f"row only after: {row}" for row in b["rows"] if key(row) not in {key(r) for r in a["rows"]}]
    for cell in sorted(set(a["lost_parts"]) | set(b["lost_parts"])):
        if a["lost_parts"].get(cell) != b["lost_parts"].get(cell):
            differences.append(f"{cell}: parts lost before {a['lost_parts'].get(cell)}, after {b['lost_parts'].get(cell)}")
    files_a, files_b = a.get("files", {}), b.get("files", {})
    differences += [f"{path}: {'only before' if path not in files_b else 'only after' if path not in files_a else 'bytes differ'}"
                    for path in sorted(set(files_a) | set(files_b)) if files_a.get(path) != files_b.get(path)]
    print("\n".join(differences) or f"identical: {len(a['rows'])} rows, {len(a['lost_parts'])} judged cells, "
          f"{len(files_a)} files byte for byte")
    return 1 if differences else 0


def diff_folders(before: Path, after: Path) -> int:
    """Each line that differs between the files of two kept runs (digits as N), with how many files hold it."""
    import difflib
    import re
    from collections import Counter

    from harness import graded_outputs

    a, b = graded_outputs(before / "course"), graded_outputs(after / "course")
    changed, lines = sorted(path for path in set(a) | set(b) if a.get(path) != b.get(path)), Counter()
    for path in changed:
        diff = difflib.unified_diff(a.get(path, "").splitlines(), b.get(path, "").splitlines(), lineterm="", n=0)
        lines.update({re.sub(r"\d+", "N", line[1:]).strip() for line in diff
                      if line[:1] in "+-" and not line.startswith(("+++", "---"))})
    print(f"{len(changed)} of {len(set(a) | set(b))} files differ; the lines that differ (digits as N), "
          "and in how many files:")
    print("\n".join(f"{count:5d}  {line}" for line, count in lines.most_common()) or "  none")
    return 1 if changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--notebooks", nargs="+", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--data", type=Path, help="the MNIST folder (default: data/ here); give two runs the same one")
    parser.add_argument("--keep", type=Path, help="grade in this (new) folder and leave it there")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--diff-folders", nargs=2, type=Path, metavar=("BEFORE_DIR", "AFTER_DIR"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.diff_folders:
        return diff_folders(*args.diff_folders)
    from vaecourse.masters import master_paths

    grade(args.out, args.notebooks or [p.stem for p in master_paths()], args.jobs, args.key, args.keep, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
