"""The Japanese edition: catalogs complete and faithful, notebooks equal to the English ones but for
their words, verdicts and pages in Japanese, no tofu. Fast: no kernel runs here (the slow proofs
are in test_validate, test_mistakes_ja, test_standalone and test_browser).
"""
import io
import re
import tokenize
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest
import torch

from vaecourse.masters import ROOT, grade_id, master_paths, student_notebook
from vaecourse.translation import localise, notebook_language, translator
from vaecourse.translation.catalogs import (
    LANGUAGES,
    LOCALES_DIR,
    Message,
    merged_catalog,
    notebook_messages,
    translations,
)
from vaecourse.translation.checks import catalog_problems, glossary, message_problems
from vaecourse.translation.literals import (
    blank_magics,
    is_message,
    message_literals,
    translate_source,
)
from vaecourse.translation.modules import translated

matplotlib.use("Agg")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
CATALOGS = sorted((LOCALES_DIR / "ja" / "LC_MESSAGES").glob("*.po"))
NAMES = [path.stem for path in master_paths()]


# ---------------------------------------------------------------- literals: what is a message, code kept

def test_messages_are_prose_and_settings_code_and_docstrings_are_not():
    source = '''
def f(x):
    """A docstring stays English."""
    fail(ex, "shape (3,)", f"{x:.2f} nats per image", "sum over the pixels, not over the batch")
    plt.legend(loc="center left")
    probe = """for b in (1, 7): emit(b)"""
    return F.binary_cross_entropy(x, x, reduction="none"), "cuda", "x_hat = 0.5"
'''
    assert [literal.msgid for literal in message_literals(source)] == [
        "shape (3,)", "{x:.2f} nats per image", "sum over the pixels, not over the batch"]
    assert not is_message("{a} {b}") and is_message("epoch {epoch + 1}: done")


def test_a_figures_one_word_labels_and_tick_labels_are_messages_and_its_keys_are_not():
    source = '''
ax.set_yticklabels(["original"] + [f"epoch {k}" for k in range(3)])
ax.set_xticklabels([f"{t:g}" for t in ticks])
ax.plot(x, history[f"{split} {term}"], "o-", label="path")
ax.set_title("digit")
'''
    assert [literal.msgid for literal in message_literals(source)] == [
        "original", "epoch {k}", "path", "digit"]


def test_a_translated_source_changes_only_its_literals_and_keeps_every_field():
    source = 'print(f"epoch {epoch + 1}: loss {loss:.1f}", "it said \\"hi\\"")\nx = 1  # a comment\n'
    messages = {"epoch {epoch + 1}: loss {loss:.1f}": "エポック {epoch + 1}: 損失 {loss:.1f}",
                'it said "hi"': "「hi」と言った"}
    out = translate_source(source, messages.get)
    assert out.endswith("\nx = 1  # a comment\n")
    scope = {"epoch": 2, "loss": 3.14159, "print": lambda *a: printed.extend(a)}
    printed = []
    exec(out, scope)  # noqa: S102 (a test's own source)
    assert printed == ["エポック 3: 損失 3.1", "「hi」と言った"]


def _code_shape(source: str) -> list[tuple[int, str]]:
    """The tokens of a cell, every run of string literals one placeholder: what translation must not change."""
    tokens, previous_string = [], False
    for token in tokenize.generate_tokens(io.StringIO(blank_magics(source)).readline):
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT):
            if token.type == tokenize.COMMENT:
                tokens.append((token.type, token.string))
            continue
        if token.type == tokenize.STRING:
            if not previous_string:
                tokens.append((token.type, "S"))
            previous_string = True
            continue
        previous_string = False
        tokens.append((token.type, token.string))
    return tokens


# ---------------------------------------------------------------- catalogs

@pytest.mark.parametrize("catalog", CATALOGS, ids=[path.stem for path in CATALOGS])
def test_every_message_is_translated_faithfully(catalog):
    """Coverage 100%, nothing fuzzy, fields, maths and code kept, glossary terms used (checks.py)."""
    problems = catalog_problems(catalog, "ja")
    assert not problems, f"{len(problems)} problems (python -m vaecourse.translation.checks):\n" + "\n".join(problems[:30])


