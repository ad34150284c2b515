"""Make the reference figures: the masters' pictures from a full-mode run, for the student notebooks.

    python -m vaecourse.reference_figures [--data DIR] [--workdir DIR] [--threads N] [--lang ja]   (make figures)
    python -m vaecourse.reference_figures --quick --out DIR                 (a smoke run)

1. The data. A student trains on full MNIST (60,000 images). When the data folder holds it,
   it is used as it is. When it holds the offline set (4,000 training digits; its marker
   file says so), the training digits are tiled to 60,000 images, full MNIST's number of
   steps per epoch: on the 4,000 alone, 10 epochs are 320 steps and the prior samples decode
   to noise (measured on a GPU, issue 16), which is not what the course produces. The 1,000 test digits stay as they are.
   The tiled set is written without the marker: the notebooks would print that they run on
   the 4,000-image offline set.
2. The masters of FIGURES (vaecourse.figures) run top to bottom with nbclient, helpers
   inlined as in the student notebooks, solutions in, full mode, one fresh checkpoint folder:
   05 trains and saves, 06 loads what 05 saved. A last cell prints the numbers to quote.
3. The PNG output of each figure's cell is re-encoded small (a palette PNG, `small_png`).
4. figures/NAME.png and figures/manifest.json are written: per figure its master, cell, the
   hash of the code it depends on and of the PNG; the data, the numbers, torch, device, date.
5. Steps 2 to 4 again for each translated edition, from its own masters (labels translated),
   into figures/<lang>/ with its own manifest: a Japanese notebook shows Japanese labels. A run
   of its own rather than relabelled pictures, so each picture is what that notebook draws;
   on one machine the runs are deterministic, and the numbers agree (the script says so).
   A figure whose text the font cannot draw (tofu boxes) stops the run.
Then `make build` puts them in course/ and course/<lang>/ (the Makefile's `figures` target does both).
"""
import argparse
import io
import json
import math
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import numpy as np

from vaecourse.data import IDX_FILES, is_offline_subset, raw_dir, read_idx
from vaecourse.figures import FIGURES, MANIFEST_NAME, cell_index, code_hash, language_folder, png_hash, read_manifest
from vaecourse.masters import FIGURES_DIR, read_master
from vaecourse.notebook_run import course_env, error_outputs, printed_json, run_notebook
from vaecourse.offline_mnist import idx_bytes
from vaecourse.runtime import DATA_DIR
from vaecourse.translation import LANGUAGES, SOURCE_LANGUAGE

FULL_MNIST_TRAIN = 60_000
MARKER = "REFERENCE-FIGURES-JSON:"
# The last cell of each run: where it ran, and in 05 the numbers the captions quote.
PROBE = r'''
import json as _json, torch as _torch
_out = {"device": str(device), "torch": _torch.__version__, "threads": _torch.get_num_threads()}
if "test_nelbo" in globals():
    _out.update(test_nelbo=test_nelbo, epochs=len(history["test total"]), latent_dim=latent_dim,
                train_images=len(x_train), test_images=len(x_test), history=history)
print("REFERENCE-FIGURES-JSON:" + _json.dumps(_out))
'''
BYTE_BUDGET = 64_000  # per PNG: the montage of 05 is the only one that has to shrink for it
GREY_TOLERANCE = 8  # largest difference between the R, G and B of one pixel in a grey picture
MISSING_GLYPH = "missing from font"  # Matplotlib's warning when a character would be drawn as a box


# ---------------------------------------------------------------- 1. the data

def tiled_data(source: Path, folder: Path, size: int = FULL_MNIST_TRAIN) -> dict:
    """Write the training digits of source repeated to `size` images, and its test digits, under folder.

    Returns what the captions say about the data.
    """
    source_raw, target_raw = raw_dir(source), raw_dir(folder)
    target_raw.mkdir(parents=True, exist_ok=True)
    images = read_idx(source_raw / "train-images-idx3-ubyte").numpy()  # (N, 28, 28) uint8
    labels = read_idx(source_raw / "train-labels-idx1-ubyte").numpy()  # (N,)
    repeats = math.ceil(size / len(images))
    for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        tiled = np.concatenate([array] * repeats)[:size]  # the whole set again and again, in order
        (target_raw / name).write_bytes(idx_bytes(tiled, IDX_FILES[name][0]))
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copyfile(source_raw / name, target_raw / name)
    test_images = len(read_idx(target_raw / "t10k-labels-idx1-ubyte"))
    return {"kind": "offline set tiled", "train_images": size, "distinct_train_images": len(images),
            "test_images": test_images,
            "description": (f"on the {len(images):,} real training digits of the offline set repeated to {size:,} "
                            f"images (full MNIST could not be downloaded where the figures were made; the repeats "
                            f"give full MNIST's number of training steps, not its variety), tested on "
                            f"{test_images:,} real test digits")}


