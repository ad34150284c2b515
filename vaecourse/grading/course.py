"""The nbgrader course folder (autograder/): release, roster, collect.

- release: source/<name>/<name>.ipynb is made from the master exactly as the build makes
  it (`bundle_master` + `write_course_source`), then `generate_assignment` fills the
  gradebook with the graded cells and their hidden tests and writes release/<name>/.
  Assignment name == notebook name.
- roster: a CSV with a column `id` (or `student_id`) and optional `first_name`,
  `last_name`, `email` becomes the gradebook's students.
- collect: an LMS download (a zip of files named `<student>_<notebook>.ipynb`, through
  nbgrader's zip_collect) or a folder `<student>/<assignment>/*.ipynb`; both are copied
  into submitted/<student>/<assignment>/; the given files are only read.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from vaecourse import build

COURSE_DIR = build.ROOT / "autograder"
WORK = ".grading"  # grading's own folder inside the course folder (jobs, status, logs)
# zip_collect matches this against each extracted file's absolute path.
DEFAULT_ZIP_REGEXP = r".*/(?P<student_id>[^/]+?)_(?P<file_id>\d\d_[A-Za-z0-9_]+)\.ipynb$"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


class CourseError(RuntimeError):
    """Something the instructor must fix; the message says what."""


def default_db_url(course: Path) -> str:
    return f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"


def notebook_names() -> list[str]:
    """Every notebook that has a master and a released student version, in course order."""
    return [path.stem for path in build.master_paths() if (build.COURSE_DIR / path.name).is_file()]


def nbgrader_config_text(course: Path, db_url: str, cell_timeout: int | None = None) -> str:
    """An nbgrader_config.py for a run of grading in a work folder, pointing at `course`."""
    return (
        "from vaecourse.nbgrader_ext import apply_course_config\n"
        "from vaecourse.grading.nbgrader_config import apply_grading_config\n"
        "c = get_config()  # noqa: F821\n"
        "apply_course_config(c)\n"
        f"apply_grading_config(c, cell_timeout={cell_timeout!r})\n"
        f"c.CourseDirectory.root = {str(Path(course).resolve())!r}\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
    )


def open_gradebook(db_url: str):
    """nbgrader's Gradebook for db_url, used as `with open_gradebook(url) as gb:`.

    Opening one runs `alembic` from PATH: put this interpreter's bin folder first, so that
    it works when the virtual environment is not activated (a script, a test, cron).
    """
    from nbgrader.api import Gradebook

    os.environ["PATH"] = build.tool_env()["PATH"]
    return Gradebook(db_url)


def run_nbgrader(args: list[str], course: Path, db_url: str, env_extra: dict | None = None) -> str:
    """Run the nbgrader CLI against `course` with grading's config; return its log, raise on failure."""
    with tempfile.TemporaryDirectory(prefix="vaecourse-nbgrader-") as tmp:
        Path(tmp, "nbgrader_config.py").write_text(nbgrader_config_text(course, db_url))
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=tmp, capture_output=True,
                                text=True, env=build.tool_env(env_extra))
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise CourseError(f"nbgrader {' '.join(args)} failed:\n{log[-4000:]}")
    return log


def released(course: Path) -> list[str]:
    """Assignments with a source notebook in the course folder."""
    source = Path(course) / "source"
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file()) if source.is_dir() else []


