"""Issue 13: `collect` against hostile submissions, and submissions kept as evidence.

Each attack of the audit has a test: what was collected, what was skipped, and the
warning. Most tests use a small course folder (a source notebook per assignment is what
`released` needs) and call the library; the command's exit status and output are tested
with the real command, and one slow test grades with real nbgrader end to end
(release 01_mnist, roster, collect, autograde, tamper, autograde, re-collect, autograde).
"""
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from harness import grading_env
from vaecourse.grading import classroom, evidence
from vaecourse.masters import solutions_dir

NB = "01_mnist"
ASSIGNMENTS = [NB, "04_elbo"]
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


def notebook(text: str) -> bytes:
    """A distinct small notebook per student."""
    return NOTEBOOK.replace(b'"metadata": {}', f'"metadata": {{"who": "{text}"}}'.encode())


@pytest.fixture()
def course(tmp_path) -> Path:
    """A course folder with 01_mnist and 04_elbo released (their source holds the master: the solutions)."""
    course = tmp_path / "course"
    for name in ASSIGNMENTS:
        folder = course / "source" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.ipynb").write_bytes((solutions_dir() / f"{name}.ipynb").read_bytes())
    return course


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def submitted(course: Path) -> dict[str, bytes]:
    root = course / "submitted"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.is_dir() else {}


def only_problem(result, *words) -> str:
    hits = [p for p in result.problems if all(w in p for w in words)]
    assert len(hits) == 1, (words, result.problems)
    return hits[0]


def files_outside(tmp_path: Path, course: Path, *allowed: Path) -> list[str]:
    """Every file under tmp_path that is neither in submitted/, .grading/ nor source/ nor an allowed input."""
    keep = [course / "submitted", course / ".grading", course / "source", *allowed]
    return sorted(str(p) for p in tmp_path.rglob("*")
                  if p.is_file() and not any(p == k or k in p.parents for k in keep))


# --- the audit's attacks -------------------------------------------------------------------------

def test_folder_symlink_to_the_source_notebook_is_refused(course, tmp_path):
    folder = tmp_path / "class"
    (folder / "mallory" / "04_elbo").mkdir(parents=True)
    (folder / "mallory" / "04_elbo" / "04_elbo.ipynb").symlink_to(course / "source" / "04_elbo" / "04_elbo.ipynb")
    (folder / "bob" / "04_elbo").mkdir(parents=True)
    (folder / "bob" / "04_elbo" / "04_elbo.ipynb").write_bytes(notebook("bob"))
    result = classroom.collect_folder(folder, course)
    assert dict(result) == {"bob": ["04_elbo"]}
    assert submitted(course) == {"bob/04_elbo/04_elbo.ipynb": notebook("bob")}
    problem = only_problem(result, "mallory")
    assert "04_elbo.ipynb is a symbolic link (collect follows no links)" in problem
    assert "nothing of it collected" in problem


def test_zip_members_with_dotdot_or_an_absolute_path_are_skipped_and_the_rest_collected(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {
        "../../x": b"escape", "../../mallory_01_mnist.ipynb": notebook("m1"), "/etc/eve_01_mnist.ipynb": notebook("e"),
        "alice_01_mnist.ipynb": notebook("alice"), "sub/bob_01_mnist.ipynb": notebook("bob")})
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"alice": [NB], "bob": [NB]}
    assert submitted(course) == {f"alice/{NB}/{NB}.ipynb": notebook("alice"), f"bob/{NB}/{NB}.ipynb": notebook("bob")}
    for member in ("../../x", "../../mallory_01_mnist.ipynb", "/etc/eve_01_mnist.ipynb"):
        assert "an unsafe path (absolute, with .. or a backslash)" in only_problem(result, f"lms.zip:{member}:")
    assert files_outside(tmp_path, course, archive) == []


def test_a_dotdot_student_id_is_refused_and_nothing_lands_outside_submitted(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {".._01_mnist.ipynb": notebook("dots"),
                                                 "alice_01_mnist.ipynb": notebook("alice")})
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"alice": [NB]}
    assert "student id '..': use letters, digits" in only_problem(result, ".._01_mnist.ipynb")
    assert not (course / NB).exists()
    assert files_outside(tmp_path, course, archive) == []


