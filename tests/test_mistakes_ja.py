"""The mistakes catalogues on the Japanese edition: real nbgrader grades course/ja/ notebooks released
with `--lang ja`, and the feedback comes out in Japanese.

For each notebook, one submission makes the first catalogued mistake of every exercise at once (the
catalogues of tests/test_mistakes_NN.py, edits of the same code: the Japanese notebook's code is the
English one's), beside a perfect submission. The perfect one gets full marks; each mistake costs
points on its test; every message that says why (the visible check's, the grader-side verdict's) is
in Japanese and names the exercise as the glossary does (演習 N.M); the feedback page is in Japanese.
"""
import importlib
import re

import pytest
from harness import autograde, filled_student, page_text, secret_lines

from vaecourse.masters import master_paths
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


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_japanese_edition_catches_a_mistake_in_every_exercise_in_japanese(notebook, tmp_path, offline_data,
                                                                                 monkeypatch):
    catalogue = importlib.import_module(f"test_mistakes_{notebook[:2]}").CATALOGUE
    keys = list(first_mistake_of_each_exercise(catalogue).values())
    replace = {catalogue.mistakes[key].cell: catalogue.edited_source(key) for key in keys}
    submissions = {"perfect": filled_student(notebook, lang="ja"),
                   "mistakes": filled_student(notebook, replace, lang="ja")}
    monkeypatch.setenv("VAE_COURSE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "course").mkdir()
    graded, log = autograde(notebook, submissions, tmp_path / "course", offline_data, lang="ja")
    assert set(graded) == set(submissions), log[-3000:]

    perfect = graded["perfect"]
    assert perfect.total() == perfect.max_total() == catalogue.full_marks, (perfect.errors, perfect.parts)

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
