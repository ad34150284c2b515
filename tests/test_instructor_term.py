"""An instructor's whole term with the real grading command, real nbgrader and a tiny class.

One course folder (01_mnist and 04_elbo released, alice, bob and carol submit 01_mnist) is
taken through `all`, a data folder that is missing (the preflight stops before grading), a
regrade of one student, and a data folder the sandboxed kernels cannot read (the grader's own
check in the sandbox stops the run before grading), then the manual-grading round: carol's written answer graded
by hand through formgrader's REST API, `feedback`, `export`, and a regrade of carol that keeps
it. The LMS tests collect Canvas and Moodle downloads into a
small course folder without grading; the help test reads the parser.
"""
import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from browser_helpers import LabServer
from harness import grading_env, load_student
from simulated_class import filled
from vaecourse.grading import classroom, lms
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.masters import ROOT, solutions_dir
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.layout import notebook_path
from vaecourse.nbg.showrubrics import is_rubric_cell

NB = "01_mnist"
RELEASED = [NB, "04_elbo"]
COMMON = ["--cell-timeout", "30", "--time-limit", "300", "--no-progress"]


def grade_cli(course: Path, *args: str, env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaecourse.grade", "--course", str(course), *args],
                          capture_output=True, text=True, env=env, timeout=1800, cwd=cwd, check=False)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def write_submission(root: Path, student: str, nb) -> None:
    folder = root / student / NB
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{NB}.ipynb")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def lines_not_of(text: str, student: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(f"{student},")]


def linked_data(tmp: Path, offline_data: Path) -> Path:
    """A data folder whose raw files are symbolic links to another folder: the grading process reads
    them, the sandboxed kernel (which is shown the data folder only) finds them dangling."""
    raw = tmp / "linked_data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (offline_data / "MNIST" / "raw").iterdir():
        (raw / path.name).symlink_to(path)
    return tmp / "linked_data"


