"""The course on a CUDA machine, as a Colab student meets it: every notebook, first run and re-run.

    python benchmarks/gpu_check.py                       # every notebook, full mode, on the machine's GPU
    python benchmarks/gpu_check.py --notebooks 05_training 06_latent_space
    python benchmarks/gpu_check.py --quick --allow-cpu   # the machinery itself, on a CPU (CI does this)

Steps, in order, each printed as it happens:
  1. first run   every student notebook (course/NN_name.ipynb) with its solution cells filled in from
                 the master, in full mode (VAE_COURSE_QUICK unset), in an empty folder, with a fresh
                 checkpoint folder;
  2. re-run      the same notebooks again with the checkpoints of the first run present (what students
                 do most: 05 then loads its model and snapshots instead of training);
  3. literal     the "literal student": every exercise whose text mentions a device answered with the
                 notebook's global `device` instead of the model's (LITERAL below), checkpoints present;
  4. train speed `benchmarks/train_speed.py --device cuda` (skipped with --quick or --skip-train-speed).
Then one table: notebook, first-run s, re-run s, literal s, errors, the test negative ELBO 05 reports.
Exit status 1 on any error, 0 otherwise.

Needs, beyond torch, torchvision, numpy, matplotlib and tqdm: nbformat, nbclient, ipykernel (and what
they pull in: jupyter_client, jupyter_core, ipython, traitlets, pyzmq, tornado, ...) and ipywidgets
(06 builds sliders). Nothing is downloaded: MNIST must be in --data (default $VAE_COURSE_DATA or data/);
on a machine without a network run `make offline-data` here and carry `data/` (5,000 real digits).
A machine with no network and no Jupyter (the lent GPU machines: Python 3.12, torch 2.11) takes them as
wheels, downloaded here into the ignored folder .whl/ with
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl $(cat benchmarks/gpu_check_wheels.txt)
and installed there with
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site

This is a check for a maintainer with a GPU, not a CI test: CI has no GPU. tests/test_devices.py
catches the device bugs that can be read off the code on a CPU, and tests/test_gpu_check.py runs this
script on a CPU in quick mode so that the machinery itself stays working.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from harness import filled_student  # noqa: E402  (one home for "a student notebook, solutions filled in")

NOTEBOOKS = sorted(path.stem for path in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))

# The literal student: the model-running exercises answered with the notebook's global `device`
# (cuda on a GPU runtime) where the masters use the model's own device. (notebook, grade_id, old, new)
LITERAL = [
    ("05_training", "train_one_epoch", "    device = next(model.parameters()).device\n", ""),
    ("05_training", "evaluate", "    device = next(model.parameters()).device\n", ""),
    ("06_latent_space", "encode_dataset", "    device = next(model.parameters()).device\n", ""),
    ("08_likelihoods_and_bounds", "iwae_bound", "device=mu.device", "device=device"),
    ("10_evaluating_samples", "sample_class_histogram", "    device = next(classifier.parameters()).device\n", ""),
]
ELBO_LINE = re.compile(r"negative ELBO = ([0-9.]+) nats per image")


def literal_edit(name: str):
    """The edit function for filled_student that makes `name`'s literal-student variant."""
    edits = [(gid, old, new) for nb, gid, old, new in LITERAL if nb == name]

    def edit(grade_id, source):
        for gid, old, new in edits:
            if gid == grade_id:
                if old not in source:
                    raise AssertionError(f"literal variant of {name}:{gid}: {old!r} is not in the master's solution")
                source = source.replace(old, new)
        return source

    return edit if edits else None


