"""The instructor's exports (vaecourse.grading.lms_export, `export` options) on a tiny class graded once
with the real grading command and real nbgrader.

01_mnist and 04_elbo are released; 01_mnist is due 2026-01-10 00:00 UTC (`--due`). alice hands in
the blank notebook on time, bob a filled one 1.5 days late (nbgrader's timestamp.txt), carol a filled
one as a Canvas file marked LATE (no time to measure: one day); dave hands in nothing. Nobody hands in
04_elbo. The LMS file is checked cell by cell, the summaries read, the penalty found only in the
adjusted column, and the gradebook and the long CSV unchanged by a penalty.
"""
import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from harness import grading_env, load_student
from simulated_class import filled

from vaecourse.grading import lms_export
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.report import Row

NB = "01_mnist"
COMMON = ["--cell-timeout", "30", "--time-limit", "300", "--no-progress"]
DUE = f"{NB}=2026-01-10T00:00:00+00:00"


def grade_cli(course: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *args],
                            capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def submit(root: Path, student: str, nb, stamp: str) -> None:
    folder = root / student / NB
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{NB}.ipynb")
    (folder / "timestamp.txt").write_text(stamp)


def table(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def term(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("exports")
    env, course = grading_env(offline_data), tmp / "course"
    grade_cli(course, "release", NB, "04_elbo", env=env)
    (tmp / "roster.csv").write_text("id,first_name,last_name,email,lms_id\nalice,Alice,Archer,alice@uni.example,1001\n"
                                    "bob,Bob,Baker,bob@uni.example,1002\ncarol,Carol,Cooper,,1003\ndave,Dave,Dale,,\n")
    grade_cli(course, "roster", str(tmp / "roster.csv"), env=env)
    submit(tmp / "class", "alice", load_student(NB), "2026-01-09 10:00:00 UTC")
    submit(tmp / "class", "bob", filled(NB), "2026-01-11 12:00:00 UTC")
    grade_cli(course, "collect", "--folder", str(tmp / "class"), env=env)
    (tmp / "canvas").mkdir()
    nbformat.write(filled(NB), tmp / "canvas" / f"coopercarol_LATE_1003_55501_{NB}.ipynb")
    grade_cli(course, "collect", "--folder", str(tmp / "canvas"), env=env)
    out = {"course": course, "env": env}
    out["autograde"] = grade_cli(course, "autograde", "--assignment", NB, "--due", DUE, *COMMON, env=env)
    folder = CourseFolder(course)
    out["canvas0"] = table(folder.lms_grades_csv)
    out["csv0"] = folder.grades_csv.read_text()
    out["sha0"] = sha(folder.gradebook)
    out["export"] = grade_cli(course, "export", "--late-penalty", "10", env=env)
    out["canvas10"] = table(folder.lms_grades_csv)
    out["csv10"] = folder.grades_csv.read_text()
    out["sha10"] = sha(folder.gradebook)
    out["summaries"] = {p.stem: p.read_text() for p in folder.summaries.glob("*.txt")}
    grade_cli(course, "export", "--late-penalty", "60", "--lms-format", "moodle", env=env)
    out["moodle"] = table(folder.lms_grades_csv)
    return out


@pytest.mark.slow
def test_the_canvas_file_cell_by_cell(term):
    header, points, *students = term["canvas10"]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    adjusted = "Adjusted total (late penalty 10% of the notebook's score per started day late, at most 100%)"
    assert header[5:] == ["01_mnist", "04_elbo", "Total", "Max total", adjusted, "Late"]
    max_mnist, max_elbo = float(points[5]), float(points[6])
    assert points[:5] == ["Points Possible", "", "", "", ""] and max_mnist > 0 and max_elbo > 0
    assert points[7:9] == [f"{max_mnist + max_elbo:g}"] * 2
    by_id = {line[2]: line for line in students}
    assert sorted(by_id) == ["alice", "bob", "carol", "dave"]
    assert by_id["alice"][:5] == ["Archer, Alice", "1001", "alice", "alice@uni.example", ""]
    assert by_id["dave"][:5] == ["Dale, Dave", "", "dave", "", ""]
    alice = float(by_id["alice"][5])
    assert 0 <= alice < max_mnist
    gradebook = {r["student"]: r["score"] for r in csv.DictReader(io.StringIO(term["csv10"]))
                 if r["level"] == "notebook" and r["notebook"] == NB}
    assert by_id["bob"][5] == by_id["carol"][5] == gradebook["bob"] == gradebook["carol"]  # the penalty is not here
    assert float(gradebook["bob"]) > 0 and by_id["alice"][5] == gradebook["alice"]
    for line in students:
        assert line[6] == "", line  # nobody handed in 04_elbo: empty, not 0
        assert line[8] == points[7]
    assert by_id["dave"][5] == by_id["dave"][7] == by_id["dave"][9] == ""
    assert by_id["alice"][7] == by_id["alice"][9] == f"{alice:g}" and by_id["alice"][10] == ""
    assert float(by_id["bob"][9]) == pytest.approx(0.8 * float(gradebook["bob"])) and by_id["bob"][10] == "01_mnist 2 d"
    assert float(by_id["carol"][9]) == pytest.approx(0.9 * float(gradebook["carol"])) and by_id["carol"][10] == "01_mnist 1 d"
    assert by_id["bob"][7] == by_id["carol"][7] == gradebook["bob"]


@pytest.mark.slow
def test_the_penalty_is_only_in_the_adjusted_column_never_in_the_gradebook(term):
    zero, ten = term["canvas0"], term["canvas10"]
    assert [line[:9] + line[10:] for line in zero[1:]] == [line[:9] + line[10:] for line in ten[1:]]
    bob = next(line for line in zero if line[2] == "bob")
    assert bob[9] == bob[7] and "no late penalty" in zero[0][9]
    assert term["csv0"] == term["csv10"] and term["sha0"] == term["sha10"]
    assert "late penalty 10%" in term["export"].stdout


@pytest.mark.slow
def test_lateness_is_in_the_report(term):
    for result in (term["autograde"], term["export"]):
        assert f"bob / {NB}: submitted 2 d late (submitted 2026-01-11 12:00, due 2026-01-10 00:00 UTC)" \
            in result.stdout, result.stdout[-3000:]
        assert f"carol / {NB}: submitted LATE (Canvas file" in result.stdout
        assert "alice / 01_mnist: submitted" not in result.stdout
        assert "Similarity: 1 pairs to review" in result.stdout  # bob and carol handed in the same code
    hints = CourseFolder(term["course"]).similarity.read_text()
    assert f"{NB}: bob and carol: " in hints and "alice" not in hints


@pytest.mark.slow
def test_the_summaries(term):
    summaries = term["summaries"]
    assert sorted(summaries) == ["alice", "bob", "carol", "dave"]
    alice = summaries["alice"]
    assert alice.startswith("Grades of Alice Archer (alice)")
    lost = [line for line in alice.splitlines() if line.strip().startswith("lost ") and " on test_" in line]
    assert lost and all(": " in line for line in lost), alice  # each with its message's first line
    assert any("NotImplementedError" in line for line in lost), alice
    assert "late" not in alice.split("Total:")[0] and "Review flags: 0" in alice
    assert f"{NB}: " in summaries["bob"] and "[2 d late (submitted 2026-01-11 12:00" in summaries["bob"]
    assert "Adjusted total:" in summaries["bob"] and "late penalty 10%" in summaries["bob"]
    assert "[late (the LMS marked it LATE; counted as 1 d)]" in summaries["carol"]
    assert f"{NB}: no submission" in summaries["dave"] and "04_elbo: no submission" in summaries["dave"]
    assert "lost" not in summaries["dave"] and "lost" not in summaries["bob"]
    assert "q_pixel_likelihood: not graded yet (written answer" in summaries["bob"]


@pytest.mark.slow
def test_the_moodle_file_and_a_penalty_capped_at_100(term):
    header, *students = term["moodle"]
    assert header[:5] == ["Email address", "First name", "Last name", "ID number", "LMS id"]
    by_id = {line[3]: line for line in students}
    assert by_id["alice"][:5] == ["alice@uni.example", "Alice", "Archer", "alice", "1001"]
    assert by_id["bob"][9] == "0"  # 2 days at 60%/day: capped at 100%
    assert float(by_id["carol"][9]) == pytest.approx(0.4 * float(by_id["carol"][5]))
    assert by_id["alice"][9] == by_id["alice"][7]


# --- without nbgrader -------------------------------------------------------------------------------

def rows_of(status: str) -> list[Row]:
    return [Row("eve", "", "student", "(total)", "", 3.0, 10.0, status, ""),
            Row("eve", NB, "notebook", "(notebook)", "", 3.0, 10.0, status, "kernel died")]


def test_a_notebook_that_could_not_grade_is_an_empty_cell_not_its_score():
    people = [lms_export.Person("eve", "Eve", "Evans", "", "")]
    late = {("eve", NB): lms_export.Lateness()}
    graded = lms_export.lms_table(rows_of("graded"), people, late, 0, "canvas")
    failed = lms_export.lms_table(rows_of("could not grade"), people, late, 0, "canvas")
    assert graded[2][5:9] == ["3", "3", "10", "3"]
    assert failed[2][5:9] == ["", "", "10", ""]


def test_penalty_and_days():
    assert lms_export.penalty_factor(2, 10) == pytest.approx(0.8)
    assert lms_export.penalty_factor(3, 50) == 0
    assert lms_export.Lateness(lms_late=True).days == 1
    from datetime import datetime
    assert lms_export.Lateness(datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 1)).days == 1
    assert lms_export.Lateness(datetime(2026, 1, 2), datetime(2026, 1, 1)).days == 0
