"""Grader-side verdicts of 06_latent_space (core.py says how a verdict is run)."""
import numpy as np
import torch

from vaecourse.checking import expect_close, expect_equal, expect_shape, fail
from vaecourse.verdicts.core import Part, Verdict, close
from vaecourse.verdicts.stand_ins import VAE, StandInVAE

NEAR = {"rtol": 1e-5, "atol": 1e-5}  # how close a grid or a path must come to be taken for the one expected

# ---------------------------------------------------------------- 6.1 encode_dataset

ENCODE_CASES = ("a", "b")

# encode_dataset is handed the grader's StandInVAE (vaecourse/verdicts/stand_ins.py: the ConvVAE's interface,
# linear maps inside; not secret, and not the answer to any exercise), defined in the probe's scope (not the
# notebook's) so that a rebound name cannot change the model the grader seeds; the grader builds the same
# model from the same seed.


def encode_dataset_inputs(rng):
    inputs = {}
    for case, (n, latent_dim, batches) in zip(ENCODE_CASES, ((11, 4, 3), (int(rng.integers(6, 10)), int(rng.choice([2, 3, 5])), 2))):
        cuts = sorted(rng.choice(range(1, n - 1), size=batches - 1, replace=False).tolist())  # last batch never all of it
        inputs[f"seed_{case}"] = int(rng.integers(2 ** 31))
        inputs[f"latent_dim_{case}"] = latent_dim
        inputs[f"x_{case}"] = rng.random((n, 1, 28, 28))
        inputs[f"y_{case}"] = rng.integers(0, 10, n)
        inputs[f"sizes_{case}"] = np.diff([0] + cuts + [n])
    return inputs


ENCODE_PROBE = f"""
_device = device if isinstance(globals().get("device"), torch.device) else torch.device("cpu")
for c in {ENCODE_CASES!r}:
    torch.manual_seed(inputs[f"seed_{{c}}"])
    model = StandInVAE(latent_dim=inputs[f"latent_dim_{{c}}"]).to(_device)
    model.train()  # encode_dataset must switch to evaluation mode itself
    sizes = inputs[f"sizes_{{c}}"].tolist()
    batches = list(zip(inputs[f"x_{{c}}"].float().split(sizes), inputs[f"y_{{c}}"].split(sizes)))
    with attempt(f"returned_{{c}}", f"mu_{{c}}", f"labels_{{c}}", f"again_{{c}}"):
        out = encode_dataset(model, batches)
        emit(f"returned_{{c}}", [type(v).__name__ for v in out] if isinstance(out, (tuple, list)) else type(out).__name__)
        mu, labels = out
        emit(f"mu_{{c}}", mu)
        emit(f"labels_{{c}}", labels)
        emit(f"again_{{c}}", encode_dataset(model, batches)[0])
"""


