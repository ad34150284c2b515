"""Grading an instructor can trust: hostile submissions graded by `python -m vaecourse.grade` (real
nbgrader, real kernels, the real sandbox), one class of attack per group of tests (tests/trust_attacks.py).

1. A decided score is never rewritten: no display_id update (from a later cell, a thread, a hook) and
   no forged verdict record earns a part the wrong answers alone do not earn.
2. The grader's secrets stay the grader's: no line of any exercise's answer (the master's solution
   cells and the course versions the probe swaps in) reaches a feedback page or an autograded
   notebook, whatever the student's code saw while the probe ran (04_elbo and 03_decoder).
3. The sandbox shows the kernel nothing of the course package, even installed as a copy (a wheel in
   site-packages): run by the sandbox itself (`bwrap_command`), no nbgrader.
4. No live script reaches the instructor's browser: the autograded notebook and the feedback page
   hold no <script>, no on* attribute, no javascript: URL, no application/javascript output.
5. A malformed value sent while probed costs the parts that need it, with a message: the notebook is
   always graded, and every other test scores as the wrong answers alone.

One class graded once (module-scoped): 04_elbo for perfect, wrong and 16 attackers, 03_decoder for 2 of
them, 20 notebooks with --jobs 2. CI budget: about 250 s for the file (estimated from test_hostile_submissions;
measured here: 502 s, 458 s of them the grading fixture, on a 2-core machine shared with other runs; the wheel
and its sandbox 19 s).

On main at 0670907 (where this file was written) every test of classes 1 to 5 fails but for the forged
verdict records (class 1), the error message holding HTML (class 4) and the malformed values refused one
by one (class 5): the five display_id attacks earn 11 of 11 points where the wrong answers earn 4.75; every
way of class 2 prints the course versions of 4.1 and 4.2 (04_elbo) and of Decoder and reparameterize
(03_decoder) on the student's page; the kernel imports vaecourse.reference from a wheel install and reads
its files; 17 of 18 script payloads are live in the autograded notebook and 16 on the page; six malformed
values end the job ("nbgrader failed" or "kernel died"). On main at 387d0a0 class 1 passes; class 5 passes
but for the 5,000-digit number (the grader's kernel-message reader) and the record nested 400 deep
(nbformat's from_dict, in nbclient); class 3 finds only the console script bin/vaecourse-build and the
editable finder's .pyc; classes 2 and 4 fail as before.
"""
import ast
import copy
import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from harness import grading_env, load_master, load_student, page_text, solution_sources
from kernel_attacks import WRONG
from simulated_class import filled
from test_grading_end_to_end import grade_cli, read_csv
from test_hostile_submissions import write_submission  # the folder layout collect --folder reads, with a timestamp
from trust_attacks import (
    ALL,
    LOOT_LABELS,
    MALFORMED,
    MALFORMED_TEST,
    NB,
    REWRITE,
    SANDBOX_ATTACK,
    SCRIPT_CONTROL,
    SCRIPT_TOKENS,
    SCRIPTS,
    SECRETS,
    SECRETS_NB,
    Submission,
)

from vaecourse.masters import grade_id
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.record import CellResult

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--cell-timeout", "30", "--time-limit", "300", "--no-progress"]


# ---------------------------------------------------------------- the class

def build(notebook: str, submission: Submission):
    """The notebook a student hands in: the base answers, the attack's cells and code."""
    if submission.base == "wrong":
        nb = filled(notebook, {**WRONG, **submission.answers})
    else:
        nb = copy.deepcopy(load_student(notebook))
        for cell in nb.cells:
            if grade_id(cell) in submission.answers:
                cell.source = submission.answers[grade_id(cell)]
    ids = [grade_id(cell) for cell in nb.cells]
    for gid, code in submission.appended.items():
        nb.cells[ids.index(gid)].source += "\n\n" + code.strip("\n") + "\n"
    for gid, text in submission.written.items():
        nb.cells[ids.index(gid)].source = text
    nb.cells += [nbformat.v4.new_code_cell(code.strip("\n")) for code in submission.last_cells]
    return nb


