"""Grader-side verdicts of 01_mnist (how they run: vaecourse/verdicts/core.py).

Labels and images are drawn per grading run; the references (counts, first images, means) are
computed here from the drawn inputs. The three exercises do not build on each other.
"""
import numpy as np
import torch

from vaecourse.checking import expect_close, expect_dtype, expect_equal, expect_shape, fail
from vaecourse.verdicts.core import Part, Verdict, likely_cause


# ---------------------------------------------------------------- 1.1 count_per_class

COUNT_CASES = ("missing_9", "all_digits", "one_label")


def count_inputs(rng):
    absent = rng.choice(9, size=2, replace=False)  # and 9: digits that never occur, 9 among them
    allowed = np.setdiff1d(np.arange(9), absent)
    return {
        "labels_missing_9": rng.choice(allowed, size=int(rng.integers(300, 700))).astype(np.int64),
        "labels_all_digits": rng.integers(0, 10, size=4_000).astype(np.int64),  # the size of the offline training set
        "labels_one_label": rng.integers(0, 10, size=1).astype(np.int64),
    }


COUNT_PROBE = f"""
for name in {COUNT_CASES!r}:
    with attempt(f"counts_{{name}}"):
        emit(f"counts_{{name}}", count_per_class(inputs[f"labels_{{name}}"].clone()))
"""


def _counts(case, name):
    return torch.bincount(case.inputs[f"labels_{name}"].long(), minlength=10)


def count_shape(case):
    for name in COUNT_CASES:
        got = case.tensor(f"counts_{name}", "return a tensor of counts (torch.bincount(labels, minlength=10))")
        cause = ("return one count per digit 0..9, also for digits that do not occur: "
                 "torch.bincount(labels, minlength=10)")
        if name == "missing_9":
            cause = "no label is 9 here, yet entry 9 (a 0) must exist: " + cause.split(": ", 1)[1]
        expect_shape(case.exercise, got, (10,), cause)


def count_dtype(case):
    for name in COUNT_CASES:
        expect_dtype(case.exercise, case.tensor(f"counts_{name}"), torch.int64,
                     "counts are whole numbers: return a LongTensor (int64), not floats")


def count_values(case):
    for name in COUNT_CASES:
        got = case.tensor(f"counts_{name}")
        expected = _counts(case, name)
        if got.shape != expected.shape:
            fail(case.exercise, "10 counts", f"shape {tuple(got.shape)}",
                 "return one count per digit 0..9 (torch.bincount(labels, minlength=10))")
        if got.is_floating_point() and not torch.isfinite(got).all():
            fail(case.exercise, "whole counts", "NaN or infinite values", "count the labels equal to each digit")
        expect_equal(case.exercise, got.double(), expected.double(),
                     f"{case.inputs[f'labels_{name}'].numel()} labels: entry d must be the number of labels equal to d")


COUNT = Verdict(
    "test_count_per_class", "Exercise 1.1 count_per_class", count_inputs, COUNT_PROBE, (
        Part("one count per digit 0..9, also when a digit (9) never occurs", 0.75, count_shape),
        Part("int64 counts", 0.5, count_dtype),
        Part("the counts of the grader's labels (one label, hundreds, thousands)", 0.75, count_values),
    ))


# ---------------------------------------------------------------- 1.2 first_image_per_digit

FIRST_CASES = ("list", "dataset")


def _labels_each_digit_twice(rng, size):
    """Labels where every digit occurs at least twice and the digits first occur out of order."""
    while True:
        labels = np.concatenate([np.arange(10), np.arange(10), rng.integers(0, 10, size - 20)])
        rng.shuffle(labels)
        firsts = [int(np.flatnonzero(labels == d)[0]) for d in range(10)]
        if firsts != sorted(firsts):
            return labels.astype(np.int64)


def first_inputs(rng):
    inputs = {}
    for name, size in zip(FIRST_CASES, (300, 40)):
        inputs[f"labels_{name}"] = _labels_each_digit_twice(rng, size)
        inputs[f"images_{name}"] = rng.random((size, 1, 28, 28)).astype(np.float32)
    return inputs


FIRST_PROBE = """
class _GraderDigits(torch.utils.data.Dataset):
    '''A dataset like MNIST: (image (1, 28, 28) float32, int label) by index.'''
    def __init__(self, images, labels):
        self.images, self.labels = images, labels
    def __len__(self):
        return len(self.labels)
    def __getitem__(self, index):
        if not -len(self.labels) <= index < len(self.labels):
            raise IndexError(index)
        return self.images[index], self.labels[index]

for name in ("list", "dataset"):
    images, labels = inputs[f"images_{name}"].float(), inputs[f"labels_{name}"].tolist()
    data = [(images[i], labels[i]) for i in range(len(labels))] if name == "list" else _GraderDigits(images, labels)
    with attempt(f"firsts_{name}"):
        emit(f"firsts_{name}", first_image_per_digit(data))
"""


def first_shape(case):
    for name in FIRST_CASES:
        got = case.tensor(f"firsts_{name}", "stack one image per digit: torch.stack([...]) over digits 0..9")
        expect_shape(case.exercise, got, (10, 1, 28, 28), "stack one (1, 28, 28) image per digit 0..9 "
                     "(keep the channel dimension; torch.stack over digits 0..9)")
        expect_dtype(case.exercise, got, torch.float32, "return the float images of the dataset (values in [0, 1]), not bytes")


