"""Where the course runs: device, quick mode, seeds and the data folder, decided in one place.

Every notebook starts from here, so a change of policy (a new environment variable,
another default folder) is made once. The build copies this module into each student
notebook, which is why it imports nothing from the course package.
"""
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

# Environment variables a user may set (named in the README).
QUICK_ENV = "VAE_COURSE_QUICK"  # "1": a small subset and one short epoch
DATA_ENV = "VAE_COURSE_DATA"  # where MNIST lives (default: data/ beside the course)
CHECKPOINT_ENV = "VAE_COURSE_CHECKPOINTS"  # where trained models go (default: checkpoints/ beside the data)
SEED = 0
# The language of the notebook's messages and figures: "en", or "ja" in course/ja/ (the build sets it there).
COURSE_LANGUAGE = "en"


def in_colab() -> bool:
    """True inside Google Colab (its kernel sets COLAB_RELEASE_TAG and ships google.colab)."""
    return "COLAB_RELEASE_TAG" in os.environ or "google.colab" in sys.modules


def is_quick_mode() -> bool:
    """Quick mode while nbgrader executes a notebook, or when VAE_COURSE_QUICK is set."""
    if os.environ.get("NBGRADER_EXECUTION"):  # "autograde" or "validate"
        return True
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def find_course_root(start: Path) -> Path | None:
    """The folder holding both course/ and solutions/, searching upwards from start."""
    for folder in [start, *start.parents]:
        if (folder / "course").is_dir() and (folder / "solutions").is_dir():
            return folder
    return None


def default_data_dir() -> Path:
    """$VAE_COURSE_DATA, else /content/data on Colab, else data/ beside the course."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if in_colab():
        return Path("/content/data")
    root = find_course_root(Path.cwd().resolve())
    return (root if root is not None else Path.cwd()) / "data"


def default_checkpoint_dir(data_dir: Path | None = None) -> Path:
    """$VAE_COURSE_CHECKPOINTS, else checkpoints/ beside the data folder (gitignored).

    Beside DATA_DIR, so that /content/data on Colab gives /content/checkpoints and
    data/ beside the course gives checkpoints/ there.
    """
    if os.environ.get(CHECKPOINT_ENV):
        return Path(os.environ[CHECKPOINT_ENV]).expanduser()
    return Path(data_dir or default_data_dir()).parent / "checkpoints"


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and PyTorch so that a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def limit_cpu_threads(quick: bool, device: torch.device) -> None:
    """One CPU thread per kernel in quick mode.

    Quick mode is grading and CI, where several kernels share a few cores: their threads
    fight for them and each kernel runs several times slower. On tensors this small one
    thread loses almost nothing on its own. Full mode keeps torch's default.
    """
    if quick and device.type == "cpu":
        torch.set_num_threads(1)


def describe_runtime(device: torch.device, quick: bool) -> str:
    """One paragraph for the student: where this runs and what that means."""
    where = "Google Colab" if in_colab() else "a local or Binder Jupyter kernel"
    if device.type == "cuda":
        hardware = f"GPU ({torch.cuda.get_device_name(0)})"
    elif device.type == "mps":
        hardware = "Apple GPU (MPS)"
    else:
        hardware = "CPU"
    lines = [f"Running on {where}, {hardware}, torch {torch.__version__}."]
    if in_colab() and device.type == "cpu":
        lines.append(
            "Tip: this Colab runtime has no GPU. Training is much faster on one: "
            "Runtime > Change runtime type > T4 GPU, then run the notebook again."
        )
    if quick:
        lines.append(
            "Quick mode is on (a small subset, one short epoch): grading, CI, "
            f"or {QUICK_ENV}=1. Numbers will be rougher than in full mode."
        )
    return "\n".join(lines)


QUICK = is_quick_mode()
device = pick_device()
DATA_DIR = default_data_dir()
CHECKPOINT_DIR = default_checkpoint_dir(DATA_DIR)
limit_cpu_threads(QUICK, device)
