"""The class's nbgrader course folder (autograder/): release, roster, collect.

- release: source/<name>/<name>.ipynb is made from the master exactly as the build makes
  it (`vaecourse.bundling.bundle_master` + `vaecourse.nbg.layout.write_course_source`), then `generate_assignment` fills the
  gradebook with the graded cells and their points and writes release/<name>/, where
  the reference figures (figures/ beside the masters' folder) are added as the build adds them.
  Assignment name == notebook name.
- roster: a CSV with a column `id` (or `student_id`) and optional `first_name`,
  `last_name`, `email` and `lms_id` (the LMS's user id: nbgrader's `lms_user_id`, which
  collect maps Canvas and Moodle file names with, `vaecourse.grading.lms`) becomes the
  gradebook's students.
- write_course_config: the course folder's own nbgrader_config.py, for formgrader.
- collect: an LMS download (a zip of files named `<student>_<notebook>.ipynb`, read with
  `zipfile`: the student id comes from the member's own name, nested archives are not
  unpacked) or a folder `<student>/<assignment>/*.ipynb`; both are stored into
  submitted/<student>/<assignment>/ as evidence (`evidence`: read-only, hashed, versions
  kept); the given files are only read. Links, unsafe names and ids, archives and
  oversized files are skipped, each named in the result's `problems`, never aborting the rest.
"""
import csv
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import nbformat

from vaecourse.bundling import bundle_master
from vaecourse.figures import with_reference_figures
from vaecourse.grading import evidence
from vaecourse.grading.course_folder import EXCHANGE, CourseFolder
from vaecourse.masters import ROOT, STUDENT_DIR, figures_dir, master_paths, normalise, read_master, student_notebook
from vaecourse.nbg.config import config_text
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import RELEASE, SOURCE, SUBMITTED, TIMESTAMP_FILE, write_course_source
from vaecourse.nbg.run import NbgraderFailed, run_nbgrader, tool_env

AUTOGRADER_DIR = ROOT / "autograder"  # the nbgrader course folder grading works in
# Matched (as nbgrader's zip_collect did) against a zip member's path once extracted, <course>/downloaded/<zip>/<member>.
DEFAULT_ZIP_REGEXP = r".*/(?P<student_id>[^/]+?)_(?P<file_id>\d\d_[A-Za-z0-9_]+)\.ipynb$"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")  # fullmatch: `$` would let a trailing newline in
MAX_ID_LENGTH = 100
MAX_SUBMISSION_BYTES = 50 * 2**20  # a notebook (or zip member) larger than this is not collected
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!",
                 b"\x28\xb5\x2f\xfd")


class CourseError(RuntimeError):
    """Something the instructor must fix; the message says what."""


def notebook_names(solutions: Path | None = None) -> list[str]:
    """Every notebook that has a master and a released student version in course/, in course order.

    Where course/ does not exist (an installed package), every master.
    """
    paths = master_paths(solutions)
    return [path.stem for path in paths if not STUDENT_DIR.is_dir() or (STUDENT_DIR / path.name).is_file()]


def run_in_course(args: list[str], course: Path, db_url: str, env_extra: dict | None = None) -> str:
    """Run the nbgrader CLI against `course` with grading's config; return its log, raise CourseError on failure."""
    with tempfile.TemporaryDirectory(prefix="vaecourse-nbgrader-") as tmp:
        CourseFolder(tmp).config.write_text(config_text(grading=True, root=course, db_url=db_url))
        try:
            result = run_nbgrader(args, Path(tmp), tool_env(env_extra))
        except NbgraderFailed as error:
            raise CourseError(str(error)) from None
    return result.stdout + result.stderr


def released(course: Path) -> list[str]:
    """Assignments with a source notebook in the course folder."""
    folder = CourseFolder(course)
    source = folder.folder(SOURCE)
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if folder.notebook(SOURCE, p.name).is_file())


