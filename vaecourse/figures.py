"""Reference figures ("what a correct run looks like"): which ones, when they are stale, and
the markdown cells that show them in the student notebooks.

`python -m vaecourse.reference_figures` (make figures) runs the masters in full mode and
writes figures/NAME.png and figures/manifest.json; `python -m vaecourse.build` puts each
PNG, as a cell attachment, in a markdown cell right after the cell that draws it in the
student notebook, and `--check` fails on a figure that is missing or stale.

A figure is stale when the code it depends on changed since it was made (`code_hash`):
every code cell of its master up to and including the cell that draws it, with the course
helpers inlined as the student notebook has them (so an edit of vaecourse/plots.py or of the
ConvVAE counts too), and for the figures of 06 also the code of 05 up to the cell that
trains and saves the model 06 loads. Test cells count: they run in the same kernel and may
draw random numbers or rebind names. Markdown does not count, nor do cells after the figure.

Each language has its own figures, drawn by its own edition of the masters (titles, axis labels
and legends translated): English in figures/, Japanese in figures/ja/ (`language_folder`). A
translated figure is stale when its code or the translation of a message in that code changed.
"""
import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaecourse.bundling import bundle_master
from vaecourse.links import github_url
from vaecourse.masters import FIGURES_DIR, MasterError
from vaecourse.translation import LANGUAGES, SOURCE_LANGUAGE, localise

MANIFEST_NAME = "manifest.json"
MAKE_COMMAND = "make figures"


@dataclass(frozen=True)
class Figure:
    file: str  # figures/<file>, also the attachment's name
    master: str  # the master notebook that draws it
    cell: str  # the id of the master's code cell that draws it
    draws: str  # text that cell must contain: a cell id reused for another cell is caught
    alt: str  # the image's alt text
    look_for: str  # what a student compares with their own picture


FIGURES = (
    Figure("01_mean_digits.png", "01_mnist", "cell-24", "mean_image_per_digit(images, labels)",
           "the mean training image of each digit",
           "Ten blurry but recognisable digits 0 to 9, light strokes on black, all on one grey scale."),
    Figure("01_pixel_histogram.png", "01_mnist", "cell-26", "ax.hist(pixels",
           "histogram of pixel intensities, log count axis",
           "A tall bar at 0, a low floor in between and a second peak at 1: the pixels are almost binary."),
    Figure("05_curves.png", "05_training", "cell-21", "fig_curves",
           "train and test curves of the negative ELBO, reconstruction and KL terms over 10 epochs",
           "The train curves fall every epoch; the test curves fall steeply at first, then flatten; the KL "
           "term stays small (a few nats). Here the test curves turn up again after epoch 6: the 60,000 "
           "training images were 4,000 distinct digits seen 15 times each, and the model began to learn "
           "them by heart (overfitting). Full MNIST has 60,000 distinct digits: expect less of that."),
    Figure("05_montage.png", "05_training", "cell-23", "fig_montage",
           "reconstructions and prior samples after each epoch",
           "Blurry reconstructions from the first epoch on, some of them another digit than the original "
           "(here the 4 comes back as a 9: two numbers cannot tell every digit apart); prior samples that "
           "start as speckled blobs and become digits."),
    Figure("06_scatter.png", "06_latent_space", "cell-07", "fig_scatter",
           "the means mu of the encoded test images, coloured by digit",
           "Coloured islands around the origin, within about 3 of it: some digits apart (here the 1s at the "
           "top, the 0s at the bottom right), others overlapping in the middle. Where each digit lands "
           "changes from run to run."),
    Figure("06_grid.png", "06_latent_space", "cell-12", "fig_grid",
           "decoded latent grid over [-3, 3] squared",
           "Digits in every tile, changing smoothly from tile to tile, each region showing the digit whose "
           "island lies there in the scatter (here 1s at the top right, 0s at the bottom right)."),
    Figure("06_prior.png", "06_latent_space", "cell-16", "fig_prior",
           "30 decoded samples of the prior",
           "Thirty blurry digits of many kinds, most of them easy to name, a few blends of two digits; "
           "not noise."),
)

# 06 draws its figures with the model that 05 trains and saves in this cell (06 loads it).
UPSTREAM = {"06_latent_space": ("05_training", "cell-17")}
TRAINING_MASTER = "05_training"  # its printed numbers are quoted in the captions of what its model draws