def submissions() -> dict[tuple[str, str], "nbformat.NotebookNode"]:
    """(student, notebook) -> the notebook handed in."""
    handed = {("perfect", NB): filled(NB), ("wrong", NB): filled(NB, WRONG),
              ("blank", SECRETS_NB): load_student(SECRETS_NB)}  # what the verdicts show an honest blank 03
    handed.update({(student, NB): build(NB, submission) for student, submission in ALL.items()})
    handed.update({(student, notebook): build(notebook, submission)
                   for student, by_notebook in SECRETS.items() for notebook, submission in by_notebook.items()})
    return handed


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("trust")
    env = grading_env(offline_data)
    handed = submissions()
    for (student, notebook), nb in handed.items():
        write_submission(tmp / "class", student, notebook, nb)
    course = tmp / "course"
    grade_cli(course, "release", NB, SECRETS_NB, env=env)
    grade_cli(course, "collect", "--folder", str(tmp / "class"), env=env)
    started = time.monotonic()
    result = grade_cli(course, "autograde", "--jobs", "2", "--csv", str(tmp / "class.csv"), *COMMON, env=env)
    print(f"\n{len(handed)} notebooks graded in {time.monotonic() - started:.0f} s")
    return {"course": course, "rows": read_csv(tmp / "class.csv"), "handed": handed, "out": result.stdout}


def notebook_row(graded, student: str, notebook: str = NB) -> dict:
    found = [r for r in graded["rows"] if r["student"] == student and r["notebook"] == notebook
             and r["level"] == "notebook"]
    assert len(found) == 1, (student, notebook, found)
    return found[0]


def scores_of(graded, student: str, notebook: str = NB) -> dict[str, float | None]:
    """test grade_id -> its score in the grades CSV (None: no score)."""
    return {r["item"]: (float(r["score"]) if r["score"] != "" else None) for r in graded["rows"]
            if r["student"] == student and r["notebook"] == notebook and r["level"] == "test" and r["kind"] == "auto"}


def autograded(graded, student: str, notebook: str = NB):
    path = graded["course"] / "autograded" / student / notebook / f"{notebook}.ipynb"
    return nbformat.read(path, as_version=4) if path.is_file() else None


def feedback_page(graded, student: str, notebook: str = NB) -> str:
    path = graded["course"] / "feedback" / student / notebook / f"{notebook}.html"
    return path.read_text() if path.is_file() else ""


def verdict_parts(nb) -> dict[str, dict[str, float]]:
    """test grade_id -> {part name: points earned}, from the verdict record the grader wrote into each test
    cell of an autograded notebook (the first execute_result carrying one)."""
    parts = {}
    for cell in (nb.cells if nb is not None else []):
        if grade_id(cell) in FUNCTION_TESTS:
            for output in cell.get("outputs", []):
                if result := CellResult.from_output(output):
                    parts[grade_id(cell)] = {p.name: p.earned for p in result.parts}
                    break
    return parts


def part_messages(nb, gid: str) -> dict[str, str]:
    for cell in (nb.cells if nb is not None else []):
        if grade_id(cell) == gid:
            for output in cell.get("outputs", []):
                if result := CellResult.from_output(output):
                    return {p.name: p.message for p in result.lost}
    return {}


FUNCTION_TESTS = set(verdicts_for(NB)) | set(verdicts_for(SECRETS_NB))


def gains(graded, student: str) -> dict:
    """What `student` earned on 04_elbo beyond the wrong notebook: {test: {part or "score": (got, wrong's)}}."""
    wrong_scores, got_scores = scores_of(graded, "wrong"), scores_of(graded, student)
    wrong_parts, got_parts = verdict_parts(autograded(graded, "wrong")), verdict_parts(autograded(graded, student))
    gained = {}
    for gid, ceiling in wrong_scores.items():
        got = got_scores.get(gid)
        if got is not None and got > (ceiling or 0):
            gained.setdefault(gid, {})["score"] = (got, ceiling)
        for name, earned in got_parts.get(gid, {}).items():
            if earned > wrong_parts.get(gid, {}).get(name, 0):
                gained.setdefault(gid, {})[name] = (earned, wrong_parts.get(gid, {}).get(name, 0))
    return gained


@pytest.mark.slow
def test_the_perfect_notebook_earns_everything_and_the_wrong_one_only_shape_parts(graded):
    perfect, wrong = scores_of(graded, "perfect"), scores_of(graded, "wrong")
    points = {gid: verdict.points for gid, verdict in verdicts_for(NB).items()}
    assert perfect == points, perfect
    assert 0 < sum(wrong.values()) < 6, wrong
    assert set(verdict_parts(autograded(graded, "wrong"))) == set(points)


