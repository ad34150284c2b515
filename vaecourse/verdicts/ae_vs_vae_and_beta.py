"""Grader-side verdicts of 07_ae_vs_vae_and_beta (core.py says how a verdict is run).

cyclical_beta (7.4) may build on linear_warmup (7.3): it is judged with a stand-in for the course's
linear_warmup in place of the student's (vaecourse/verdicts/foreseen_calls.py: the grader's values for the calls
a cyclical schedule makes, never the code), so a mistake in 7.3 costs that exercise only.
"""
import inspect

import numpy as np
import torch

from vaecourse.checking import expect_close, expect_dtype, expect_shape, fail
from vaecourse.verdicts import foreseen_calls
from vaecourse.verdicts.core import Part, PartFailed, Verdict, number


def _values(case, name, cause):
    """A list the probe sent as float64 values, after checking what types its items had."""
    return case.tensor(name, cause).double()


def _diagnose(case, got, expected, candidates, where, cause, atol=1e-9, steps=None):
    """Fail when got differs from expected: with the cause of the first likely mistake that gives got, else `cause`.

    steps: the step of each value (7.3, 7.4): the message then shows the first step where they differ.
    """
    if got.shape == expected.shape and torch.allclose(got, expected, atol=atol, rtol=0):
        return
    for wrong, why in candidates:
        if got.shape == wrong.shape and not torch.allclose(wrong, expected, atol=atol, rtol=0) \
                and torch.allclose(got, wrong, atol=atol, rtol=1e-6):
            fail(case.exercise, *_shown(got, expected, where, atol, steps), why)
    if got.shape == expected.shape and steps is not None:
        fail(case.exercise, *_shown(got, expected, where, atol, steps), cause)
    expect_close(case.exercise, got, expected, f"{where}: {cause}", atol=atol, rtol=0)


def _shown(got, expected, where, atol, steps):
    """(expected, got) for a message: every value of a short list, else the first step where they differ."""
    if steps is None or len(steps) <= 8:
        return f"{where}: {_list(expected)}", _list(got)
    i = int(((got - expected).abs() > atol).nonzero()[0, 0])
    return f"{where}: {expected[i].item():.4g} at step {int(steps[i])}", f"{got[i].item():.4g}"


def _list(values: torch.Tensor, shown: int = 10) -> str:
    items = [round(v, 4) for v in values.flatten().tolist()]
    return str(items) if len(items) <= shown else str(items[:shown])[:-1] + f", ... {len(items)} values]"


def _steps(steps: torch.Tensor) -> str:
    items = [int(s) for s in steps.tolist()]
    if len(items) <= 8:
        return str(items)
    if items == list(range(items[0], items[-1] + 1)):
        return f"{items[0]} to {items[-1]}"
    return f"{items[0]} to {items[-2]} and {items[-1]}"


# ---------------------------------------------------------------- 7.1 kl_per_dimension

def kl_inputs(rng):
    b, d = int(rng.choice([5, 6, 7, 8, 9])), int(rng.choice([3, 4]))  # b != d and b != 2: each mistake its own value
    b32, d32 = int(rng.integers(3, 7)), int(rng.integers(7, 10))
    return {"mu_1": 2 * rng.standard_normal((1, 3)), "logvar_1": rng.standard_normal((1, 3)),
            "mu_b": 2 * rng.standard_normal((b, d)), "logvar_b": rng.standard_normal((b, d)),
            "mu_32": 2 * rng.standard_normal((b32, d32)), "logvar_32": rng.standard_normal((b32, d32))}


KL_CASES = ("b", "1", "32")

KL_PROBE = """
for c in ("b", "1", "32"):
    mu, logvar = inputs[f"mu_{c}"], inputs[f"logvar_{c}"]
    if c == "32":
        mu, logvar = mu.float(), logvar.float()
    with attempt(f"kl_{c}"):
        emit(f"kl_{c}", kl_per_dimension(mu, logvar))
with attempt("kl_prior"):
    emit("kl_prior", kl_per_dimension(torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)))
"""