def cell_index(nb, name: str, cell_id: str, draws: str = "") -> int:
    """The index of the code cell with this id, which must contain `draws`."""
    for index, cell in enumerate(nb.cells):
        if cell.get("id") == cell_id and cell.cell_type == "code":
            if draws not in cell.source:
                raise MasterError(f"{name}: cell {cell_id} no longer contains {draws!r}; update FIGURES in "
                                  "vaecourse/figures.py to the id of the cell that draws it")
            return index
    raise MasterError(f"{name}: no code cell with id {cell_id}; update FIGURES or UPSTREAM in vaecourse/figures.py")


def dependencies(figure: Figure) -> list[tuple[str, str, str]]:
    """(master, cell id, text it must contain) of the last cell of each notebook the figure depends on."""
    upstream = UPSTREAM.get(figure.master)
    own = (figure.master, figure.cell, figure.draws)
    return [(*upstream, ""), own] if upstream else [own]


def language_folder(folder: Path, lang: str = SOURCE_LANGUAGE) -> Path:
    """Where one language's figures are: `folder` itself for English, `folder/<lang>` for a translation."""
    return folder if lang == SOURCE_LANGUAGE else folder / lang


def code_hash(figure: Figure, masters: dict, sources: dict[str, str] | None = None, lang: str = SOURCE_LANGUAGE) -> str:
    """sha256 of the code the figure depends on (the module docstring gives the rule).

    masters: the master notebooks by name; sources: the reference modules' text when they
    come from the same build (default: read from vaecourse/reference/); lang: the edition
    that draws it (its code with the messages translated, so a changed translation counts).
    """
    digest = hashlib.sha256()
    for name, cell_id, draws in dependencies(figure):
        if name not in masters:
            raise MasterError(f"{figure.file} depends on {name}, which has no master")
        bundled = bundle_master(masters[name], name, dict(sources or {}), lang)
        last = cell_index(bundled, name, cell_id, draws)
        for cell in bundled.cells[:last + 1]:
            if cell.cell_type == "code":
                digest.update(f"\n# {name} {cell.get('id')}\n{cell.source}".encode())
    return digest.hexdigest()


def png_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def figure_messages() -> tuple:
    """The reference figures' words, for the package's catalog (translation/catalogs.py `package_messages`):
    each figure's alt text and what to look for in it, and the manifest's description of the data the
    figures were made on; (msgid, (file, line), comment) each."""
    messages = [(msgid, ("vaecourse/figures.py", 1), f"reference figure {figure.file}")
                for figure in FIGURES for msgid in (figure.alt, figure.look_for)]
    if description := read_manifest().get("data", {}).get("description"):
        messages.append((description, ("figures/manifest.json", 1), "reference figures: the data they were made on"))
    return tuple(messages)


def read_manifest(folder: Path = FIGURES_DIR) -> dict:
    path = folder / MANIFEST_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def rerun_hint(folder: Path = FIGURES_DIR) -> str:
    """What to run, and for how long the last run's notebooks took, every edition together."""
    manifests = [read_manifest(language_folder(folder, lang)) for lang in (SOURCE_LANGUAGE, *LANGUAGES)]
    minutes = sum(manifest.get("minutes_total", 0) for manifest in manifests)
    device = next((manifest["device"] for manifest in manifests if "device" in manifest), "cpu").upper()
    took = (f"about {round(minutes)} minutes of notebooks on a {device}, every edition" if minutes
            else "minutes on a CPU")
    return (f"run `{MAKE_COMMAND}` ({took}; FIGURE_ARGS=\"--threads 1 --lang ja\" remakes one edition's) "
            "and commit figures/ and course/")


def repository_path(file: str, lang: str = SOURCE_LANGUAGE) -> str:
    """A file of one language's figures as messages and links name it: figures/ja/05_curves.png."""
    return "/".join((FIGURES_DIR.name, *(() if lang == SOURCE_LANGUAGE else (lang,)), file))


