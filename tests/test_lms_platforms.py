"""A new LMS is one class (vaecourse.grading.lms_platforms): a toy LMS, registered beside Canvas and
Moodle, is used end to end through the real grading command and real nbgrader.

The toy LMS names the files of its download `<student id>--<NN_name>.ipynb` and imports a
two-column CSV (`student`, `score`). The grading command runs in a subprocess, so the test starts
it from a few lines (WRAPPER) that import `Toy` from this file and register it before they call
`vaecourse.grade.main`, as a course with its own LMS would. alice hands in a filled 01_mnist; the
download also holds a file of a student who is not on the roster and one named the plain way.
The collected student must come from the toy's names, and the exported file must have the toy's
layout with alice's score from the class CSV. Without nbgrader: what `register` refuses and that
`lms.detect` finds a registered LMS.
"""
import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from harness import grading_env
from simulated_class import filled

from vaecourse.grading import lms
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.lms_platforms import LMS_PLATFORMS, LmsPlatform, Named, register

NB = "01_mnist"
COMMON = ["--cell-timeout", "30", "--time-limit", "300", "--no-progress"]
WRAPPER = """import sys
sys.path.insert(0, {tests!r})
from test_lms_platforms import Toy
from vaecourse.grading.lms_platforms import register
register(Toy)
from vaecourse.grade import main
sys.exit(main(sys.argv[1:]))
""".format(tests=str(Path(__file__).resolve().parent))


class Toy(LmsPlatform):
    """An LMS of this test only: `<student id>--<NN_name>.ipynb`, and a grades import of two columns."""
    name, title = "toy", "Toy"
    file_names = "student--file.ipynb"
    PATTERN = re.compile(r"^(?P<student>[A-Za-z0-9]+)--(?P<file>\d\d_[a-z0-9_]+\.ipynb)$")

    def read_name(self, name: str) -> Named | None:
        match = self.PATTERN.match(Path(name).name)
        return Named(match["file"], "", match["student"]) if match else None  # no LMS id: matched by student id

    def import_table(self, columns, points, lines):
        total = columns.index("Total")
        return [["student", "score"], *([person.id, values[total]] for person, values in lines)]


@pytest.fixture()
def toy_registered():
    """Toy in LMS_PLATFORMS for one test, then out again (the other tests see Canvas and Moodle only)."""
    register(Toy)
    yield
    del LMS_PLATFORMS[Toy.name]


def grade_with_toy(course: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    """The grading command with Toy registered first (WRAPPER)."""
    result = subprocess.run([sys.executable, "-c", WRAPPER, "--course", str(course), *args],
                            capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def toy_term(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("toy")
    env, course = grading_env(offline_data), tmp / "course"
    grade_with_toy(course, "release", NB, env=env)
    (tmp / "roster.csv").write_text("id,first_name,last_name,email,lms_id\nalice,Alice,Archer,,\nbob,Bob,Baker,,\n")
    grade_with_toy(course, "roster", str(tmp / "roster.csv"), env=env)
    alice = nbformat.writes(filled(NB)).encode()
    with zipfile.ZipFile(tmp / "toy.zip", "w") as zf:
        zf.writestr(f"alice--{NB}.ipynb", alice)
        zf.writestr(f"mallory--{NB}.ipynb", alice)
        zf.writestr(f"bob_{NB}.ipynb", alice)
    collected = grade_with_toy(course, "collect", "--zip", str(tmp / "toy.zip"), "--lms", "toy", env=env)
    grade_with_toy(course, "autograde", "--assignment", NB, *COMMON, env=env)
    exported = grade_with_toy(course, "export", "--lms-format", "toy", env=env)
    return {"course": course, "alice": alice, "collect": collected, "export": exported,
            "lms_file": list(csv.reader(io.StringIO(CourseFolder(course).lms_grades_csv.read_text()))),
            "class_csv": list(csv.DictReader(io.StringIO((course / "exports" / "grades.csv").read_text())))}


@pytest.mark.slow
def test_the_toy_names_give_the_student(toy_term):
    course, result = toy_term["course"], toy_term["collect"]
    assert "collected as a Toy download (--lms toy;" in result.stdout, result.stdout
    assert "collected 1 notebooks from 1 students" in result.stdout, result.stdout
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice"]
    assert (course / "submitted" / "alice" / NB / f"{NB}.ipynb").read_bytes() == toy_term["alice"]
    assert "(mallory) is not on the roster" in result.stderr, result.stderr
    assert f"skipped toy.zip:bob_{NB}.ipynb: not named as Toy names submissions (student--file.ipynb)" \
        in result.stderr, result.stderr


@pytest.mark.slow
def test_the_export_has_the_toy_layout_and_alices_score(toy_term):
    header, *students = toy_term["lms_file"]
    assert header == ["student", "score"]
    assert [line[0] for line in students] == ["alice", "bob"]
    score = next(r["score"] for r in toy_term["class_csv"]
                 if r["student"] == "alice" and r["level"] == "notebook" and r["notebook"] == NB)
    assert students[0] == ["alice", score] and float(score) > 0  # one notebook: its score is the total
    assert students[1] == ["bob", ""]  # no submission: an empty cell, never 0
    assert "LMS grades (toy, no late penalty" in toy_term["export"].stdout


# --- without nbgrader -------------------------------------------------------------------------------

def test_a_registered_lms_is_detected_by_its_names(toy_registered):
    assert lms.detect([f"alice--{NB}.ipynb"]) == "toy"
    assert lms.detect([f"archeralice_1001_55501_{NB}.ipynb"]) == "canvas"
    assert lms.detect([f"alice_{NB}.ipynb"]) == "plain"


def test_an_lms_needs_a_name_of_its_own():
    for taken in ("plain", "auto", "canvas", ""):
        with pytest.raises(ValueError, match="a name of its own"):
            register(type("Another", (Toy,), {"name": taken}))
    assert list(LMS_PLATFORMS) == ["canvas", "moodle"]