def release(course: Path, db_url: str, names: list[str] | None = None) -> list[str]:
    """Write source/ from the masters, run generate_assignment; return the released names."""
    course = Path(course)
    names = names or notebook_names()
    unknown = set(names) - {path.stem for path in build.master_paths()}
    if unknown:
        raise CourseError(f"no master notebook for {sorted(unknown)} in solutions/")
    with tempfile.TemporaryDirectory(prefix="vaecourse-source-") as tmp:
        masters = {name: build.bundle_master(nbformat.read(build.SOLUTIONS_DIR / f"{name}.ipynb", as_version=4),
                                             name, {}) for name in names}
        build.write_course_source(Path(tmp), masters)  # exactly as the build does
        for name in names:
            target = course / "source" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / "source" / name, target)
    for name in names:
        run_nbgrader(["generate_assignment", name, "--force", "--log-level=WARN"], course, db_url)
        released_nb = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        committed = build.COURSE_DIR / f"{name}.ipynb"
        if committed.is_file() and build.normalise(released_nb) != committed.read_text():
            print(f"warning: release/{name}/{name}.ipynb differs from course/{name}.ipynb: "
                  "run `make build` and commit, so that students get what is graded", file=sys.stderr)
    return names


def check_student_id(student: str) -> str:
    if not _SAFE_ID.match(student):
        raise CourseError(f"student id {student!r}: use letters, digits and . _ @ + - only "
                          "(it becomes a folder name)")
    return student


def import_roster(csv_path: Path, db_url: str) -> list[str]:
    """Add or update the roster's students in the gradebook; return their ids."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    students = []
    with open_gradebook(db_url) as gb:
        for number, row in enumerate(rows, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            student = row.get("id") or row.get("student_id")
            if not student:
                raise CourseError(f"{csv_path}:{number}: no `id` (or `student_id`) column value")
            check_student_id(student)
            info = {key: row[key] for key in ("first_name", "last_name", "email") if row.get(key)}
            gb.update_or_create_student(student, **info)
            students.append(student)
    return students


def collect_folder(folder: Path, course: Path) -> dict[str, list[str]]:
    """Copy `<student>/<assignment>/*.ipynb` (and timestamp.txt) into submitted/; {student: [assignment]}."""
    folder, course = Path(folder), Path(course)
    assignments = set(released(course))
    found: dict[str, list[str]] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        student = check_student_id(student_dir.name)
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name not in assignments:
                print(f"warning: skipped {assignment_dir}: no released assignment {assignment_dir.name!r}",
                      file=sys.stderr)
                continue
            target = course / "submitted" / student / assignment_dir.name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for path in sorted(assignment_dir.iterdir()):
                if path.is_file() and (path.suffix == ".ipynb" or path.name == "timestamp.txt"):
                    shutil.copyfile(path, target / path.name)
            found.setdefault(student, []).append(assignment_dir.name)
    return found


def collect_zip(zip_path: Path, course: Path, db_url: str, regexp: str = DEFAULT_ZIP_REGEXP) -> dict[str, list[str]]:
    """nbgrader zip_collect for every released assignment; {student: [assignment]} collected."""
    course = Path(course)
    found: dict[str, list[str]] = {}
    for assignment in released(course):
        archive = course / "downloaded" / assignment / "archive"
        if archive.exists():
            shutil.rmtree(archive)
        archive.mkdir(parents=True)
        shutil.copyfile(zip_path, archive / Path(zip_path).name)
        before = _submitted_mtimes(course, assignment)
        run_nbgrader(["zip_collect", assignment, "--force", "--strict",
                      f"--FileNameCollectorPlugin.named_regexp={regexp}"], course, db_url)
        after = _submitted_mtimes(course, assignment)
        for student in sorted(s for s in after if after[s] != before.get(s)):
            found.setdefault(student, []).append(assignment)
    return found


def _submitted_mtimes(course: Path, assignment: str) -> dict[str, float]:
    out = {}
    root = Path(course) / "submitted"
    if root.is_dir():
        for student_dir in root.iterdir():
            folder = student_dir / assignment
            if folder.is_dir():
                out[student_dir.name] = max([p.stat().st_mtime_ns for p in folder.iterdir()] or [0])
    return out


def ensure_ignored(course: Path) -> None:
    """Keep grading's work folder out of nbgrader's way (it is already git-ignored by name)."""
    (Path(course) / WORK).mkdir(parents=True, exist_ok=True)
    os.makedirs(Path(course) / "submitted", exist_ok=True)
