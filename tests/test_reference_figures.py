"""Reference figures (issue 16): made from the masters, shown in the student notebooks, stale when their code changes.

The staleness tests compare hashes: they run no notebook. One slow smoke test runs the
figures step itself in quick mode on the offline set.
"""
import base64
import copy
import io
import json
import re

import nbformat
import pytest

from vaecourse import figures
from vaecourse.data import OFFLINE_MARKER, mnist_tensors, raw_dir
from vaecourse.figures import FIGURES, code_hash, figure_problems, language_folder, png_hash, with_reference_figures
from vaecourse.masters import FIGURES_DIR, ROOT, normalise, read_master, student_notebook
from vaecourse.translation import LANGUAGES, SOURCE_LANGUAGE, translator

MASTER_NAMES = ("01_mnist", "05_training", "06_latent_space")


def masters() -> dict:
    return {name: read_master(name) for name in MASTER_NAMES}


def real_png(shade: int = 40) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (28, 28), shade).save(out, format="PNG")
    return out.getvalue()


def fresh_folder(tmp_path, nbs: dict, lang: str = SOURCE_LANGUAGE) -> "Path":  # noqa: F821
    """A figures folder whose manifest (of `lang`'s edition) matches the masters `nbs` as they are now."""
    folder = language_folder(tmp_path, lang)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for figure in FIGURES:
        png = real_png()
        (folder / figure.file).write_bytes(png)
        entries[figure.file] = {"master": figure.master, "cell": figure.cell, "code_hash": code_hash(figure, nbs, lang=lang),
                                "png_sha256": png_hash(png), "bytes": len(png)}
    manifest = {"mode": "full", "date": "2026-12-01T00:00Z", "device": "cpu", "torch": "2.14.1", "minutes_total": 12.0,
                "data": {"description": "on test digits"}, "figures": entries, "language": lang,
                "numbers": {"epochs": 10, "test_nelbo": 167.04, "train_nelbo": 147.4}}
    (folder / figures.MANIFEST_NAME).write_text(json.dumps(manifest))
    return tmp_path


def cell(nb, cell_id: str):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def stale_names(problems: list[str]) -> set[str]:
    return {re.match(r"figures/(\S+)", line).group(1) for line in problems}


def test_a_changed_translation_of_a_label_makes_only_that_languages_figure_stale(tmp_path, monkeypatch):
    """The Japanese figures are drawn by the Japanese code: its translated title changing is a change of code."""
    nbs = masters()
    folder = fresh_folder(fresh_folder(tmp_path, nbs), nbs, "ja")
    assert figure_problems(nbs, folder=folder, lang="ja") == [] == figure_problems(nbs, folder=folder)
    title = "Reconstructions and samples after each epoch"  # the montage's title in 05, cell-23
    assert translator("ja").lookup(title), "the montage's title is in the Japanese catalog"
    monkeypatch.setitem(translator("ja").messages, title, "各エポック後の再構成とサンプル (改訂)")
    problems = figure_problems(nbs, folder=folder, lang="ja")
    assert stale_names(problems) == {"ja/05_montage.png"}, problems
    assert "the translation of a message" in problems[0]
    assert figure_problems(nbs, folder=folder) == [], "the English figures do not depend on the Japanese words"


def test_a_fresh_manifest_reports_nothing(tmp_path):
    nbs = masters()
    assert figure_problems(nbs, folder=fresh_folder(tmp_path, nbs)) == []


def test_editing_the_cell_that_draws_a_figure_makes_it_and_later_ones_stale(tmp_path):
    nbs = masters()
    folder = fresh_folder(tmp_path, nbs)
    cell(nbs["05_training"], "cell-21").source += "\nax.set_yscale('log')"  # the cell of fig_curves
    problems = figure_problems(nbs, folder=folder)
    # the montage is drawn after the curves in the same kernel; 06 depends on 05 only up to training
    assert stale_names(problems) == {"05_curves.png", "05_montage.png"}, problems
    assert all("make figures" not in line for line in problems)  # the command is in the build's header
    assert "the code of 05_training" in problems[0] and "cell-21" in problems[0]


def test_editing_the_training_in_05_makes_the_figures_of_06_stale(tmp_path):
    nbs = masters()
    folder = fresh_folder(tmp_path, nbs)
    cell(nbs["05_training"], "cell-17").source = cell(nbs["05_training"], "cell-17").source.replace("lr=1e-3", "lr=3e-3")
    assert stale_names(figure_problems(nbs, folder=folder)) == {
        "05_curves.png", "05_montage.png", "06_scatter.png", "06_grid.png", "06_prior.png"}


