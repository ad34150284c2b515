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

CI budget: tests/budgets.toml (the fresh-clone CI of 2026-12-07 at 93119ae: 376 s for the file, the
editable install's class 213 s, the wheel's, then perfect and blank, 163 s). Before the classes shrank
and the kernel was killed after the last cell instead of asked to exit (vaecourse/nbg/config.py), measured
on 2026-12-07 on this project's 2-core machine, shared with six other agents (load average 7 to 10):
each install's grading took 260 CPU seconds (the command and every process under it, kernels
included), so about 150 s of wall time on two idle cores (the README's 42 s per student for ten
notebooks, times three students with one blank, plus the release); the wall times seen under that
load were 720-760 s per install. The wheel's venv is cached in ~/.cache/vaecourse-tests/ keyed by
pyproject.toml, the Makefile's torch pair and the Python version; a cold build (a fresh machine, a
changed pyproject.toml, VAE_COURSE_FRESH_VENV=1) adds 140 s (torch's 5.5 GB from this machine's
disk, the rest from PyPI) and takes 6 GB of disk. Building and installing the wheel itself: 15 s.
A class of three is the smallest that shows each verdict judging a right, a missing and a wrong
answer; everything else is asserts over the one grading run per install. The wheel's class is
`perfect` alone (STUDENTS_OF): an install changes a grade only through what it gives the grader (the
verdicts, whose parts the perfect notebook must all show) and what the sandbox shows the kernel (a
piece missing there costs the perfect notebook points); neither can earn a blank or wrong notebook
a point, which the same verdict code judges in the grader process. The blank and the mistaken
notebooks are judged once, from the README's install (two thirds of the wheel's grading time saved).
"""
import contextlib
import csv
import io
import os
import subprocess
import sys
import tempfile
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
STUDENTS_OF = {"editable": STUDENTS, "wheel": ["perfect"]}  # who hands in, by install (module doc)
GRADING = ["--jobs", "2", "--cell-timeout", "30", "--time-limit", "300", "--no-progress"]


def the_mistake(name: str):
    """(key, Mistake, the tests it must cost) of the first mistake of the notebook's catalogue."""
    catalogue = catalogue_of(name)
    assert catalogue, f"{name} has no mistakes catalogue (tests/test_mistakes_{name[:2]}.py)"
    key = next(iter(catalogue.mistakes))
    return key, catalogue.mistakes[key], set(catalogue.lost_by(key))


def write_submissions(root: Path, students: list[str]) -> None:
    """<root>/<student>/<notebook>/<notebook>.ipynb for the students (of STUDENTS) and every notebook."""
    for name in NOTEBOOKS:
        key, mistake, _ = the_mistake(name)
        notebooks = {"perfect": filled(name), "blank": load_student(name),
                     "mistake": filled(name, {mistake.cell: catalogue_of(name).edited_source(key)})}
        for student in students:
            nb = notebooks[student]
            folder = root / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")


def run_measured(args: list[str], timeout: float, **kwargs) -> tuple[subprocess.CompletedProcess, float, float]:
    """(the finished command, its wall seconds, the CPU seconds of it and of every process under it, the
    sandboxed kernels included, sampled twice a second). On a shared machine the wall time says how
    loaded it was; the CPU seconds over 2 are about what the command needs on two idle cores."""
    import psutil

    started, cpu = time.monotonic(), {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, text=True, **kwargs)
        top = psutil.Process(process.pid)
        while process.poll() is None:
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                raise AssertionError(f"{' '.join(args)} ran past {timeout} s")
            with contextlib.suppress(psutil.Error):
                for proc in [top, *top.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = proc.cpu_times()
                        cpu[(proc.pid, proc.create_time())] = times.user + times.system
            time.sleep(0.5)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(args, process.returncode, out.read(), err.read())
    return result, time.monotonic() - started, sum(cpu.values())


def grade_class(python: Path, env: dict, cwd: Path, tmp: Path, students: list[str], before: tuple = (),
                after: tuple = ()) -> dict:
    """`python -m vaecourse.grade --course ... [before] all --folder ... --roster ... --jobs 2 [after]` on
    the class (before: --solutions; after: --no-sandbox, for a comparison by hand)."""
    submissions, course, grades = tmp / "class", tmp / "course", tmp / "grades.csv"
    write_submissions(submissions, students)
    roster = write_roster(tmp / "roster.csv", students)
    where = subprocess.run([str(python), "-c", "import vaecourse; print(vaecourse.__file__)"], cwd=cwd, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    result, seconds, cpu_seconds = run_measured(
        [str(python), "-m", "vaecourse.grade", "--course", str(course), *before, "all", "--folder", str(submissions),
         "--roster", str(roster), *GRADING, *after, "--csv", str(grades)], cwd=cwd, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(grades.read_text())))
    notebooks = {(student, name): errors_and_parts(course / "autograded" / student / name / f"{name}.ipynb")
                 for student in students for name in NOTEBOOKS}
    return {"students": students, "seconds": seconds, "cpu_seconds": cpu_seconds, "stdout": result.stdout, "where": Path(where), "rows": rows, "notebooks": notebooks}


@pytest.fixture(scope="module", params=["editable", "wheel"])
def graded(request, tmp_path_factory, offline_data, isolation):
    """The class graded once by the install `request.param`, with the sandbox on."""
    tmp = tmp_path_factory.mktemp(f"every_notebook_{request.param}")
    started = time.monotonic()
    if request.param == "editable":
        python, env = Path(sys.executable), grading_env(offline_data)
        out = grade_class(python, env, ROOT, tmp, STUDENTS_OF["editable"])
        out["expected_where"] = ROOT / "vaecourse"
    else:
        with wheel_venv(tmp / "wheel") as (python, how):
            print(f"\nwheel venv: {how}")
            env = venv_env(python, {"VAE_COURSE_DATA": str(offline_data)})
            site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  env=env, capture_output=True, text=True, check=True).stdout.strip()
            work = tmp / "elsewhere"  # an instructor's folder, not the checkout
            work.mkdir()
            out = grade_class(python, env, work, tmp, STUDENTS_OF["wheel"], before=("--solutions", str(ROOT / "solutions")))
            out["expected_where"] = Path(site) / "vaecourse"
    out.update(install=request.param, isolation=isolation)
    print(f"\n{request.param}: graded {len(out['students'])} students x {len(NOTEBOOKS)} notebooks in {out['seconds']:.0f} s, "
          f"{out['cpu_seconds']:.0f} CPU s ({time.monotonic() - started:.0f} s with the install; load average "
          f"{os.getloadavg()[0]:.1f})")
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
    for student in graded["students"]:
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
@pytest.mark.parametrize("graded", ["editable"], indirect=True)  # the README's install only (module doc)
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
@pytest.mark.parametrize("graded", ["editable"], indirect=True)  # the README's install only (module doc)
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
