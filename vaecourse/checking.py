"""Checks that teach: compare a student's answer with what is expected and say why it differs.

Every failure names the exercise, what was expected, what came, and the likely cause:
    Exercise 4.2 kl_divergence: expected shape (8,), got () - return one value per image;
    do not sum over the batch
Messages are raised as CheckFailed (an AssertionError, so nbgrader marks the test failed)
and nothing here writes to stderr: nbgrader scores a test cell that does as 0.
The build copies this module into each student notebook.
"""
import math

import torch


class CheckFailed(AssertionError):
    """A check failed; the message is written for the student."""

    def __str__(self) -> str:  # keep the message on its own, without a repr of args
        return self.args[0] if self.args else ""


def fail(exercise: str, expected, got, cause: str) -> None:
    """Raise the standard message: what was expected, what came, the likely cause."""
    raise CheckFailed(f"{exercise}: expected {expected}, got {got} - {cause}")


def describe(value) -> str:
    """A short description of a value for a message: type, shape and dtype for tensors."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def expect_tensor(exercise: str, value, cause: str = "return a torch.Tensor") -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        fail(exercise, "a torch.Tensor", describe(value), cause)
    return value


def expect_shape(exercise: str, tensor, shape, cause: str) -> None:
    expect_tensor(exercise, tensor)
    if tuple(tensor.shape) != tuple(shape):
        fail(exercise, f"shape {tuple(shape)}", tuple(tensor.shape), cause)


def expect_dtype(exercise: str, tensor, dtype: torch.dtype, cause: str) -> None:
    expect_tensor(exercise, tensor)
    if tensor.dtype != dtype:
        fail(exercise, f"dtype {dtype}", tensor.dtype, cause)


def expect_finite(exercise: str, tensor, cause: str) -> None:
    expect_tensor(exercise, tensor)
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        fail(exercise, "finite values", f"{bad} NaN or infinite entries", cause)


class TrainingStopped(CheckFailed):
    """Training met a loss that cannot be right (NaN, infinite or negative); the message says where and why."""


NEGATIVE_SLACK = 1e-3  # nats: the analytic KL of a code at the prior can round a hair below 0


def stop_on_bad_loss(loss, where: str) -> float:
    """The loss as a float, or stop training with a message naming where, the value and the likely cause.

    The negative ELBO with Bernoulli pixels is never negative (-log p(x|z) >= 0 for pixels in [0, 1],
    and the KL term >= 0), so a negative value is a bug, not progress; NaN or inf is a blow-up.
    where says when it happened for the message, e.g. "epoch 3" or "batch 12 of train_one_epoch".
    """
    value = float(loss.detach() if isinstance(loss, torch.Tensor) else loss)
    if math.isnan(value) or math.isinf(value):
        cause = ("usually logvar exploded (exp(logvar) overflowed) or a log of 0 in the reconstruction term "
                 "(x_hat exactly 0 or 1); check reconstruction_loss and kl_divergence (Exercises 4.1, 4.2) "
                 "and try a smaller learning rate")
    elif value < -NEGATIVE_SLACK:
        cause = ("the negative ELBO with Bernoulli pixels is never negative (-log p(x|z) >= 0 for pixels in [0, 1], "
                 "KL >= 0): a sign or reduction error in reconstruction_loss or kl_divergence (Exercises 4.1, 4.2), "
                 "e.g. a missing minus sign in the cross-entropy or +0.5 where the KL has -0.5, "
                 "or in how the loop adds up the batch losses")
    else:
        return value
    raise TrainingStopped(f"Training stopped at {where}: expected a finite, non-negative loss "
                          f"(the negative ELBO in nats per image), got {value:.6g} - {cause}")


ITEMS_SHOWN = 6  # a message lists at most this many values of a tensor or list, then the count


def _number(value, digits: int = 6) -> str:
    """One number for a message: ints and bools as they are, floats to a few significant digits."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _nested(values) -> str:
    """A (nested) list of numbers for a message, floats to 4 significant digits."""
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(values, 4)


def _brief(tensor: torch.Tensor) -> str:
    """A tensor's values for a message: all of them when few, else the first few and the count."""
    if tensor.dim() == 0:
        return _number(tensor.item())
    if tensor.numel() <= ITEMS_SHOWN:
        return _nested(tensor.tolist())
    first = ", ".join(_number(v, 4) for v in tensor.flatten()[:ITEMS_SHOWN].tolist())
    shape = f" of shape {tuple(tensor.shape)}" if tensor.dim() > 1 else ""
    return f"[{first}, ... {tensor.numel()} items{shape}]"


def _first_difference(got: list, expected: list, shape: tuple) -> str:
    """Where two long flat lists of values first differ; empty when the message shows every value."""
    index = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
    if len(got) <= ITEMS_SHOWN or len(got) != len(expected) or index is None:
        return ""
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(index), shape)) if len(shape) > 1 else index
    return f" (first difference at index {where}: expected {_number(expected[index])}, got {_number(got[index])})"