def test_a_nested_zip_cannot_impersonate_another_student(course, tmp_path):
    inner = write_zip(tmp_path / "inner.zip", {"victim_01_mnist.ipynb": notebook("mallory's code")})
    archive = write_zip(tmp_path / "lms.zip", {"mallory_01_mnist.zip": inner.read_bytes(),
                                                 "victim_01_mnist.ipynb": notebook("victim")})
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"victim": [NB]}
    assert submitted(course) == {f"victim/{NB}/{NB}.ipynb": notebook("victim")}
    assert "an archive inside the archive: not unpacked (the student id comes from the outer file name only)" \
        in only_problem(result, "mallory_01_mnist.zip")
    # Named like a notebook, still an archive: refused by its content.
    archive = write_zip(tmp_path / "lms2.zip", {"mallory_01_mnist.ipynb": inner.read_bytes()})
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {}
    assert "an archive, not a notebook" in only_problem(result, "mallory/01_mnist")


def test_a_replaced_submission_is_not_graded_and_a_recollect_restores_it(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {"victim_01_mnist.ipynb": notebook("victim")})
    assert classroom.collect_zip(archive, course).stored == {("victim", NB): evidence.NEW}
    stored = course / "submitted" / "victim" / NB / f"{NB}.ipynb"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert evidence.verify_submission(course, "victim", NB) == ""
    stored.chmod(0o644)
    stored.write_bytes(notebook("another student's code"))
    reason = evidence.verify_submission(course, "victim", NB)
    assert reason.startswith("the stored submission changed since collect (01_mnist.ipynb: sha256 ")
    assert "recorded" in reason and reason.endswith("collect the original again to restore it")
    assert "not graded" in reason
    result = classroom.collect_zip(archive, course)
    assert result.stored == {("victim", NB): evidence.RESTORED} and result.problems == []
    assert stored.read_bytes() == notebook("victim") and evidence.verify_submission(course, "victim", NB) == ""
    altered = course / ".grading" / "evidence" / "victim" / NB / "altered-1" / f"{NB}.ipynb"
    assert altered.read_bytes() == notebook("another student's code")  # kept, not thrown away
    record = evidence.read_manifest(course, "victim", NB)
    assert record["version"] == 1 and "restored from" in record["notes"][0]


# --- more of the same kind ---------------------------------------------------------------------

def test_linked_student_and_assignment_folders_and_links_inside_a_submission(course, tmp_path):
    folder, elsewhere = tmp_path / "class", tmp_path / "elsewhere"
    (elsewhere / NB).mkdir(parents=True)
    (elsewhere / NB / f"{NB}.ipynb").write_bytes(notebook("elsewhere"))
    folder.mkdir()
    (folder / "carol").symlink_to(elsewhere)  # a linked student folder
    (folder / "dave").mkdir()
    (folder / "dave" / "04_elbo").symlink_to(course / "source" / "04_elbo")  # a linked assignment folder
    (folder / "erin" / NB).mkdir(parents=True)  # a notebook fine, a link beside it
    (folder / "erin" / NB / f"{NB}.ipynb").write_bytes(notebook("erin"))
    (folder / "erin" / NB / "helper.ipynb").symlink_to(course / "source" / NB / f"{NB}.ipynb")
    (folder / "frank" / NB).mkdir(parents=True)
    (folder / "frank" / NB / f"{NB}.ipynb").write_bytes(notebook("frank"))
    result = classroom.collect_folder(folder, course)
    assert dict(result) == {"frank": [NB]}
    assert "a symbolic link (collect follows no links)" in only_problem(result, "carol")
    assert "a symbolic link (collect follows no links)" in only_problem(result, "dave/04_elbo")
    assert "helper.ipynb is a symbolic link" in only_problem(result, "erin")
    assert len(result.problems) == 3
    assert set(submitted(course)) == {f"frank/{NB}/{NB}.ipynb"}


def test_a_zip_member_that_is_a_symlink_is_refused(course, tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("mallory_04_elbo.ipynb")
        link.create_system = 3  # unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(course / "source" / "04_elbo" / "04_elbo.ipynb"))
        zf.writestr("bob_04_elbo.ipynb", notebook("bob"))
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"bob": ["04_elbo"]}
    assert "a symbolic link (collect follows no links)" in only_problem(result, "lms.zip:mallory_04_elbo.ipynb")


