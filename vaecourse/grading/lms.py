"""Collect an LMS download as the LMS names its files (`vaecourse.grading.lms_platforms`: Canvas,
Moodle), mapped to the roster.

Each file is the submission of the roster student whose `lms_id` (nbgrader's `lms_user_id`,
imported from the roster CSV) is the file's user id, else whose name matches (the LMS's
`roster_names`: Canvas's login is the roster id or last name + first name; Moodle's full name is
first name + last name). The assignment is the file name without a resubmission suffix (`-1`,
` (1)`). The newest resubmission of each is collected and every older one named; a LATE file is
named in the problems and recorded in <course>/.grading/lms/ for the grading report; every file
that is skipped (unknown student, unreleased notebook, a name that is not the LMS's, anything
collect's hardening refuses) is named in the problems. Nothing but the collected notebooks is written.
"""
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vaecourse.grading import classroom
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.lms_platforms import LMS_PLATFORMS, LmsPlatform, Person, normalised, title_of
from vaecourse.nbg.gradebook import open_gradebook

RESUBMISSION = re.compile(r"^(?P<base>.+?)(?:-(?P<dash>\d+)| \((?P<paren>\d+)\))?$")


@dataclass
class File:
    """One LMS file that names a submission."""
    where: str  # how the problems name it
    name: str  # its name in the download
    user_id: str
    who: str  # the LMS's name of the student: login (Canvas), full name (Moodle)
    assignment: str
    resubmission: int  # 0 for the first file, N for -N
    order: int  # newer is larger (Canvas's submission id), else 0
    late: bool
    data: bytes


def detect(names: list[str]) -> str:
    """The name of the LMS that names a file as it names them, else 'plain'. The LMSs that name their
    submission folders are asked first: a file in such a folder may look like another LMS's file."""
    for lms in sorted(LMS_PLATFORMS.values(), key=lambda lms: not lms.in_folders):
        if any(lms.read_name(name) for name in names):
            return lms.name
    return "plain"


def collect(source: Path, course: Path, db_url: str, lms: str = "auto",
            regexp: str = classroom.DEFAULT_ZIP_REGEXP, is_zip: bool = True) -> classroom.Collected:
    """Collect a zip (is_zip) or folder: as the LMS names its files (`lms` a name of LMS_PLATFORMS, or
    auto: `detect`), else as classroom.collect_zip / collect_folder do. The result's `lms` says which."""
    source, course = Path(source), Path(course)
    if lms == "auto":
        lms = "plain" if regexp != classroom.DEFAULT_ZIP_REGEXP else detect(_names(source, is_zip))
    if lms == "plain":
        result = classroom.collect_zip(source, course, db_url, regexp) if is_zip else \
            classroom.collect_folder(source, course, db_url)
    else:
        result = classroom.Collected()
        entries = _zip_entries(source, result.problems) if is_zip else _folder_entries(source, result.problems)
        platform = LMS_PLATFORMS[lms]
        files = [f for name, where, data in entries
                 if (f := _parse(platform, name, where, data, course, result.problems))]
        _store(files, course, _roster(db_url, platform), platform, result)
    result.lms = lms
    return result


