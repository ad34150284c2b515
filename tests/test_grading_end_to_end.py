"""End to end: a simulated class graded by `python -m vaecourse.grade` with real nbgrader.

Submissions are built from the masters (tests/simulated_class.py): perfect, blank, and
broken in every way the issue lists, plus catalogued mistakes. The class is graded twice
in one course folder, with --jobs 2 and then serially; both CSVs must be identical. A third
run grades it on a Dask LocalCluster into a real PostgreSQL gradebook (the fixture
`postgres_url`, tests/postgres_server.py) and must equal the serial sqlite run, files included.
The three runs share this module so that the class is graded serially once for both comparisons.
The two students whose code never ends (TIMEOUT_STUDENTS) are graded in the first run only: each
waits out the 30 s cell timeout and a machine check, and grading them again serially and on Dask
proved nothing the first run and tests/test_machine_faults.py do not (the serial run keeps their
rows from the first, so its CSV still holds the whole class).
"""
import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from harness import graded_outputs, grading_env, page_text, secret_lines
from simulated_class import GRADED, NOT_GRADED, points_of_tests, write_class, write_roster

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.masters import STUDENT_DIR
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.verdicts.core import REPORT_TITLE

NOTEBOOKS = ["01_mnist"]
CELL_TIMEOUT = "30"  # the course default; quick-mode cells stay well under it
TIMEOUT_STUDENTS = ("infinite_loop", "loop_ignoring_interrupts")  # graded once (see the module doc)


def grade_cli(course: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *args],
                            capture_output=True, text=True, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("grading_e2e")
    env = grading_env(offline_data)
    submissions = tmp / "class"
    expected = write_class(submissions, NOTEBOOKS)
    students = sorted({student for student, _ in expected})
    roster = write_roster(tmp / "roster.csv", students)
    before = hashes(submissions)
    course = tmp / "course"
    grade_cli(course, "release", *NOTEBOOKS, env=env)
    grade_cli(course, "roster", str(roster), env=env)
    grade_cli(course, "collect", "--folder", str(submissions), env=env)
    common = ["--cell-timeout", CELL_TIMEOUT, "--time-limit", "300", "--no-progress"]
    first = grade_cli(course, "autograde", "--jobs", "2", "--csv", str(tmp / "parallel.csv"), *common, env=env)
    timings = json.loads(CourseFolder(course).timings.read_text())
    again = [student for student in [*students, "absent"] if student not in TIMEOUT_STUDENTS]
    second = grade_cli(course, "autograde", "--force", "--jobs", "1", "--student", *again,
                       "--csv", str(tmp / "serial.csv"), *common, env=env)
    serial_timings = json.loads(CourseFolder(course).timings.read_text())
    return {"tmp": tmp, "course": course, "expected": expected, "students": students, "env": env, "again": again,
            "roster": roster, "serial_outputs": graded_outputs(course),  # before any test can touch the course
            "before": before, "after": hashes(submissions), "submissions": submissions,
            "first": first, "second": second, "timings": timings, "serial_timings": serial_timings,
            "rows": read_csv(tmp / "parallel.csv"), "serial_rows": read_csv(tmp / "serial.csv"),
            "csv": (tmp / "parallel.csv").read_text(), "serial_csv": (tmp / "serial.csv").read_text()}


def without_students(csv_text: str, students) -> str:
    """The CSV's lines but those of `students` (the header kept)."""
    return "".join(line for line in io.StringIO(csv_text) if line.split(",", 1)[0] not in students)


def students_with_jobs(timings: dict) -> set[str]:
    """The students a grading run ran a job for (its timings.json: "student/notebook" -> seconds)."""
    return {key.split("/")[0] for key in timings}


def rows_of(graded, student, notebook, level):
    return [r for r in graded["rows"] if r["student"] == student and r["notebook"] == notebook and r["level"] == level]


@pytest.mark.slow
def test_the_class_is_big_enough_and_every_student_gets_rows(graded):
    assert len(graded["students"]) >= 12
    for student in graded["students"] + ["absent"]:
        assert [r for r in graded["rows"] if r["student"] == student and r["level"] == "student"], student
        for notebook in NOTEBOOKS:
            assert len(rows_of(graded, student, notebook, "notebook")) == 1, (student, notebook)
            tests = rows_of(graded, student, notebook, "test")
            assert {r["item"] for r in tests} >= set(points_of_tests(notebook)), (student, notebook)