def test_every_master_and_the_package_have_a_catalog():
    assert sorted(path.stem for path in CATALOGS) == sorted(NAMES + ["vaecourse"])


def test_the_glossary_fixes_the_course_terms():
    terms = dict(glossary("ja"))
    for english, japanese in {"evidence lower bound": "変分下界", "reparameterization trick": "再パラメータ化トリック",
                              "latent space": "潜在空間", "posterior": "事後分布",
                              "KL divergence": "KLダイバージェンス"}.items():
        assert japanese in terms[english]
    # and the check holds a translation to it: the term missing is named
    assert message_problems("the KL divergence of q", "q の KL 距離", glossary("ja")) == [
        "the glossary's KLダイバージェンス for 'KL divergence' is missing"]
    assert message_problems("the KL divergence of q", "q の KLダイバージェンス", glossary("ja")) == []
    # a cited title kept in English is not prose to translate; the same words outside it are
    cited = "Burda et al. (*Importance Weighted Autoencoders*) test an autoencoder"
    assert message_problems(cited, "Burda ら (*Importance Weighted Autoencoders*) はオートエンコーダを試す", glossary("ja")) == []
    assert message_problems(cited, "Burda ら (*Importance Weighted Autoencoders*) は AE を試す", glossary("ja")) != []


def test_a_translation_that_drops_a_field_or_changes_the_maths_is_caught():
    assert message_problems("got {x:.2f} nats", "{x} ナット", []) != []
    assert message_problems("where $z = \\mu$ holds", "$z = \\mu + 1$ が成り立つ", []) != []
    assert message_problems("## 2. Setup", "# 2. 準備", []) != []
    assert message_problems("where $z = \\mu$ holds, `code`", "`code` と $z = \\mu$ が成り立つ", []) == []


def test_a_changed_master_marks_its_message_fuzzy_and_the_english_is_not_used(tmp_path, monkeypatch):
    """Babel's update: the old translation is kept for the translator, flagged fuzzy, and never used."""
    nb = nbformat.read(ROOT / "solutions" / "04_elbo.ipynb", as_version=4)
    messages = notebook_messages(nb, "04_elbo")
    cell = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    changed = cell.source.replace("Kingma & Welling", "Kingma and Welling")
    old = messages.pop(cell.source)
    messages[changed] = Message(changed, old.locations, old.comments)
    catalog = merged_catalog("ja", "04_elbo", messages)
    message = catalog.get(changed)
    assert message is not None and message.fuzzy and JAPANESE.search(message.string)
    from vaecourse.translation.catalogs import catalog_text

    text = catalog_text(catalog)
    assert changed not in translations(text, "ja")
    path = tmp_path / "ja" / "LC_MESSAGES" / "04_elbo.po"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    monkeypatch.setattr("vaecourse.translation.checks.LOCALES_DIR", LOCALES_DIR)
    assert any("fuzzy" in problem for problem in catalog_problems(path, "ja"))


# ---------------------------------------------------------------- the Japanese notebooks