@pytest.mark.parametrize("bad", ["..", "a/b", "alice\n", ".hidden", "a b", "x" * 101, ""])
def test_student_ids_that_are_not_safe_folder_names_are_refused(bad):
    assert classroom.student_id_problem(bad).startswith(f"student id {bad!r}: use letters, digits")
    assert classroom.student_id_problem("alice.archer@uni+1") == ""


def test_a_regexp_that_captures_a_slash_in_the_student_id_cannot_write_elsewhere(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {"a/b_01_mnist.ipynb": notebook("ab"), "c_01_mnist.ipynb": notebook("c")})
    greedy = r".*/downloaded/lms/(?P<student_id>.+)_(?P<file_id>\d\d_[a-z]+)\.ipynb$"
    result = classroom.collect_zip(archive, course, regexp=greedy)
    assert dict(result) == {"c": [NB]}
    assert "student id 'a/b'" in only_problem(result, "a/b_01_mnist.ipynb")
    assert files_outside(tmp_path, course, archive) == []


def test_folders_with_bad_student_ids_are_skipped_not_fatal(course, tmp_path):
    folder = tmp_path / "class"
    for student in (".hidden", "with space", "ok"):
        (folder / student / NB).mkdir(parents=True)
        (folder / student / NB / f"{NB}.ipynb").write_bytes(notebook(student))
    result = classroom.collect_folder(folder, course)
    assert dict(result) == {"ok": [NB]}
    assert "student id '.hidden'" in only_problem(result, ".hidden")
    assert "student id 'with space'" in only_problem(result, "with space")


def test_a_huge_member_is_skipped(course, tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb_01_mnist.ipynb", b"0" * (classroom.MAX_SUBMISSION_BYTES + 1))
        zf.writestr("alice_01_mnist.ipynb", notebook("alice"))
    assert archive.stat().st_size < 1_000_000  # a small download that would unpack to 50 MB
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"alice": [NB]}
    assert "larger than 50 MB" in only_problem(result, "bomb_01_mnist.ipynb")


def test_a_huge_file_in_a_folder_is_skipped(course, tmp_path):
    folder = tmp_path / "class"
    (folder / "big" / NB).mkdir(parents=True)
    with open(folder / "big" / NB / f"{NB}.ipynb", "wb") as handle:
        handle.truncate(classroom.MAX_SUBMISSION_BYTES + 1)  # sparse: no 50 MB written
    result = classroom.collect_folder(folder, course)
    assert dict(result) == {}
    assert "larger than 50 MB" in only_problem(result, "big")


def test_duplicates_in_a_zip_are_collected_once_or_not_at_all(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {
        "alice_01_mnist.ipynb": notebook("alice"), "again/alice_01_mnist.ipynb": notebook("alice"),
        "bob_01_mnist.ipynb": notebook("bob 1"), "late/bob_01_mnist.ipynb": notebook("bob 2"),
        "carol_01_mnist.ipynb": notebook("carol")})
    result = classroom.collect_zip(archive, course)
    assert dict(result) == {"alice": [NB], "carol": [NB]}
    assert "2 identical files" in only_problem(result, "alice/01_mnist") and "collected once" in result.problems[0]
    assert "2 different files" in only_problem(result, "bob/01_mnist") and "none collected" in result.problems[1]
    assert not (course / "submitted" / "bob").exists()


def test_a_timestamp_group_chooses_the_newest_of_two_files(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {"alice_2026-01-02_01_mnist.ipynb": notebook("new"),
                                                 "alice_2026-01-01_01_mnist.ipynb": notebook("old")})
    regexp = r".*/(?P<student_id>[^/_]+)_(?P<timestamp>[0-9-]+)_(?P<file_id>\d\d_[a-z]+)\.ipynb$"
    result = classroom.collect_zip(archive, course, regexp=regexp)
    assert dict(result) == {"alice": [NB]}
    assert submitted(course)[f"alice/{NB}/{NB}.ipynb"] == notebook("new")
    assert submitted(course)[f"alice/{NB}/timestamp.txt"].startswith(b"2026-01-02")
    assert "the one with the newest timestamp collected" in only_problem(result, "alice/01_mnist")