def prepare_data(source: Path, folder: Path) -> tuple[Path, dict]:
    """The data folder the notebooks run on and its description (step 1 of the module docstring)."""
    if is_offline_subset(source):
        return folder, tiled_data(source, folder)
    train = len(read_idx(raw_dir(source) / "train-labels-idx1-ubyte"))
    test = len(read_idx(raw_dir(source) / "t10k-labels-idx1-ubyte"))
    return source, {"kind": "MNIST", "train_images": train, "distinct_train_images": train, "test_images": test,
                    "description": f"on MNIST ({train:,} training and {test:,} test images)"}


# ---------------------------------------------------------------- 2. the runs

def glyph_warnings(nb) -> list[str]:
    """Matplotlib's warnings of characters its font could not draw, in any output of the notebook."""
    return [line.strip() for cell in nb.cells for output in cell.get("outputs", [])
            for line in str(output.get("text", "")).splitlines() if MISSING_GLYPH in line]


def run_master(master, name: str, env: dict, workdir: Path,
               lang: str = SOURCE_LANGUAGE) -> tuple["nbformat.NotebookNode", dict, float]:
    """The master with its helpers inlined, in `lang`, executed (probe cell last); its probe, its seconds."""
    from vaecourse.bundling import bundle_master

    nb = bundle_master(master, name, {}, lang)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    print(f"running {name} ({lang}) ...", flush=True)
    seconds = run_notebook(nb, env, workdir, timeout=None, allow_errors=True)
    nbformat.write(nb, workdir / f"{name}.executed.ipynb")  # kept with --workdir, for a look at every output
    errors = error_outputs(nb)
    if errors:
        raise RuntimeError(f"{name} failed (executed copy in {workdir}):\n  " + "\n  ".join(errors))
    tofu = glyph_warnings(nb)
    if tofu:
        raise RuntimeError(f"{name} ({lang}) drew characters its font lacks (boxes in the figures); install a "
                           f"font for them (README: the Japanese edition):\n  " + "\n  ".join(tofu[:5]))
    probe = printed_json(nb.cells[-1], MARKER)
    print(f"  {name}: {seconds / 60:.1f} minutes on {probe.get('device')}", flush=True)
    return nb, probe, seconds


