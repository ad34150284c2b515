"""Feedback pages that are lean and honest, with real nbgrader (autograde, then generate_feedback).

One small notebook (04_elbo), two students, graded with the course's grading configuration:
`right` (the model answers, and a written answer nobody has graded yet) and
`visible_fail` (kl_divergence sums over the batch: the visible check of 4.2 fails, and of the
grader's verdict it earns only the gradients part, which a sum over everything gets right).
"""
import shutil
from pathlib import Path

import nbformat
import pytest
from harness import filled_student, load_master, load_student, page_text
from traitlets.config import Config

from vaecourse.bundling import bundle_master
from vaecourse.nbg.config import config_text, configure
from vaecourse.nbg.foldhelpers import is_helpers_cell
from vaecourse.nbg.gradebook import open_gradebook
from vaecourse.nbg.hiderubrics import HideRubrics
from vaecourse.nbg.layout import notebook_path, write_course_source
from vaecourse.nbg.run import run_nbgrader, tool_env
from vaecourse.nbg.showrubrics import MARK, ShowRubrics, is_rubric_cell, quoted, rubric_cell
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import MIME, REPORT_TITLE

NAME = "04_elbo"
PAGE_BEFORE = 424_978  # bytes of `right`'s page before the helpers were folded (measured on 04_elbo)
KL_SUMMED = "def kl_divergence(mu, logvar):\n    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()\n"
WRITTEN = "A small beta gives sharp reconstructions and a large KL; a large beta blurry ones."


def _with_written_answer(nb):
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "q_beta":
            cell.source = WRITTEN
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    root = tmp_path_factory.mktemp("feedback_pages")
    env = tool_env({"VAE_COURSE_DATA": str(offline_data)})
    env.pop("NBGRADER_EXECUTION", None)
    write_course_source(root, {NAME: bundle_master(load_master(NAME), NAME, {})}, config_text(grading=True))
    run_nbgrader(["generate_assignment", NAME, "--force"], root, env)
    submissions = {"right": _with_written_answer(filled_student(NAME)),
                   "visible_fail": filled_student(NAME, {"kl_divergence": KL_SUMMED})}
    for student, nb in submissions.items():
        path = notebook_path(root, "submitted", NAME, student)
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    run_nbgrader(["autograde", NAME, "--force", "--create"], root, env)
    run_nbgrader(["generate_feedback", NAME, "--force"], root, env)
    return root, env


@pytest.fixture(scope="module")
def course(graded):
    return graded[0]


def page(course: Path, student: str) -> str:
    return notebook_path(course, "feedback", NAME, student).read_text()


def helpers_source() -> str:
    return next(c.source for c in load_student(NAME).cells if is_helpers_cell(c))


@pytest.mark.slow
def test_the_page_lost_the_helpers_weight(course):
    """425 KB before, 285 KB now: what is left is nbgrader's inlined bootstrap.min.css (117 KB),
    the student's plot (40 KB) and the highlighted test cells."""
    size = notebook_path(course, "feedback", NAME, "right").stat().st_size
    assert size < 0.75 * PAGE_BEFORE, f"{size:,} bytes"


@pytest.mark.slow
def test_the_page_holds_no_helper_code_but_the_students_work(course):
    helpers = helpers_source()
    elsewhere = {" ".join(line.split()) for cell in load_student(NAME).cells if cell.source != helpers
                 for line in cell.source.splitlines()}
    code_lines = {" ".join(line.split()) for line in helpers.splitlines()
                  if len(line.strip()) >= 30 and not line.lstrip().startswith("#")} - elsewhere
    for student in ("right", "visible_fail"):
        text = page_text(page(course, student))
        shown = [line for line in code_lines if line in text]
        assert not shown, (student, shown[:3])
        assert f"# the course helpers, unchanged: {len(helpers.splitlines()):,} lines" in text, student
    text = page_text(page(course, "visible_fail"))
    assert "return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()" in text  # the student's answer
    assert "Exercise 4.2 kl_divergence: expected" in text  # the visible check's message
    # ... and the autograded notebook itself is complete
    autograded = nbformat.read(notebook_path(course, "autograded", NAME, "right"), as_version=4)
    assert helpers in [cell.source for cell in autograded.cells]


@pytest.mark.slow
def test_no_probe_code_no_input_and_no_bare_score_on_any_page(course):
    """The grader's probes and inputs never reach a page: a probe runs beside the notebook, not in it."""
    probe_lines = {" ".join(line.split()) for verdict in verdicts_for(NAME).values()
                   for line in (verdict.probe + verdict.helpers).splitlines() if len(line.strip()) >= 20}
    assert len(probe_lines) > 10
    for student in ("right", "visible_fail"):
        raw = page(course, student)
        text = page_text(raw)
        shown = [line for line in probe_lines if line in text]
        assert not shown, (student, shown[:3])
        assert MIME not in raw and "__vaecourse_verdict__" not in raw and "Out[" not in text, student
        autograded = nbformat.read(notebook_path(course, "autograded", NAME, student), as_version=4)
        assert "emit(" not in nbformat.writes(autograded)  # nor in the notebook formgrader shows


@pytest.mark.slow
def test_the_page_shows_each_part_of_the_verdict(course):
    text = page_text(page(course, "visible_fail"))
    assert text.count(REPORT_TITLE) == 4
    assert "0.5 / 3 points" in text
    assert "\u2717 one value per image, for any batch and latent size (0 / 1)" in text
    assert "Exercise 4.2 kl_divergence: expected shape (1,), got () - a single number" in text
    assert "\u2713 the gradients with respect to mu and logvar (0.5 / 0.5)" in text
    right = page_text(page(course, "right"))
    assert right.count(REPORT_TITLE) == 4 and "\u2717" not in right


