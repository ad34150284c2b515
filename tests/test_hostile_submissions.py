"""Hostile submissions, end to end: `python -m vaecourse.grade` with real nbgrader and the real sandbox.

One class, graded once: a control (perfect), a victim (a correct submission of its own),
the blank notebook, and one student per attack of tests/hostile_attacks.py. No attack may
earn points it did not earn, read a hidden test into any feedback, change the victim's or
the course's files, add gradebook rows, or leave a process behind; every student gets an
honest row, and the review flags name the attackers. The victim is graded alone too, and
its rows and feedback must be the same.

A second test stops a grading run with SIGKILL and runs it again: it goes on where it
stopped, to the very CSV a clean run writes.
"""
import copy
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from harness import grading_env, load_student, page_text, secret_lines
from hostile_attacks import ANSWER, ATTACKS, BLANK, TOP, attack_source
from simulated_class import filled, first_exercise
from test_grading_end_to_end import grade_cli, read_csv
from vaecourse.masters import STUDENT_DIR, grade_id, solutions_dir, strip_markers

NOTEBOOKS = ["01_mnist", "02_encoder"]
TIMESTAMP = "2026-11-01 12:00:00.000000 UTC"
COMMON = ["--cell-timeout", "30", "--time-limit", "240", "--no-progress"]


def with_attack(notebook: str, attack, tmp: Path, course: Path, submissions: Path):
    nb = copy.deepcopy(load_student(notebook) if attack.base == BLANK else filled(notebook))
    code = attack_source(attack.code, course, tmp, submissions)
    answer, _, _ = first_exercise(notebook)
    index = [grade_id(c) for c in nb.cells].index(answer)
    if attack.where == ANSWER:
        nb.cells[index].source += "\n\n" + code + "\n"
    else:
        at = 0 if attack.where == TOP else index + 1
        nb.cells.insert(at, nbformat.v4.new_code_cell(code))
    return nb


def write_submission(submissions: Path, student: str, notebook: str, nb) -> None:
    folder = submissions / student / notebook
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{notebook}.ipynb").write_text(nbformat.writes(nb))
    (folder / "timestamp.txt").write_text(TIMESTAMP)


def hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def new_course(tmp: Path, name: str, submissions: Path, env: dict, notebooks=NOTEBOOKS) -> Path:
    course = tmp / name
    grade_cli(course, "release", *notebooks, env=env)
    grade_cli(course, "collect", "--folder", str(submissions), env=env)
    return course


def processes_in(folder: Path) -> list:
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if str(folder) in " ".join(process.cmdline()) or str(folder) in process.cwd():
                found.append((process.pid, process.name(), process.status(), process.ppid(), process.cwd(),
                              process.cmdline()[-4:]))
        except (psutil.Error, OSError):
            continue
    return found


def secrets(notebook: str) -> tuple[set[str], set[str]]:
    """(the grader's probe and hidden test lines, model-answer lines) of a notebook that its student
    version does not hold."""
    master = nbformat.read(solutions_dir() / f"{notebook}.ipynb", as_version=4)
    student = nbformat.read(STUDENT_DIR / f"{notebook}.ipynb", as_version=4)
    student_text = " ".join(" ".join(cell.source.split()) for cell in student.cells)
    answers = {" ".join(line.split()) for cell in master.cells if cell.cell_type == "code"
               and cell.metadata.get("nbgrader", {}).get("solution") for line in strip_markers(cell.source).splitlines()}
    answers = {line for line in answers if len(line) >= 24 and line not in student_text}
    return secret_lines(notebook, student_text), answers


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("hostile")
    env = grading_env(offline_data)
    submissions, alone = tmp / "class", tmp / "victim_alone"
    course = tmp / "course"
    for notebook in NOTEBOOKS:
        write_submission(submissions, "perfect", notebook, filled(notebook))
        write_submission(submissions, "victim", notebook, filled(notebook))
        write_submission(alone, "victim", notebook, filled(notebook))
        write_submission(submissions, "blank", notebook, load_student(notebook))
    for student, attack in ATTACKS.items():
        for notebook in attack.notebooks:
            write_submission(submissions, student, notebook, with_attack(notebook, attack, tmp, course, submissions))
    before_submissions = hashes(submissions)
    new_course(tmp, "course", submissions, env)
    guarded = {part: hashes(course / part) for part in ("source", "release", "submitted")}
    started = time.monotonic()
    result = grade_cli(course, "autograde", "--jobs", "2", "--csv", str(tmp / "class.csv"), *COMMON, env=env)
    seconds = time.monotonic() - started
    survivors = processes_in(tmp)
    alone_course = new_course(tmp, "alone", alone, env)
    grade_cli(alone_course, "autograde", "--csv", str(tmp / "alone.csv"), *COMMON, env=env)
    return {"tmp": tmp, "course": course, "alone": alone_course, "out": result.stdout, "seconds": seconds,
            "rows": read_csv(tmp / "class.csv"), "alone_rows": read_csv(tmp / "alone.csv"),
            "survivors": survivors, "guarded": guarded, "before_submissions": before_submissions,
            "submissions": submissions, "students": ["perfect", "victim", "blank", *ATTACKS]}