def test_ids_not_on_the_roster_are_named(course, tmp_path):
    from vaecourse.nbg.gradebook import open_gradebook

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with open_gradebook(db_url) as gb:
        gb.update_or_create_student("alice")
    archive = write_zip(tmp_path / "lms.zip", {"alice_01_mnist.ipynb": notebook("alice"),
                                                 "alcie_01_mnist.ipynb": notebook("typo")})
    result = classroom.collect_zip(archive, course, db_url)
    assert dict(result) == {"alice": [NB], "alcie": [NB]}  # collected: the instructor decides
    assert "collected, but not on the roster" in only_problem(result, "alcie")
    assert len(result.problems) == 1


def test_a_resubmission_is_a_new_version_and_the_old_one_is_kept(course, tmp_path):
    def collect(text):
        archive = write_zip(tmp_path / f"{text}.zip", {"alice_01_mnist.ipynb": notebook(text)})
        return classroom.collect_zip(archive, course).stored[("alice", NB)]

    assert collect("first") == evidence.NEW
    assert collect("first") == evidence.UNCHANGED
    assert collect("second") == evidence.NEW_VERSION
    record = json.loads((course / ".grading" / "evidence" / "alice" / f"{NB}.json").read_text())
    assert record["version"] == 2 and record["sha256"] == evidence.sha256(notebook("second"))
    assert record["size"] == len(notebook("second")) and record["source"].endswith("second.zip:alice_01_mnist.ipynb")
    assert record["collected_at"]
    (old,) = record["history"]
    assert old["version"] == 1 and old["sha256"] == evidence.sha256(notebook("first"))
    kept = course / old["kept"] / f"{NB}.ipynb"
    assert kept.read_bytes() == notebook("first") and stat.S_IMODE(kept.stat().st_mode) == 0o444
    assert submitted(course) == {f"alice/{NB}/{NB}.ipynb": notebook("second")}
    assert evidence.verify_submission(course, "alice", NB) == ""


def test_a_stored_submission_edited_or_added_to_after_collect_fails_verification(course, tmp_path):
    folder = tmp_path / "class"
    (folder / "alice" / NB).mkdir(parents=True)
    (folder / "alice" / NB / f"{NB}.ipynb").write_bytes(notebook("alice"))
    (folder / "nobook" / NB).mkdir(parents=True)  # a submission without the notebook
    classroom.collect_folder(folder, course)
    assert evidence.verify_submission(course, "alice", NB) == evidence.verify_submission(course, "nobook", NB) == ""
    stored = course / "submitted" / "alice" / NB / f"{NB}.ipynb"
    if os.geteuid() != 0:  # root may write anyway
        with pytest.raises(PermissionError):
            stored.write_bytes(b"{}")
    stored.chmod(0o644)
    stored.write_bytes(notebook("edited"))
    assert "01_mnist.ipynb: sha256" in evidence.verify_submission(course, "alice", NB)
    (course / "submitted" / "nobook" / NB / f"{NB}.ipynb").write_bytes(notebook("slipped in"))
    assert "01_mnist.ipynb added" in evidence.verify_submission(course, "nobook", NB)
    (course / "submitted" / "stranger" / NB).mkdir(parents=True)  # never collected
    assert "no collect record" in evidence.verify_submission(course, "stranger", NB)
    assert evidence.verify_submission(course, "absent", NB) == ""  # nothing submitted: graded as missing


def test_a_submission_stored_before_records_were_kept_is_kept_as_version_0(course, tmp_path):
    (course / "submitted" / "alice" / NB).mkdir(parents=True)
    (course / "submitted" / "alice" / NB / f"{NB}.ipynb").write_bytes(notebook("legacy"))
    archive = write_zip(tmp_path / "lms.zip", {"alice_01_mnist.ipynb": notebook("alice")})
    assert classroom.collect_zip(archive, course).stored == {("alice", NB): evidence.NEW}
    record = evidence.read_manifest(course, "alice", NB)
    (old,) = record["history"]
    assert old["version"] == 0 and old["files"][f"{NB}.ipynb"]["sha256"] == evidence.sha256(notebook("legacy"))
    assert (course / old["kept"] / f"{NB}.ipynb").read_bytes() == notebook("legacy")
    assert record["version"] == 1 and submitted(course) == {f"alice/{NB}/{NB}.ipynb": notebook("alice")}