def release(course: Path, db_url: str, names: list[str] | None = None, solutions: Path | None = None,
            lang: str = "en") -> list[str]:
    """Write source/ from the masters, run generate_assignment; return the released names.

    solutions: the masters' folder (default: `vaecourse.masters.solutions_dir()`).
    lang: the edition released ("ja": the notebooks of course/ja/, graded and fed back in Japanese).
    """
    course = Path(course)
    names = names or notebook_names(solutions)
    unknown = set(names) - {path.stem for path in master_paths(solutions)}
    if unknown:
        raise CourseError(f"no master notebook for {sorted(unknown)} in {solutions or 'solutions/'}")
    with tempfile.TemporaryDirectory(prefix="vaecourse-source-") as tmp:
        write_course_source(Path(tmp), {name: bundle_master(read_master(name, solutions), name, {}, lang)
                                        for name in names})  # exactly as the build does
        for name in names:
            target = CourseFolder(course).folder(SOURCE, name)
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(CourseFolder(tmp).folder(SOURCE, name), target)
    for name in names:
        run_in_course(["generate_assignment", name, "--force", "--log-level=WARN"], course, db_url)
        released = CourseFolder(course).notebook(RELEASE, name)
        released_nb = nbformat.read(released, as_version=4)
        cells = len(released_nb.cells)
        with_reference_figures(released_nb, name, figures_dir(solutions), lang)  # as the build does
        if len(released_nb.cells) != cells:
            nbformat.write(released_nb, released)
        committed = student_notebook(name, lang)
        if committed.is_file() and normalise(released_nb) != committed.read_text():
            print(f"warning: release/{name}/{name}.ipynb differs from {committed.relative_to(STUDENT_DIR.parent)}: "
                  "run `make build` and commit, so that students get what is graded", file=sys.stderr)
    return names


CONFIG_MARK = "# Written by `python -m vaecourse.grade`"  # first line of a config the command may rewrite


def course_config_text(db: str | None = None) -> str:
    """The course folder's nbgrader_config.py: the grading command's settings, this folder as the
    course root (wherever it is moved), `db` as the gradebook if given, and an exchange inside it."""
    db_arg = f", db_url={db!r}" if db else ""
    return "\n".join([
        f"{CONFIG_MARK} (release, all): formgrader and the nbgrader commands run in this",
        "# folder then use the grading command's settings (vaecourse/nbg/config.py). Written again by",
        "# each release and all; delete the first line to keep your own edits.",
        "import os",
        "",
        "from vaecourse.nbg.config import configure",
        "",
        "c = get_config()  # noqa: F821 (provided by nbgrader)",
        "here = os.path.dirname(os.path.abspath(__file__))",
        f"configure(c, grading=True, root=here{db_arg})",
        "# nbgrader's exchange (fetch and submit, the assignment list) inside this folder: its default,",
        "# /usr/local/share/nbgrader/exchange, rarely exists, and formgrader then warns 'Unwritable directory'.",
        f"c.Exchange.root = os.path.join(here, {EXCHANGE!r})",
        "",
    ])


def write_course_config(course: Path, db: str | None = None) -> tuple[Path, str]:
    """Write <course>/nbgrader_config.py (`course_config_text`) and its exchange folder, unless the
    instructor's own config is there (one whose first line is not CONFIG_MARK); (path, what was done)."""
    folder = CourseFolder(course)
    path = folder.config
    if path.exists() and not path.read_text().startswith(CONFIG_MARK):
        return path, "kept: not written by this command"
    folder.exchange.mkdir(exist_ok=True)
    text = course_config_text(db)
    if path.exists() and path.read_text() == text:
        return path, "unchanged"
    path.write_text(text)
    if db:
        path.chmod(0o600)  # a database URL may hold a password
    return path, "written"