def run_notebook(nb, folder: Path, env: dict, timeout: int) -> tuple[float, list[str], str]:
    """Execute nb in folder with env; (seconds, error lines, all text output)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    old_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    errors = []
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(folder)}}).execute()
    except CellExecutionError as error:
        errors.append(str(error).strip().splitlines()[-1][:300])
    except Exception as error:  # a dead kernel, a timeout: report it, go on with the next notebook
        errors.append(f"{type(error).__name__}: {str(error).strip()[:300]}")
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    seconds = time.perf_counter() - start
    text = "\n".join(output.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []) if output.get("output_type") == "stream")
    return seconds, errors, text


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=NOTEBOOKS, choices=NOTEBOOKS, metavar="NAME",
                        help="which notebooks (default: every notebook of course/)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("VAE_COURSE_DATA", ROOT / "data")),
                        help="folder holding MNIST/raw (default: $VAE_COURSE_DATA, else data/)")
    parser.add_argument("--quick", action="store_true", help="quick mode (VAE_COURSE_QUICK=1): checks the machinery")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (the check is then no GPU check)")
    parser.add_argument("--skip-train-speed", action="store_true", help="leave out step 4")
    parser.add_argument("--cell-timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    parser.add_argument("--json", type=Path, default=None, help="also write the table to this file")
    return parser.parse_args(argv)


def run_steps(args) -> dict:
    """Steps 1 to 3: every notebook first run, re-run and (where it has one) literal; the table's rows."""
    rows = {name: {"notebook": name, "errors": []} for name in args.notebooks}
    with tempfile.TemporaryDirectory(prefix="vaecourse-gpu-check-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("VAE_COURSE_QUICK", "NBGRADER_EXECUTION")}
        env.update(VAE_COURSE_DATA=str(args.data.resolve()), VAE_COURSE_CHECKPOINTS=str(Path(tmp, "checkpoints")))
        if args.quick:
            env["VAE_COURSE_QUICK"] = "1"
        for step, make_edit in [("first run", None), ("re-run", None), ("literal", literal_edit)]:
            for name in args.notebooks:
                edit = make_edit(name) if make_edit else None
                if step == "literal" and edit is None:
                    continue  # no exercise of this notebook mentions a device
                folder = Path(tmp, "runs", step.replace(" ", "-"), name)
                folder.mkdir(parents=True)
                nb = filled_student(name, edit=edit)
                seconds, errors, text = run_notebook(nb, folder, env, args.cell_timeout)
                nbformat.write(nb, folder / f"{name}.ipynb")
                rows[name][step] = round(seconds, 1)
                rows[name]["errors"] += [f"{step}: {e}" for e in errors]
                if elbo := ELBO_LINE.findall(text):
                    rows[name].setdefault("test -ELBO", {})[step] = float(elbo[-1])
                print(f"{step:9s} {name:32s} {seconds:7.1f} s  {'ok' if not errors else errors[0]}", flush=True)
    return rows


def train_speed(args, rows: dict, device: str) -> None:
    """Step 4: benchmarks/train_speed.py on the device; its exit status joins the table's errors."""
    print(f"\ntrain speed (benchmarks/train_speed.py --device {device}):", flush=True)
    speed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--device", device,
                            "--data", str(args.data)])
    if speed.returncode:
        rows.setdefault("train_speed", {"notebook": "train_speed.py", "errors": []})["errors"].append(
            f"exit status {speed.returncode}")


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("no CUDA device: this check is for a GPU machine (--allow-cpu runs it anyway)", file=sys.stderr)
        return 2
    if not (args.data / "MNIST" / "raw").is_dir():
        print(f"no MNIST in {args.data}: run `make offline-data` (or set VAE_COURSE_DATA) first", file=sys.stderr)
        return 2
    where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"torch {torch.__version__} on {where}, Python {sys.version.split()[0]}, "
          f"{'quick' if args.quick else 'full'} mode, data {args.data}")
    rows = run_steps(args)
    if not (args.quick or args.skip_train_speed):
        train_speed(args, rows, "cuda" if torch.cuda.is_available() else "cpu")
    print(table(rows.values()))
    if args.json:
        args.json.write_text(json.dumps(list(rows.values()), indent=1))
    failed = [row["notebook"] for row in rows.values() if row["errors"]]
    print(f"\n{len(failed)} of {len(rows)} with errors" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def table(rows) -> str:
    lines = [f"\n{'notebook':32s} {'first s':>8s} {'re-run s':>9s} {'literal s':>10s} {'errors':>6s}  test -ELBO"]
    for row in rows:
        elbo = row.get("test -ELBO", {})
        lines.append(f"{row['notebook']:32s} {_s(row.get('first run')):>8s} {_s(row.get('re-run')):>9s} "
                     f"{_s(row.get('literal')):>10s} {len(row['errors']):6d}  "
                     f"{' / '.join(f'{v:.1f}' for v in elbo.values()) or '-'}")
        lines += [f"    {error}" for error in row["errors"]]
    return "\n".join(lines)


def _s(value) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
