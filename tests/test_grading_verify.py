"""The tamper check (vaecourse/grading/verify.py): a job's gradebook must define its assignment as the course's does."""
import shutil

from vaecourse.grading.merge import write_template
from vaecourse.grading.verify import tampered
from vaecourse.nbg.gradebook import open_gradebook


def course_db(path) -> str:
    url = f"sqlite:///{path}"
    with open_gradebook(url) as gb:
        gb.update_or_create_assignment("a")
        gb.update_or_create_notebook("a", "a")
        gb.update_or_create_grade_cell("test_f", "a", "a", max_score=2, cell_type="code")
        gb.update_or_create_source_cell("test_f", "a", "a", source="assert f() == 1", checksum="abc",
                                        cell_type="code", locked=True)
    return url


def test_an_unchanged_job_gradebook_passes_and_every_change_is_named(tmp_path):
    url = course_db(tmp_path / "course.db")
    template = tmp_path / "template.db"
    write_template(url, template, ["a"])
    assert tampered(url, template, "a") == ""

    def job_with(change) -> str:
        job = tmp_path / "job.db"
        shutil.copyfile(template, job)
        with open_gradebook(f"sqlite:///{job}") as gb:
            change(gb)
            gb.db.commit()
        return tampered(url, job, "a")

    assert "changed: a/graded cell/test_f" in job_with(
        lambda gb: setattr(gb.find_grade_cell("test_f", "a", "a"), "max_score", 200))
    assert "changed: a/source of/test_f" in job_with(
        lambda gb: setattr(gb.find_source_cell("test_f", "a", "a"), "source", "assert True"))
    assert "added: a/graded cell/bonus" in job_with(
        lambda gb: gb.update_or_create_grade_cell("bonus", "a", "a", max_score=5, cell_type="code"))
    assert "removed: a/graded cell/test_f" in job_with(
        lambda gb: gb.db.delete(gb.find_grade_cell("test_f", "a", "a")))


def test_an_unreadable_job_gradebook_is_a_finding(tmp_path):
    url = course_db(tmp_path / "course.db")
    (tmp_path / "job.db").write_bytes(b"not sqlite at all" * 100)
    assert "cannot be read" in tampered(url, tmp_path / "job.db", "a")


def test_links_and_special_files_left_by_a_kernel_are_dropped(tmp_path):
    """nbgrader writes the autograded notebook into the kernel's folder: no link there may be followed."""
    import os

    from vaecourse.nbg.droplinks import drop_links

    outside = tmp_path / "gradebook.db"
    outside.write_text("the instructor's")
    folder = tmp_path / "autograded" / "s" / "a"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.ipynb").symlink_to(outside)
    (folder / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    os.link(outside, folder / "hard.txt")
    os.mkfifo(folder / "fifo")
    (folder / "plain.txt").write_text("kept")
    removed = sorted(os.path.relpath(p, folder) for p in drop_links(str(folder)))
    assert removed == ["a.ipynb", "fifo", "hard.txt", "sub/up"]
    assert sorted(p.name for p in folder.rglob("*")) == ["plain.txt", "sub"]
    assert outside.read_text() == "the instructor's"