def _kl_inputs(case, c):
    mu, logvar = case.inputs[f"mu_{c}"], case.inputs[f"logvar_{c}"]
    if c == "32":  # the probe sent these as float32
        mu, logvar = mu.float().double(), logvar.float().double()
    return mu, logvar


def kl_shape(case):
    for c in KL_CASES:
        mu, _ = _kl_inputs(case, c)
        b, d = mu.shape
        got = case.tensor(f"kl_{c}", "return a tensor with one value per latent dimension")
        if got.dim() == 0:
            fail(case.exercise, f"shape ({d},)", "a single number",
                 "keep one value per latent dimension: reduce over the batch only (dim=0)")
        if tuple(got.shape) == (b,) and b != d:
            fail(case.exercise, f"shape ({d},), one value per latent dimension", f"shape ({b},), one value per image",
                 "average over the batch (dim=0), not over the latent dimensions (dim=1)")
        expect_shape(case.exercise, got, (d,), f"batch {b}, latent_dim {d}: one value per latent dimension: reduce over "
                     "dim=0 (the batch)")


def kl_values(case):
    for c in KL_CASES:
        mu, logvar = _kl_inputs(case, c)
        b, d = mu.shape
        per_entry = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)  # (B, latent_dim)
        expected = per_entry.mean(dim=0)
        got = case.tensor(f"kl_{c}").double()
        where = f"batch {b}, latent_dim {d}"
        if got.shape == expected.shape and (got < -1e-6).any():
            fail(case.exercise, f"{where}: {_list(expected)}", _list(got), "a KL is never negative: "
                 "0.5 * (mu^2 + exp(logvar) - 1 - logvar), where exp(logvar) is the variance")
        candidates = [
            (per_entry.sum(dim=0), "you SUM over the batch; take the MEAN over the batch (dim=0) of "
             "0.5 * (mu^2 + exp(logvar) - 1 - logvar)"),
            (2 * expected, "twice the expected values: the factor 1/2 is missing from "
             "0.5 * (mu^2 + exp(logvar) - 1 - logvar)"),
            ((0.5 * (mu ** 2 + (0.5 * logvar).exp() - 1 - logvar)).mean(dim=0),
             "exp(logvar) is the variance, not exp(0.5 * logvar) (the standard deviation)"),
        ]
        _diagnose(case, got, expected, candidates, where, "per entry (mu^2 + exp(logvar) - 1 - logvar) / 2, then the "
                  "MEAN over the batch; exp(logvar) is the variance", atol=1e-5 if c == "32" else 1e-8)


def kl_float64_and_prior(case):
    expect_dtype(case.exercise, case.tensor("kl_b"), torch.float64, "keep the dtype of the inputs (no .float() inside)")
    prior = case.tensor("kl_prior")
    expect_shape(case.exercise, prior, (3,), "one value per latent dimension")
    expect_close(case.exercise, prior.double(), torch.zeros(3, dtype=torch.float64),
                 "the KL of N(0, 1) from itself is 0 in every dimension: check the constant term", atol=1e-12, rtol=0)


KL_PER_DIMENSION = Verdict(
    "test_kl_per_dimension", "Exercise 7.1 kl_per_dimension", kl_inputs, KL_PROBE, (
        Part("one value per latent dimension, for any batch and latent size", 0.5, kl_shape),
        Part("the batch mean of each dimension's KL on the grader's inputs", 1.0, kl_values),
        Part("float64 kept, 0 at the prior", 0.5, kl_float64_and_prior),
    ))


# ---------------------------------------------------------------- 7.2 active_units

SCALES = (0.0, 0.02, 0.05, 0.2, 1.0, 3.0, 0.3)  # variances about 0, 0.0004, 0.0025, 0.04, 1, 9, 0.09
THRESHOLDS = (0.02, 0.5, 0.003)


