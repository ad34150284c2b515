"""One class per LMS, registered in `LMS_PLATFORMS`: how it names the files of its submissions download
and the layout of the grades file it imports (nbgrader's `FileNameCollectorPlugin` and `ExportPlugin`
in one class, since an LMS is both).

- `read_name(name)`: what a file's name in the download says (`Named`: the student's own file name,
  the LMS's id and name of the student, the order of resubmissions, a LATE mark), or None when the
  LMS does not name files so; `roster_names(person)`: the names it may write for a roster student.
  `vaecourse.grading.lms` collects a download with them.
- `import_table(columns, points, lines)`: the rows of the grades file, header first, from the
  export's columns (one per notebook, then Total, Max total, Adjusted total and Late), the points
  possible of each column and each student's values in the same order.
  `vaecourse.grading.lms_export` writes it.

A new LMS is one subclass of `LmsPlatform` with `@register`; `--lms` and `--lms-format` of the
grading command offer every registered name (besides `auto` and `plain`, which are not an LMS).
"""
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

NOT_AN_LMS = ("auto", "plain")  # the other values of --lms: no LMS may take their names


@dataclass
class Person:
    """A roster student as the gradebook holds them ("" where the roster had nothing)."""
    id: str
    first_name: str
    last_name: str
    email: str
    lms_id: str


@dataclass
class Named:
    """What an LMS's name of a downloaded file says about it."""
    file: str  # the student's own file name, e.g. 04_elbo-1.ipynb
    user_id: str  # matched to the roster's lms_id ("" when the name has no id)
    who: str  # matched to `roster_names` of the students without an lms_id
    order: int = 0  # of the same file's resubmissions, newer is larger
    late: bool = False  # the LMS marked it LATE


def normalised(text: str) -> str:
    """Lower-case letters and digits only, accents dropped: how Canvas writes a login from a name."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text.lower() if ch.isalnum() and not unicodedata.combining(ch))


class LmsPlatform:
    """An LMS: its download's file names and its grades import layout. Subclasses set `name`, `title`
    and `file_names` (and `in_folders` if so), `read_name`, and either `id_columns` and `id_values`
    or `import_table`."""
    name = ""  # the value of --lms and --lms-format, and the "lms" of collect's records
    title = ""  # how messages name it
    file_names = ""  # its download's file names, for messages and help
    in_folders = False  # its names are read with their folder (a submission folder of the download)
    id_columns: tuple[str, ...] = ()  # the grades file's columns before the notebooks

    def read_name(self, name: str) -> Named | None:
        """What the name (a path in the download, / between parts) says, or None if not named so."""
        raise NotImplementedError

    def roster_names(self, person: Person) -> set[str]:
        """The `normalised` names the LMS may write for a roster student: their id, by default."""
        return {normalised(person.id)} - {""}

    def id_values(self, person: Person) -> list[str]:
        """One student's values of `id_columns`."""
        raise NotImplementedError

    def points_rows(self, points: list[str]) -> list[list[str]]:
        """Rows between the header and the students that state the points possible (none by default)."""
        return []

    def import_table(self, columns: list[str], points: list[str], lines: list[tuple[Person, list[str]]]) \
            -> list[list[str]]:
        """The grades file's rows, header first; `points` and each line's values follow `columns`."""
        return [[*self.id_columns, *columns], *self.points_rows(points),
                *([*self.id_values(person), *values] for person, values in lines)]


LMS_PLATFORMS: dict[str, LmsPlatform] = {}  # name -> the LMS, in the order the grading command lists them


def register(cls: type[LmsPlatform]) -> type[LmsPlatform]:
    """Add an LMS (a class decorator); its name must be new and not auto or plain."""
    if not cls.name or cls.name in NOT_AN_LMS or cls.name in LMS_PLATFORMS:
        raise ValueError(f"an LMS needs a name of its own, not {cls.name!r} (taken: "
                         f"{', '.join((*NOT_AN_LMS, *LMS_PLATFORMS))})")
    LMS_PLATFORMS[cls.name] = cls()
    return cls