def row(rows, student, notebook, level="notebook", item=None):
    found = [r for r in rows if r["student"] == student and r["notebook"] == notebook and r["level"] == level
             and (item is None or r["item"] == item)]
    assert len(found) == 1, (student, notebook, level, found)
    return found[0]


def score(rows, student, notebook) -> float:
    return float(row(rows, student, notebook)["score"] or 0)


@pytest.mark.slow
def test_no_attack_earns_points_it_did_not_earn(hostile):
    rows = hostile["rows"]
    print(f"\nclass of {len(hostile['students'])} graded in {hostile['seconds']:.0f} s")
    for student, attack in ATTACKS.items():
        for notebook in attack.notebooks:
            ceiling = score(rows, attack.base, notebook)
            got = row(rows, student, notebook)
            print(f"{student:18} {notebook:10} {got['score']:>4}/{got['max_score']:<4} {got['status']}: {got['reason']}")
            assert float(got["score"] or 0) <= ceiling, (student, notebook, got)
    for notebook in NOTEBOOKS:
        assert score(rows, "blank", notebook) == 0


@pytest.mark.slow
def test_the_control_gets_full_marks(hostile):
    for notebook in NOTEBOOKS:
        tests = [r for r in hostile["rows"] if r["student"] == "perfect" and r["notebook"] == notebook
                 and r["level"] == "test" and r["kind"] == "auto"]
        assert tests and all(float(r["score"]) == float(r["max_score"]) > 0 for r in tests), tests


@pytest.mark.slow
def test_no_hidden_test_line_or_model_answer_reaches_any_feedback_or_output(hostile):
    """No hidden test line in any feedback page or cell output; no model answer in those of a student
    who did not write it (the blank-based attackers)."""
    course = hostile["course"]
    for notebook in NOTEBOOKS:
        hidden, answers = secrets(notebook)
        assert len(hidden) >= 5 and len(answers) >= 3
        pages = sorted((course / "feedback").glob(f"*/{notebook}/*.html"))
        assert len(pages) == len(hostile["students"])
        for page in pages:
            secret = hidden | (answers if wrote_no_answers(page.parts[-3]) else set())
            text = page_text(page.read_text())
            assert not [line for line in secret if line in text], page
        for path in sorted((course / "autograded").glob(f"*/{notebook}/{notebook}.ipynb")):
            secret = hidden | (answers if wrote_no_answers(path.parts[-3]) else set())
            outputs = " ".join(" ".join(str(o).split()) for c in nbformat.read(path, as_version=4).cells
                               for o in c.get("outputs", []))
            if path.parts[-3] != "hook_leak":  # printed from inside the kernel, by a hook: kept out of its
                # feedback page but not out of the autograded notebook, which is the instructor's
                assert not [line for line in secret if line in outputs], path


def wrote_no_answers(student: str) -> bool:
    return student == "blank" or (student in ATTACKS and ATTACKS[student].base == BLANK)


@pytest.mark.slow
def test_the_victim_is_graded_as_if_alone(hostile):
    def victim(rows):
        return [{k: v for k, v in r.items()} for r in rows if r["student"] == "victim"]

    assert victim(hostile["rows"]) == victim(hostile["alone_rows"])
    for notebook in NOTEBOOKS:
        here = page_text((hostile["course"] / "feedback" / "victim" / notebook / f"{notebook}.html").read_text())
        there = page_text((hostile["alone"] / "feedback" / "victim" / notebook / f"{notebook}.html").read_text())
        assert here == there
        assert "hacked" not in here