@pytest.fixture(scope="module")
def term(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("term")
    env = grading_env(offline_data)
    course = tmp / "course"
    ok(grade_cli(course, "release", *RELEASED, env=env))
    (course / "nbgrader_config.py").unlink(missing_ok=True)  # `all` must write it
    (tmp / "roster.csv").write_text("id,first_name,last_name\nalice,Alice,Archer\nbob,Bob,Baker\ncarol,Carol,Cooper\n")
    write_submission(tmp / "class", "alice", load_student(NB))  # blank
    for student in ("bob", "carol"):
        write_submission(tmp / "class", student, filled(NB))
    out = {"tmp": tmp, "course": course, "env": env}
    out["all"] = ok(grade_cli(course, "all", "--folder", str(tmp / "class"), "--roster", str(tmp / "roster.csv"),
                              "--assignment", NB, "--jobs", "2", *COMMON, env=env))
    csv_path = course / "exports" / "grades.csv"
    out["csv_all"] = csv_path.read_text()
    gradebook = course / "gradebook.db"
    before = (sha(gradebook), out["csv_all"], sorted((course / ".grading" / "status").rglob("*")))
    no_data = dict(env, VAE_COURSE_DATA=str(tmp / "no_data"))
    (tmp / "no_data").mkdir()
    out["no_data"] = grade_cli(course, "autograde", "--force", *COMMON, env=no_data)
    out["no_data_all"] = grade_cli(tmp / "new_course", "all", "--folder", str(tmp / "class"), *COMMON, env=no_data)
    out["raw_itself"] = grade_cli(course, "autograde", *COMMON,
                                  env=dict(env, VAE_COURSE_DATA=str(offline_data / "MNIST" / "raw")))
    out["untouched"] = before == (sha(gradebook), csv_path.read_text(),
                                  sorted((course / ".grading" / "status").rglob("*")))
    write_submission(tmp / "class2", "alice", filled(NB))  # alice hands in again
    ok(grade_cli(course, "collect", "--folder", str(tmp / "class2"), env=env))
    out["regrade"] = ok(grade_cli(course, "autograde", "--student", "alice", "--assignment", NB, "--force",
                                  *COMMON, env=env))
    out["csv_regrade"] = csv_path.read_text()
    broken = dict(env, VAE_COURSE_DATA=str(linked_data(tmp, offline_data)))
    before = (sha(gradebook), csv_path.read_text(), sorted((course / ".grading" / "status").rglob("*")))
    out["unreadable"] = grade_cli(course, "autograde", "--student", "bob", "--assignment", NB, "--force",
                                  *COMMON, env=broken)
    out["unreadable_untouched"] = before == (sha(gradebook), csv_path.read_text(),
                                             sorted((course / ".grading" / "status").rglob("*")))
    return out


# --- 1. preflight --------------------------------------------------------------------------------

@pytest.mark.slow
def test_grading_without_mnist_stops_before_grading_with_one_message(term):
    for key in ("no_data", "no_data_all"):
        result = term[key]
        assert result.returncode == 2, (key, result.stdout[-2000:], result.stderr[-2000:])
        error = result.stderr
        assert error.count("error:") == 1, error
        assert str(term["tmp"] / "no_data") in error and "MNIST/raw" in error, error
        assert "export VAE_COURSE_DATA=" in error and "make offline-data" in error, error
        assert "graded" not in result.stdout, result.stdout
    assert term["untouched"], "the gradebook, the CSV or a status record changed"
    assert not (term["tmp"] / "new_course").exists()  # `all` stopped before release


@pytest.mark.slow
def test_a_data_folder_naming_mnist_raw_itself_is_explained(term):
    result = term["raw_itself"]
    assert result.returncode == 2, result.stdout[-2000:]
    assert "names MNIST/raw itself" in result.stderr, result.stderr


@pytest.mark.slow
def test_mnist_the_sandboxed_kernels_cannot_read_stops_the_run_before_grading(term):
    """The grading process follows the links; a kernel, shown only the data folder, cannot. The grader's
    own load in the sandbox finds that before any notebook is graded (an MNISTUnavailable inside a
    notebook is the notebook's own error: tests/test_machine_faults.py)."""
    result = term["unreadable"]
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.count("error:") == 1 and "nothing was graded" in result.stderr, result.stderr
    assert "a sandboxed kernel, which is shown only" in result.stderr, result.stderr
    assert "links to files outside the folder" in result.stderr and "export VAE_COURSE_DATA=" in result.stderr
    assert "graded" not in result.stdout.replace("nothing was graded", ""), result.stdout
    assert term["unreadable_untouched"], "the gradebook, the CSV or a status record changed"


# --- 2. the class CSV stays whole ----------------------------------------------------------------

@pytest.mark.slow
def test_the_class_csv_holds_every_notebook_and_student_after_a_partial_run(term):
    for text in (term["csv_all"], term["csv_regrade"]):
        table = rows(text)
        for student in ("alice", "bob", "carol"):
            notebooks = {r["notebook"] for r in table if r["student"] == student and r["level"] == "notebook"}
            assert notebooks == set(RELEASED), (student, notebooks)
    elbo = [r for r in rows(term["csv_all"]) if r["notebook"] == "04_elbo" and r["level"] == "notebook"]
    assert {r["status"] for r in elbo} == {"not graded yet"}


@pytest.mark.slow
def test_regrading_one_student_leaves_every_other_row_byte_identical(term):
    before, after = term["csv_all"], term["csv_regrade"]
    assert lines_not_of(before, "alice") == lines_not_of(after, "alice")
    assert len(lines_not_of(before, "alice")) > 20
    total = {r["student"]: float(r["score"]) for r in rows(after) if r["level"] == "student"}
    old_total = {r["student"]: float(r["score"]) for r in rows(before) if r["level"] == "student"}
    assert total["alice"] > old_total["alice"] == 0, (old_total, total)
    assert "graded 1 notebooks of 1 students" in term["regrade"].stdout


# --- 3. a course folder formgrader can start in --------------------------------------------------

@pytest.mark.slow
def test_all_writes_an_nbgrader_config_that_nbgrader_reads(term):
    course = term["course"]
    assert "nbgrader configuration" in term["all"].stdout
    text = (course / "nbgrader_config.py").read_text()
    assert text.startswith(classroom.CONFIG_MARK) and "Exchange.root" in text
    env = dict(term["env"])
    for args in (["db", "student", "list"], ["list"]):
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True,
                                text=True, env=env, timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Unwritable directory" not in result.stdout + result.stderr
    listed = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "list"], cwd=course,
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert all(student in listed.stdout + listed.stderr for student in ("alice", "bob", "carol")), listed