def title_of(name: str) -> str:
    """How messages name the LMS of a record: its title, or the name a process without it registered read."""
    return LMS_PLATFORMS[name].title if name in LMS_PLATFORMS else name.capitalize()


@register
class Canvas(LmsPlatform):
    """Canvas ("Download Submissions"): `<login>_[LATE_]<user id>_<submission id>_<file name>`, e.g.
    `archeralice_1001_55501_04_elbo.ipynb`; `LATE_` when Canvas counted it late; a resubmission of a
    file with the same name gets `-N` before the extension (`04_elbo-1.ipynb`). The login is the
    roster id or last name + first name.

    Its import ("Import grades in the Gradebook",
    https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807):
    `Student` ("Last, First"), `ID` (the roster's lms_id: Canvas's user id), `SIS User ID` (the
    student id), `SIS Login ID` (the roster's email), `Section`, the columns, and "Points Possible"
    as the first data row. Canvas offers to create or ignore columns it does not know (Total, Max
    total, Adjusted total, Late): choose "ignore" unless you want them as assignments."""
    name, title = "canvas", "Canvas"
    file_names = "login_[LATE_]userid_submissionid_file.ipynb"
    id_columns = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    PATTERN = re.compile(r"^(?P<login>[^_/]+)_(?P<late>LATE_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<file>[^/]+)$")

    def read_name(self, name: str) -> Named | None:
        match = self.PATTERN.match(Path(name).name)
        if not match:
            return None
        return Named(match["file"], match["user_id"], match["login"], int(match["submission_id"]), bool(match["late"]))

    def roster_names(self, person: Person) -> set[str]:
        return {normalised(person.id), normalised(person.last_name + person.first_name)} - {""}

    def id_values(self, person: Person) -> list[str]:
        name = ", ".join(part for part in (person.last_name, person.first_name) if part) or person.id
        return [name, person.lms_id, person.id, person.email, ""]

    def points_rows(self, points: list[str]) -> list[list[str]]:
        return [["Points Possible", "", "", "", "", *points]]


@register
class Moodle(LmsPlatform):
    """Moodle ("Download all submissions"): `<Full Name>_<id>_assignsubmission_file_<file name>`, e.g.
    `Alice Archer_1001_assignsubmission_file_04_elbo.ipynb`, or a folder
    `<Full Name>_<id>_assignsubmission_file_/` holding the file ("download submissions in folders");
    a resubmission is ` (N)` before the extension. The id is Moodle's participant id of the
    assignment, not the user id; like Canvas's user id it is matched to the roster's lms_id, else the
    full name (first name + last name) to the students without one.

    Its import ("Grade import" CSV, https://docs.moodle.org/en/Grade_import): `Email address` (map it
    to the user's email), `First name`, `Last name`, `ID number` (the student id), `LMS id`, then the
    columns; map each notebook's column to its grade item."""
    name, title = "moodle", "Moodle"
    file_names = "Full Name_id_assignsubmission_file_file.ipynb"
    in_folders = True
    id_columns = ("Email address", "First name", "Last name", "ID number", "LMS id")
    PATTERN = re.compile(r"^(?P<name>[^_/]+)_(?P<participant_id>\d+)_assignsubmission_file_/?(?P<file>[^/]+)$")

    def read_name(self, name: str) -> Named | None:
        match = self.PATTERN.match("/".join(name.split("/")[-2:]))  # the folder and the file
        return Named(match["file"], match["participant_id"], match["name"]) if match else None

    def roster_names(self, person: Person) -> set[str]:
        return {normalised(person.id), normalised(person.first_name + person.last_name)} - {""}

    def id_values(self, person: Person) -> list[str]:
        return [person.email, person.first_name, person.last_name, person.id, person.lms_id]