def figure_problems(masters: dict, sources: dict[str, str] | None = None, folder: Path = FIGURES_DIR,
                    lang: str = SOURCE_LANGUAGE) -> list[str]:
    """One line per missing or stale figure of one language, naming it and why; [] when all are fresh."""
    folder = language_folder(folder, lang)
    manifest = read_manifest(folder)
    entries = manifest.get("figures", {})
    listed_in = repository_path(MANIFEST_NAME, lang)
    problems = []
    for figure in FIGURES:
        path = folder / figure.file
        entry = entries.get(figure.file)
        if manifest.get("mode") != "full":
            why = f"missing from {listed_in}" if not manifest else "made in quick mode, not full mode"
        elif entry is None:
            why = f"missing from {listed_in}"
        elif not path.is_file():
            why = f"{path.name} is missing"
        elif png_hash(path.read_bytes()) != entry.get("png_sha256"):
            why = "the PNG differs from the one the manifest records (edited by hand?)"
        elif code_hash(figure, masters, sources, lang) != entry.get("code_hash"):
            why = f"the code of {figure.master} (or what it depends on) changed since the figure was made"
            if lang != SOURCE_LANGUAGE:
                why += ", or the translation of a message in it"
        else:
            continue
        problems.append(f"{repository_path(figure.file, lang)} ({figure.master}, cell {figure.cell}): {why}")
    return problems


def caption(figure: Figure, manifest: dict, lang: str = SOURCE_LANGUAGE) -> str:
    """Where the reference figure comes from, in plain words, with the numbers measured on that run."""
    data, numbers = manifest["data"], manifest.get("numbers", {})
    made = localise("Made by `{command}` from this notebook's master, run top to bottom in full mode on a "
                    "{device} (torch {torch}, {date}), {data}.", lang).format(
        command=MAKE_COMMAND, device=manifest["device"].upper(), torch=manifest["torch"], date=manifest["date"][:10],
        data=localise(data["description"], lang))
    upstream = UPSTREAM.get(figure.master, ("",))[0]
    if upstream:
        made += localise(" The model is the one notebook {number} trained in the same run.", lang).format(
            number=upstream[:2])
    if TRAINING_MASTER in (figure.master, upstream) and numbers:
        made += localise(" After {epochs} epochs its test negative ELBO was {test:.1f} nats per image "
                         "(train {train:.1f}).", lang).format(
            epochs=numbers["epochs"], test=numbers["test_nelbo"], train=numbers["train_nelbo"])
    return made


def reference_cell(figure: Figure, manifest: dict, png: bytes, lang: str = SOURCE_LANGUAGE) -> "nbformat.NotebookNode":
    """The markdown cell that shows the figure, the PNG attached to the cell (no path to resolve)."""
    # Attached, the picture shows in JupyterLab and in Colab opened from the badge, where a
    # relative path to figures/ resolves to nothing. GitHub's notebook preview has been
    # reported not to show attachments (jupyter/notebook#4853), hence the link to the file.
    source = localise("**What a correct run looks like.** {look_for} Yours will differ in detail "
                      "(other random numbers, other data), not in kind.\n\n"
                      "![{alt}](attachment:{file})\n\n"
                      "*{caption}* (No picture above? Some viewers do not show pictures "
                      "attached to a cell: [the figure in the repository]({url}).)", lang).format(
        look_for=localise(figure.look_for, lang), alt=localise(figure.alt, lang), file=figure.file,
        caption=caption(figure, manifest, lang), url=github_url(repository_path(figure.file, lang)))
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = "reference-" + figure.file.removesuffix(".png").replace("_", "-")  # fixed: rebuilds are identical
    cell.attachments = {figure.file: {"image/png": base64.b64encode(png).decode("ascii")}}
    return cell


def with_reference_figures(student, name: str, folder: Path = FIGURES_DIR, lang: str = SOURCE_LANGUAGE) -> list[str]:
    """Insert, after each figure's cell of this student notebook, the cell that shows it (its language's figure).

    Figures whose PNG is missing, and all figures of a quick-mode run, are left out; their
    names are returned (figure_problems says why). Figures whose code changed are still
    shown: --check is what fails on them.
    """
    folder = language_folder(folder, lang)
    manifest = read_manifest(folder)
    left_out = []
    for figure in reversed([f for f in FIGURES if f.master == name]):
        path = folder / figure.file
        if manifest.get("mode") != "full" or figure.file not in manifest["figures"] or not path.is_file():
            left_out.append(figure.file)
            continue
        index = cell_index(student, name, figure.cell, figure.draws)
        student.cells.insert(index + 1, reference_cell(figure, manifest, path.read_bytes(), lang))
    return left_out