# ---------------------------------------------------------------- 1. rewriting a decided score

@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(REWRITE))
def test_no_update_of_an_earlier_output_rewrites_a_decided_score(graded, student):
    row = notebook_row(graded, student)
    print(f"\n{student}: {row['score']} / {row['max_score']} ({row['status']}) - the wrong notebook alone: "
          f"{notebook_row(graded, 'wrong')['score']}")
    assert row["status"] != "could not grade", row
    gained = gains(graded, student)
    assert not gained, f"{student} earned what the wrong answers alone do not (got, wrong's): {gained}"
    assert set(verdict_parts(autograded(graded, student))) == set(verdicts_for(NB))


# ---------------------------------------------------------------- 2. the grader's secrets

def _normal(line: str) -> str:
    return " ".join(re.sub(r"\s+#.*$", "", line).split())


def course_versions(notebook: str) -> list[str]:
    """The source of each course version of one of this notebook's exercises that a probe swaps in
    (a helper named `_course_<exercise>` or `_Course<Exercise>`), from the public verdicts."""
    exercises = {gid.replace("_", "").lower() for gid in solution_sources(load_master(notebook))}
    found = []
    for verdict in verdicts_for(notebook).values():
        if "course_versions(" not in verdict.probe or not verdict.helpers.strip():
            continue
        tree = ast.parse(verdict.helpers)
        for node in tree.body:
            name = getattr(node, "name", "")
            if name.lower().startswith("_course") and name.lower()[len("_course"):].replace("_", "") in exercises:
                found.append(ast.get_source_segment(verdict.helpers, node))
    return found


def answer_lines(notebook: str, handed) -> set[str]:
    """Lines of the notebook's answers that the student's own notebook does not hold: the master's solution
    cells and the course versions of its exercises (comments dropped; lines under 20 characters are trivial)."""
    visible = " ".join(_normal(line) for cell in handed.cells for line in cell.source.splitlines())
    sources = [*solution_sources(load_master(notebook)).values(), *course_versions(notebook)]
    lines = {_normal(line) for source in sources for line in source.splitlines()}
    return {line for line in lines if len(line) >= 20 and line not in visible}


def output_text(output) -> str:
    texts = [str(output.get("text", "")), str(output.get("evalue", "")), *map(str, output.get("traceback", []))]
    texts += [value if isinstance(value, str) else json.dumps(value) for value in output.get("data", {}).values()]
    return " ".join(" ".join(text.split()) for text in texts)


# The honest submission whose page shows what the grader's own messages say of these exercises anyway (a
# verdict's likely cause may name a line of the answer: that is feedback, not a leak through the kernel).
HONEST = {NB: "wrong", SECRETS_NB: "blank"}


def test_the_secrets_are_answer_lines_of_both_notebooks():
    """The lines the attacks must not get hold of are many, and hold every course version a probe still
    swaps in (none since the probes send stand-ins: vaecourse/verdicts/stand_ins.py, foreseen_calls.py)."""
    for notebook in (NB, SECRETS_NB):
        lines = answer_lines(notebook, load_student(notebook))
        assert len(lines) >= 8, lines
        helpers = {_normal(line) for source in course_versions(notebook) for line in source.splitlines()}
        assert {line for line in helpers if len(line) >= 20} <= lines, notebook


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [NB, SECRETS_NB])
@pytest.mark.parametrize("student", sorted(SECRETS))
def test_no_answer_line_reaches_the_page_or_the_autograded_notebook(graded, student, notebook):
    secret = answer_lines(notebook, graded["handed"][(student, notebook)])
    nb = autograded(graded, student, notebook)
    assert nb is not None, notebook_row(graded, student, notebook)
    leaks = {}
    for cell in nb.cells:
        label = cell.source.split("\n", 1)[0] if cell.source.startswith("# loot: ") else f"cell {grade_id(cell) or '-'}"
        text = " ".join(output_text(output) for output in cell.get("outputs", []))
        found = sorted(line for line in secret if line in text)
        if found:
            leaks[label] = found
    page = page_text(feedback_page(graded, student, notebook))
    assert page, notebook_row(graded, student, notebook)
    honest_page = page_text(feedback_page(graded, HONEST[notebook], notebook))
    leaks = {label: [line for line in lines if line not in honest_page] for label, lines in leaks.items()}
    leaks = {label: lines for label, lines in leaks.items() if lines}
    on_page = sorted(line for line in secret if line in page and line not in honest_page)
    print(f"\n{student} {notebook}: {len(on_page)} answer lines on the page; by way of: "
          f"{ {label: len(lines) for label, lines in leaks.items()} } (tried {LOOT_LABELS[student]})")
    assert not leaks and not on_page, f"answer lines shown: on the page {on_page}; in the autograded notebook {leaks}"


