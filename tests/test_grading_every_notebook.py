"""Every notebook graded end to end by the grading command, in the sandbox, from both installs.

A class of three students hands in all ten notebooks: `perfect` (the master's answers, written
ones included: full marks on every part of every autograded test), `blank` (the student notebook
as released: 0, every part of every test lost with a message) and `mistake` (the first mistake
of the notebook's catalogue, tests/test_mistakes_NN.py: only the tests it must cost lose points,
every other test keeps every part). The class is graded once per install by the command the
README's "For instructors" documents, `python -m vaecourse.grade ... all --folder ... --roster
... --jobs 2`, as a subprocess, with the bubblewrap sandbox on (required: without it the tests
skip, and fail where VAE_COURSE_REQUIRE_SANDBOX is set, as in CI):

- `editable`: the interpreter running the tests, that is the venv `make setup` makes, with the
  course installed editable from this checkout (the README's install), run from the repository
  root. The sandboxed kernel is shown the venv, not the checkout: whatever a probe imports from
  the course package must come through what the sandbox shows.
- `wheel`: the wheel `pip wheel --no-deps` makes of this checkout, in a second venv with the
  course's dependencies (the Makefile's torch pair from this machine's disk, the rest from PyPI;
  tests/installs.py), run from a folder outside the checkout with `--solutions`.

CI budget: about 360 s for both installs on 2 cores with a warm cache (measured on a shared 2-core
machine, 2026-12-02: editable 150 s, wheel 170 s of grading, the rest building the wheel and
reading results). The wheel's venv is cached in ~/.cache/vaecourse-tests/ keyed by pyproject.toml,
the Makefile's torch pair and the Python version; a cold build (a fresh machine or a changed
pyproject.toml) adds about 280 s (torch's 5.5 GB unpacked from disk, the rest downloaded) and
6 GB of disk. A class of three students is the smallest that shows each verdict judging a right,
a missing and a wrong answer; everything else is asserts over the one grading run per install.
"""
import csv
import io
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from harness import errors_and_parts, grading_env, load_student
from installs import ROOT, venv_env, wheel_venv
from simulated_class import catalogue_of, filled, points_of_tests, write_roster
from vaecourse.verdicts import verdicts_for

NOTEBOOKS = sorted(path.stem for path in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
STUDENTS = ["perfect", "blank", "mistake"]
GRADING = ["--jobs", "2", "--cell-timeout", "30", "--time-limit", "300", "--no-progress"]


def the_mistake(name: str):
    """(key, Mistake, the tests it must cost) of the first mistake of the notebook's catalogue."""
    catalogue = catalogue_of(name)
    assert catalogue, f"{name} has no mistakes catalogue (tests/test_mistakes_{name[:2]}.py)"
    key = next(iter(catalogue.mistakes))
    return key, catalogue.mistakes[key], set(catalogue.lost_by(key))


def write_submissions(root: Path) -> None:
    """<root>/<student>/<notebook>/<notebook>.ipynb for the three students and every notebook."""
    for name in NOTEBOOKS:
        key, mistake, _ = the_mistake(name)
        notebooks = {"perfect": filled(name), "blank": load_student(name),
                     "mistake": filled(name, {mistake.cell: catalogue_of(name).edited_source(key)})}
        for student, nb in notebooks.items():
            folder = root / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")


def grade_class(python: Path, env: dict, cwd: Path, tmp: Path, before: tuple = (), after: tuple = ()) -> dict:
    """`python -m vaecourse.grade --course ... [before] all --folder ... --roster ... --jobs 2 [after]` on
    the class (before: --solutions; after: --no-sandbox, for a comparison by hand)."""
    submissions, course, grades = tmp / "class", tmp / "course", tmp / "grades.csv"
    write_submissions(submissions)
    roster = write_roster(tmp / "roster.csv", STUDENTS)
    where = subprocess.run([str(python), "-c", "import vaecourse; print(vaecourse.__file__)"], cwd=cwd, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    started = time.monotonic()
    result = subprocess.run([str(python), "-m", "vaecourse.grade", "--course", str(course), *before, "all",
                             "--folder", str(submissions), "--roster", str(roster), *GRADING, *after,
                             "--csv", str(grades)], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(grades.read_text())))
    notebooks = {(student, name): errors_and_parts(course / "autograded" / student / name / f"{name}.ipynb")
                 for student in STUDENTS for name in NOTEBOOKS}
    return {"seconds": seconds, "stdout": result.stdout, "where": Path(where), "rows": rows, "notebooks": notebooks}


@pytest.fixture(scope="module", params=["editable", "wheel"])
def graded(request, tmp_path_factory, offline_data, isolation):
    """The class graded once by the install `request.param`, with the sandbox on."""
    tmp = tmp_path_factory.mktemp(f"every_notebook_{request.param}")
    started = time.monotonic()
    if request.param == "editable":
        python, env = Path(sys.executable), grading_env(offline_data)
        out = grade_class(python, env, ROOT, tmp)
        out["expected_where"] = ROOT / "vaecourse"
    else:
        with wheel_venv(tmp / "wheel") as (python, how):
            print(f"\nwheel venv: {how}")
            env = venv_env(python, {"VAE_COURSE_DATA": str(offline_data)})
            site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  env=env, capture_output=True, text=True, check=True).stdout.strip()
            work = tmp / "elsewhere"  # an instructor's folder, not the checkout
            work.mkdir()
            out = grade_class(python, env, work, tmp, before=("--solutions", str(ROOT / "solutions")))
            out["expected_where"] = Path(site) / "vaecourse"
    out.update(install=request.param, isolation=isolation)
    print(f"\n{request.param}: graded {len(STUDENTS)} students x {len(NOTEBOOKS)} notebooks in {out['seconds']:.0f} s "
          f"({time.monotonic() - started:.0f} s with the install)")
    return out


