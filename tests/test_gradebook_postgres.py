"""The gradebook on a real PostgreSQL server (`python -m vaecourse.grade --db postgresql+psycopg://...`).

The server and a fresh database per test come from the fixture `postgres_url`
(tests/postgres_server.py). These tests open the gradebook through the grading code and
export the grades CSV. The simulated class graded on a Dask LocalCluster into PostgreSQL, equal
to the serial sqlite run and keeping a hand grade across a regrade on Dask, is in
tests/test_grading_end_to_end.py, which grades that serial run.
"""
from datetime import datetime

import pytest

from test_grading_end_to_end import read_csv
from vaecourse import grade
from vaecourse.nbg.gradebook import open_gradebook

DUE = datetime(2030, 1, 31, 12, 0)
# nbgrader 0.9's gradebook API warns on every new submission (its own; the grading command hides them too).
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def fill(gb) -> None:
    """A small gradebook: one assignment with an autograded test and a written answer, two students,
    one submission with its autograded score."""
    gb.update_or_create_assignment("01_mnist", duedate=DUE)
    gb.update_or_create_notebook("01_mnist", "01_mnist")
    gb.update_or_create_grade_cell("test_counts", "01_mnist", "01_mnist", max_score=2, cell_type="code")
    gb.update_or_create_grade_cell("written", "01_mnist", "01_mnist", max_score=1, cell_type="markdown")
    gb.update_or_create_student("alice", first_name="Alice", email="alice@example.org")
    gb.update_or_create_student("bob")
    gb.update_or_create_submission("01_mnist", "alice", timestamp=datetime(2030, 1, 30, 9, 15))
    gb.find_grade("test_counts", "01_mnist", "01_mnist", "alice").auto_score = 2.0
    gb.db.commit()


def test_the_gradebook_opens_on_postgresql_and_keeps_what_it_is_given(postgres_url):
    """open_gradebook (the grading code's door to nbgrader) makes nbgrader's tables on the server."""
    import psycopg

    from postgres_server import conninfo

    with open_gradebook(postgres_url) as gb:
        assert (gb.engine.dialect.name, gb.engine.driver) == ("postgresql", "psycopg")
        fill(gb)
    with open_gradebook(postgres_url) as gb:  # a new connection reads it back
        assert [a.name for a in gb.assignments] == ["01_mnist"]
        assert gb.find_assignment("01_mnist").duedate == DUE
        assert sorted(s.id for s in gb.students) == ["alice", "bob"]
        assert gb.find_student("alice").email == "alice@example.org"
        submission = gb.find_submission_notebook("01_mnist", "01_mnist", "alice")
        assert submission.score == 2.0 and submission.max_score == 3.0
        assert {g.name: g.auto_score for g in submission.grades} == {"test_counts": 2.0, "written": None}
        assert gb.find_submission("01_mnist", "alice").timestamp == datetime(2030, 1, 30, 9, 15)
    with psycopg.connect(conninfo(postgres_url)) as connection:  # really on the server, not in a file
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"assignment", "student", "submitted_assignment", "grade", "alembic_version"} <= tables
        assert connection.execute("SELECT count(*) FROM student").fetchone()[0] == 2


def test_a_plain_postgresql_url_uses_psycopg_3(postgres_url):
    """`postgresql://` (no driver named) picks psycopg 3 from SQLAlchemy 2.1 on (psycopg2 before)."""
    import sqlalchemy

    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with open_gradebook(plain) as gb:
            assert gb.engine.driver == "psycopg"
    except ModuleNotFoundError as error:  # SQLAlchemy < 2.1 wants psycopg2, which we do not install
        pytest.fail(f"SQLAlchemy {sqlalchemy.__version__} reads postgresql:// as psycopg2 ({error}): the "
                    "postgres extra asks for SQLAlchemy>=2.1 (README: Gradebook on PostgreSQL)")


def test_the_grades_csv_exports_from_postgresql_as_from_sqlite(postgres_url, tmp_path):
    """`python -m vaecourse.grade export` reads the same gradebook from PostgreSQL and from sqlite."""
    sqlite_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    for url in (sqlite_url, postgres_url):
        with open_gradebook(url) as gb:
            fill(gb)
    exported = {}
    for name, url in (("sqlite", sqlite_url), ("postgres", postgres_url)):
        csv_path = tmp_path / f"{name}.csv"
        # The command's own entry point, in this process (the slow test runs it as a command).
        assert grade.main(["--course", str(tmp_path / f"course-{name}"), "--db", url, "export",
                           "--assignment", "01_mnist", "--csv", str(csv_path)]) == 0
        exported[name] = csv_path.read_text()
    assert exported["postgres"] == exported["sqlite"]
    rows = read_csv(tmp_path / "postgres.csv")
    assert {r["student"] for r in rows} == {"alice", "bob"}
    alice = [r for r in rows if r["student"] == "alice" and r["level"] == "test"]
    assert {(r["item"], r["score"], r["max_score"]) for r in alice} == {("test_counts", "2", "2"),
                                                                         ("written", "", "1")}
    assert not (tmp_path / "course-postgres" / "gradebook.db").exists()


def test_nbgrader_configured_for_grading_can_add_an_assignment(postgres_url, tmp_path):
    """What `release` (nbgrader generate_assignment) does first, with the grading command's config."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from vaecourse.nbg.config import config_text

    config = Config()
    exec(config_text(grading=True, root=tmp_path, db_url=postgres_url), {"get_config": lambda: config})  # noqa: S102 (our own text)
    course_id = CourseDirectory(config=config).course_id
    with open_gradebook(postgres_url):
        pass  # the tables, made as the grading code makes them
    assert course_id, "nbgrader's default course_id '' names no course: PostgreSQL rejects its assignments"
    with Gradebook(postgres_url, course_id) as gb:
        gb.update_or_create_assignment("01_mnist", duedate=DUE)
    with open_gradebook(postgres_url) as gb:
        assert gb.find_assignment("01_mnist").duedate == DUE