def test_editing_a_course_helper_module_makes_the_figures_that_inline_it_stale(tmp_path):
    nbs = masters()
    folder = fresh_folder(tmp_path, nbs)
    sources = {"vaecourse.plots": (ROOT / "vaecourse" / "plots.py").read_text() + "\nDEFAULT_CMAP = 'viridis'\n"}
    assert stale_names(figure_problems(nbs, sources, folder=folder)) == {figure.file for figure in FIGURES}


def test_markdown_edits_and_cells_after_the_figure_leave_it_fresh(tmp_path):
    nbs = masters()
    folder = fresh_folder(tmp_path, nbs)
    for nb in nbs.values():
        for c in nb.cells:
            if c.cell_type == "markdown":
                c.source += "\n\nAn instructor's clearer wording."
    cell(nbs["06_latent_space"], "cell-20").source += "\n# the interpolation comes after every 06 figure"
    assert figure_problems(nbs, folder=folder) == []


def test_missing_edited_or_quick_mode_figures_fail(tmp_path):
    nbs = masters()
    folder = fresh_folder(tmp_path, nbs)
    (folder / "06_grid.png").unlink()
    (folder / "01_mean_digits.png").write_bytes(real_png(shade=200))
    problems = figure_problems(nbs, folder=folder)
    assert stale_names(problems) == {"06_grid.png", "01_mean_digits.png"}
    assert "06_grid.png is missing" in " ".join(problems) and "edited by hand" in " ".join(problems)
    manifest = json.loads((folder / figures.MANIFEST_NAME).read_text())
    (folder / figures.MANIFEST_NAME).write_text(json.dumps({**manifest, "mode": "quick"}))
    assert len(figure_problems(nbs, folder=folder)) == len(FIGURES)
    assert "quick mode" in figure_problems(nbs, folder=folder)[0]
    (folder / figures.MANIFEST_NAME).unlink()
    assert len(figure_problems(nbs, folder=folder)) == len(FIGURES)


def test_a_cell_id_reused_for_another_cell_is_caught():
    nbs = masters()
    cell(nbs["05_training"], "cell-21").source = "print('the curves moved elsewhere')"
    with pytest.raises(figures.MasterError, match="no longer contains 'fig_curves'"):
        code_hash(next(f for f in FIGURES if f.file == "05_curves.png"), nbs)


def test_the_cell_showing_a_figure_follows_its_cell_and_the_result_is_deterministic(tmp_path):
    folder = fresh_folder(tmp_path, masters())
    student = nbformat.read(ROOT / "course" / "05_training.ipynb", as_version=4)
    student.cells = [c for c in student.cells if not c.get("id", "").startswith("reference-")]  # as nbgrader left it
    first, second = copy.deepcopy(student), copy.deepcopy(student)
    assert with_reference_figures(first, "05_training", folder) == []
    with_reference_figures(second, "05_training", folder)
    assert normalise(first) == normalise(second), "two builds must give the same notebook"
    ids = [c.get("id") for c in first.cells]
    for figure_cell, shown in (("cell-21", "reference-05-curves"), ("cell-23", "reference-05-montage")):
        assert ids[ids.index(figure_cell) + 1] == shown
    shown = cell(first, "reference-05-curves")
    assert shown.cell_type == "markdown" and "nbgrader" not in shown.metadata  # not graded, not locked
    assert "![" in shown.source and "(attachment:05_curves.png)" in shown.source
    assert base64.b64decode(shown.attachments["05_curves.png"]["image/png"]) == real_png()
    assert "167.0" in shown.source and "147.4" in shown.source


def test_quick_mode_figures_are_never_shown(tmp_path):
    folder = fresh_folder(tmp_path, masters())
    manifest = json.loads((folder / figures.MANIFEST_NAME).read_text())
    (folder / figures.MANIFEST_NAME).write_text(json.dumps({**manifest, "mode": "quick"}))
    student = nbformat.read(ROOT / "course" / "06_latent_space.ipynb", as_version=4)
    student.cells = [c for c in student.cells if not c.get("id", "").startswith("reference-")]
    assert sorted(with_reference_figures(student, "06_latent_space", folder)) == [
        "06_grid.png", "06_prior.png", "06_scatter.png"]
    assert not any(c.get("attachments") for c in student.cells)


