"""The class's nbgrader course folder (autograder/): release, roster, collect.

- release: source/<name>/<name>.ipynb is made from the master exactly as the build makes
  it (`vaecourse.bundling.bundle_master` + `vaecourse.nbg.layout.write_course_source`), then `generate_assignment` fills the
  gradebook with the graded cells and their hidden tests and writes release/<name>/.
  Assignment name == notebook name.
- roster: a CSV with a column `id` (or `student_id`) and optional `first_name`,
  `last_name`, `email` becomes the gradebook's students.
- collect: an LMS download (a zip of files named `<student>_<notebook>.ipynb`, through
  nbgrader's zip_collect) or a folder `<student>/<assignment>/*.ipynb`; both are copied
  into submitted/<student>/<assignment>/; the given files are only read.
"""
import csv
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from vaecourse.bundling import bundle_master
from vaecourse.masters import ROOT, STUDENT_DIR, master_paths, normalise, read_master
from vaecourse.nbg.config import config_text
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import notebook_path, write_course_source
from vaecourse.nbg.run import NbgraderFailed, run_nbgrader, tool_env

AUTOGRADER_DIR = ROOT / "autograder"  # the nbgrader course folder grading works in
WORK = ".grading"  # grading's own folder inside the course folder (jobs, status, logs)
# zip_collect matches this against each extracted file's absolute path.
DEFAULT_ZIP_REGEXP = r".*/(?P<student_id>[^/]+?)_(?P<file_id>\d\d_[A-Za-z0-9_]+)\.ipynb$"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


class CourseError(RuntimeError):
    """Something the instructor must fix; the message says what."""


def default_db_url(course: Path) -> str:
    return f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"


def notebook_names(solutions: Path | None = None) -> list[str]:
    """Every notebook that has a master and a released student version in course/, in course order.

    Where course/ does not exist (an installed package), every master.
    """
    paths = master_paths(solutions)
    return [path.stem for path in paths if not STUDENT_DIR.is_dir() or (STUDENT_DIR / path.name).is_file()]


def run_in_course(args: list[str], course: Path, db_url: str, env_extra: dict | None = None) -> str:
    """Run the nbgrader CLI against `course` with grading's config; return its log, raise CourseError on failure."""
    with tempfile.TemporaryDirectory(prefix="vaecourse-nbgrader-") as tmp:
        Path(tmp, "nbgrader_config.py").write_text(config_text(grading=True, root=course, db_url=db_url))
        try:
            result = run_nbgrader(args, Path(tmp), tool_env(env_extra))
        except NbgraderFailed as error:
            raise CourseError(str(error)) from None
    return result.stdout + result.stderr


def released(course: Path) -> list[str]:
    """Assignments with a source notebook in the course folder."""
    source = Path(course) / "source"
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file()) if source.is_dir() else []


def release(course: Path, db_url: str, names: list[str] | None = None, solutions: Path | None = None) -> list[str]:
    """Write source/ from the masters, run generate_assignment; return the released names.

    solutions: the masters' folder (default: `vaecourse.masters.solutions_dir()`).
    """
    course = Path(course)
    names = names or notebook_names(solutions)
    unknown = set(names) - {path.stem for path in master_paths(solutions)}
    if unknown:
        raise CourseError(f"no master notebook for {sorted(unknown)} in {solutions or 'solutions/'}")
    with tempfile.TemporaryDirectory(prefix="vaecourse-source-") as tmp:
        write_course_source(Path(tmp), {name: bundle_master(read_master(name, solutions), name, {})
                                        for name in names})  # exactly as the build does
        for name in names:
            target = notebook_path(course, "source", name).parent
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(notebook_path(Path(tmp), "source", name).parent, target)
    for name in names:
        run_in_course(["generate_assignment", name, "--force", "--log-level=WARN"], course, db_url)
        released_nb = nbformat.read(notebook_path(course, "release", name), as_version=4)
        committed = STUDENT_DIR / f"{name}.ipynb"
        if committed.is_file() and normalise(released_nb) != committed.read_text():
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
        run_in_course(["zip_collect", assignment, "--force", "--strict",
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


def students_to_grade(course: Path, course_db: str, only: list[str] | None = None) -> list[str]:
    """Everyone on the roster and everyone who submitted something."""
    with open_gradebook(course_db) as gb:
        roster = {student.id for student in gb.students}
    submitted_root = Path(course) / "submitted"
    submitted = {p.name for p in submitted_root.iterdir() if p.is_dir()} if submitted_root.is_dir() else set()
    everyone = sorted(roster | submitted)
    return [s for s in everyone if not only or s in only]