def _encoder_reference(case, c):
    """The encoder's (mu, logvar) of the case's images, from a model seeded as the probe seeded it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(case.inputs[f"seed_{c}"])
        model = StandInVAE(latent_dim=case.inputs[f"latent_dim_{c}"])
    with torch.no_grad():
        mu, logvar = model.encoder(case.inputs[f"x_{c}"].float())
    return mu.double(), logvar.double()


def encode_shapes(case):
    for c in ENCODE_CASES:
        returned = case[f"returned_{c}"]
        if not isinstance(returned, list) or len(returned) != 2:
            fail(case.exercise, "a pair (mu, labels)", returned, "return torch.cat(mus), torch.cat(labels)")
        n, d = case.inputs[f"x_{c}"].shape[0], case.inputs[f"latent_dim_{c}"]
        last = int(case.inputs[f"sizes_{c}"][-1])
        mu = case.tensor(f"mu_{c}", "mu must be a tensor: torch.cat the means of every batch")
        cause = ("one row of latent_dim means per image of EVERY batch: collect each batch's mu in a list and "
                 "torch.cat them (dim=0)")
        if tuple(mu.shape) == (last, d):
            cause = f"only the last batch ({last} images) came back: " + cause
        expect_shape(case.exercise, mu, (n, d), f"{n} images in {len(case.inputs[f'sizes_{c}'])} batches, latent_dim {d}: "
                     + cause)
        labels = case.tensor(f"labels_{c}", "labels must be a tensor: torch.cat the labels of every batch")
        expect_shape(case.exercise, labels, (n,), "collect the labels of EVERY batch and torch.cat them")


def encode_values(case):
    for c in ENCODE_CASES:
        mu_ref, logvar_ref = _encoder_reference(case, c)
        got = case.tensor(f"mu_{c}").double()
        again = case.tensor(f"again_{c}").double()
        tolerance = {"atol": 1e-3, "rtol": 1e-2}  # the model may run on a GPU (TF32 matrix products)
        if got.shape == mu_ref.shape:
            if torch.allclose(got, mu_ref, **tolerance):
                continue
            if torch.allclose(got, logvar_ref, **tolerance):
                fail(case.exercise, "the means", "the log-variances", "model.encoder(x) returns (mu, logvar): keep the FIRST")
            if again.shape != got.shape or not torch.equal(again, got):
                fail(case.exercise, "the same mu on every call", "different values on two calls",
                     "return the encoder's mean mu, not a sample z = mu + sigma * eps")
        expect_close(case.exercise, got, mu_ref, f"latent_dim {case.inputs[f'latent_dim_{c}']}: row i must be the "
                     "encoder's mean for image i of the loader, batch after batch (model.encoder(x)[0])", **tolerance)


def encode_labels(case):
    for c in ENCODE_CASES:
        labels = case.tensor(f"labels_{c}")
        expect_shape(case.exercise, labels, case.inputs[f"y_{c}"].shape, "collect the labels of EVERY batch and torch.cat them")
        expect_equal(case.exercise, labels.long(), case.inputs[f"y_{c}"], "labels in loader order, batch after batch")


def encode_cpu_no_graph(case):
    for c in ENCODE_CASES:
        for name in (f"mu_{c}", f"labels_{c}"):
            case.tensor(name)
            meta = case.meta(name)
            if not str(meta.get("device", "cpu")).startswith("cpu"):
                fail(case.exercise, f"{name.split('_')[0]} on the CPU", f"a tensor on {meta.get('device')}",
                     "move each batch's results to the CPU before collecting them: mus.append(mu.cpu())")
            if meta.get("requires_grad"):
                fail(case.exercise, f"{name.split('_')[0]} without a computation graph", "a tensor that requires grad",
                     "encode inside `with torch.no_grad():` (or .detach() the means)")


ENCODE = Verdict(
    "test_encode_dataset", "Exercise 6.1 encode_dataset", encode_dataset_inputs, ENCODE_PROBE, (
        Part("a pair (mu (N, latent_dim), labels (N,)) covering every batch", 0.5, encode_shapes),
        Part("the encoder's means (not samples, not log-variances) in loader order", 0.75, encode_values),
        Part("the labels of every batch in loader order", 0.25, encode_labels),
        Part("on the CPU, without a computation graph", 0.5, encode_cpu_no_graph),
    ), helpers=VAE)


# ---------------------------------------------------------------- 6.2 latent_grid

GRID_CASES = ("main", "two", "default")


def grid_inputs(rng):
    return {"n_main": int(rng.integers(4, 8)), "limit_main": round(float(rng.uniform(0.5, 4.0)), 2),
            "n_two": 2, "limit_two": round(float(rng.uniform(0.5, 4.0)), 2),
            "n_default": int(rng.integers(3, 6)), "limit_default": 3.0}


GRID_PROBE = """
for c in ("main", "two"):
    with attempt(f"grid_{c}"):
        emit(f"grid_{c}", latent_grid(inputs[f"n_{c}"], limit=inputs[f"limit_{c}"]))
with attempt("grid_default"):
    emit("grid_default", latent_grid(inputs["n_default"]))  # the default limit