@pytest.mark.slow
def test_scores_match_the_expectations_exactly(graded):
    for (student, notebook), exp in sorted(graded["expected"].items()):
        points = points_of_tests(notebook)
        nb_row = rows_of(graded, student, notebook, "notebook")[0]
        tests = {r["item"]: r for r in rows_of(graded, student, notebook, "test")}
        assert nb_row["status"] in ((NOT_GRADED,) if exp.status == NOT_GRADED else (GRADED, "needs manual grading")), \
            (student, nb_row)
        if exp.status == NOT_GRADED:
            assert exp.reason in nb_row["reason"], (student, nb_row["reason"])
            assert all(r["status"] == NOT_GRADED and float(r["score"]) == 0 for r in tests.values()), student
            continue
        assert exp.note in nb_row["reason"], (student, nb_row["reason"])
        for test_id, max_points in points.items():
            score = float(tests[test_id]["score"])
            if test_id not in exp.lost:
                assert score == max_points, (student, test_id, tests[test_id])
            else:  # a lost test keeps the parts of its verdict that the submission did get right
                assert 0 <= score < max_points and (score == 0 or student != "blank"), (student, test_id, tests[test_id])
            assert float(tests[test_id]["max_score"]) == max_points


@pytest.mark.slow
def test_the_perfect_submission_gets_full_marks(graded):
    for notebook in NOTEBOOKS:
        tests = rows_of(graded, "perfect", notebook, "test")
        auto = [r for r in tests if r["kind"] == "auto"]
        assert auto and all(float(r["score"]) == float(r["max_score"]) > 0 for r in auto), auto
        manual = [r for r in tests if r["kind"] == "manual"]
        assert all(r["status"] == "needs manual grading" and r["score"] == "" for r in manual), manual


@pytest.mark.slow
def test_a_roster_student_without_submission_gets_an_explicit_row(graded):
    row = rows_of(graded, "absent", NOTEBOOKS[0], "notebook")[0]
    assert row["status"] == NOT_GRADED and "no 01_mnist.ipynb submitted" in row["reason"]


@pytest.mark.slow
def test_submitted_files_are_untouched(graded):
    assert graded["before"] == graded["after"]
    assert len(graded["before"]) >= 12


@pytest.mark.slow
def test_grading_twice_serial_and_parallel_gives_identical_csvs(graded):
    assert graded["csv"] == graded["serial_csv"]
    assert graded["csv"].count("\n") > 60
    regraded = students_with_jobs(graded["serial_timings"])
    assert regraded == students_with_jobs(graded["timings"]) - set(TIMEOUT_STUDENTS), sorted(regraded)


@pytest.mark.slow
def test_the_terminal_shows_a_summary_and_the_problems(graded):
    out = graded["first"].stdout
    assert "Summary" in out and "Problems" in out and "01_mnist" in out
    for (student, notebook), exp in graded["expected"].items():
        if exp.status == NOT_GRADED:
            assert f"{student} / {notebook}: could not grade" in out, student
        if exp.note:
            assert f"{student} / {notebook}: repaired" in out, student


@pytest.mark.slow
def test_no_feedback_page_contains_hidden_test_source(graded):
    course = graded["course"]
    for notebook in NOTEBOOKS:
        student_text = " ".join(nbformat.writes(nbformat.read(STUDENT_DIR / f"{notebook}.ipynb", as_version=4)).split())
        secret = secret_lines(notebook, student_text)
        assert len(secret) >= 5
        # Positive control: the grader's verdict ran (its report is in the autograded notebook).
        autograded = course / "autograded" / "perfect" / notebook / f"{notebook}.ipynb"
        assert REPORT_TITLE in autograded.read_text()
        pages = sorted((course / "feedback").glob(f"*/{notebook}/*.html"))
        assert len(pages) == len(graded["students"]) + 1  # + the roster student who submitted nothing
        for page in pages:
            text = page_text(page.read_text())
            leaked = sorted(line for line in secret if line in text)
            assert not leaked, f"{page}: {leaked[:3]}"


