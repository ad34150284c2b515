"""Grader-side verdicts of 10_evaluating_samples (how they run: vaecourse/verdicts/core.py).

Inputs are drawn per grading run; the references are computed here: the Frechet distance in float64
with matrix square roots from eigh, and the class fractions from the argmax of a test classifier whose
logit for digit k is pixel k of an image's first row (defined in the probe's helpers, out of the
notebook's reach).
"""
import math

import numpy as np
import torch

from vaecourse.checking import expect_close, expect_shape, fail
from vaecourse.verdicts.core import PartFailed, Part, Verdict, likely_cause, number


def _not_a_distance(case, name, value):
    """The distance came back as no number (a tensor of one value is one: returning a tensor costs the float
    part only)."""
    return PartFailed(f"{case.exercise}: expected a number, got {value!r:.80} - return float(distance)")


# ---------------------------------------------------------------- 10.1 frechet_distance

SIZES = (5, 12)


def _spd(rng, f, scale=1.0):
    a = rng.standard_normal((f, f))
    c = scale * (a @ a.T + 0.1 * np.eye(f))
    return (c + c.T) / 2


def frechet_inputs(rng):
    inputs = {}
    for f in SIZES:
        inputs[f"mu1_{f}"], inputs[f"mu2_{f}"] = rng.standard_normal(f), rng.standard_normal(f)
        inputs[f"sigma1_{f}"], inputs[f"sigma2_{f}"] = _spd(rng, f), _spd(rng, f)
    # covariances of 3 samples of 8 features: rank 2, so rounding leaves some eigenvalues slightly below 0
    for k in range(3):
        points = rng.standard_normal((3, 8))
        centred = points - points.mean(axis=0)
        inputs[f"singular_{k}"] = centred.T @ centred / 2
        inputs[f"singular_mu_{k}"] = rng.standard_normal(8)
    # large, nearly equal covariances sent as float32: traces near 1e5, a distance of a few tens
    a = rng.standard_normal((3, 3))
    base = 3e4 * (np.eye(3) + 0.3 * (a + a.T) / 2 @ ((a + a.T) / 2))
    noise = rng.standard_normal((3, 3))
    inputs["big1"] = base
    inputs["big2"] = base + 150 * (noise @ noise.T + np.eye(3))
    return inputs


FRECHET_PROBE = f"""
for f in {SIZES!r}:
    m1, s1, m2, s2 = (inputs[f"{{k}}_{{f}}"] for k in ("mu1", "sigma1", "mu2", "sigma2"))
    with attempt(f"d_{{f}}"):
        emit(f"d_{{f}}", frechet_distance(m1, s1, m2, s2))
    with attempt(f"d_reversed_{{f}}"):
        emit(f"d_reversed_{{f}}", frechet_distance(m2, s2, m1, s1))
with attempt("same"):
    emit("same", frechet_distance(inputs["mu1_5"], inputs["sigma2_5"], inputs["mu1_5"], inputs["sigma2_5"]))
for k in range(3):
    with attempt(f"singular_same_{{k}}"):
        s, m = inputs[f"singular_{{k}}"], inputs[f"singular_mu_{{k}}"]
        emit(f"singular_same_{{k}}", frechet_distance(m, s, m, s))
    with attempt(f"singular_{{k}}"):
        j = (k + 1) % 3
        emit(f"singular_{{k}}", frechet_distance(inputs[f"singular_mu_{{k}}"], inputs[f"singular_{{k}}"],
                                                inputs[f"singular_mu_{{j}}"], inputs[f"singular_{{j}}"]))
with attempt("big"):
    emit("big", frechet_distance(torch.zeros(3), inputs["big1"].float(), torch.zeros(3), inputs["big2"].float()))
"""


def _sqrt_psd(a):
    eigenvalues, eigenvectors = torch.linalg.eigh((a + a.T) / 2)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T


def _trace_sqrt_product(s1, s2):
    """Tr((S1^1/2 S2 S1^1/2)^1/2) = Tr((S1 S2)^1/2)."""
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    return torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum().item()