def _names(source: Path, is_zip: bool) -> list[str]:
    if is_zip:
        try:
            with zipfile.ZipFile(source) as zf:
                return [info.filename for info in zf.infolist() if not info.is_dir()]
        except (OSError, zipfile.BadZipFile):
            return []  # collect_zip says why
    if not source.is_dir():
        return []
    names = []
    for entry in sorted(source.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            names += [f"{entry.name}/{p.name}" for p in sorted(entry.iterdir()) if not p.is_dir()]
        else:
            names.append(entry.name)
    return names


def _zip_entries(zip_path: Path, problems: list[str]) -> list[tuple[str, str, bytes]]:
    """(name, where, bytes) of every zip member collect's hardening lets through; the others in `problems`."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise classroom.CourseError(f"{zip_path}: not a readable zip file ({error})") from None
    entries = []
    with zf:
        for info in zf.infolist():
            where = f"{zip_path.name}:{info.filename}"
            if info.is_dir():
                continue
            why = classroom._member_problem(info)
            data, why = (None, why) if why else classroom._read_member(zf, info)
            if why:
                problems.append(f"skipped {where}: {why}")
            else:
                entries.append((info.filename, where, data))
    return entries


def _folder_entries(folder: Path, problems: list[str]) -> list[tuple[str, str, bytes]]:
    """(name, where, bytes) of the files of an unzipped download (and of its first-level folders)."""
    if not folder.is_dir():
        raise classroom.CourseError(f"{folder}: not a folder")
    entries = []
    for entry in sorted(folder.iterdir()):
        inside = [entry] if entry.is_symlink() or not entry.is_dir() else sorted(entry.iterdir())
        for path in inside:
            name = path.relative_to(folder).as_posix()
            if path.is_dir() and not path.is_symlink():
                problems.append(f"skipped {path}: a folder inside a submission folder (not searched)")
                continue
            if classroom.is_archive_name(path.name):
                problems.append(f"skipped {path}: an archive (archives inside a submission are not unpacked)")
                continue
            if path.suffix != ".ipynb":
                problems.append(f"skipped {path}: not a notebook (.ipynb)")
                continue
            data, why = classroom._read_regular_file(path)
            if why:
                problems.append(f"skipped {path}: {why}")
            else:
                entries.append((name, str(path), data))
    return entries


def _parse(lms: LmsPlatform, name: str, where: str, data: bytes, course: Path, problems: list[str]) -> File | None:
    """The File a download's file names; None (and why in `problems`) if it names none we can grade."""
    named = lms.read_name(name)
    if not named:
        problems.append(f"skipped {where}: not named as {lms.title} names submissions ({lms.file_names})")
        return None
    parts = RESUBMISSION.match(named.file.removesuffix(".ipynb"))
    assignment, number = parts.group("base"), int(parts.group("dash") or parts.group("paren") or 0)
    if assignment not in classroom.released(course):
        problems.append(f"skipped {where}: no released assignment {assignment!r} (its file name is {named.file!r})")
        return None
    return File(where, name, named.user_id, named.who, assignment, number, named.order, named.late, data)


def roster_people(db_url: str) -> dict[str, Person]:
    """student id -> Person, for every student of the gradebook's roster."""
    with open_gradebook(db_url) as gb:
        return {s.id: Person(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                for s in gb.students}


def _roster(db_url: str, lms: LmsPlatform) -> list[tuple[str, str, set[str]]]:
    """(student id, lms_user_id, the names the LMS may write for them) of every roster student."""
    people = roster_people(db_url).values()
    if not people:
        raise classroom.CourseError(f"{lms.title} file names carry the LMS's ids and names, not your "
                                    "student ids: import a roster first (`roster roster.csv`, with a column lms_id)")
    return [(person.id, person.lms_id, lms.roster_names(person)) for person in people]


def match_student(file: File, roster: list[tuple[str, str, set[str]]], lms: LmsPlatform) -> tuple[str | None, str]:
    """(roster id, '') of the file's student, or (None, why not): by lms_id, else by name among the
    students without an lms_id."""
    found = [sid for sid, lms_id, _ in roster if lms_id and lms_id == file.user_id]
    if not found:
        found = [sid for sid, lms_id, names in roster if not lms_id and normalised(file.who) in names]
    if len(found) == 1:
        return found[0], ""
    who = f"{lms.title} user {file.user_id} ({file.who})"
    if found:
        return None, f"{who} matches several roster students ({', '.join(found)}): give each an lms_id"
    return None, (f"{who} is not on the roster: add them (or their lms_id {file.user_id}) to the roster CSV, "
                  "import it and collect again")


def _store(files: list[File], course: Path, roster, lms: LmsPlatform, result: classroom.Collected) -> None:
    """Store the newest file of each (student, assignment); name the older, the late and the unknown."""
    from vaecourse.grading import evidence

    groups: dict[tuple[str, str], list[File]] = {}
    for file in files:
        student, why = match_student(file, roster, lms)
        if student is None:
            result.problems.append(f"skipped {file.where}: {why}")
        else:
            groups.setdefault((student, file.assignment), []).append(file)
    for (student, assignment), group in sorted(groups.items()):
        group.sort(key=lambda f: (f.resubmission, f.order))
        newest = group[-1]
        for older in group[:-1]:
            result.problems.append(f"{student}/{assignment}: older submission {older.where} not collected "
                                   f"(the newest is {newest.name})")
        if newest.late:
            result.problems.append(f"{student}/{assignment}: LATE ({lms.title} marks {newest.name} late)")
        result.add(student, assignment, evidence.store(course, student, assignment,
                                                       {f"{assignment}.ipynb": newest.data}, newest.where))
        record = CourseFolder(course).lms_record(student, assignment)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"lms": lms.name, "file": newest.name, "late": newest.late}, indent=1) + "\n")


def marked_late(course: Path, student: str, assignment: str) -> bool:
    """Whether the LMS marked this collected submission LATE."""
    path = CourseFolder(course).lms_record(student, assignment)
    return path.is_file() and bool(json.loads(path.read_text()).get("late"))


def late_lines(course: Path) -> list[str]:
    """One problems line per submission collected from an LMS that marked it late."""
    root = CourseFolder(course).lms_records
    lines = []
    for path in sorted(root.glob("*/*.json")) if root.is_dir() else []:
        record = json.loads(path.read_text())
        if record.get("late"):
            lines.append(f"{path.parent.name} / {path.stem}: submitted LATE ({title_of(record.get('lms', 'LMS'))} "
                         f"file {record.get('file')})")
    return lines