@pytest.mark.slow
def test_feedback_shows_failed_checks_and_their_messages(graded):
    course = graded["course"]
    page = lambda student: page_text((course / "feedback" / student / "01_mnist" / "01_mnist.html").read_text())  # noqa: E731
    mistake = page("mistake_bincount_without_minlength")
    assert "CheckFailed: Exercise 1.1" in mistake and "minlength=10" in mistake
    assert f"{REPORT_TITLE}: 0 / 2 points" in page("blank")
    assert "NotImplementedError: Exercise 1.1: implement count_per_class" in page("blank")
    assert f"{REPORT_TITLE}: 2 / 2 points" in page("perfect") and "\u2717" not in page("perfect")
    assert "Traceback" not in mistake
    assert "[stderr, not counted against the test] UserWarning: this is slow" in page("stderr_warning")
    assert "could not be graded" in page("invalid_json") and "invalid notebook JSON" in page("invalid_json")


@pytest.mark.slow
def test_huge_output_is_capped(graded):
    course = graded["course"]
    assert (course / "autograded" / "huge_print" / "01_mnist" / "01_mnist.ipynb").stat().st_size < 1_000_000
    assert (course / "feedback" / "huge_print" / "01_mnist" / "01_mnist.html").stat().st_size < 2_000_000


@pytest.mark.slow
def test_formgrader_finds_the_autograded_notebooks_in_the_gradebook(graded):
    from nbgrader.api import Gradebook

    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook("01_mnist", "01_mnist", "perfect")
        assert submission.score == sum(points_of_tests("01_mnist").values())
        assert submission.needs_manual_grade  # the written answer waits for formgrader
        assert {s.id for s in gb.students} >= set(graded["students"])
    assert (course / "autograded" / "perfect" / "01_mnist" / "01_mnist.ipynb").is_file()