def _rows_as_indices(case, name):
    """For each row of the answer: the index of the input image it is (-1: none), after checking the shape."""
    got = case.tensor(f"firsts_{name}").double()
    expect_shape(case.exercise, got, (10, 1, 28, 28), "stack one (1, 28, 28) image per digit 0..9")
    images = case.inputs[f"images_{name}"].double().reshape(-1, 784)
    got = got.reshape(10, 784)
    nearest = (got[:, None, :16] - images[None, :, :16]).abs().amax(dim=2).argmin(dim=1)  # by 16 random pixels
    return [int(i) if (got[d] - images[i]).abs().max() <= 1e-6 else -1 for d, i in enumerate(nearest)]


def first_order(case):
    for name in FIRST_CASES:
        labels = case.inputs[f"labels_{name}"].tolist()
        for d, i in enumerate(_rows_as_indices(case, name)):
            if i < 0:
                fail(case.exercise, f"row {d} to be an image of the dataset with label {d}", "an image not in the dataset",
                     "return the dataset's images as they are (no scaling, no copy of another row)")
            if labels[i] != d:
                fail(case.exercise, f"row {d} = an image with label {d}", f"image #{i} (label {labels[i]})",
                     "rows must be in digit order 0..9, not in the order digits were found: "
                     "torch.stack([found[d] for d in range(10)])")


def first_first(case):
    for name in FIRST_CASES:
        labels = case.inputs[f"labels_{name}"].tolist()
        for d, i in enumerate(_rows_as_indices(case, name)):
            if i < 0:
                fail(case.exercise, f"row {d} to be an image of the dataset", "an image not in the dataset",
                     "return the dataset's images as they are")
            first = labels.index(labels[i])
            if i != first:
                fail(case.exercise, f"row {d} = image #{labels.index(d)} (the first with label {d})",
                     f"image #{i} (label {labels[i]}, which first occurs at #{first})",
                     "take the FIRST image with that label (stop updating a digit once found)")


FIRST = Verdict(
    "test_first_image_per_digit", "Exercise 1.2 first_image_per_digit", first_inputs, FIRST_PROBE, (
        Part("shape (10, 1, 28, 28), float32, from a list and from a Dataset", 0.5, first_shape),
        Part("row d holds an image labelled d (digit order 0..9)", 0.75, first_order),
        Part("each row is the FIRST image with its label", 0.75, first_first),
    ))


# ---------------------------------------------------------------- 1.3 mean_image_per_digit

MEAN_CASES = ("balanced", "uneven")


def mean_inputs(rng):
    balanced = np.concatenate([np.arange(10), rng.integers(0, 10, 190)])
    uneven = np.concatenate([rng.permutation(10), np.full(30, rng.integers(10))])  # one digit 31 times, the rest once
    inputs = {}
    for name, labels in zip(MEAN_CASES, (balanced, uneven)):
        rng.shuffle(labels)
        inputs[f"labels_{name}"] = labels.astype(np.int64)
        inputs[f"images_{name}"] = rng.random((len(labels), 1, 28, 28)).astype(np.float32)
    return inputs


MEAN_PROBE = f"""
for name in {MEAN_CASES!r}:
    with attempt(f"means_{{name}}"):
        emit(f"means_{{name}}", mean_image_per_digit(inputs[f"images_{{name}}"].float(), inputs[f"labels_{{name}}"].clone()))
"""


def _means(case, name):
    images, labels = case.inputs[f"images_{name}"].double(), case.inputs[f"labels_{name}"]
    return torch.stack([images[labels == d].mean(dim=0) for d in range(10)])


def mean_shape(case):
    for name in MEAN_CASES:
        got = case.tensor(f"means_{name}", "stack the ten mean images into one tensor")
        expect_shape(case.exercise, got, (10, 1, 28, 28), "average over the images of each digit only (dim=0), "
                     "keeping (1, 28, 28), and stack the ten means")
        expect_dtype(case.exercise, got, torch.float32, "return float means")


def _mean_values(case, name):
    images, labels = case.inputs[f"images_{name}"].double(), case.inputs[f"labels_{name}"]
    got = case.tensor(f"means_{name}").double()
    expected = _means(case, name)
    expect_shape(case.exercise, got, (10, 1, 28, 28), "stack the ten means")
    counts = torch.bincount(labels, minlength=10).double().view(10, 1, 1, 1)
    likely = {
        "divide each digit's sum by its number of images (or use .mean(dim=0))": expected * counts,
        "row d must average only the images whose label is d (images[labels == d])":
            images.mean(dim=0, keepdim=True).expand(10, 1, 28, 28),
    }
    cause = likely_cause(likely, lambda value: not torch.allclose(got, expected, atol=1e-5)
                         and torch.allclose(got, value, atol=1e-4, rtol=1e-5))
    if cause is not None:
        fail(case.exercise, f"the mean image of each digit ({len(labels)} images)", "another value", cause)
    expect_close(case.exercise, got, expected, f"{len(labels)} images: row d must average only the images whose "
                 "label is d (their sum divided by how many there are)", atol=1e-6, rtol=1e-5)


def mean_values(case):
    _mean_values(case, "balanced")


def mean_uneven(case):
    _mean_values(case, "uneven")


MEAN = Verdict(
    "test_mean_image_per_digit", "Exercise 1.3 mean_image_per_digit", mean_inputs, MEAN_PROBE, (
        Part("shape (10, 1, 28, 28), float32", 0.5, mean_shape),
        Part("the per-digit means of the grader's 200 images", 1.0, mean_values),
        Part("digits seen once beside a digit seen 31 times", 0.5, mean_uneven),
    ))

VERDICTS = (COUNT, FIRST, MEAN)