def import_roster(csv_path: Path, db_url: str) -> list[str]:
    """Add or update the roster's students in the gradebook; return their ids."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    entries, errors = {}, []
    for number, row in enumerate(rows, start=2):  # every row checked before the gradebook is touched
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        student = row.get("id") or row.get("student_id")
        if not student:
            errors.append(f"{csv_path}:{number}: no `id` (or `student_id`) column value")
        elif problem := student_id_problem(student):
            errors.append(f"{csv_path}:{number}: {problem}")
        elif student in entries:
            errors.append(f"{csv_path}:{number}: student id {student!r} twice")
        else:
            entries[student] = {key: row[key] for key in ("first_name", "last_name", "email") if row.get(key)}
            if row.get("lms_id") or row.get("lms_user_id"):
                entries[student]["lms_user_id"] = row.get("lms_id") or row.get("lms_user_id")
    if errors:
        raise CourseError("roster not imported:\n" + "\n".join(errors))
    with open_gradebook(db_url) as gb:
        for student, info in entries.items():
            gb.update_or_create_student(student, **info)
    return list(entries)


class Collected(dict):
    """{student: [assignment]} collected, with `problems` (what was skipped and why: the
    command prints them) and `stored` ({(student, assignment): evidence.NEW, NEW_VERSION,
    UNCHANGED or RESTORED})."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.stored: dict[tuple[str, str], str] = {}

    def add(self, student: str, assignment: str, how: str) -> None:
        self.setdefault(student, []).append(assignment)
        self.stored[(student, assignment)] = how


def student_id_problem(student: str) -> str:
    """"" if `student` is a safe student id (it becomes a folder name), else what is wrong with it."""
    if not isinstance(student, str) or len(student) > MAX_ID_LENGTH or not _SAFE_ID.fullmatch(student):
        return (f"student id {student!r}: use letters, digits and . _ @ + - only, starting with a letter or "
                f"digit, at most {MAX_ID_LENGTH} characters (it becomes a folder name)")
    return ""


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _content_problem(data: bytes) -> str:
    if len(data) > MAX_SUBMISSION_BYTES:
        return f"larger than {MAX_SUBMISSION_BYTES // 2**20} MB"
    if data.startswith(ARCHIVE_MAGIC):
        return "an archive, not a notebook (archives inside a submission are not unpacked)"
    return ""