@pytest.mark.parametrize("name", NAMES)
def test_the_japanese_notebook_is_the_english_one_in_other_words(name):
    """Same cells, ids, graded cells and points, the same code token for token but for its string literals."""
    english = nbformat.read(student_notebook(name), as_version=4)
    japanese = nbformat.read(student_notebook(name, "ja"), as_version=4)
    assert notebook_language(japanese) == "ja" and notebook_language(english) == "en"
    assert [cell.get("id") for cell in japanese.cells] == [cell.get("id") for cell in english.cells]
    for en, ja in zip(english.cells, japanese.cells):
        assert en.cell_type == ja.cell_type
        without_checksum = [{k: v for k, v in cell.metadata.get("nbgrader", {}).items() if k != "checksum"}
                            for cell in (en, ja)]  # a locked cell's checksum covers its (translated) words
        assert without_checksum[0] == without_checksum[1], f"{name} {en.get('id')}: nbgrader metadata"
        if en.cell_type == "code" and not en.source.startswith("#@title"):
            assert _code_shape(ja.source) == _code_shape(en.source), f"{name} {en.get('id')}: the code changed"
    words = " ".join(cell.source for cell in japanese.cells if cell.cell_type == "markdown")
    assert len(JAPANESE.findall(words)) > 500, f"{name}: the Japanese notebook's text is not Japanese"
    graded = [grade_id(cell) for cell in japanese.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert graded == [grade_id(cell) for cell in english.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def test_the_japanese_helpers_say_their_language_and_check_in_japanese():
    nb = nbformat.read(student_notebook("04_elbo", "ja"), as_version=4)
    helpers = next(cell.source for cell in nb.cells if cell.source.startswith("#@title"))
    assert 'COURSE_LANGUAGE = "ja"' in helpers and JAPANESE.search(helpers.splitlines()[0])
    scope = {}
    exec(compile(helpers, "<helpers>", "exec"), scope)  # noqa: S102 (the course's own helpers)
    with pytest.raises(scope["CheckFailed"]) as failed:
        scope["fail"]("演習 4.1 reconstruction_loss", "(3,)", "()", "原因")
    assert JAPANESE.search(str(failed.value).split(":", 1)[1])


# ---------------------------------------------------------------- grader side

def test_the_grader_judges_a_japanese_submission_in_japanese():
    """The same verdicts (the same parts and points), their words in Japanese."""
    from vaecourse.verdicts import verdicts_for
    from vaecourse.verdicts.core import Outputs

    english = verdicts_for("04_elbo")["test_kl_divergence"]
    core = translated("vaecourse.verdicts.core", "ja")
    japanese = translated("vaecourse.verdicts", "ja").verdicts_for("04_elbo")["test_kl_divergence"]
    assert [part.points for part in japanese.parts] == [part.points for part in english.parts]
    assert JAPANESE.search(japanese.exercise) and JAPANESE.search(japanese.parts[0].name)
    inputs = japanese.inputs(np.random.default_rng(0))
    outputs = Outputs()
    for name in inputs:  # every value sent back as a single number: wrong everywhere
        if name.startswith("mu_"):
            key = "kl_" + name[3:]
            outputs.values[key] = torch.tensor(0.0)
            outputs.meta[key] = {"kind": "tensor", "dtype": "torch.float32", "shape": []}
    results = core.judge(japanese, inputs, outputs)
    assert core.score(results) < japanese.points
    report = core.report(japanese, results)
    assert report.startswith(localise(core.REPORT_TITLE, "ja")) or JAPANESE.search(report.splitlines()[0])
    lost = [line for line in report.splitlines() if line.lstrip().startswith("✗")]
    assert lost and all(JAPANESE.search(line) for line in lost), report


def test_the_feedback_words_are_translated():
    from vaecourse.nbg.feedbacklabels import total_text

    assert JAPANESE.search(total_text(3, 5, 2, "ja")) and total_text(3, 5, 0) == "Score: 3 / 5"
    assert localise("Your answer", "ja") != "Your answer"


def test_an_unknown_language_is_refused_with_the_list():
    with pytest.raises(ValueError, match="en, ja"):
        translator("xx")


# ---------------------------------------------------------------- fonts: no tofu

def test_matplotlib_finds_a_japanese_font_for_every_label():
    """Every translated string literal of the notebooks drawn as a title: no character without a glyph."""
    import matplotlib.pyplot as plt

    from vaecourse.plots import missing_glyphs, use_japanese_font

    assert use_japanese_font() is not None
    labels = sorted({msgstr for path in CATALOGS for msgid, msgstr in translations(path, "ja").items()
                     if "\n" not in msgstr and len(msgstr) < 80})
    assert len(labels) > 300
    fig, axes = plt.subplots(1, 1)
    for index, label in enumerate(labels):
        axes.text(0, index, label.replace("$", ""))
    assert missing_glyphs(fig) == {}
    plt.close(fig)
    fig, axes = plt.subplots()
    axes.set_title("\U0001FAE0")  # the melting face (Unicode 14): no font of the course has it
    assert missing_glyphs(fig), "missing_glyphs must see tofu when there is some"
    plt.close(fig)


def test_a_japanese_notebook_brings_its_font():
    """Colab has no Japanese font: the Japanese helpers make Matplotlib use one (matplotlib-fontja or installed)."""
    source = Path(ROOT / "vaecourse" / "plots.py").read_text()
    assert 'if COURSE_LANGUAGE == "ja":\n    use_japanese_font()' in source
    assert "matplotlib-fontja" in source


def test_every_language_has_its_catalogs_glossary_readme_and_notebooks():
    for lang in LANGUAGES:
        assert (LOCALES_DIR / lang / "glossary.md").is_file() and (ROOT / f"README.{lang}.md").is_file()
        assert sorted(path.stem for path in (ROOT / "course" / lang).glob("*.ipynb")) == NAMES


def test_without_matplotlib_fontja_an_installed_japanese_font_is_used():
    """Offline and without matplotlib-fontja (pip fails), Debian's fonts-noto-cjk is found: still no tofu."""
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("fc-list") is None or "Noto Sans CJK JP" not in subprocess.run(
            ["fc-list"], capture_output=True, text=True).stdout:
        if os.environ.get("VAE_COURSE_REQUIRE_CJK_FONT"):
            pytest.fail("fonts-noto-cjk was installed (.ci/run) but fc-list does not list Noto Sans CJK JP")
        pytest.skip("no Noto Sans CJK JP here (apt-get install fonts-noto-cjk)")
    code = """
import subprocess, sys
sys.modules["matplotlib_fontja"] = None  # import fails, as where it is not installed
_run = subprocess.run
def _offline(args, *rest, **kwargs):  # pip cannot install it; every other program runs (fc-list: Matplotlib)
    if "pip" in list(map(str, args)):
        return subprocess.CompletedProcess(args, 1, "", "offline")
    return _run(args, *rest, **kwargs)
subprocess.run = _offline
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
from vaecourse.plots import missing_glyphs, use_japanese_font
name = use_japanese_font()
fig, ax = plt.subplots(); ax.set_title("潜在空間の平均 μ"); ax.set_xlabel("エポック")
print(name, missing_glyphs(fig))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "{}" and "CJK" in done.stdout, done.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_has_the_same_verdicts_in_japanese(name):
    """Same grade ids, parts and points; the exercise named as the glossary says (演習 N.M)."""
    from vaecourse.verdicts import verdicts_for

    english = verdicts_for(name)
    japanese = translated("vaecourse.verdicts", "ja").verdicts_for(name)
    assert list(japanese) == list(english)
    for gid, verdict in japanese.items():
        assert [part.points for part in verdict.parts] == [part.points for part in english[gid].parts]
        assert verdict.exercise.startswith(f"演習 {int(name[:2])}."), verdict.exercise
        assert verdict.probe == english[gid].probe, "a probe is code: translation must not touch it"


def test_the_japanese_readme_lists_the_japanese_notebooks_and_only_commands_the_english_one_has():
    """README.ja.md is a short guide, not a twin of README.md: its table is generated, and each command it
    shows is one README.md documents (with --lang ja, course/ja/), so the two cannot drift apart."""
    readme = (ROOT / "README.ja.md").read_text()
    english = (ROOT / "README.md").read_text()
    for name in NAMES:
        assert f"](course/ja/{name}.ipynb)" in readme
        assert f"colab.research.google.com/github/vaecourse/conv-vae-course/blob/main/course/ja/{name}.ipynb" in readme
    commands = [line.split(" #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
                for line in block.splitlines() if line.strip()]
    assert commands
    for command in commands:
        plain = command.replace("course/ja/", "course/").replace(" --lang ja", "")
        assert plain in english, f"README.ja.md shows {command!r}; README.md does not document {plain!r}"


@pytest.mark.slow
def test_release_lang_ja_releases_the_committed_japanese_notebook(tmp_path, capsys):
    """`grade release --lang ja`: the students get course/ja/NN.ipynb, byte for byte, from the same gradebook."""
    from vaecourse import grade
    from vaecourse.masters import normalise
    from vaecourse.nbg.layout import notebook_path

    course = tmp_path / "course"
    assert grade.main(["--course", str(course), "release", "--lang", "ja", "01_mnist"]) == 0
    released = nbformat.read(notebook_path(course, "release", "01_mnist"), as_version=4)
    assert normalise(released) == student_notebook("01_mnist", "ja").read_text()
    out = capsys.readouterr()
    assert "course/ja/" in out.out and "differs" not in out.err
    assert notebook_language(nbformat.read(notebook_path(course, "source", "01_mnist"), as_version=4)) == "ja"