"""


def _grid(n, limit):
    """The course's grid in float64: row r is z2 = limit - r * step, column c is z1 = -limit + c * step."""
    values = torch.linspace(-limit, limit, n, dtype=torch.float64)
    return torch.tensor([[values[col].item(), values[n - 1 - row].item()] for row in range(n) for col in range(n)],
                        dtype=torch.float64)


def _judge_grid(case, c, what):
    n, limit = case.inputs[f"n_{c}"], case.inputs[f"limit_{c}"]
    got = case.tensor(f"grid_{c}", "return a tensor of shape (n * n, 2)")
    expected = _grid(n, limit)
    expect_shape(case.exercise, got, (n * n, 2), f"n = {n}: n * n points, one (z1, z2) pair per row")
    got = got.double()
    if close(got, expected, **NEAR):
        return
    where = f"{what} (n = {n}, limit = {limit:g})"
    first = [round(v, 4) for v in got[0].tolist()]
    if close(got, expected[:, [1, 0]], **NEAR):
        fail(case.exercise, f"{where}: column 0 = z1, column 1 = z2 (first point ({-limit:g}, {limit:g}))",
             f"first point {first}", "each row is (z1, z2): z1 first")
    if close(got[:, 0], expected[:, 0], **NEAR) and close(got[:, 1], -expected[:, 1], **NEAR):
        fail(case.exercise, f"{where}: z2 = +limit in the first row (the top of the picture)", f"first point {first}",
             "the grid is upside down: images are drawn from the top, so rows must run from z2 = +limit down to -limit "
             "(flip the z2 values)")
    if close(got, expected.reshape(n, n, 2).transpose(0, 1).reshape(-1, 2), **NEAR):
        fail(case.exercise, f"{where}: z1 changing along each row (the first {n} points share z2 = {limit:g})",
             f"first points {[[round(v, 4) for v in p] for p in got[:n].tolist()]}",
             "row-major order: z2 is fixed within a row of the picture and z1 changes fastest")
    if abs(got.max().item() - limit) > 1e-5 or abs(got.min().item() + limit) > 1e-5:
        fail(case.exercise, f"{where}: values from {-limit:g} to {limit:g}, both included",
             f"values from {got.min().item():.4g} to {got.max().item():.4g}",
             "include both endpoints: torch.linspace(-limit, limit, n), not torch.arange, which stops before the end")
    expect_close(case.exercise, got, expected, f"{where}: rows from z2 = +limit down to -limit, columns from "
                 "z1 = -limit to +limit, each row (z1, z2)", atol=1e-5, rtol=1e-5)


def grid_shape(case):
    for c in GRID_CASES:
        n = case.inputs[f"n_{c}"]
        got = case.tensor(f"grid_{c}", "return a tensor of shape (n * n, 2)")
        expect_shape(case.exercise, got, (n * n, 2), f"n = {n}: n * n points, one (z1, z2) pair per row")
        if not got.is_floating_point():
            fail(case.exercise, "a float tensor", got.dtype, "use torch.linspace (floats), not integer steps")


def grid_values(case):
    _judge_grid(case, "main", "the grader's grid")


def grid_edges(case):
    _judge_grid(case, "two", "two points a side")
    _judge_grid(case, "default", "latent_grid(n) without a limit: the default limit is 3.0")


GRID = Verdict(
    "test_latent_grid", "Exercise 6.2 latent_grid", grid_inputs, GRID_PROBE, (
        Part("shape (n * n, 2), floats", 0.5, grid_shape),
        Part("z2 falling down the rows, z1 rising along each row, both ends included", 1.0, grid_values),
        Part("n = 2, and the default limit 3.0", 0.5, grid_edges),
    ))


# ---------------------------------------------------------------- 6.3 interpolate

def interpolate_inputs(rng):
    d, d64 = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    return {"z_start": 1.5 * rng.standard_normal(d), "z_end": 1.5 * rng.standard_normal(d), "steps": int(rng.integers(5, 10)),
            "z_start_64": rng.standard_normal(d64), "z_end_64": rng.standard_normal(d64), "steps_64": int(rng.integers(3, 7))}