@pytest.mark.slow
def test_course_files_and_submissions_are_unchanged(hostile):
    course = hostile["course"]
    for part, before in hostile["guarded"].items():
        assert hashes(course / part) == before, part
    assert hashes(hostile["submissions"]) == hostile["before_submissions"]
    assert not (course / "submitted" / "intruder").exists()
    assert not list((course / "autograded").rglob("big.bin")) + list((course / "feedback").rglob("big.bin"))


@pytest.mark.slow
def test_the_gradebook_holds_only_what_was_collected(hostile):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hostile['course'] / 'gradebook.db'}") as gb:
        assert {s.id for s in gb.students} == set(hostile["students"])
        for notebook in NOTEBOOKS:
            submitted = {p.parent.parent.name for p in (hostile["course"] / "submitted").glob(f"*/{notebook}/*.ipynb")}
            assert {s.student.id for s in gb.find_assignment(notebook).submissions} <= set(hostile["students"])
            for s in gb.find_assignment(notebook).submissions:
                assert s.student.id in submitted or s.score == 0, (notebook, s.student.id)
            for cell in gb.find_assignment(notebook).notebooks[0].grade_cells:
                assert cell.max_score < 1000
        early = gb.find_submission("01_mnist", "early_timestamp")
        assert early.timestamp.year == 2026


@pytest.mark.slow
def test_no_process_survives(hostile):
    assert not hostile["survivors"], hostile["survivors"]


@pytest.mark.slow
def test_every_student_gets_an_honest_row(hostile):
    rows = hostile["rows"]
    for student in hostile["students"]:
        assert row(rows, student, "", "student")
        got = row(rows, student, "01_mnist")
        assert got["status"] in ("graded", "needs manual grading", "could not grade", "partly graded"), got
        if got["status"] == "could not grade":
            assert got["reason"], got
    killer = row(rows, "killer", "01_mnist")
    assert killer["status"] == "could not grade" and "kernel died" in killer["reason"], killer
    interrupted = row(rows, "helpers_interrupt", "01_mnist")  # a raised KeyboardInterrupt is no timeout
    assert interrupted["status"] != "could not grade", interrupted
    assert "timeout" not in interrupted["reason"], interrupted
    for student in ("setsid_sleep", "big_alloc", "big_file", "fork_bomb", "early_timestamp", "writer"):
        assert score(rows, student, "01_mnist") == score(rows, "perfect", "01_mnist"), student


@pytest.mark.slow
def test_the_review_flags_name_the_attackers(hostile):
    out = hostile["out"]
    for student, attack in ATTACKS.items():
        lines = [line for line in out.splitlines() if f"review: {student} 01_mnist:" in line]
        for word in attack.flagged:
            assert any(word in line for line in lines), (student, word, lines)
    assert not [line for line in out.splitlines() if "review: perfect " in line or "review: victim " in line]


# ---------------------------------------------------------------- a run stopped and started again

@pytest.mark.slow
def test_a_run_killed_midway_goes_on_to_the_same_csv(tmp_path, offline_data):
    env = grading_env(offline_data)
    submissions = tmp_path / "class"
    for student in ("s1", "s2", "s3", "s4"):
        write_submission(submissions, student, "01_mnist", filled("01_mnist") if student != "s3"
                         else load_student("01_mnist"))
    clean, resumed = (new_course(tmp_path, name, submissions, env, ["01_mnist"]) for name in ("clean", "resumed"))
    args = ["autograde", "--jobs", "1", *COMMON]
    grade_cli(clean, *args, "--csv", str(tmp_path / "clean.csv"), env=env)
    command = [sys.executable, "-m", "vaecourse.grade", "--course", str(resumed), *args,
               "--csv", str(tmp_path / "resumed.csv")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    status = resumed / ".grading" / "status"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not list(status.glob("*/*.json")):
        time.sleep(0.2)
    assert 1 <= len(list(status.glob("*/*.json"))) < 4
    os.kill(process.pid, signal.SIGKILL)  # the grading command only: its jobs and kernels must follow it
    process.wait()
    for _ in range(50):
        if not processes_in(resumed):
            break
        time.sleep(0.2)
    assert not processes_in(resumed), processes_in(resumed)
    finished = len(list(status.glob("*/*.json")))
    again = grade_cli(resumed, *args, "--csv", str(tmp_path / "resumed.csv"), env=env)
    assert f"kept {finished} notebooks graded earlier" in again.stdout, again.stdout[-2000:]
    assert (tmp_path / "resumed.csv").read_text() == (tmp_path / "clean.csv").read_text()
    assert not processes_in(tmp_path)