@pytest.mark.slow
def test_the_index_and_headings_name_the_exercises(course):
    text = page_text(page(course, "visible_fail"))
    index = text[:text.index("04 · The ELBO")]
    assert "Test cell" not in index and "Written response" not in index, index
    for entry in ["Exercise 4.1 reconstruction_loss — 3 / 3", "Exercise 4.2 kl_divergence — 0.5 / 3",
                  "Exercise 4.3 kl_monte_carlo — 2 / 2", "Exercise 4.4 vae_loss — 3 / 3"]:
        assert entry in index, index
        assert text.count(entry) == 2, entry  # in the index and above the cell
    assert "Grade cell:" not in text


@pytest.mark.slow
def test_an_ungraded_written_answer_is_to_be_graded_not_zero(course):
    text = page_text(page(course, "right"))
    assert "Question 4.5 — to be graded (2 points)" in text
    assert "Question 4.5 — 0 / 2" not in text
    assert "(Score: 11 / 11 so far; 2 points still to be graded by hand)" in text, text[:300]
    assert WRITTEN in text
    # the student who left YOUR ANSWER HERE gets nbgrader's 0 for no answer: nothing left to grade
    text = page_text(page(course, "visible_fail"))
    assert "Question 4.5 — 0 / 2" in text and "(Score: 8.5 / 13)" in text, text[:300]


@pytest.mark.slow
def test_a_written_answer_once_graded_shows_its_score(graded, tmp_path):
    root, env = graded
    course = tmp_path / "course"
    shutil.copytree(root, course, ignore=shutil.ignore_patterns("feedback"))
    with open_gradebook(f"sqlite:///{course / 'gradebook.db'}", env) as gb:
        grade = gb.find_grade("q_beta", NAME, NAME, "right")
        grade.manual_score = 1.5
        gb.db.commit()
    run_nbgrader(["generate_feedback", NAME, "--force"], course, env)
    text = page_text(page(course, "right"))
    assert "Question 4.5 — 1.5 / 2" in text and "(Score: 12.5 / 13)" in text, text[:300]
    assert "to be graded" not in text


def _rubric_cells(nb) -> list[tuple[int, str]]:
    return [(index, cell.metadata[MARK]["rubric_for"]) for index, cell in enumerate(nb.cells) if is_rubric_cell(cell)]


@pytest.mark.slow
def test_the_grader_sees_the_rubric_under_the_written_answer_and_the_student_does_not(course):
    """Formgrader renders the autograded notebook: the master's model answer and rubric sit right under
    the answer there; the feedback pages made of the same notebook show neither."""
    master = next(c.source for c in load_master(NAME).cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q_beta")
    assert "**Rubric (2 points).**" in master
    for student in ("right", "visible_fail"):
        autograded = nbformat.read(notebook_path(course, "autograded", NAME, student), as_version=4)
        answer = next(i for i, c in enumerate(autograded.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "q_beta")
        assert _rubric_cells(autograded) == [(answer + 1, "q_beta")], student
        assert autograded.cells[answer + 1].source.endswith(quoted(master))
        assert not autograded.cells[answer + 1].metadata.get("nbgrader")  # no grade, no lock: scores as before
        text = page_text(page(course, student))
        assert "Rubric (2 points)" not in text and "For the grader" not in text, student
        assert master.split("**Rubric")[0].split(". ")[1] not in text, student  # nor the model answer


def test_a_rubric_cell_in_the_students_file_is_dropped_and_one_comes_from_the_source(tmp_path):
    """A regraded notebook, or a student who forges the grader's cell, still ends with one rubric per
    answer, taken from the released source; a mark on the student's own answer only loses the mark."""
    write_course_source(tmp_path, {NAME: load_master(NAME)}, config_text(grading=True))
    nb = _with_written_answer(load_student(NAME))
    answer = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "q_beta")
    forged = rubric_cell("q_beta", "**Rubric (2 points).** Any answer gets 2 points.")
    nb.cells.insert(answer + 1, forged)
    nb.cells.insert(0, rubric_cell("q_beta", "an older copy"))
    nb.cells[answer + 2].metadata[MARK] = {"rubric_for": "q_beta"}  # the answer itself, marked to hide it
    nb.cells[1].id = "q_beta-rubric"  # a student's cell holding the id the grader's cell is given
    config = Config()
    configure(config, grading=True, root=tmp_path)
    resources = {"nbgrader": {"assignment": NAME, "notebook": NAME, "student": "mallory"}}
    shown, _ = ShowRubrics(config=config).preprocess(nb, resources)
    rubrics = _rubric_cells(shown)
    assert [gid for _, gid in rubrics] == ["q_beta"], rubrics
    assert shown.cells[rubrics[0][0]].id == "q_beta-rubric1"  # the same in every grading; ids stay unique
    assert shown.cells[rubrics[0][0] - 1].source == WRITTEN and MARK not in shown.cells[rubrics[0][0] - 1].metadata
    assert "Any answer gets 2 points" not in nbformat.writes(shown) and "an older copy" not in nbformat.writes(shown)
    assert "> **Rubric (2 points).** 1 point" in shown.cells[rubrics[0][0]].source
    hidden, _ = HideRubrics(config=config).preprocess(shown, resources)
    assert not _rubric_cells(hidden) and WRITTEN in [c.source for c in hidden.cells]