# --- 4. the manual-grading round: formgrader, feedback, export, a regrade -------------------------

WRITTEN = "q_pixel_likelihood"  # 01_mnist's written question (2 points)
MANUAL_SCORE, MANUAL_COMMENT = 1.5, "Links the histogram to the Bernoulli; the mismatch is only hinted at."


def csv_row(text: str, student: str, item: str) -> dict:
    return next(r for r in rows(text) if r["student"] == student and r["item"] == item)


def lms_rows(course: Path) -> dict[str, dict]:
    """The LMS file (Canvas layout), by SIS User ID (the student id)."""
    table = list(csv.DictReader(io.StringIO((course / "exports" / "lms_grades.csv").read_text())))
    return {r["SIS User ID"]: r for r in table if r["Student"] != "Points Possible"}


def grade_by_hand(course: Path, env: dict, state: Path) -> str:
    """As an instructor in formgrader: open carol's submission, give her written answer a score and a
    comment through formgrader's REST API (what its grading page sends); the grading page's HTML."""
    server = LabServer(root_dir=course, cwd=course, state_dir=state, env=env, app="server").start()
    try:
        submitted = server.call("GET", f"formgrader/api/submitted_notebooks/{NB}/{NB}")
        carol = next(s["id"] for s in submitted if s["student"] == "carol")
        page = server.call("GET", f"formgrader/submissions/{carol}/", as_json=False)
        grade = next(g for g in server.call("GET", f"formgrader/api/grades?submission_id={carol}") if g["name"] == WRITTEN)
        comment = next(c for c in server.call("GET", f"formgrader/api/comments?submission_id={carol}")
                       if c["name"] == WRITTEN)
        server.call("PUT", f"formgrader/api/grade/{grade['id']}", {"manual_score": MANUAL_SCORE})
        server.call("PUT", f"formgrader/api/comment/{comment['id']}", {"manual_comment": MANUAL_COMMENT})
    finally:
        server.stop()
    return page


def carols_written_grade(course: Path) -> tuple:
    with open_gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade(WRITTEN, NB, NB, "carol")
        comment = gb.find_comment(WRITTEN, NB, NB, "carol")
        return grade.manual_score, grade.needs_manual_grade, comment.manual_comment


@pytest.fixture(scope="module")
def manual_round(term, tmp_path_factory):
    course, env, csv_path = term["course"], term["env"], term["course"] / "exports" / "grades.csv"
    started = time.monotonic()
    out = {"csv_before": csv_path.read_text(), "lms_before": lms_rows(course),
           "summary_before": (course / "exports" / "summary" / "carol.txt").read_text()}
    out["page"] = grade_by_hand(course, env, tmp_path_factory.mktemp("formgrader"))
    ok(grade_cli(course, "feedback", env=env))
    ok(grade_cli(course, "export", env=env))
    out.update(csv=csv_path.read_text(), lms=lms_rows(course), grade=carols_written_grade(course),
               summary=(course / "exports" / "summary" / "carol.txt").read_text(),
               feedback=notebook_path(course, "feedback", NB, "carol").read_text())
    out["regrade"] = ok(grade_cli(course, "autograde", "--student", "carol", "--assignment", NB, "--force",
                                  *COMMON, env=env))
    out.update(csv_regraded=csv_path.read_text(), lms_regraded=lms_rows(course),
               grade_regraded=carols_written_grade(course),
               autograded=nbformat.read(notebook_path(course, "autograded", NB, "carol"), as_version=4),
               feedback_regraded=notebook_path(course, "feedback", NB, "carol").read_text())
    ok(grade_cli(course, "feedback", "--assignment", NB, env=env))
    out["feedback_again"] = notebook_path(course, "feedback", NB, "carol").read_text()
    print(f"\nthe manual-grading round took {time.monotonic() - started:.0f} s")
    return out