def active_inputs(rng):
    scales = rng.permutation(np.array(SCALES) * rng.uniform(0.85, 1.15, len(SCALES)))
    offsets = rng.uniform(2.0, 6.0, len(SCALES)) * rng.choice([-1.0, 1.0], len(SCALES))  # the mean is not the point
    n, a = int(rng.choice([2, 4, 6, 8])), float(rng.choice([0.25, 0.5, 1.0, 2.0]))
    return {"mu": rng.standard_normal((200, len(SCALES))) * scales + offsets,
            "n_edge": n, "a_edge": a}  # the edge column: +a, -a, +a, ...: population variance exactly a^2


ACTIVE_PROBE = f"""
mu = inputs["mu"]
for i, threshold in enumerate({THRESHOLDS!r}):
    with attempt(f"count_{{i}}"):
        emit(f"count_{{i}}", active_units(mu, threshold=threshold))
with attempt("count_default"):
    emit("count_default", active_units(mu))
a, n = inputs["a_edge"], inputs["n_edge"]
edge = torch.tensor([[a if k % 2 == 0 else -a] for k in range(n)])  # (n, 1) float32
for name, threshold in (("at", a * a), ("below", a * a * 0.999), ("between", a * a * (1 + 0.5 / (n - 1)))):
    with attempt(f"edge_{{name}}"):
        emit(f"edge_{{name}}", active_units(edge, threshold=threshold))
with attempt("edge_constant"):
    emit("edge_constant", active_units(torch.full((10, 5), 3.0)))
"""

COUNTS = tuple(f"count_{i}" for i in range(len(THRESHOLDS))) + ("count_default",)
EDGES = ("edge_at", "edge_below", "edge_between", "edge_constant")


def _count(case, name):
    """The count sent as `name`, as an int where it can be read as one (its type is judged elsewhere)."""
    value = number(case, name, _not_a_count, as_given=True)
    if value != int(value):
        _not_a_count(case, name, value)
    return int(value)


def _not_a_count(case, name, value):
    fail(case.exercise, "a count of active dimensions", repr(value), "return the NUMBER of active dimensions, int(...)")


def active_type(case):
    for name in COUNTS + EDGES:
        value = case[name]
        meta = case.meta(name)
        if isinstance(value, torch.Tensor):
            fail(case.exercise, "a Python int", f"a tensor of shape {tuple(value.shape)}",
                 "turn the count into a number: int((variance > threshold).sum())")
        if meta.get("kind") != "number" or meta.get("type") != "int":
            fail(case.exercise, "a Python int", meta.get("type", type(value).__name__),
                 "return the NUMBER of active dimensions as a Python int: int((variance > threshold).sum())")


def _counts(variance, thresholds, strict=True):
    return [int((variance > t).sum()) if strict else int((variance >= t).sum()) for t in thresholds]


def active_values(case):
    mu = case.inputs["mu"]
    thresholds = THRESHOLDS + (0.01,)
    got = [_count(case, name) for name in COUNTS]
    population = mu.var(dim=0, unbiased=False)
    expected = _counts(population, thresholds)
    if got == expected:
        return
    where = f"200 codes of 7 dimensions, thresholds {list(thresholds)} (the last the default)"
    for wrong, cause in (
            (_counts(mu.mean(dim=0).abs(), thresholds), "a unit is active when its mean mu VARIES across the data: use "
             "the variance over the data (dim=0), not the mean"),
            (_counts(mu.std(dim=0, unbiased=False), thresholds), "compare the VARIANCE with the threshold, not the "
             "standard deviation"),
            (_counts(mu.var(dim=0), thresholds), "use the POPULATION variance, dividing by N: mu.var(dim=0, unbiased=False)")):
        if got == wrong != expected:
            fail(case.exercise, f"{expected} active units ({where})", got, cause)
    if got[:-1] == expected[:-1]:
        fail(case.exercise, f"{expected[-1]} active units at the default threshold", got[-1], "the default threshold is 0.01")
    fail(case.exercise, f"{expected} active units ({where})", got, "count the dimensions whose population variance over "
         "the data (dim=0, one value per latent dimension) is greater than the threshold")