INTERPOLATE_PROBE = """
with attempt("path"):
    emit("path", interpolate(inputs["z_start"].float(), inputs["z_end"].float(), inputs["steps"]))
with attempt("ends_64"):
    emit("ends_64", interpolate(inputs["z_start_64"], inputs["z_end_64"], 2))
with attempt("path_64"):
    emit("path_64", interpolate(inputs["z_start_64"], inputs["z_end_64"], inputs["steps_64"]))
"""


def _line(z_start, z_end, steps):
    t = torch.arange(steps, dtype=torch.float64).unsqueeze(1) / (steps - 1)  # (steps, 1)
    return z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)


def interpolate_shape(case):
    for name, suffix, steps in (("path", "", case.inputs["steps"]), ("ends_64", "_64", 2),
                                ("path_64", "_64", case.inputs["steps_64"])):
        d = case.inputs[f"z_start{suffix}"].shape[0]
        got = case.tensor(name, "return a tensor of shape (steps, latent_dim)")
        expect_shape(case.exercise, got, (steps, d), f"steps {steps}, latent_dim {d}: one row per step, one column per "
                     "latent dimension: (steps, latent_dim)")


def interpolate_values(case):
    z_start, z_end, steps = case.inputs["z_start"].float().double(), case.inputs["z_end"].float().double(), case.inputs["steps"]
    got = case.tensor("path")
    expect_shape(case.exercise, got, (steps, z_start.shape[0]), "one row per step, one column per latent dimension: "
                 "(steps, latent_dim)")
    got = got.double()
    if close(got[0], z_end, **NEAR) and close(got[-1], z_start, **NEAR):
        fail(case.exercise, "the first row z_start", f"z_end first ({[round(v, 4) for v in got[0].tolist()]})",
             "go from z_start to z_end, not backwards")
    expect_close(case.exercise, got[0], z_start, "the first point is z_start (t = 0)", atol=1e-5)
    expect_close(case.exercise, got[-1], z_end, "the last point must be z_end itself: t = torch.linspace(0, 1, steps) "
                 "includes 1, while torch.arange(steps) / steps stops short of it", atol=1e-5)
    expect_close(case.exercise, got, _line(z_start, z_end, steps), f"{steps} points evenly spaced on the straight line: "
                 "z_start + t * (z_end - z_start), t = torch.linspace(0, 1, steps)", atol=1e-5)


def interpolate_float64(case):
    z_start, z_end = case.inputs["z_start_64"], case.inputs["z_end_64"]
    for name, steps in (("ends_64", 2), ("path_64", case.inputs["steps_64"])):
        got = case.tensor(name)
        if got.dtype != torch.float64:
            fail(case.exercise, "dtype torch.float64 for float64 codes", got.dtype,
                 "keep the dtype of z_start: torch.linspace(0, 1, steps, dtype=z_start.dtype)")
        expect_shape(case.exercise, got, (steps, z_start.shape[0]), "(steps, latent_dim)")
    expect_close(case.exercise, case.tensor("ends_64"), torch.stack([z_start, z_end]),
                 "steps = 2 must give exactly the two endpoints, z_start then z_end", atol=1e-9, rtol=0)
    expect_close(case.exercise, case.tensor("path_64"), _line(z_start, z_end, case.inputs["steps_64"]),
                 "float64 codes: z_start + t * (z_end - z_start), t = torch.linspace(0, 1, steps)", atol=1e-6, rtol=0)


INTERPOLATE = Verdict(
    "test_interpolate", "Exercise 6.3 interpolate", interpolate_inputs, INTERPOLATE_PROBE, (
        Part("shape (steps, latent_dim)", 0.5, interpolate_shape),
        Part("evenly spaced points from z_start to z_end, both ends included", 1.0, interpolate_values),
        Part("float64 kept; steps = 2 gives exactly the two ends", 0.5, interpolate_float64),
    ))

VERDICTS = (ENCODE, GRID, INTERPOLATE)