@pytest.mark.slow
def test_before_manual_grading_the_written_answer_is_to_be_graded_not_zero(manual_round):
    row = csv_row(manual_round["csv_before"], "carol", WRITTEN)
    assert (row["score"], row["status"]) == ("", "needs manual grading"), row
    assert f"{WRITTEN}: not graded yet" in manual_round["summary_before"]


@pytest.mark.slow
def test_formgraders_grading_page_shows_the_rubric_under_the_written_answer(manual_round):
    text = " ".join(manual_round["page"].split())
    heading = text.find("For the grader")
    assert heading > 0, "no rubric cell on formgrader's grading page"
    assert "Rubric (2 points).</strong> 1 point: the near-binary histogram" in text[heading:], text[heading:heading + 2000]


@pytest.mark.slow
def test_a_manual_grade_from_formgrader_reaches_feedback_and_every_export(manual_round):
    assert manual_round["grade"] == (MANUAL_SCORE, False, MANUAL_COMMENT)
    row = csv_row(manual_round["csv"], "carol", WRITTEN)
    assert (row["score"], row["status"]) == ("1.5", "graded"), row
    changed = [line for line in manual_round["csv"].splitlines() if line not in manual_round["csv_before"].splitlines()]
    assert all(line.startswith("carol,") for line in changed) and len(changed) == 3, changed  # total, notebook, answer
    before, after = manual_round["lms_before"], manual_round["lms"]
    assert {k: v for k, v in after.items() if k != "carol"} == {k: v for k, v in before.items() if k != "carol"}
    for column, value in after["carol"].items():  # cell by cell: the points are in the notebook and every total
        if column in (NB, "Total") or column.startswith("Adjusted total"):
            assert float(value) == float(before["carol"][column]) + MANUAL_SCORE, (column, before["carol"], value)
        else:
            assert value == before["carol"][column], column
    summary = manual_round["summary"]
    assert f"{NB}: {after['carol'][NB]} / " in summary and f"Total: {after['carol']['Total']} / " in summary, summary
    assert "not graded yet" not in summary, summary
    page = " ".join(manual_round["feedback"].split())
    assert MANUAL_COMMENT in page and "1.5 / 2" in page and "For the grader" not in page


@pytest.mark.slow
def test_a_regrade_of_an_unchanged_answer_keeps_the_manual_grade(manual_round):
    assert "graded 1 notebooks of 1 students" in manual_round["regrade"].stdout
    assert manual_round["grade_regraded"] == (MANUAL_SCORE, False, MANUAL_COMMENT)
    assert manual_round["csv_regraded"] == manual_round["csv"]  # every row, carol's too, byte for byte
    assert manual_round["lms_regraded"] == manual_round["lms"]
    rubrics = [cell for cell in manual_round["autograded"].cells if is_rubric_cell(cell)]
    assert len(rubrics) == 1, "a regrade added a second rubric cell"


@pytest.mark.slow
def test_a_regraded_page_shows_the_hand_grade_it_kept(manual_round):
    """A grading job makes its page from its own gradebook, which holds no hand grades; autograde makes
    the page of a notebook with a kept hand grade again from the course gradebook, as `feedback` does."""
    assert "feedback made again from the gradebook for 1 notebooks with hand grades" in manual_round["regrade"].stdout
    regraded, again = (" ".join(manual_round[key].split()) for key in ("feedback_regraded", "feedback_again"))
    assert "1.5 / 2" in regraded and MANUAL_COMMENT in regraded and "to be graded" not in regraded
    assert regraded == again


# --- 5. make lab as root -------------------------------------------------------------------------