def _read_regular_file(path: Path) -> tuple[bytes | None, str]:
    """(bytes, "") of a plain file, never through a link; (None, why) otherwise."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            return None, "a symbolic link (collect follows no links)"
        if not stat.S_ISREG(mode):
            return None, "not a regular file"
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None, "not a regular file"
            data = handle.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as error:
        return None, f"could not be read ({error.strerror or error})"
    return (None, why) if (why := _content_problem(data)) else (data, "")


def _entry_problem(path: Path, name_problem: str) -> str:
    """Why a <student>/ or <assignment>/ folder of a collect folder is skipped ('' if it is not)."""
    if path.is_symlink():
        return "a symbolic link (collect follows no links)"
    if not path.is_dir():
        return "not a folder <student>/<assignment>/"
    return name_problem


def collect_folder(folder: Path, course: Path, db_url: str | None = None) -> Collected:
    """Store `<student>/<assignment>/*.ipynb` (and timestamp.txt) in submitted/ as evidence (`evidence.store`).

    A submission holding a symbolic link, an archive, a file over the size cap or a
    folder with a bad student id is skipped (and named in `problems`); the others are
    collected. Links are never followed, at any level. db_url: check the ids against the roster.
    """
    folder, course = Path(folder), Path(course)
    if not folder.is_dir():
        raise CourseError(f"{folder}: not a folder")
    assignments = set(released(course))
    result = Collected()
    for student_dir in sorted(folder.iterdir()):
        if problem := _entry_problem(student_dir, student_id_problem(student_dir.name)):
            result.problems.append(f"skipped {student_dir}: {problem}")
            continue
        student = student_dir.name
        for assignment_dir in sorted(student_dir.iterdir()):
            unreleased = "" if assignment_dir.name in assignments else \
                f"no released assignment {assignment_dir.name!r}"
            if problem := _entry_problem(assignment_dir, unreleased):
                result.problems.append(f"skipped {assignment_dir}: {problem}")
                continue
            files, refused = {}, []
            for path in sorted(assignment_dir.iterdir()):
                if path.is_symlink():
                    refused.append(f"{path.name} is a symbolic link (collect follows no links)")
                elif is_archive_name(path.name):
                    refused.append(f"{path.name} is an archive (archives inside a submission are not unpacked)")
                elif path.suffix == ".ipynb" or path.name == TIMESTAMP_FILE:
                    data, why = _read_regular_file(path)
                    if why:
                        refused.append(f"{path.name} is {why}")
                    else:
                        files[path.name] = data
            if refused:
                result.problems.append(f"skipped {assignment_dir}: {'; '.join(refused)}; nothing of it collected")
                continue
            result.add(student, assignment_dir.name,
                       evidence.store(course, student, assignment_dir.name, files, str(assignment_dir.resolve())))
    _check_roster(result, db_url)
    return result


def _member_problem(info: zipfile.ZipInfo) -> str:
    """Why a zip member is not collected, before reading it ("" if nothing yet)."""
    name = info.filename
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
            or re.match(r"^[A-Za-z]:", name)):
        return "an unsafe path (absolute, with .. or a backslash)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link (collect follows no links)"
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return "not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted"
    if is_archive_name(name):
        return ("an archive inside the archive: not unpacked (the student id comes from the outer "
                "file name only)")
    if not name.endswith(".ipynb"):
        return "not a notebook (.ipynb)"
    if info.file_size > MAX_SUBMISSION_BYTES:
        return f"larger than {MAX_SUBMISSION_BYTES // 2**20} MB ({info.file_size} bytes)"
    return ""


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes | None, str]:
    try:
        with zf.open(info) as handle:
            data = handle.read(MAX_SUBMISSION_BYTES + 1)  # a size in the header may lie
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError, ValueError) as error:
        return None, f"could not be read ({error})"
    return (None, why) if (why := _content_problem(data)) else (data, "")


def collect_zip(zip_path: Path, course: Path, db_url: str | None = None,
                regexp: str = DEFAULT_ZIP_REGEXP) -> Collected:
    """Store each notebook of an LMS download in submitted/ as evidence (`evidence.store`).

    Our own extraction with `zipfile` (nbgrader's zip_collect unpacks nested archives,
    writes where a file name says and stops at the first duplicate). `regexp` is matched,
    as zip_collect does, against the path the member would have once extracted,
    <course>/downloaded/<zip name>/<member>; its groups `student_id` and `file_id` (the
    notebook name, with or without .ipynb) and optionally `timestamp` give the submission.
    Nothing is extracted to disk but the collected notebooks. A member that is a link,
    an archive, unsafe, too big, unreadable, unmatched, or for a bad id or an unreleased
    notebook is skipped, and so are members that disagree about one submission; each is
    named in `problems`; the others are collected.
    """
    course, zip_path = Path(course), Path(zip_path)
    try:
        pattern = re.compile(regexp)
    except re.error as error:
        raise CourseError(f"--regexp {regexp!r}: {error}") from None
    if not {"student_id", "file_id"} <= set(pattern.groupindex):
        raise CourseError(f"--regexp {regexp!r}: needs the named groups student_id and file_id")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise CourseError(f"{zip_path}: not a readable zip file ({error})") from None
    result = Collected()
    with zf:
        groups = _zip_groups(zf, zip_path, course, pattern, result.problems)
        for (student, assignment), members in sorted(groups.items()):
            chosen = _choose_member(zf, f"{student}/{assignment}", zip_path.name, members, result.problems)
            if chosen is None:
                continue
            info, stamp, data = chosen
            files = {f"{assignment}.ipynb": data}
            if stamp:
                files[TIMESTAMP_FILE] = stamp.encode()
            result.add(student, assignment,
                       evidence.store(course, student, assignment, files, f"{zip_path.resolve()}:{info.filename}"))
    _check_roster(result, db_url)
    return result


Member = tuple[zipfile.ZipInfo, str | None]  # a zip member and its timestamp, if the regexp gives one


def _zip_groups(zf: zipfile.ZipFile, zip_path: Path, course: Path, pattern: re.Pattern,
                problems: list[str]) -> dict[tuple[str, str], list[Member]]:
    """The members that may be collected, by (student, assignment); the others named in `problems`."""
    assignments = set(released(course))
    groups: dict[tuple[str, str], list[Member]] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        where = f"{zip_path.name}:{info.filename}"
        if why := _member_problem(info):
            problems.append(f"skipped {where}: {why}")
            continue
        match = pattern.match((CourseFolder(course).downloaded(zip_path.stem) / info.filename).as_posix())
        if not match or not match.group("student_id") or not match.group("file_id"):
            problems.append(f"skipped {where}: its name does not match --regexp {pattern.pattern!r}")
            continue
        student, assignment = match.group("student_id"), match.group("file_id").removesuffix(".ipynb")
        if why := student_id_problem(student):
            problems.append(f"skipped {where}: {why}")
            continue
        if assignment not in assignments:
            problems.append(f"skipped {where}: no released assignment {assignment!r}")
            continue
        stamp = match.groupdict().get("timestamp")
        if stamp:
            try:
                from nbgrader.utils import parse_utc

                stamp = parse_utc(stamp).isoformat(" ")
            except (ValueError, OverflowError, TypeError):
                problems.append(f"{where}: timestamp {stamp!r} not understood; ignored")
                stamp = None
        groups.setdefault((student, assignment), []).append((info, stamp or None))
    return groups


def _choose_member(zf: zipfile.ZipFile, submission: str, zip_name: str, members: list[Member],
                   problems: list[str]) -> tuple[zipfile.ZipInfo, str | None, bytes] | None:
    """The one member to collect for a submission, read; None (and why in `problems`) if none.

    Every member must be readable; identical copies count once; different ones need
    timestamps (the newest wins, as in zip_collect), else none is collected.
    """
    read, refused = [], []
    for info, stamp in members:
        data, why = _read_member(zf, info)
        if why:
            refused.append(f"{info.filename} is {why}")
        else:
            read.append((info, stamp, data))
    names = ", ".join(info.filename for info, _ in members)
    if refused:
        problems.append(f"skipped {submission} ({zip_name}: {names}): {'; '.join(refused)}; nothing of it collected")
        return None
    if len({data for _, _, data in read}) > 1:
        stamps = [stamp for _, stamp, _ in read]
        if None in stamps or len(set(stamps)) < len(stamps):
            problems.append(f"skipped {submission}: {len(read)} different files in {zip_name} ({names}) and no "
                            "timestamps to choose; none collected (collect the right one with --folder)")
            return None
        problems.append(f"{submission}: {len(read)} files in {zip_name} ({names}); "
                        "the one with the newest timestamp collected")
        return max(read, key=lambda item: item[1])
    if len(read) > 1:
        problems.append(f"{submission}: {len(read)} identical files in {zip_name} ({names}); collected once")
    return read[0]


def _check_roster(result: Collected, db_url: str | None) -> None:
    """A problem for each collected student the roster does not hold (a file name typo, an LMS id)."""
    if not db_url or not result:
        return
    with open_gradebook(db_url) as gb:
        roster = {student.id for student in gb.students}
    if not roster:
        result.problems.append("the gradebook holds no roster yet: student ids not checked "
                               "(`python -m vaecourse.grade roster roster.csv`)")
        return
    for student in sorted(set(result) - roster):
        result.problems.append(f"{student}: collected, but not on the roster; check the id "
                               "(a typo in a file name?) or add them to the roster")


def students_to_grade(course: Path, course_db: str, only: list[str] | None = None) -> list[str]:
    """Everyone on the roster and everyone who submitted something."""
    with open_gradebook(course_db) as gb:
        roster = {student.id for student in gb.students}
    submitted_root = CourseFolder(course).folder(SUBMITTED)
    submitted = {p.name for p in submitted_root.iterdir() if p.is_dir()} if submitted_root.is_dir() else set()
    everyone = sorted(roster | submitted)
    return [s for s in everyone if not only or s in only]