@pytest.mark.parametrize("lang", (SOURCE_LANGUAGE, *LANGUAGES))
def test_committed_figures_are_fresh_and_shown_in_the_student_notebooks(lang):
    """The committed figures of each edition match its code, and its student notebooks show exactly them
    (no notebook run, no nbgrader)."""
    problems = figure_problems(masters(), lang=lang)
    folder = language_folder(FIGURES_DIR, lang)
    assert not problems, "\n".join(problems) + f"\n{figures.rerun_hint()}"
    manifest = figures.read_manifest(folder)
    for figure in FIGURES:
        student = nbformat.read(student_notebook(figure.master, lang), as_version=4)
        shown = [c for c in student.cells if figure.file in c.get("attachments", {})]
        assert len(shown) == 1, f"{figure.master} must show {figure.file} once"
        png = base64.b64decode(shown[0].attachments[figure.file]["image/png"])
        assert png == (folder / figure.file).read_bytes(), f"{figure.file}: {lang} shows an older or another language's picture"
        assert len(png) < 80_000, f"{figure.file} is {len(png):,} bytes: keep the student notebooks small"
    assert manifest["mode"] == "full" and manifest["data"]["train_images"] == 60_000
    assert manifest.get("language", SOURCE_LANGUAGE) == lang


def test_the_offline_digits_are_tiled_to_full_mnist_size(offline_data, tmp_path):
    from vaecourse.reference_figures import prepare_data

    folder, data = prepare_data(offline_data, tmp_path / "tiled")
    x, y = mnist_tensors(train=True, root=folder)
    x_offline, y_offline = mnist_tensors(train=True, root=offline_data)
    assert x.shape == (60_000, 1, 28, 28) and data["train_images"] == 60_000 and data["distinct_train_images"] == 4_000
    assert x[4_000:8_000].equal(x_offline) and y[56_000:].equal(y_offline), "each block of 4,000 is the offline set"
    x_test, _ = mnist_tensors(train=False, root=folder)
    assert x_test.equal(mnist_tensors(train=False, root=offline_data)[0]) and data["test_images"] == 1_000
    assert not (raw_dir(folder) / OFFLINE_MARKER).exists(), "the tiled set is not the 4,000-image offline set"
    assert "4,000 real training digits" in data["description"] and "60,000" in data["description"]


@pytest.mark.slow
def test_the_figures_step_runs_the_masters_in_quick_mode(offline_data, tmp_path):
    """The step end to end in quick mode: every figure's PNG, small, and a manifest the build would refuse."""
    from vaecourse.reference_figures import make_figures

    nbs = masters()
    manifests = make_figures(offline_data, tmp_path / "work", tmp_path / "out", quick=True, threads=1)
    assert set(manifests) == {SOURCE_LANGUAGE, *LANGUAGES}
    for lang, manifest in manifests.items():
        out = language_folder(tmp_path / "out", lang)
        assert set(manifest["figures"]) == {figure.file for figure in FIGURES}
        for figure in FIGURES:
            png = (out / figure.file).read_bytes()
            assert png.startswith(b"\x89PNG") and manifest["figures"][figure.file]["png_sha256"] == png_hash(png)
            assert manifest["figures"][figure.file]["code_hash"] == code_hash(figure, nbs, lang=lang)
        assert manifest["numbers"]["epochs"] == 1 and manifest["data"]["train_images"] == 60_000
        assert "quick mode" in figure_problems(nbs, folder=tmp_path / "out", lang=lang)[0]
    # each edition drew its own words: the montage's title differs, and so do its pictures
    montage = "05_montage.png"
    assert (tmp_path / "out" / montage).read_bytes() != (tmp_path / "out" / "ja" / montage).read_bytes()
    # on one machine the two runs are the same computation: the same numbers
    assert manifests["ja"]["numbers"] == manifests[SOURCE_LANGUAGE]["numbers"]


def test_the_rerun_hint_counts_the_notebook_minutes_of_every_edition(tmp_path):
    for lang, minutes in ((SOURCE_LANGUAGE, 2.2), (LANGUAGES[0], 3.1)):
        folder = language_folder(tmp_path, lang)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / figures.MANIFEST_NAME).write_text(json.dumps({"minutes_total": minutes, "device": "cpu"}))
    hint = figures.rerun_hint(tmp_path)
    assert "about 5 minutes of notebooks on a CPU, every edition" in hint and "--lang ja" in hint, hint