def figure_png(nb, figure) -> bytes:
    """The PNG the figure's cell displayed (exactly one)."""
    import base64

    cell = nb.cells[cell_index(nb, figure.master, figure.cell, figure.draws)]
    pngs = [o.data["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    if len(pngs) != 1:
        raise RuntimeError(f"{figure.master} cell {figure.cell} displayed {len(pngs)} PNG images, expected 1")
    return base64.b64decode(pngs[0])


def small_png(png: bytes, budget: int = BYTE_BUDGET) -> bytes:
    """The same picture as a palette PNG, shrunk in steps of 10 % (to 60 % at most) until it fits budget.

    Grey pictures (digits, the histogram) keep 16 grey levels, 4 bits a pixel; coloured ones
    (curves, the scatter) keep 64 colours, or digits of different colours would share one.
    A figure costs its size again in every student notebook that shows it (as base64, a third more).
    """
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    channels = np.asarray(image, dtype=np.int16)  # (H, W, 3)
    grey = int((channels.max(axis=2) - channels.min(axis=2)).max()) <= GREY_TOLERANCE
    colours = 16 if grey else 64
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
        size = (round(image.width * scale), round(image.height * scale))
        shrunk = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
        palette = shrunk.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True, bits=4 if colours <= 16 else 8)
        if len(out.getvalue()) <= budget:
            break
    return out.getvalue()


# ---------------------------------------------------------------- 3. the manifest

def quoted_numbers(probe: dict) -> dict:
    history = probe["history"]
    return {"epochs": probe["epochs"], "latent_dim": probe["latent_dim"], "test_nelbo": probe["test_nelbo"],
            "train_nelbo": history["train total"][-1],
            "test_nelbo_by_epoch": [round(v, 2) for v in history["test total"]],
            "train_nelbo_by_epoch": [round(v, 2) for v in history["train total"]]}


def make_figures(source: Path, workdir: Path, out: Path, quick: bool = False, threads: int | None = None,
                 languages: tuple[str, ...] = (SOURCE_LANGUAGE, *LANGUAGES)) -> dict:
    """Steps 1 to 5 of the module docstring; the manifests by language (English's is out/manifest.json).

    threads: CPU threads of torch in the kernels (default: torch's own choice). On a CPU
    shared with other jobs, 1 is faster: two threads waiting for each other's turn on two
    busy cores spin for most of their time.
    """
    data_dir, data = prepare_data(source, workdir / "data")
    masters = {name: read_master(name) for name in dict.fromkeys(f.master for f in FIGURES)}
    masters.setdefault("05_training", read_master("05_training"))  # 06 loads what 05 trains
    manifests = {}
    for lang in languages:
        manifests[lang] = make_language_figures(masters, data_dir, data, workdir / lang, language_folder(out, lang),
                                                lang, quick, threads)
    english = manifests.get(SOURCE_LANGUAGE) or read_manifest(out)  # made now, or before (--lang ja)
    for lang, manifest in manifests.items():
        same = manifest["numbers"] == english.get("numbers")
        print(f"  {lang}: test negative ELBO {manifest['numbers']['test_nelbo']:.2f}" + (
            "" if lang == SOURCE_LANGUAGE else " (the same numbers as the English run)" if same
            else " (NOT the numbers of the English run: another machine or torch? remake both)"))
    return manifests


def make_language_figures(masters: dict, data_dir: Path, data: dict, workdir: Path, out: Path, lang: str,
                          quick: bool, threads: int | None) -> dict:
    """Steps 2 to 4 for one edition: its runs, its PNGs and out/manifest.json."""
    env = course_env(data=data_dir, checkpoints=workdir / "checkpoints", quick=quick)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)  # torch reads them when imported
    workdir.mkdir(parents=True, exist_ok=True)
    hashes = {figure.file: code_hash(figure, masters, lang=lang) for figure in FIGURES}  # of the code that runs
    runs, seconds, probes = {}, {}, {}
    for name in sorted(masters):  # 01, 05, 06: 05 before 06
        runs[name], probes[name], seconds[name] = run_master(masters[name], name, env, workdir, lang)
    out.mkdir(parents=True, exist_ok=True)
    entries = {}
    for figure in FIGURES:
        png = small_png(figure_png(runs[figure.master], figure))
        (out / figure.file).write_bytes(png)
        entries[figure.file] = {"master": figure.master, "cell": figure.cell, "code_hash": hashes[figure.file],
                                "png_sha256": png_hash(png), "bytes": len(png)}
        print(f"  wrote {out / figure.file} ({len(png) / 1024:.0f} KiB)")
    manifest = {
        "made_by": "python -m vaecourse.reference_figures (make figures)",
        "language": lang,
        "mode": "quick" if quick else "full",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "device": probes["05_training"]["device"], "torch": probes["05_training"]["torch"],
        "torch_threads": probes["05_training"]["threads"],
        "minutes": {name: round(s / 60, 1) for name, s in seconds.items()},
        "minutes_total": round(sum(seconds.values()) / 60, 1),
        "data": data, "numbers": quoted_numbers(probes["05_training"]), "figures": entries,
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder holding MNIST/raw (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the data, checkpoints and executed notebooks here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=FIGURES_DIR, help="where the PNGs and manifest go (default: figures/)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads in the kernels (default: torch's choice; 1 on a busy shared CPU)")
    parser.add_argument("--lang", action="append", choices=(SOURCE_LANGUAGE, *LANGUAGES), default=None,
                        help="only this edition's figures (repeatable; default: every edition), e.g. after a "
                             "translation of a label changed: --lang ja")
    parser.add_argument("--quick", action="store_true",
                        help="quick mode: checks the machinery in minutes; the build refuses its figures")
    args = parser.parse_args(argv)
    if args.quick and args.out.resolve() == FIGURES_DIR:
        parser.error("--quick needs --out elsewhere than figures/: quick-mode pictures are not reference figures")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vaecourse-figures-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        manifests = make_figures(args.data, workdir, args.out, quick=args.quick, threads=args.threads,
                                 languages=tuple(args.lang or (SOURCE_LANGUAGE, *LANGUAGES)))
    written = ", ".join(f"{len(m['figures'])} in {language_folder(args.out, lang)}" for lang, m in manifests.items())
    print(f"Wrote the figures ({written}) in {(time.perf_counter() - start) / 60:.0f} minutes. "
          "Now `make build` puts them in course/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