# ---------------------------------------------------------------- 3. the course package, seen from the sandbox

def sandbox_or_skip():
    from vaecourse.sandbox import probe

    found = probe()
    if not found.available:
        if os.environ.get("VAE_COURSE_REQUIRE_SANDBOX"):
            pytest.fail(f"VAE_COURSE_REQUIRE_SANDBOX is set but there is no sandbox: {found.describe()}")
        pytest.skip(found.describe())


# Run by the grader's python: the sandbox as the kernel manager makes it (vaecourse.sandbox.bwrap_command),
# around this python running SANDBOX_ATTACK.
SANDBOX_DRIVER = r'''
import json, subprocess, sys
import vaecourse
from vaecourse.sandbox import bwrap_command, kernel_python, probe
work, attack = sys.argv[1], sys.argv[2]
command = bwrap_command(probe(), [kernel_python(), attack], writable=[work], cwd=work, read_only=[], env={})
run = subprocess.run(command, capture_output=True, text=True, timeout=300)
print(json.dumps({"grader's vaecourse": vaecourse.__file__, "rc": run.returncode, "stdout": run.stdout,
                  "stderr": run.stderr[-3000:]}))
'''


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory):
    """The python of a fresh venv with the course installed from its wheel (a copy in site-packages; its
    dependencies from this environment through a path line), as tests/test_packaging.py builds it."""
    import shutil
    import sysconfig

    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "vaecourse", source / "vaecourse", ignore=shutil.ignore_patterns("__pycache__"))
    run = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", str(tmp / "dist")]
    subprocess.run(run, cwd=source, check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("vaecourse-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
    python = tmp / "venv" / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    assert (site / "vaecourse" / "reference" / "elbo.py").is_file()
    return python


def seen_from_the_sandbox(python: Path, tmp: Path, env: dict) -> tuple[dict, dict]:
    (tmp / "work").mkdir()
    (tmp / "work" / "attack.py").write_text(SANDBOX_ATTACK)
    run = subprocess.run([str(python), "-c", SANDBOX_DRIVER, str(tmp / "work"), str(tmp / "work" / "attack.py")],
                         check=False, capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0 and report["stdout"].strip(), report
    return report, json.loads(report["stdout"].strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("install", ["wheel", "editable"])
def test_the_sandbox_shows_nothing_of_the_course_package(install, request, tmp_path):
    sandbox_or_skip()
    if install == "wheel":
        python = request.getfixturevalue("wheel_python")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    else:  # this environment: the course as the tests import it (an editable install, or this checkout on PYTHONPATH)
        python, env = Path(sys.executable), dict(os.environ)
    report, found = seen_from_the_sandbox(python, tmp_path, env)
    if install == "wheel":
        assert "site-packages" in report["grader's vaecourse"], report
    where = report["grader's vaecourse"]
    print(f"\n{install} (the grader's vaecourse: {where}): the kernel found "
          f"{ {how: len(what) for how, what in found.items()} }")
    assert not found, json.dumps(found, indent=1)[:4000]


# ---------------------------------------------------------------- 4. scripts in the instructor's browser

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset"}


class _LiveScript(HTMLParser):
    """Collects what a browser would run: <script> elements, on* attributes, javascript: URLs, and the
    same inside an iframe's srcdoc."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        described = f"<{tag} " + " ".join(f"{k}={v!r}" for k, v in attrs) + ">"
        if tag == "script":
            self._script = [described]
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.found.append(f"{name} attribute: {described}")
            if name in URL_ATTRIBUTES and re.sub(r"[\x00-\x20]", "", value).lower().startswith("javascript:"):
                self.found.append(f"javascript: URL: {described}")
            if name == "srcdoc":
                self.found += [f"in srcdoc: {live}" for live in live_scripts(value)]

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.found.append("script: " + " ".join(self._script))
            self._script = None

    def close(self):
        super().close()
        if self._script is not None:
            self.found.append("script: " + " ".join(self._script))


def live_scripts(html_text: str) -> list[str]:
    parser = _LiveScript()
    parser.feed(html_text)
    parser.close()
    return parser.found


def live_in_notebook(nb) -> list[str]:
    """What would run where the notebook is shown as HTML (formgrader, nbviewer, nbconvert): markdown
    rendered, HTML and SVG outputs as they are, and every application/javascript output."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found += live_scripts(markdown2html_mistune(cell.source))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/javascript" in data:
                found.append(f"application/javascript output: {data['application/javascript']}")
            for mime in ("text/html", "image/svg+xml"):
                if isinstance(data.get(mime), str):
                    found += live_scripts(data[mime])
            if isinstance(data.get("text/markdown"), str):
                found += live_scripts(markdown2html_mistune(data["text/markdown"]))
    return found


def test_the_live_script_detector():
    assert live_scripts("<p>x</p><SCRIPT>alert(1)</SCRIPT>") == ["script: <script > alert(1)"]
    assert len(live_scripts('<img src=x OnError="y"><a href=" java\tscript:z">a</a>')) == 2
    assert live_scripts('<iframe srcdoc="&lt;script&gt;q&lt;/script&gt;"></iframe>') == ["in srcdoc: script: <script > q"]
    assert not live_scripts("<p>&lt;script&gt;alert(1)&lt;/script&gt; onerror=x javascript:y</p><a href='/x'>x</a>")


@pytest.fixture(scope="module")
def live(graded):
    """(what is live on the scripts student's page and not on the wrong notebook's, what is live in their
    autograded notebook)."""
    student = next(iter(SCRIPTS))
    page, template = feedback_page(graded, student), feedback_page(graded, "wrong")
    assert page and template
    baseline = set(live_scripts(template))
    on_page = [found for found in live_scripts(page) if found not in baseline]
    nb = autograded(graded, student)
    assert nb is not None, notebook_row(graded, student)
    print(f"\nlive on the page: {len(on_page)}, in the autograded notebook: {len(live_in_notebook(nb))}; the page's own "
          f"scripts: {len(baseline)}")
    return on_page, live_in_notebook(nb)


@pytest.mark.slow
@pytest.mark.parametrize("token", SCRIPT_TOKENS)
def test_no_live_script_reaches_the_instructor(live, token):
    on_page, in_notebook = live
    page = [found for found in on_page if token in found]
    notebook = [found for found in in_notebook if token in found]
    assert not page and not notebook, f"{token}: live on the feedback page {page}; in the autograded notebook {notebook}"


@pytest.mark.slow
def test_nothing_else_is_live_and_printed_text_never_was(live):
    on_page, in_notebook = live
    assert not [found for found in on_page + in_notebook if SCRIPT_CONTROL in found]
    unmarked = [found for found in on_page + in_notebook if not any(token in found for token in SCRIPT_TOKENS)]
    assert not unmarked, unmarked


# ---------------------------------------------------------------- 5. malformed values sent while probed

@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(MALFORMED))
def test_a_malformed_value_costs_only_the_parts_that_need_it(graded, student):
    row = notebook_row(graded, student)
    print(f"\n{student}: {row['status']} {row['score']} / {row['max_score']} {row['reason'][:200]}")
    assert row["status"] != "could not grade", row
    wrong, got = scores_of(graded, "wrong"), scores_of(graded, student)
    assert set(got) == set(wrong) and all(score is not None for score in got.values()), got
    for gid in wrong:
        if gid != MALFORMED_TEST:
            assert got[gid] == wrong[gid], (gid, got[gid], wrong[gid])
    assert got[MALFORMED_TEST] <= wrong[MALFORMED_TEST]
    nb = autograded(graded, student)
    assert not gains(graded, student)
    parts = verdict_parts(nb)[MALFORMED_TEST]
    messages = part_messages(nb, MALFORMED_TEST)
    lost = [name for name, earned in parts.items() if earned == 0]
    assert lost and all(messages.get(name, "").startswith("Exercise 4.1") for name in lost), messages