def test_make_lab_allows_root_only_for_root():
    result = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=False)
    line = [x for x in result.stdout.splitlines() if "jupyter lab" in x]
    assert line, result.stdout + result.stderr
    assert ("--allow-root" in line[0]) == (os.geteuid() == 0), line


# --- 6. help texts -------------------------------------------------------------------------------

def subcommand_actions():
    from vaecourse.grade import _parser

    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, action


def required(name: str, action) -> bool:
    """A positional, or one of a required either-or (collect's --zip and --folder): no default to name."""
    from vaecourse.grade import _parser

    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    groups = subparsers.choices[name]._mutually_exclusive_groups
    return action.required or any(g.required and action.dest in {a.dest for a in g._group_actions} for g in groups)


def test_every_option_has_help_that_names_its_default():
    missing = []
    for name, action in subcommand_actions():
        where = f"{name} {'/'.join(action.option_strings) or action.dest}"
        if not action.help:
            missing.append(f"{where}: no help")
        elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if "default" not in action.help:
                missing.append(f"{where}: help does not say what happens without it")
        elif action.default is not None and "%(default)s" not in action.help:
            missing.append(f"{where}: default {action.default!r} not in its help")
        elif action.default is None and "default" not in action.help and not required(name, action):
            missing.append(f"{where}: help does not say what happens without it")
    assert not missing, "\n".join(missing)


def test_the_readme_lists_every_option_with_the_help_default():
    readme = (ROOT / "README.md").read_text()
    wrong = []
    for name, action in subcommand_actions():
        for option in action.option_strings:
            rows_of_option = [line for line in readme.splitlines() if line.startswith(f"| `{option}")]
            if not rows_of_option:
                wrong.append(f"{name} {option}: not in the README's table of options")
            elif action.default not in (None, False) and f"`{action.default}`" not in rows_of_option[0]:
                wrong.append(f"{name} {option}: the README's default is not `{action.default}`")
    assert not wrong, "\n".join(wrong)


# --- 7. Canvas and Moodle downloads --------------------------------------------------------------

def notebook(text: str) -> bytes:
    return f'{{"cells": [], "metadata": {{"who": "{text}"}}, "nbformat": 4, "nbformat_minor": 5}}\n'.encode()


@pytest.fixture()
def lms_course(tmp_path) -> tuple[Path, str]:
    """A course folder with 01_mnist and 04_elbo released and a roster: alice has an lms_id, bob and carol do not."""
    course = tmp_path / "course"
    for name in RELEASED:
        folder = course / "source" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.ipynb").write_bytes((solutions_dir() / f"{name}.ipynb").read_bytes())
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,lms_id\nalice,Alice,Archer,1001\nbob,Bob,Baker,\ncarol,Carol,Cooper,\n")
    db_url = CourseFolder(course).default_db_url()
    classroom.import_roster(roster, db_url)
    return course, db_url


CANVAS = {
    "archeralice_1001_55501_04_elbo.ipynb": notebook("alice first"),
    "archeralice_1001_55502_04_elbo-1.ipynb": notebook("alice second"),
    "archeralice_1001_55503_04_elbo-2.ipynb": notebook("alice newest"),
    "bakerbob_LATE_1002_55504_04_elbo.ipynb": notebook("bob late"),
    "cooperrcarol_1003_55505_01_mnist.ipynb": notebook("unknown: a login that is nobody's"),
    "zedzoe_1999_55506_04_elbo.ipynb": notebook("zoe, not on the roster"),
    "cooperrcarol_1003_55507_notes.txt": b"notes",
    "bakerbob_1002_55508_09_secret.ipynb": notebook("unreleased"),
}


def stored(course: Path, student: str, assignment: str) -> bytes:
    return (course / "submitted" / student / assignment / f"{assignment}.ipynb").read_bytes()