def rows_of(graded, student: str, name: str) -> dict[str, dict]:
    return {r["item"]: r for r in graded["rows"]
            if r["student"] == student and r["notebook"] == name and r["level"] == "test"}


def parts_of(graded, student: str, name: str) -> dict[str, list]:
    return graded["notebooks"][(student, name)][1]


def lost_parts(parts: list) -> str:
    return "; ".join(f"{p['name']} {p['earned']}/{p['points']}: {p['message']}" for p in parts
                     if p["earned"] < p["points"])


def scores(graded, student: str, name: str) -> str:
    """'test a/b, ...' for an assertion message: what the student got on each test, and why."""
    rows = rows_of(graded, student, name)
    errors, parts = graded["notebooks"][(student, name)]
    return "\n".join(f"  {gid}: {rows[gid]['score']} / {rows[gid]['max_score']}"
                     + (f"  error: {errors[gid]}" if gid in errors else "")
                     + (f"  lost: {lost_parts(parts.get(gid, []))}" if lost_parts(parts.get(gid, [])) else "")
                     for gid in points_of_tests(name) if gid in rows)


def total(graded, student: str, name: str) -> str:
    rows = rows_of(graded, student, name)
    got = sum(float(rows[gid]["score"] or 0) for gid in points_of_tests(name) if gid in rows)
    return f"{name}: {student} got {got:g} / {sum(points_of_tests(name).values()):g}"


@pytest.mark.slow
def test_the_command_graded_in_the_sandbox_with_the_package_of_that_install(graded):
    assert graded["isolation"].available
    out = graded["stdout"]
    assert "isolation: bubblewrap:" in out and "no sandbox" not in out, out[:2000]
    assert graded["where"].resolve() == graded["expected_where"].resolve() / "__init__.py", \
        f"{graded['install']}: vaecourse came from {graded['where']}, not {graded['expected_where']}"
    for student in STUDENTS:
        rows = [r for r in graded["rows"] if r["student"] == student and r["level"] == "notebook"]
        assert sorted(r["notebook"] for r in rows) == NOTEBOOKS, student
        assert all(r["status"] in ("graded", "needs manual grading") for r in rows), \
            [(r["notebook"], r["status"], r["reason"]) for r in rows if r["status"] not in ("graded", "needs manual grading")]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_perfect_submission_gets_full_marks_on_every_part(graded, name):
    rows = rows_of(graded, "perfect", name)
    points, parts = points_of_tests(name), parts_of(graded, "perfect", name)
    assert set(points) <= set(rows), (name, sorted(rows))
    full = all(float(rows[gid]["score"] or 0) == float(rows[gid]["max_score"]) == max_points
               for gid, max_points in points.items())
    assert full, f"{graded['install']}: {total(graded, 'perfect', name)}\n{scores(graded, 'perfect', name)}"
    for gid, verdict in verdicts_for(name).items():
        got = parts.get(gid, [])
        assert [p["name"] for p in got] == [p.name for p in verdict.parts], (gid, got)
        assert all(p["earned"] == p["points"] for p in got), (gid, lost_parts(got))
    manual = [r for r in rows_of(graded, "perfect", name).values() if r["kind"] == "manual"]
    assert all(r["status"] == "needs manual grading" and r["score"] == "" for r in manual), manual


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_blank_notebook_gets_zero_and_every_part_says_why(graded, name):
    rows = rows_of(graded, "blank", name)
    errors, parts = graded["notebooks"][("blank", name)]
    assert all(float(rows[gid]["score"] or 0) == 0 for gid in points_of_tests(name)), \
        f"{graded['install']}: {total(graded, 'blank', name)}\n{scores(graded, 'blank', name)}"
    for gid in points_of_tests(name):
        verdict = verdicts_for(name).get(gid)
        if verdict is None:  # judged in the kernel: its error is the message
            assert errors.get(gid), (gid, errors)
            continue
        got = parts.get(gid, [])
        assert [p["name"] for p in got] == [p.name for p in verdict.parts], (gid, got)
        assert all(p["earned"] == 0 and p["message"] for p in got), (gid, got)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_catalogued_mistake_loses_only_its_own_tests(graded, name):
    key, mistake, must_lose = the_mistake(name)
    rows = rows_of(graded, "mistake", name)
    errors, parts = graded["notebooks"][("mistake", name)]
    lost = {gid for gid, max_points in points_of_tests(name).items() if float(rows[gid]["score"] or 0) < max_points}
    assert lost == must_lose, (f"{graded['install']}: {name} mistake {key} should lose {sorted(must_lose)}, lost "
                               f"{sorted(lost)}\n{scores(graded, 'mistake', name)}")
    for gid in set(points_of_tests(name)) - must_lose:
        assert not lost_parts(parts.get(gid, [])), (gid, lost_parts(parts.get(gid, [])))
    said = errors.get(mistake.test, "") + "\n" + lost_parts(parts.get(mistake.test, []))
    assert mistake.message in said, f"{key}: the feedback should name the cause ({mistake.message!r}):\n{said}"