def test_a_course_without_records_is_graded_as_before(course):
    (course / "submitted" / "old" / NB).mkdir(parents=True)
    (course / "submitted" / "old" / NB / f"{NB}.ipynb").write_bytes(notebook("old"))
    assert evidence.verify_submission(course, "old", NB) == ""


def test_the_command_prints_the_warnings_and_exits_0_when_something_was_collected(course, tmp_path):
    archive = write_zip(tmp_path / "lms.zip", {"alice_01_mnist.ipynb": notebook("alice"),
                                                 "../../x_01_mnist.ipynb": notebook("x")})
    run = [sys.executable, "-m", "vaecourse.grade", "--course", str(course), "collect", "--zip"]
    result = subprocess.run([*run, str(archive)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "collected 1 notebooks from 1 students" in result.stdout
    assert "warning: skipped lms.zip:../../x_01_mnist.ipynb: an unsafe path" in result.stderr
    nothing = write_zip(tmp_path / "nothing.zip", {"../../x_01_mnist.ipynb": notebook("x")})
    result = subprocess.run([*run, str(nothing)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "warning: skipped nothing.zip:../../x_01_mnist.ipynb" in result.stderr
    assert "error: nothing collected" in result.stderr


def test_a_roster_with_bad_or_repeated_ids_is_refused_whole_and_names_every_row(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name\nalice,Alice\n../bob,Bob\nalice,Again\n,Nobody\n")
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with pytest.raises(classroom.CourseError) as error:
        classroom.import_roster(roster, db_url)
    message = str(error.value)
    assert "roster.csv:3: student id '../bob'" in message
    assert "roster.csv:4: student id 'alice' twice" in message
    assert "roster.csv:5: no `id`" in message
    assert not (tmp_path / "gradebook.db").exists()  # nobody imported


# --- end to end with real nbgrader ---------------------------------------------------------------

@pytest.mark.slow
def test_end_to_end_a_linked_source_gets_nothing_and_a_replaced_submission_is_not_graded(tmp_path, offline_data):
    from simulated_class import filled
    from test_grading_end_to_end import grade_cli, read_csv

    env = grading_env(offline_data)
    course, folder = tmp_path / "course", tmp_path / "class"
    grade_cli(course, "release", NB, env=env)
    (tmp_path / "roster.csv").write_text("id\nvictim\nmallory\n")
    grade_cli(course, "roster", str(tmp_path / "roster.csv"), env=env)
    (folder / "victim" / NB).mkdir(parents=True)
    (folder / "victim" / NB / f"{NB}.ipynb").write_text(nbformat.writes(filled(NB)))
    (folder / "mallory" / NB).mkdir(parents=True)
    (folder / "mallory" / NB / f"{NB}.ipynb").symlink_to(course / "source" / NB / f"{NB}.ipynb")
    out = grade_cli(course, "collect", "--folder", str(folder), env=env)
    assert "collected 1 notebooks from 1 students" in out.stdout and "symbolic link" in out.stderr

    def grade():
        grade_cli(course, "autograde", "--csv", str(tmp_path / "grades.csv"), "--no-progress", env=env)
        return {r["student"]: r for r in read_csv(tmp_path / "grades.csv") if r["level"] == "notebook"}

    rows = grade()
    score = rows["victim"]["score"]
    assert rows["victim"]["status"] in ("graded", "needs manual grading") and float(score) > 0
    assert rows["mallory"]["status"] == "could not grade" and "no 01_mnist.ipynb submitted" in rows["mallory"]["reason"]
    stored = course / "submitted" / "victim" / NB / f"{NB}.ipynb"
    stored.chmod(0o644)
    stored.write_text(nbformat.writes(nbformat.read(course / "release" / NB / f"{NB}.ipynb", as_version=4)))
    rows = grade()
    assert rows["victim"]["status"] == "could not grade"
    assert "the stored submission changed since collect" in rows["victim"]["reason"]
    out = grade_cli(course, "collect", "--folder", str(folder), env=env)
    assert "1 restored" in out.stdout
    assert grade()["victim"]["score"] == score  # the submission is not lost
