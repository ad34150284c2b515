"""The mistakes catalogues on the Japanese edition: real nbgrader grades course/ja/ notebooks released
with `--lang ja`, and the feedback comes out in Japanese.

For each notebook, one submission makes the first catalogued mistake of every exercise at once (the
catalogues of tests/test_mistakes_NN.py, edits of the same code: the Japanese notebook's code is the
English one's), beside a perfect submission. The perfect one gets full marks; each mistake costs
points on its test; every message that says why (the visible check's, the grader-side verdict's) is
in Japanese and names the exercise as the glossary does (演習 N.M); the feedback page is in Japanese.

The same run holds the released Japanese notebook as handed in blank, and so proves of the Japanese
edition what `nbgrader validate` proves of the English one (tests/test_validate.py): no graded cell
of the answered notebook fails, every graded cell of the blank one does, and the released notebook's
locked cells match their checksums. (Until 2026-12-07 tests/test_validate.py ran `nbgrader validate`
on the Japanese masters as well: the same notebooks executed a second time.)
"""
import importlib
import re

import pytest
from harness import autograde, filled_student, load_student, page_text, secret_lines
from nbgrader.utils import compute_checksum, is_grade, is_locked

from vaecourse.masters import grade_id, master_paths
from vaecourse.nbg.config import config_text
from vaecourse.nbg.layout import notebook_path
from vaecourse.nbg.run import run_nbgrader, tool_env

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
NOTEBOOKS = [path.stem for path in master_paths()]


def first_mistake_of_each_exercise(catalogue) -> dict[str, str]:
    """solution cell -> the key of its first catalogued mistake."""
    first = {}
    for key, mistake in catalogue.mistakes.items():
        first.setdefault(mistake.cell, key)
    return first


def assert_validates_both_ways(released, perfect, blank) -> None:
    """What `nbgrader validate` and `validate --invert` check (nbgrader.validator.Validator), read from the
    grading of the answered (`perfect`) and the blank notebook: no graded code cell of the first has an
    error, every one of the second has; no locked cell of the released notebook differs from its checksum
    and no graded cell changed its type."""
    graded_cells = [grade_id(cell) for cell in released.cells if cell.cell_type == "code" and is_grade(cell)]
    assert graded_cells
    assert not {gid: perfect.errors[gid] for gid in graded_cells if gid in perfect.errors}, "graded cells fail"
    passing = [gid for gid in graded_cells if gid not in blank.errors]
    assert not passing, f"these tests pass on the blank Japanese notebook, so they test nothing: {passing}"
    assert blank.total() == 0, {gid: s.score for gid, s in blank.scores.items() if s.score}
    changed = [grade_id(cell) for cell in released.cells if is_locked(cell) and "checksum" in cell.metadata.nbgrader
               and compute_checksum(cell) != cell.metadata.nbgrader.checksum]
    assert not changed, f"the Japanese student version's locked cells differ from their checksums: {changed}"
    retyped = [grade_id(cell) for cell in released.cells if cell.metadata.get("nbgrader", {}).get("cell_type")
               not in (None, cell.cell_type)]
    assert not retyped, retyped


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_japanese_edition_catches_a_mistake_in_every_exercise_in_japanese(notebook, tmp_path, offline_data,
                                                                                 monkeypatch):
    catalogue = importlib.import_module(f"test_mistakes_{notebook[:2]}").CATALOGUE
    keys = list(first_mistake_of_each_exercise(catalogue).values())
    replace = {catalogue.mistakes[key].cell: catalogue.edited_source(key) for key in keys}
    submissions = {"perfect": filled_student(notebook, lang="ja"),
                   "mistakes": filled_student(notebook, replace, lang="ja"),
                   "blank": load_student(notebook, lang="ja")}
    monkeypatch.setenv("VAE_COURSE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "course").mkdir()
    graded, log = autograde(notebook, submissions, tmp_path / "course", offline_data, lang="ja")
    assert set(graded) == set(submissions), log[-3000:]

    perfect = graded["perfect"]
    assert perfect.total() == perfect.max_total() == catalogue.full_marks, (perfect.errors, perfect.parts)
    assert_validates_both_ways(load_student(notebook, lang="ja"), perfect, graded["blank"])

    mistakes = graded["mistakes"]
    number = int(notebook[:2])
    for key in keys:
        test = catalogue.mistakes[key].test
        assert test in mistakes.lost(), f"{key}: {test} lost nothing in Japanese: {mistakes.parts.get(test)}"
        said = "\n".join(filter(None, [mistakes.errors.get(test, ""), mistakes.verdict_messages(test)]))
        assert said and JAPANESE.search(said), f"{key}: no Japanese message for {test}:\n{said}"
        assert f"演習 {number}." in said and "Exercise" not in said, f"{key}: the exercise is not named in Japanese:\n{said}"

    # the feedback page of a Japanese submission: its words, its scores, the verdicts' reports
    env = tool_env({"VAE_COURSE_DATA": str(offline_data)})
    (tmp_path / "course" / "nbgrader_config.py").write_text(config_text(grading=True))  # the course's feedback pages
    done = run_nbgrader(["generate_feedback", notebook, "--force"], tmp_path / "course", env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    page = page_text(notebook_path(tmp_path / "course", "feedback", notebook, "mistakes").read_text())
    assert "得点" in page and "Score" not in page, page[:500]
    assert any(JAPANESE.search(line) for line in mistakes.verdict_messages(catalogue.mistakes[keys[0]].test).splitlines())
    # and, as in English, no line of the grader's probes (the hidden tests) is on it
    # (the notebook's own cell sources count as visible: a line the student can read there is no secret)
    student_text = " ".join("\n".join(cell.source for cell in submissions["mistakes"].cells).split())
    secret = secret_lines(notebook, student_text)
    assert len(secret) >= 3 and not sorted(line for line in secret if line in page)