def active_edges(case):
    a, n = case.inputs["a_edge"], case.inputs["n_edge"]
    got = {name: _count(case, name) for name in EDGES}
    column = f"a column of {n} codes +-{a:g} (population variance {a * a:g}, sample variance {a * a * n / (n - 1):.4g})"
    if got["edge_between"] == 1:
        fail(case.exercise, f"0 active units at threshold {a * a * (1 + 0.5 / (n - 1)):.4g}, {column}", 1,
             "use the POPULATION variance, dividing by N: mu.var(dim=0, unbiased=False); the default unbiased "
             "variance divides by N - 1")
    if got["edge_at"] == 1:
        fail(case.exercise, f"0 active units at threshold {a * a:g}, {column}", 1,
             "at exactly the threshold a unit is NOT active: use a strict >")
    expected = {"edge_at": 0, "edge_below": 1, "edge_between": 0, "edge_constant": 0}
    for name, cause in (("edge_below", f"{column}, threshold just below {a * a:g}: a variance above the threshold is active"),
                        ("edge_constant", "constant means (10 codes, 5 dimensions, all 3.0): no active unit"),
                        ("edge_at", f"{column}, threshold {a * a:g}"), ("edge_between", f"{column}")):
        if got[name] != expected[name]:
            fail(case.exercise, expected[name], got[name], cause)


ACTIVE_UNITS = Verdict(
    "test_active_units", "Exercise 7.2 active_units", active_inputs, ACTIVE_PROBE, (
        Part("a Python int", 0.5, active_type),
        Part("the population variance of mu over the data against the threshold, on the grader's codes", 1.0, active_values),
        Part("a strict >, the population variance at the edge, 0 for constant codes", 0.5, active_edges),
    ))


# ---------------------------------------------------------------- shared by 7.3 and 7.4: lists of numbers

def _send_values(emit, name, values):
    """Kernel side (sent as source): a list of results as its items' type names and its values as float64 (a
    probe's list may hold at most 32 items, these are longer); float() runs in the kernel, the judging here."""
    import torch

    emit(name + "_types", sorted({type(v).__name__ for v in values}))
    emit(name, torch.tensor([float(v) for v in values], dtype=torch.float64))


SEND_VALUES = inspect.getsource(_send_values)

NUMBER_TYPES = {"float", "int", "float64"}  # Python numbers (numpy's float64 is a float)


def _types(case, names, cause):
    for name in names:
        types = case[f"{name}_types"]
        bad = [t for t in (types if isinstance(types, list) else [types]) if t not in NUMBER_TYPES]
        if bad:
            fail(case.exercise, "Python numbers (floats)", ", ".join(map(str, bad)), cause)


# ---------------------------------------------------------------- 7.3 linear_warmup

