"""Similarity hints (vaecourse.grading.similarity): a renamed copy scores high, honest different
solutions (each master's solution and its catalogue's correct alternatives) score below the
threshold, and what the release gave (the stub) never flags."""
import importlib
import itertools

import nbformat
import pytest
from harness import load_master, load_student, solution_sources

from vaecourse.grading import similarity
from vaecourse.masters import grade_id, is_answer, master_paths
from vaecourse.nbg.layout import notebook_path

NOTEBOOKS = [path.stem for path in master_paths()]  # every notebook, a new one included

ORIGINAL = '''def kl_divergence(mu, logvar):
    """KL(q(z|x) || N(0, I)) per image."""
    # closed form, Kingma & Welling appendix B
    inside = 1 + logvar - mu.pow(2) - logvar.exp()
    total = -0.5 * torch.sum(inside, dim=1)
    assert total.shape == mu.shape[:1], "one value per image"
    return total
'''
RENAMED = '''def kl_divergence(mean, log_variance):
    # my own work!!
    stuff = 1 + log_variance - mean.pow(2) - log_variance.exp()   # the bracket

    result = -0.5 * torch.sum(stuff, dim=1)
    assert result.shape == mean.shape[:1], "one value per image"
    return result
'''


def stubs(notebook: str) -> dict[str, str]:
    return {grade_id(c): c.source for c in load_student(notebook).cells if c.cell_type == "code" and is_answer(c)}


def test_two_renamings_of_the_same_code_score_high():
    value = similarity.score(ORIGINAL, RENAMED)
    assert value is not None and value >= 0.95, value
    assert similarity.fingerprint(ORIGINAL) == similarity.fingerprint(RENAMED)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_honest_different_solutions_score_below_the_threshold(notebook):
    catalogue = importlib.import_module(f"test_mistakes_{notebook[:2]}")
    versions = [solution_sources(load_master(notebook))] + list(catalogue.CORRECT.values())
    given, compared = stubs(notebook), 0
    for first, second in itertools.combinations(versions, 2):
        for cell in set(first) & set(second):
            value = similarity.score(first[cell], second[cell], given.get(cell, ""))
            assert value is None or value < similarity.THRESHOLD, (notebook, cell, value)
            compared += value is not None
    assert compared, f"{notebook}: no pair long enough to compare"


def test_the_given_stub_alone_never_flags():
    for notebook in NOTEBOOKS:
        for cell, stub in stubs(notebook).items():
            assert similarity.score(stub, stub, stub) is None, (notebook, cell)
            # a student who adds one line to the stub is still trivially short
            assert similarity.score(stub + "\nx = 1\n", stub + "\ny = 2\n", stub) is None, (notebook, cell)


def write(course, kind, student, notebook, cells):
    nb = load_student(notebook)
    for cell in nb.cells:
        if grade_id(cell) in cells:
            cell.source = cells[grade_id(cell)]
    path = notebook_path(course, kind, notebook, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_similar_pairs_of_a_course_folder_name_the_pair_and_the_cell(tmp_path):
    notebook = "04_elbo"
    master = solution_sources(load_master(notebook))
    catalogue = importlib.import_module("test_mistakes_04")
    write(tmp_path, "release", None, notebook, {})
    write(tmp_path, "submitted", "alice", notebook, {"kl_divergence": ORIGINAL})
    write(tmp_path, "submitted", "bob", notebook, {"kl_divergence": RENAMED})
    write(tmp_path, "submitted", "carol", notebook, catalogue.CORRECT["hand_written_formulas"])
    write(tmp_path, "submitted", "dan", notebook, master)
    write(tmp_path, "submitted", "erin", notebook, {})  # the blank release: only stubs
    write(tmp_path, "submitted", "fred", notebook, {})
    pairs = similarity.similar_pairs(tmp_path, notebook, ["alice", "bob", "carol", "dan", "erin", "fred"])
    assert [(p.first, p.second, [c for c, _ in p.cells]) for p in pairs] == [("alice", "bob", ["kl_divergence"])]
    text = similarity.render(pairs)
    assert "04_elbo: alice and bob: kl_divergence 1.00" in text and "never a penalty" in text