def check_canvas(course: Path, result) -> None:
    assert result.lms == "canvas"
    assert dict(result) == {"alice": ["04_elbo"], "bob": ["04_elbo"]}
    assert stored(course, "alice", "04_elbo") == notebook("alice newest")
    assert stored(course, "bob", "04_elbo") == notebook("bob late")
    problems = "\n".join(result.problems)
    for older in ("archeralice_1001_55501_04_elbo.ipynb", "archeralice_1001_55502_04_elbo-1.ipynb"):
        assert "alice/04_elbo: older submission" in problems and older in problems, problems
    assert "bob/04_elbo: LATE" in problems
    assert "zedzoe" in problems and "not on the roster" in problems
    assert "cooperrcarol" in problems and "notes.txt: not a notebook" in problems
    assert "no released assignment '09_secret'" in problems
    assert len(result.problems) == 7, problems  # 2 older, 1 late, 4 skipped files


def test_a_canvas_zip_is_collected_to_the_roster_students(lms_course, tmp_path):
    course, db_url = lms_course
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in CANVAS.items():
            zf.writestr(name, data)
    check_canvas(course, lms.collect(archive, course, db_url))
    assert lms.late_lines(course) == ["bob / 04_elbo: submitted LATE (Canvas file bakerbob_LATE_1002_55504_04_elbo.ipynb)"]


def test_an_unzipped_canvas_folder_is_collected_and_the_command_warns(lms_course, tmp_path, offline_data):
    course, db_url = lms_course
    folder = tmp_path / "canvas"
    folder.mkdir()
    for name, data in CANVAS.items():
        (folder / name).write_bytes(data)
    result = ok(grade_cli(course, "collect", "--folder", str(folder), env=grading_env(offline_data)))
    assert "collected as a Canvas download" in result.stdout
    assert "warning: skipped" in result.stderr and "LATE" in result.stderr
    check_canvas(course, lms.collect(folder, course, db_url, "canvas", is_zip=False))  # again: unchanged
    export = ok(grade_cli(course, "export", env=grading_env(offline_data)))
    assert "bob / 04_elbo: submitted LATE" in export.stdout


def test_a_moodle_zip_is_collected_by_name_and_id(lms_course, tmp_path):
    course, db_url = lms_course
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Alice Archer_1001_assignsubmission_file_04_elbo.ipynb", notebook("alice"))
        zf.writestr("Carol Cooper_88_assignsubmission_file_/01_mnist (1).ipynb", notebook("carol"))
        zf.writestr("Carol Cooper_88_assignsubmission_onlinetext_onlinetext.html", b"<p>hi</p>")
        zf.writestr("Nobody Known_77_assignsubmission_file_04_elbo.ipynb", notebook("nobody"))
    result = lms.collect(archive, course, db_url)
    assert result.lms == "moodle"
    assert dict(result) == {"alice": ["04_elbo"], "carol": ["01_mnist"]}
    problems = "\n".join(result.problems)
    assert "onlinetext.html: not a notebook" in problems and "Nobody Known) is not on the roster" in problems


def test_lms_collect_keeps_collects_hardening(lms_course, tmp_path):
    course, db_url = lms_course
    folder = tmp_path / "canvas"
    folder.mkdir()
    (folder / "archeralice_1001_55501_04_elbo.ipynb").symlink_to(solutions_dir() / "04_elbo.ipynb")
    (folder / "bakerbob_1002_55502_04_elbo.ipynb").write_bytes(notebook("bob"))
    archive = tmp_path / "nested.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archeralice_1001_55503_04_elbo.ipynb", notebook("alice"))
        zf.writestr("bakerbob_1002_55504_04_elbo.zip", b"PK\x03\x04nested")
        zf.writestr("../archeralice_1001_55505_01_mnist.ipynb", notebook("escape"))
    result = lms.collect(folder, course, db_url, is_zip=False)
    assert dict(result) == {"bob": ["04_elbo"]} and "a symbolic link" in "\n".join(result.problems)
    result = lms.collect(archive, course, db_url)
    problems = "\n".join(result.problems)
    assert dict(result) == {"alice": ["04_elbo"]}
    assert "an archive inside the archive" in problems and "an unsafe path" in problems