def warmup_inputs(rng):
    inputs = {}
    for key, ws in (("short", int(rng.integers(4, 40))), ("long", int(rng.integers(100, 1000))), ("one", 1)):
        inputs[f"ws_{key}"] = ws
        during = sorted({0, 1, ws // 3, ws // 2, ws - 1, int(rng.integers(ws))} - {ws}) if ws > 1 else [0]
        inputs[f"during_{key}"] = np.array(during)
        inputs[f"after_{key}"] = np.array([ws, ws + 1, 4 * ws, ws + int(rng.integers(1, 3 * ws + 1))])
    inputs["zero_step"] = int(rng.integers(1, 50))
    return inputs


WARMUP_KEYS = ("short", "long", "one")

WARMUP_PROBE = """
for key in ("short", "long", "one"):
    ws = inputs[f"ws_{key}"]
    for phase in ("during", "after"):
        with attempt(f"{phase}_{key}", f"{phase}_{key}_types"):
            _send_values(emit, f"{phase}_{key}", [linear_warmup(s, ws) for s in inputs[f"{phase}_{key}"].tolist()])
with attempt("zero", "zero_types"):
    _send_values(emit, "zero", [linear_warmup(0, 0), linear_warmup(inputs["zero_step"], 0)])
"""

_WARMUP_CAUSE = "return a plain float: min(1.0, step / warmup_steps)"


def _judge_warmup(case, phase):
    for key in WARMUP_KEYS:
        ws = case.inputs[f"ws_{key}"]
        steps = case.inputs[f"{phase}_{key}"].double()
        got = _values(case, f"{phase}_{key}", _WARMUP_CAUSE)
        expected = (steps / ws).clamp(max=1.0)
        candidates = [
            (torch.div(steps, ws, rounding_mode="floor").clamp(max=1.0),
             "integer division: use step / warmup_steps, not step // warmup_steps"),
            (torch.div(steps, ws, rounding_mode="floor"), "integer division: use step / warmup_steps, not step // warmup_steps"),
            (((steps + 1) / ws).clamp(max=1.0), "off by one: beta = step / warmup_steps, with step counted from 0 (beta "
             "is 0 at step 0 and reaches 1 at step == warmup_steps)"),
            (steps / ws, "clamp the weight at 1 after the warm-up: min(1.0, step / warmup_steps)"),
        ]
        _diagnose(case, got, expected, candidates, f"warmup_steps {ws}, steps {_steps(steps)}",
                  "beta = min(1, step / warmup_steps), step counted from 0", steps=steps)


def warmup_during(case):
    _types(case, [f"{phase}_{key}" for phase in ("during", "after") for key in WARMUP_KEYS], _WARMUP_CAUSE)
    _judge_warmup(case, "during")


def warmup_after(case):
    _judge_warmup(case, "after")


def warmup_zero(case):
    try:
        got = _values(case, "zero", _WARMUP_CAUSE)
    except PartFailed as failure:
        raise PartFailed(f"{failure} - warmup_steps = 0 means no warm-up: return 1.0 before dividing") from None
    _diagnose(case, got, torch.ones(2, dtype=torch.float64), [], f"warmup_steps = 0 at steps 0 and {case.inputs['zero_step']}",
              "warmup_steps = 0 means no warm-up: beta is 1.0 from the start (return 1.0 before dividing)")


LINEAR_WARMUP = Verdict(
    "test_linear_warmup", "Exercise 7.3 linear_warmup", warmup_inputs, WARMUP_PROBE, (
        Part("Python floats, 0 at step 0, rising linearly during the warm-up", 1.0, warmup_during),
        Part("1.0 from step warmup_steps on", 0.5, warmup_after),
        Part("warmup_steps = 0 means no warm-up (1.0)", 0.5, warmup_zero),
    ), helpers=SEND_VALUES)


# ---------------------------------------------------------------- 7.4 cyclical_beta

CYCLE_KEYS = ("default", "ratio", "whole")



def _warmup(step, warmup_steps):
    """The course's 7.3 in the grader: what the stand-in returns for each call it foresees."""
    return 1.0 if warmup_steps <= 0 else min(1.0, step / warmup_steps)


def _warmup_calls(inputs):
    """The calls of linear_warmup a cyclical schedule makes: a warm-up of the step within the cycle over
    ratio * cycle_length steps, or of the position tau within the cycle over ratio."""
    calls = []
    for key in CYCLE_KEYS:
        length, ratio = inputs[f"length_{key}"], inputs[f"ratio_{key}"]
        for step in np.concatenate([inputs[f"first_{key}"], inputs[f"later_{key}"]]).tolist():
            calls += [(step % length, ratio * length), ((step % length) / length, ratio)]
    return calls


def cyclical_inputs(rng):
    inputs = {"length_default": int(rng.integers(6, 40)), "ratio_default": 0.5,
              "length_ratio": int(rng.integers(4, 30)), "ratio_ratio": float(rng.choice([0.3, 0.75, 0.6])),
              "length_whole": int(rng.integers(4, 20)), "ratio_whole": 1.0}
    for key in CYCLE_KEYS:
        length = inputs[f"length_{key}"]
        inputs[f"first_{key}"] = np.arange(length)
        inputs[f"later_{key}"] = np.append(np.arange(length, 3 * length), 10 * length + 1)
    inputs.update(foreseen_calls.foresee("linear_warmup", _warmup, _warmup_calls(inputs)))
    return inputs


CYCLICAL_PROBE = """
with course_versions(linear_warmup=stand_in(inputs, "linear_warmup", ("step", "warmup_steps"))):
    for key in ("default", "ratio", "whole"):
        length, ratio = inputs[f"length_{key}"], inputs[f"ratio_{key}"]
        for phase in ("first", "later"):
            steps = inputs[f"{phase}_{key}"].tolist()
            with attempt(f"{phase}_{key}", f"{phase}_{key}_types"):
                if key == "default":
                    _send_values(emit, f"{phase}_{key}", [cyclical_beta(s, length) for s in steps])
                else:
                    _send_values(emit, f"{phase}_{key}", [cyclical_beta(s, length, ratio=ratio) for s in steps])
"""


def _judge_cycle(case, key, phase):
    length, ratio = case.inputs[f"length_{key}"], case.inputs[f"ratio_{key}"]
    steps = case.inputs[f"{phase}_{key}"].double()
    got = _values(case, f"{phase}_{key}", "return a plain float")
    tau = torch.remainder(steps, length) / length
    expected = torch.where(tau <= ratio, tau / ratio, torch.ones_like(tau))
    candidates = [
        ((steps / length / ratio).clamp(max=1.0), "the schedule must restart every cycle: use the position in the "
         "current cycle, tau = (step % cycle_length) / cycle_length"),
        (tau, "ratio is ignored: beta reaches 1 after ratio * cycle_length steps, so divide tau by ratio"),
        (tau / ratio, "clamp at 1: beta stays 1 for the rest of the cycle once tau > ratio"),
        ((torch.remainder(steps - 1, length) / length / ratio).clamp(max=1.0),
         "count steps from 0: tau = (step % cycle_length) / cycle_length (beta is 0 at step 0 of every cycle)"),
    ]
    where = (f"cycle_length {length}, ratio {ratio:g}{' (the default)' if key == 'default' else ''}, "
             f"steps {_steps(steps)}")
    _diagnose(case, got, expected, candidates, where,
              "tau = (step % cycle_length) / cycle_length, beta = min(1, tau / ratio)", atol=1e-9, steps=steps)


def cyclical_first_cycle(case):
    _types(case, [f"{phase}_{key}" for phase in ("first", "later") for key in CYCLE_KEYS], "return a plain float")
    _judge_cycle(case, "default", "first")


def cyclical_restart(case):
    _judge_cycle(case, "default", "later")


def cyclical_ratios(case):
    for key in ("ratio", "whole"):
        for phase in ("first", "later"):
            _judge_cycle(case, key, phase)


CYCLICAL_BETA = Verdict(
    "test_cyclical_beta", "Exercise 7.4 cyclical_beta", cyclical_inputs, CYCLICAL_PROBE, (
        Part("Python floats; the rise over the first half of a cycle, then 1 (default ratio 0.5)", 0.75, cyclical_first_cycle),
        Part("a restart at 0 every cycle_length steps", 0.5, cyclical_restart),
        Part("other ratios (0.3 to 0.75, and 1: tau itself)", 0.75, cyclical_ratios),
    ), helpers=SEND_VALUES + "\n\n" + foreseen_calls.KERNEL_SOURCE)

VERDICTS = (KL_PER_DIMENSION, ACTIVE_UNITS, LINEAR_WARMUP, CYCLICAL_BETA)