@pytest.mark.slow
def test_zip_collect_takes_the_same_files_as_folder_collect(graded, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(graded["course"], course, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    archive = tmp_path / "lms_download.zip"
    chosen = ["perfect", "invalid_json", "metadata_stripped"]
    with zipfile.ZipFile(archive, "w") as zf:
        for student in chosen:
            zf.write(graded["submissions"] / student / "01_mnist" / "01_mnist.ipynb", f"{student}_01_mnist.ipynb")
        zf.writestr("notes_from_the_lms.txt", "not a submission")
    result = grade_cli(course, "collect", "--zip", str(archive), env=graded["env"])
    assert "collected 3 notebooks from 3 students" in result.stdout
    for student in chosen:
        got = (course / "submitted" / student / "01_mnist" / "01_mnist.ipynb").read_bytes()
        assert got == (graded["submissions"] / student / "01_mnist" / "01_mnist.ipynb").read_bytes()


@pytest.mark.slow
def test_the_notebook_time_limit_kills_the_job_and_its_kernel(graded, tmp_path):
    import shutil

    import psutil

    from vaecourse.grading import runner

    course = tmp_path / "course"
    shutil.copytree(graded["course"], course, ignore=shutil.ignore_patterns("autograded", "feedback", ".grading"))
    outcomes = runner.grade_class(course, f"sqlite:///{course / 'gradebook.db'}", ["01_mnist"], ["perfect"],
                                  time_limit=4, progress=False,
                                  env_extra={"VAE_COURSE_DATA": graded["env"]["VAE_COURSE_DATA"]})
    assert [(o.student, o.status) for o in outcomes] == [("perfect", NOT_GRADED)]
    assert "time limit of 4 s" in outcomes[0].reason
    def runs_in_course(process):
        try:
            return str(course) in process.cwd()
        except (psutil.Error, OSError):
            return False

    leftovers = [p for p in psutil.process_iter() if runs_in_course(p)]  # the killed job's kernel ran there
    assert not leftovers, [p.cmdline() for p in leftovers]


@pytest.mark.slow
def test_feedback_made_again_from_the_gradebook_still_hides_hidden_tests(graded, tmp_path):
    """`feedback` (after manual grading in formgrader) runs nbgrader generate_feedback over the course."""
    import shutil

    course = tmp_path / "course"
    shutil.copytree(graded["course"], course, ignore=shutil.ignore_patterns("feedback", ".grading"))
    shutil.copytree(CourseFolder(graded["course"]).statuses, CourseFolder(course).statuses)
    grade_cli(course, "feedback", env=graded["env"])
    student_text = " ".join(nbformat.writes(nbformat.read(STUDENT_DIR / "01_mnist.ipynb", as_version=4)).split())
    secret = secret_lines("01_mnist", student_text)
    pages = {p.parts[-3]: page_text(p.read_text()) for p in (course / "feedback").glob("*/01_mnist/*.html")}
    assert set(pages) == set(graded["students"]) | {"absent"}
    for student, text in pages.items():
        assert not [line for line in secret if line in text], student
    assert f"{REPORT_TITLE}: 2 / 2 points" in pages["perfect"]
    assert "could not be graded" in pages["kernel_crash"]


@pytest.mark.slow
def test_the_class_on_dask_into_postgresql_equals_the_serial_sqlite_run(graded, postgres_url, tmp_path):
    """The simulated class (broken submissions included) graded on a Dask LocalCluster of 2 workers into
    PostgreSQL gives the CSV, autograded notebooks and feedback of the serial sqlite run above; a hand
    grade entered there survives a regrade of that student on Dask."""
    env = graded["env"]
    course, csv_path = tmp_path / "postgres", tmp_path / "postgres.csv"
    grade_cli(course, "--db", postgres_url, "release", *NOTEBOOKS, env=env)
    # the same course on another engine and database: it keeps the course's key, so its verdicts draw
    # the same inputs and the pages (whose messages quote values) can equal the serial run's
    key = CourseFolder(course).verdict_secret
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(CourseFolder(graded["course"]).verdict_secret.read_bytes())
    key.chmod(0o600)
    # roster, collect and autograde in one command, as an instructor would
    grade_cli(course, "--db", postgres_url, "all", "--folder", str(graded["submissions"]), "--roster",
              str(graded["roster"]), "--student", *graded["again"], "--dask", "local:2", "--cell-timeout",
              CELL_TIMEOUT, "--time-limit", "300", "--no-progress", "--csv", str(csv_path), env=env)
    outputs = graded_outputs(course)
    assert not (course / "gradebook.db").exists(), "the PostgreSQL run wrote a sqlite gradebook"
    serial_csv = without_students(graded["serial_csv"], TIMEOUT_STUDENTS)
    assert without_students(csv_path.read_text(), TIMEOUT_STUDENTS) == serial_csv
    assert serial_csv.count("\n") > 50
    serial_outputs = {path: text for path, text in graded["serial_outputs"].items()
                      if path.split("/")[1] not in TIMEOUT_STUDENTS}
    assert outputs == serial_outputs
    autograded = [s for s in graded["again"] if s != "absent" and graded["expected"][(s, NOTEBOOKS[0])].status != NOT_GRADED]
    by_kind = {kind: sorted(p.split("/")[1] for p in outputs if p.startswith(kind + "/"))
               for kind in ("autograded", "feedback")}
    assert by_kind["autograded"] == sorted(autograded)
    assert by_kind["feedback"] == sorted(graded["again"])

    # The CSV again, from the PostgreSQL gradebook alone (export, as after manual grading).
    grade_cli(course, "--db", postgres_url, "export", "--csv", str(tmp_path / "export.csv"), env=env)
    assert without_students((tmp_path / "export.csv").read_text(), TIMEOUT_STUDENTS) == serial_csv
    with open_gradebook(postgres_url) as gb:  # what formgrader reads
        perfect = gb.find_submission_notebook(NOTEBOOKS[0], NOTEBOOKS[0], "perfect")
        assert perfect.score == sum(points_of_tests(NOTEBOOKS[0]).values())
        assert {s.id for s in gb.students} == set(graded["students"]) | {"absent"}

    # A hand grade in PostgreSQL outlives a regrade on Dask of the unchanged written answer: the
    # main process compares the answers and writes the gradebook (vaecourse.grading.merge).
    with open_gradebook(postgres_url) as gb:  # what formgrader's PUT /formgrader/api/grade/<id> does
        written = gb.find_grade("q_pixel_likelihood", NOTEBOOKS[0], NOTEBOOKS[0], "perfect")
        written.manual_score, written.needs_manual_grade = 1.0, False
        gb.db.commit()
    grade_cli(course, "--db", postgres_url, "autograde", "--student", "perfect", "--force", "--dask", "local:1",
              "--cell-timeout", CELL_TIMEOUT, "--time-limit", "300", "--no-progress", env=env)
    with open_gradebook(postgres_url) as gb:
        written = gb.find_grade("q_pixel_likelihood", NOTEBOOKS[0], NOTEBOOKS[0], "perfect")
        assert (written.manual_score, written.needs_manual_grade) == (1.0, False)