def _brief_value(value) -> str:
    """repr() of a plain value; a long list or tuple shows its first few items and the count."""
    if isinstance(value, (list, tuple)) and len(value) > ITEMS_SHOWN:
        first = ", ".join(_number(v, 4) if isinstance(v, float) else repr(v) for v in value[:ITEMS_SHOWN])
        opening, closing = "[]" if isinstance(value, list) else "()"
        return f"{opening}{first}, ... {len(value)} items{closing}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def expect_close(exercise: str, got, expected, cause: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Values agree within atol + rtol * |expected|; the message shows the worst entry.

    A single value prints as a number with its difference and tolerance:
        expected 544.927, got -0.806853 (difference 545.7, tolerance 0.0545)
    A tensor of several values adds where the worst entry is and how many differ.
    """
    got_t = torch.as_tensor(got).detach().double().cpu()
    expected_t = torch.as_tensor(expected).detach().double().cpu()
    if got_t.shape != expected_t.shape:
        fail(exercise, f"shape {tuple(expected_t.shape)}", tuple(got_t.shape), cause)
    if torch.equal(got_t, expected_t):
        return
    diff = (got_t - expected_t).abs()
    allowed = atol + rtol * expected_t.abs()
    nan_mismatch = torch.isnan(got_t) != torch.isnan(expected_t)
    bad = (diff > allowed) | nan_mismatch
    if not bad.any():
        return
    worst = int(torch.nan_to_num(diff, nan=math.inf).flatten().argmax())
    want, came = expected_t.flatten()[worst].item(), got_t.flatten()[worst].item()
    if got_t.numel() == 1:  # a single value: no index, no count
        gap = "not a number" if math.isnan(came) or math.isnan(want) else f"difference {_number(abs(came - want), 4)}"
        fail(exercise, _number(want), f"{_number(came)} ({gap}, tolerance {_number(allowed.item(), 3)})", cause)
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), got_t.shape))
    fail(
        exercise,
        f"{_number(want)} at index {where}",
        f"{_number(came)} ({int(bad.sum())} of {bad.numel()} values differ, "
        f"max abs difference {diff.max().item():.3g}, tolerance {atol:g} + {rtol:g}*|expected|)",
        cause,
    )


def expect_equal(exercise: str, got, expected, cause: str) -> None:
    """Exactly equal; long tensors and lists print as their first few items and their count."""
    if isinstance(expected, torch.Tensor) or isinstance(got, torch.Tensor):
        got_t, expected_t = torch.as_tensor(got).cpu(), torch.as_tensor(expected).cpu()
        if got_t.shape != expected_t.shape:
            fail(exercise, f"shape {tuple(expected_t.shape)}", tuple(got_t.shape), cause)
        if not torch.equal(got_t, expected_t.to(got_t.dtype)):
            where = _first_difference(got_t.flatten().tolist(), expected_t.to(got_t.dtype).flatten().tolist(), got_t.shape)
            fail(exercise, _brief(expected_t), _brief(got_t) + where, cause)
    elif got != expected:
        if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
            fail(exercise, _brief_value(expected), _brief_value(got) + _first_difference(got, expected, (len(got),)), cause)
        fail(exercise, _brief_value(expected), describe(got), cause)


def passed(exercise: str, what: str) -> None:
    """Tell the student what was just confirmed."""
    print(f"\u2713 {exercise}: {what}")


def expect_earlier(exercise: str, earlier: str, fn, cases, atol: float = 1e-3, rtol: float = 1e-4) -> None:
    """Re-check an earlier exercise that `exercise` builds on, so that its mistake is blamed on it.

    cases: (args, expected) pairs; fn(*args) must return a tensor of expected's shape, close to it,
    or, where expected is a torch.Size (a module with random weights has no known values), of that shape.
    Called first in a check, a wrong earlier function then fails with
        Exercise 4.4 vae_loss: your vae_loss may be right, but Exercise 4.1 reconstruction_loss is not
        (it gave -543.43 where 543.43 was expected): fix Exercise 4.1 first (its check above says how)
    instead of a wrong value of `exercise` that points nowhere. An error raised by fn (such as
    the stub's NotImplementedError) counts as a mistake of the earlier exercise too.
    """
    for args, expected in cases:
        shape_only = isinstance(expected, torch.Size)
        shape = tuple(expected) if shape_only else tuple(torch.as_tensor(expected).shape)
        try:
            got = fn(*args)
        except Exception as error:  # whatever the earlier function raises is its own mistake
            found = f"it raised {type(error).__name__}: {error}"
        else:
            if not isinstance(got, torch.Tensor) or tuple(got.shape) != shape:
                found = f"it gave {describe(got)} where shape {shape} was expected"
            elif shape_only:
                continue
            else:
                expected_t = torch.as_tensor(expected).detach().double().cpu()
                got_t = got.detach().double().cpu()
                if torch.allclose(got_t, expected_t, rtol=rtol, atol=atol):
                    continue
                worst = int(torch.nan_to_num((got_t - expected_t).abs(), nan=math.inf).flatten().argmax())
                found = (f"it gave {got_t.flatten()[worst].item():.6g} where "
                         f"{expected_t.flatten()[worst].item():.6g} was expected")
        number = " ".join(earlier.split()[:2])  # "Exercise 4.1"
        raise CheckFailed(f"{exercise}: your {exercise.split()[-1]} may be right, but {earlier} is not "
                          f"({found}): fix {number} first (its check above says how)")