def _frechet(mu1, s1, mu2, s2):
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    return (((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2)).item() - 2 * _trace_sqrt_product(s1, s2)


def _variants(mu1, s1, mu2, s2):
    """What common mistakes compute, with the cause to name."""
    mean = ((mu1 - mu2) ** 2).sum().item()
    traces = torch.trace(s1).item() + torch.trace(s2).item()
    cross = _trace_sqrt_product(s1, s2)
    return {
        "the cross term is TWICE the trace: Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)": mean + traces - cross,
        "the first term is the SQUARED distance between the means, ((mu1 - mu2) ** 2).sum(), not its norm":
            math.sqrt(mean) + traces - 2 * cross,
        "the distance between the means is missing: add ||mu1 - mu2||^2": traces - 2 * cross,
        "Tr(S1^1/2 S2^1/2) equals Tr((S1 S2)^1/2) only when the matrices commute: take the square root of the product "
        "S1^1/2 S2 S1^1/2, then its trace": mean + traces - 2 * torch.trace(_sqrt_psd(s1) @ _sqrt_psd(s2)).item(),
        "the square root must be a MATRIX square root (eigen-decomposition: Q diag(sqrt(l)) Q^T), not torch.sqrt of "
        "each entry, which only works for diagonal matrices":
            mean + traces - 2 * torch.trace(torch.sqrt(s1 @ s2)).item(),
    }


def frechet_float(case):
    for name in [f"d_{f}" for f in SIZES] + ["same", "big"]:
        meta = case.meta(name)
        if meta.get("kind") != "number" or meta.get("type") not in ("float", "float64"):
            got = (f"a tensor of shape {tuple(meta.get('shape', ()))}" if meta.get("kind") == "tensor"
                   else f"a {meta.get('type', meta.get('kind'))}")
            fail(case.exercise, "a Python float", got, "return float(distance) (or distance.item())")


def frechet_values(case):
    for f in SIZES:
        mu1, s1, mu2, s2 = (case.inputs[f"{k}_{f}"] for k in ("mu1", "sigma1", "mu2", "sigma2"))
        expected = _frechet(mu1, s1, mu2, s2)
        got = number(case, f"d_{f}", _not_a_distance)
        tolerance = 1e-6 * max(1.0, abs(expected))
        if not abs(got - expected) <= tolerance:
            cause = likely_cause(_variants(mu1, s1, mu2, s2),
                                 lambda value: (math.isnan(value) and math.isnan(got)) or abs(got - value) <= tolerance)
            if cause is not None:
                fail(case.exercise, f"{expected:.6f} (F = {f})", f"{got:.6g}", cause)
            if abs(got - expected) <= 1e-3 * max(1.0, abs(expected)):
                fail(case.exercise, f"{expected:.8f} (F = {f}, within {tolerance:.2g})", f"{got:.8f}", "close but not "
                     "exact: compute in float64 (convert the inputs with .double() first)")
            fail(case.exercise, f"{expected:.6f} (F = {f})", f"{got:.6g}", "||mu1 - mu2||^2 + Tr(S1 + S2 - 2 "
                 "(S1^1/2 S2 S1^1/2)^1/2), with matrix square roots from the eigen-decomposition")
        reversed_ = number(case, f"d_reversed_{f}", _not_a_distance)
        if not abs(reversed_ - got) <= tolerance:
            cause = ("nearly the same but not within the tolerance: compute in float64 (convert the inputs with "
                     ".double() first)" if abs(reversed_ - got) <= 1e-3 * max(1.0, abs(expected)) else
                     "the Frechet distance is symmetric: use sigma1 and sigma2 as the formula says")
            fail(case.exercise, f"the same distance with the Gaussians swapped ({got:.8f}, F = {f})",
                 f"{reversed_:.8f}", cause)


def _singular(case, name, clamp):
    """The distance for singular covariances; an error there (eigh failing on a matrix of nans) says why."""
    try:
        return number(case, name, _not_a_distance)
    except PartFailed as failure:
        if "raised" in str(failure) and isinstance(case.outputs.values.get("same"), (int, float, torch.Tensor)):
            raise PartFailed(f"{failure} - likely cause: {clamp}") from None
        raise


def frechet_singular(case):
    same = number(case, "same", _not_a_distance)
    if not abs(same) <= 1e-6:
        trace = torch.trace(case.inputs["sigma2_5"]).item()
        cause = ("the cross term is TWICE the trace: Tr(S + S) - 2 Tr((S^1/2 S S^1/2)^1/2) = 0" if abs(same - trace) <= 1e-4
                 * trace else "nearly 0 but not within 1e-6: compute in float64 (convert the inputs with .double() first)"
                 if abs(same) <= 1e-2 else "two identical Gaussians are at distance 0: Tr(S + S) - 2 Tr((S^1/2 S "
                 "S^1/2)^1/2) = 0")
        fail(case.exercise, "0.0 for two identical Gaussians (F = 5)", f"{same:.6g}", cause)
    clamp = ("clamp the eigenvalues at 0 before the square root: a covariance of fewer samples than features is "
             "singular, rounding makes some zero eigenvalues slightly negative, and their square root is nan")
    for k in range(3):
        got = _singular(case, f"singular_same_{k}", clamp)
        if math.isnan(got) or not abs(got) <= 1e-5:
            fail(case.exercise, "0.0 for two identical singular covariances (3 samples of 8 features)", f"{got:.6g}", clamp)
    for k in range(3):
        j = (k + 1) % 3
        expected = _frechet(case.inputs[f"singular_mu_{k}"], case.inputs[f"singular_{k}"],
                            case.inputs[f"singular_mu_{j}"], case.inputs[f"singular_{j}"])
        got = _singular(case, f"singular_{k}", clamp)
        if math.isnan(got):
            fail(case.exercise, f"{expected:.6f} for two singular covariances", "nan", clamp)
        expect_close(case.exercise, got, expected, "two different singular covariances (rank 2 of 8): the same formula, "
                     "eigenvalues clamped at 0", atol=1e-5, rtol=1e-6)


def frechet_float64(case):
    big1, big2 = case.inputs["big1"].float().double(), case.inputs["big2"].float().double()
    expected = _frechet(torch.zeros(3), big1, torch.zeros(3), big2)
    got = number(case, "big", _not_a_distance)
    traces = torch.trace(big1).item() + torch.trace(big2).item()
    cause = (f"float32 inputs with traces near {traces:.2g} and a distance near {expected:.3g}: convert the inputs to "
             "float64 first (.double()); in float32 the large traces cancel and the small difference loses its digits")
    f = SIZES[0]
    on_float64 = case.outputs.values.get(f"d_{f}")
    if isinstance(on_float64, (int, float, torch.Tensor)):
        reference = _frechet(*(case.inputs[f"{k}_{f}"] for k in ("mu1", "sigma1", "mu2", "sigma2")))
        if not abs(float(on_float64) - reference) <= 1e-3 * max(1.0, abs(reference)):
            cause = "the formula is already off on float64 inputs (see the part on the grader's Gaussians): fix it first"
    expect_close(case.exercise, got, expected, cause, atol=1e-5, rtol=1e-8)


FRECHET = Verdict(
    "test_frechet_distance", "Exercise 10.1 frechet_distance", frechet_inputs, FRECHET_PROBE, (
        Part("a Python float", 0.5, frechet_float),
        Part("the distance between the grader's Gaussians (F = 5 and 12), both ways round", 1.5, frechet_values),
        Part("0 for identical Gaussians; singular covariances (eigenvalues clamped at 0)", 1.0, frechet_singular),
        Part("float32 inputs with large traces computed in float64", 1.0, frechet_float64),
    ))


# ---------------------------------------------------------------- 10.2 sample_class_histogram

PIXEL_CLASSIFIER = '''
# The notebook's device (its setup cell defines `device`); the kernel does not see the course package.
_verdict_device = device if isinstance(globals().get("device"), torch.device) else torch.device("cpu")


class _VerdictPixelClassifier(torch.nn.Module):
    """The logit of digit k is pixel k of the image's first row; in training mode it sees pixel 0 alone."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        logits = self.scale * x[:, 0, 0, :10]  # (B, 10)
        if self.training:
            logits = logits * torch.tensor([10.0] + [0.0] * 9, device=x.device)
        return logits


def _verdict_images(rows):
    """(N, 10) first-row pixels -> images (N, 1, 28, 28) on the CPU."""
    images = torch.zeros(len(rows), 1, 28, 28)
    images[:, 0, 0, :10] = rows.float()
    return images
'''

HISTOGRAM_SETS = ("one", "few", "values", "many", "train")


def _rows_predicting(rng, n, digits):
    """n rows of 10 pixels whose largest pixel is one of digits, drawn at random."""
    rows = 0.5 * rng.random((n, 10))
    rows[range(n), rng.choice(digits, size=n)] = 0.55 + 0.45 * rng.random(n)
    return rows


def histogram_inputs(rng):
    predicted = sorted(rng.choice(9, size=4, replace=False).tolist())  # digits 9 and at least 5 others never predicted
    values = rng.random((37, 10))
    values[0] = _rows_predicting(rng, 1, [9])[0]  # 9 predicted at least once: missing digits show in the shape part
    many = rng.random((1100, 10))
    many[0] = _rows_predicting(rng, 1, [9])[0]
    return {"rows_one": _rows_predicting(rng, 1, range(9)), "rows_few": _rows_predicting(rng, 13, predicted),
            "rows_values": values, "rows_many": many, "rows_train": rng.random((20, 10))}


HISTOGRAM_PROBE = f"""
for name in {HISTOGRAM_SETS!r}:
    with attempt(name):
        classifier = _VerdictPixelClassifier().to(_verdict_device)
        classifier.train(name == "train")  # the others come in evaluation mode, so that only "train" tests .eval()
        emit(name, sample_class_histogram(classifier, _verdict_images(inputs["rows_" + name])))
"""


def _fractions(rows):
    counts = torch.bincount(rows.argmax(dim=1), minlength=10).double()
    return counts / len(rows)


def histogram_shape(case):
    for name in ("one", "few", "values"):
        got = case.tensor(name, "return the fractions as a tensor of shape (10,)")
        if got.dim() == 1 and len(got) > 10:
            fail(case.exercise, "shape (10,)", tuple(got.shape), "more entries than digits: take the argmax over the "
                 "classes (dim=1), one prediction per image, then torch.bincount(predictions, minlength=10)")
        expect_shape(case.exercise, got, (10,), "one entry per digit 0..9, even for digits never predicted: "
                     "torch.bincount(predictions, minlength=10)")
        if not got.is_floating_point():
            fail(case.exercise, "a float tensor of fractions", got.dtype, "divide the counts by the number of images "
                 "(.float() first)")


def _judge_fractions(case, name, classifier_mode="evaluation mode"):
    rows = case.inputs[f"rows_{name}"].float()
    n = len(rows)
    expected = _fractions(rows)
    got = case.tensor(name, "return the fractions as a tensor of shape (10,)").double()
    by_column = torch.bincount(rows.argmax(dim=0), minlength=10).double()
    if got.shape != expected.shape:
        if got.shape == by_column.shape and torch.allclose(got, by_column / by_column.sum()):
            fail(case.exercise, [round(v, 4) for v in expected.tolist()], [round(v, 4) for v in got.tolist()],
                 "take the argmax over the classes (dim=1), one "
                 "prediction per image; dim=0 picks an image per class")
        expect_shape(case.exercise, got, (10,), "one entry per digit 0..9: torch.bincount(predictions, minlength=10)")
    if torch.allclose(got, expected, atol=1e-6):
        return
    likely = (
        (expected * n, "divide the counts by the number of images so that the histogram sums to 1"),
        (torch.softmax(rows.double(), dim=1).mean(dim=0), "count the argmax predictions; averaging the softmax "
         "probabilities gives a different (soft) histogram"),
        (by_column / by_column.sum(), "take the argmax over the classes (dim=1), one prediction per image; dim=0 picks "
         "an image per class"),
    )
    for value, cause in likely:
        if torch.allclose(got, value, atol=1e-5):
            fail(case.exercise, [round(v, 4) for v in expected.tolist()], [round(v, 4) for v in got.tolist()], cause)
    expect_close(case.exercise, got, expected, f"{n} images given with the classifier in {classifier_mode}: the "
                 "fraction predicted as each digit (argmax of the logits over dim 1)", atol=1e-6)


def histogram_values(case):
    for name in ("values", "many"):
        _judge_fractions(case, name)


def histogram_eval_mode(case):
    got = case.tensor("train", "return the fractions as a tensor of shape (10,)").double()
    rows = case.inputs["rows_train"].float()
    if got.shape == (10,) and torch.allclose(got, torch.tensor([1.0] + [0.0] * 9, dtype=torch.float64)):
        fail(case.exercise, [round(v, 4) for v in _fractions(rows).tolist()], got.tolist(), "the classifier was left in "
             "training mode: call classifier.eval() first (dropout and batch norm act differently while training)")
    _judge_fractions(case, "train", "training mode (put it in evaluation mode)")


HISTOGRAM = Verdict(
    "test_sample_class_histogram", "Exercise 10.2 sample_class_histogram", histogram_inputs, HISTOGRAM_PROBE, (
        Part("a float tensor of shape (10,), digits never predicted included", 0.75, histogram_shape),
        Part("the fractions of argmax predictions on the grader's images (37 and 1,100)", 1.5, histogram_values),
        Part("evaluation mode: a classifier handed over in training mode", 0.75, histogram_eval_mode),
    ), helpers=PIXEL_CLASSIFIER)

VERDICTS = (FRECHET, HISTOGRAM)
