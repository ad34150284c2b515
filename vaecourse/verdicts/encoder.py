"""Grader-side verdicts of 02_encoder (how they run: vaecourse/verdicts/core.py).

Sizes, layers and images are drawn per grading run. conv2d_output_size and count_parameters are
judged against their formulas; the Encoder is judged on what it computes: the kernel sends back
its outputs on the grader's images together with its own (randomly initialised) weights, and the
grader recomputes conv -> ReLU -> conv -> ReLU -> flatten -> two linear heads from those weights.
The Encoder's verdict does not use the student's count_parameters (2.2): the probe counts itself.
"""
import numpy as np
import torch
import torch.nn.functional as F

from vaecourse.checking import expect_dtype, expect_shape, fail
from vaecourse.verdicts.core import Part, PartFailed, Verdict


# ---------------------------------------------------------------- 2.1 conv2d_output_size

def conv_inputs(rng):
    cases = []
    while len(cases) < 60:
        n, k, s, p = int(rng.integers(1, 41)), int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(0, 4))
        if n + 2 * p >= k:
            cases.append((n, k, s, p))
    # the encoder's sizes, and cases where padding, the rounding and the + 1 all show
    cases += [(28, 4, 2, 1), (14, 4, 2, 1), (int(rng.integers(8, 30)) * 2 + 1, 4, 2, int(rng.integers(1, 3)))]
    defaults = [(int(rng.integers(5, 40)), int(rng.integers(1, 6))) for _ in range(4)]
    return {"cases": np.array(cases, dtype=np.int64), "defaults": np.array(defaults, dtype=np.int64)}


CONV_PROBE = """
cases, defaults = inputs["cases"].tolist(), inputs["defaults"].tolist()
with attempt("positional"):
    emit("positional", [conv2d_output_size(n, k, s, p) for n, k, s, p in cases[:32]])
with attempt("keywords"):
    emit("keywords", [conv2d_output_size(n, kernel_size=k, stride=s, padding=p) for n, k, s, p in cases[32:]])
with attempt("defaults"):
    emit("defaults", [conv2d_output_size(n, k) for n, k in defaults])
"""


def _size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


SLIPS = {  # a wrong formula, by its cause
    "padding adds zeros on BOTH sides: the padded length is size + 2 * padding": lambda n, k, s, p: (n + p - k) // s + 1,
    "count the window's first position too: + 1 after the division": lambda n, k, s, p: (n + 2 * p - k) // s,
    "a window that would stick out of the image is not used: round down (//), not up":
        lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
    "a size is a whole number: use floor division // (not /, which gives a float)": lambda n, k, s, p: (n + 2 * p - k) / s + 1,
}


def _sizes(case):
    """The answers to every case, in the order of inputs["cases"]."""
    got = []
    for name in ("positional", "keywords"):
        value = case[name]
        if not isinstance(value, list):
            fail(case.exercise, "a number per case", repr(value), "return the output length")
        got += value
    return got


def conv_int(case):
    for name in ("positional", "keywords", "defaults"):
        value = case[name]
        items = value if isinstance(value, list) else [value]
        bad = next((v for v in items if type(v) is not int), None)
        if bad is not None:
            fail(case.exercise, "an int for every size (e.g. 14 for size 28, k=4, s=2, p=1)",
                 f"{bad!r} of type {type(bad).__name__}",
                 "a size is a whole number: use floor division // (not /, which gives a float)")


def conv_values(case):
    cases = case.inputs["cases"].tolist()
    got = _sizes(case)
    expected = [_size(*c) for c in cases]
    if got != expected:
        cause = next((c for c, f in SLIPS.items() if [f(*a) for a in cases] == got),
                     "use floor((size + 2 * padding - kernel_size) / stride) + 1")
        i = next(i for i in range(len(cases)) if i >= len(got) or got[i] != expected[i])
        n, k, s, p = cases[i]
        fail(case.exercise, f"{expected[i]} for size={n}, kernel_size={k}, stride={s}, padding={p} (what nn.Conv2d gives)",
             repr(got[i]) if i < len(got) else "nothing", cause)


def conv_defaults(case):
    defaults = case.inputs["defaults"].tolist()
    got = case["defaults"]
    expected = [_size(n, k, 1, 0) for n, k in defaults]
    if got != expected:
        i = next(i for i in range(len(defaults)) if not isinstance(got, list) or i >= len(got) or got[i] != expected[i])
        n, k = defaults[i]
        fail(case.exercise, f"{expected[i]} for conv2d_output_size({n}, {k})",
             repr(got[i]) if isinstance(got, list) and i < len(got) else repr(got),
             "the defaults must be stride=1, padding=0: size - kernel_size + 1")


CONV = Verdict(
    "test_conv2d_output_size", "Exercise 2.1 conv2d_output_size", conv_inputs, CONV_PROBE, (
        Part("an int for every size", 0.5, conv_int),
        Part("the sizes nn.Conv2d gives, on 63 cases (padding, stride, rounding down)", 1.0, conv_values),
        Part("the defaults stride=1, padding=0", 0.5, conv_defaults),
    ))


# ---------------------------------------------------------------- 2.2 count_parameters

def count_inputs(rng):
    return {
        "linear_in": int(rng.integers(3, 200)), "linear_out": int(rng.integers(2, 50)),
        "conv_in": int(rng.integers(1, 16)), "conv_out": int(rng.integers(2, 40)), "kernel": int(rng.integers(1, 6)),
        "frozen_in": int(rng.integers(3, 60)), "frozen_out": int(rng.integers(2, 20)),
    }


COUNT_PROBE = """
from torch import nn as _nn
i = inputs
with attempt("model"):
    model = _nn.Sequential(_nn.Conv2d(i["conv_in"], i["conv_out"], i["kernel"]), _nn.ReLU(), _nn.Flatten(),
                           _nn.Linear(i["linear_in"], i["linear_out"]))
    emit("model", count_parameters(model))
with attempt("frozen"):
    frozen = _nn.Sequential(_nn.Linear(i["frozen_in"], i["frozen_out"]), _nn.Linear(i["frozen_out"], 1))
    frozen[0].weight.requires_grad_(False)
    emit("frozen", count_parameters(frozen))
with attempt("no_parameters"):
    emit("no_parameters", count_parameters(_nn.Sequential(_nn.ReLU(), _nn.Flatten())))
with attempt("no_bias"):
    emit("no_bias", count_parameters(_nn.Linear(i["linear_in"], i["linear_out"], bias=False)))
"""


def _expect_count(case, name, expected, what, cause):
    got = case[name]
    if isinstance(got, torch.Tensor) or type(got) is not int:
        fail(case.exercise, "an int", repr(got), "return a Python int: sum the .numel() of each parameter")
    if got != expected:
        fail(case.exercise, f"{expected:,} for {what}", f"{got:,}", cause)


def count_model(case):
    i = {k: case.inputs[k] for k in ("conv_in", "conv_out", "kernel", "linear_in", "linear_out")}
    conv = i["conv_out"] * (i["conv_in"] * i["kernel"] ** 2 + 1)
    linear = i["linear_out"] * (i["linear_in"] + 1)
    what = (f"Conv2d({i['conv_in']}, {i['conv_out']}, {i['kernel']}) and Linear({i['linear_in']}, {i['linear_out']})")
    got = case["model"]
    if got == 4:
        fail(case.exercise, f"{conv + linear:,} for {what}", 4,
             "that is the number of parameter TENSORS (two weights, two biases); add up their .numel()")
    if got == conv + linear - i["conv_out"] - i["linear_out"]:
        fail(case.exercise, f"{conv + linear:,} for {what}", f"{got:,}", "count the biases too: iterate over model.parameters()")
    _expect_count(case, "model", conv + linear, what, "add up p.numel() over model.parameters(): every entry of every "
                  "weight and bias")


def count_frozen(case):
    n_in, n_out = case.inputs["frozen_in"], case.inputs["frozen_out"]
    _expect_count(case, "frozen", n_out + n_out + 1, f"Linear({n_in}, {n_out}) with its weight frozen, then Linear({n_out}, 1)",
                  f"count only trainable parameters (p.requires_grad): the {n_in * n_out:,} frozen weights do not count")


def count_edge(case):
    _expect_count(case, "no_parameters", 0, "a ReLU and a Flatten", "a module without parameters has 0 parameters")
    n_in, n_out = case.inputs["linear_in"], case.inputs["linear_out"]
    _expect_count(case, "no_bias", n_in * n_out, f"Linear({n_in}, {n_out}, bias=False)",
                  "count the parameters the model has: a layer without bias has none to count")


COUNT = Verdict(
    "test_count_parameters", "Exercise 2.2 count_parameters", count_inputs, COUNT_PROBE, (
        Part("an int: every entry of every weight and bias of a model", 0.5, count_model),
        Part("frozen parameters (requires_grad False) are not counted", 0.25, count_frozen),
        Part("0 for a module without parameters, no bias where there is none", 0.25, count_edge),
    ))


# ---------------------------------------------------------------- 2.3 Encoder

SHAPES = ((1, 1), (3, 7), (16, 1))  # (latent_dim, batch)
CONVS = [(1, 32, (4, 4), (2, 2), (1, 1)), (32, 64, (4, 4), (2, 2), (1, 1))]


def encoder_inputs(rng):
    return {"seed": int(rng.integers(2 ** 31)), "x": rng.random((7, 1, 28, 28))}


ENCODER_PROBE = """
torch.manual_seed(inputs["seed"])
x = inputs["x"]
for ld, b in ((1, 1), (3, 7), (16, 1)):
    with attempt(f"mu_{ld}", f"logvar_{ld}", f"count_{ld}", f"convs_{ld}", f"params_{ld}", f"pair_{ld}"):
        enc = Encoder(latent_dim=ld)
        emit(f"count_{ld}", sum(p.numel() for p in enc.parameters()))
        emit(f"convs_{ld}", [[m.in_channels, m.out_channels, tuple(m.kernel_size), tuple(m.stride), tuple(m.padding)]
                             for m in enc.modules() if isinstance(m, torch.nn.Conv2d)])
        if ld == 3:
            emit("params_3", [p.detach().clone() for p in enc.parameters()])
        out = enc(x[:b].float())
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            emit(f"pair_{ld}", out)
        else:
            emit(f"mu_{ld}", out[0])
            emit(f"logvar_{ld}", out[1])
with attempt("mu64", "logvar64", "again", "one", "grads"):
    enc = Encoder(latent_dim=4).double()
    mu, logvar = enc(x)
    emit("mu64", mu)
    emit("logvar64", logvar)
    emit("again", tuple(enc(x)))
    emit("one", tuple(enc(x[3:4])))
    (mu.pow(2).sum() + logvar.pow(2).sum()).backward()
    emit("grads", [[name, -1.0 if p.grad is None else float(p.grad.abs().sum())] for name, p in enc.named_parameters()])
"""

TRACE = ("trace the shapes: (B, 1, 28, 28) -> (B, 32, 14, 14) -> (B, 64, 7, 7), flatten each image separately "
         "with torch.flatten(h, start_dim=1) -> (B, 3136), then two nn.Linear(3136, latent_dim) heads")


def _output(case, name):
    """The emitted tensor `name`; a crash of the student's code names the usual cause."""
    pair = case.outputs.values.get(name.replace("mu", "pair").replace("logvar", "pair"))
    if pair is not None:
        fail(case.exercise, "a pair (mu, logvar)", repr(pair), "forward must return two tensors: return mu, logvar")
    try:
        return case.tensor(name, "forward must return two tensors: return mu, logvar")
    except PartFailed as error:
        if "raised" in str(error) and ("shape" in str(error) or "size" in str(error)):
            raise PartFailed(f"{error} - {TRACE}") from None
        raise


def encoder_shapes(case):
    for ld, b in SHAPES:
        for name in ("mu", "logvar"):
            got = _output(case, f"{name}_{ld}")
            if got.dim() == 1:
                fail(case.exercise, f"{name} of shape {(b, ld)}", tuple(got.shape),
                     "flatten each image separately, keeping the batch dimension: torch.flatten(h, start_dim=1)")
            expect_shape(case.exercise, got, (b, ld), f"Encoder(latent_dim={ld}) on a batch of {b}: {name} must be "
                         f"(B, latent_dim): use latent_dim, not a fixed number, for both heads")


def encoder_layers(case):
    for ld, _ in SHAPES:
        convs = case[f"convs_{ld}"]
        convs = [[c[0], c[1], tuple(c[2]), tuple(c[3]), tuple(c[4])] for c in convs] if isinstance(convs, list) else convs
        if convs != [list(c) for c in CONVS]:
            fail(case.exercise, "the two convolutions of the table: Conv2d(1, 32, 4, stride=2, padding=1), "
                 "Conv2d(32, 64, 4, stride=2, padding=1)", repr(convs),
                 "channels 1 -> 32 -> 64, kernel_size=4, stride=2, padding=1 (28 -> 14 -> 7; see Exercise 2.1)")
        expected = 544 + 32832 + 2 * ld * 3137
        got = case[f"count_{ld}"]
        if got != expected:
            fail(case.exercise, f"{expected:,} parameters for latent_dim={ld} (544 + 32,832 + 2 x {ld} x 3,137)", repr(got),
                 "two convolutions, then exactly two nn.Linear(3136, latent_dim) heads (use latent_dim) and no extra layers")


def _layers(case):
    """The student's own layers, read from its parameters (in registration order) and convolution settings:
    [(weight, bias, stride, padding)] of the convolutions, and the rows and biases of every linear head."""
    params = [p.double() for p in case["params_3"] if isinstance(p, torch.Tensor)]
    settings = case["convs_3"]
    convs, rest, i = [], [], 0
    while i < len(params):
        p = params[i]
        bias = params[i + 1] if i + 1 < len(params) and tuple(params[i + 1].shape) == (p.shape[0],) else None
        if p.dim() == 4 and len(convs) < len(settings):
            convs.append((p, bias, tuple(settings[len(convs)][3]), tuple(settings[len(convs)][4])))
        elif p.dim() == 2:
            rest.append((p, bias if bias is not None else torch.zeros(p.shape[0], dtype=p.dtype)))
        i += 2 if bias is not None else 1
    if len(convs) != 2:
        fail(case.exercise, "two nn.Conv2d layers", f"{len(convs)}", "Conv2d(1, 32, 4, stride=2, padding=1) then "
             "Conv2d(32, 64, 4, stride=2, padding=1)")
    return convs, rest


def _heads(x, convs, rest, relu=True):
    """Every linear head's outputs side by side (B, all rows), on conv -> (ReLU) -> conv -> (ReLU) -> flatten."""
    act = F.relu if relu else (lambda t: t)
    h = x
    for weight, bias, stride, padding in convs:
        h = act(F.conv2d(h, weight, bias, stride=stride, padding=padding))
    h = h.flatten(1)
    outputs = [h @ weight.T + bias for weight, bias in rest if weight.shape[1] == h.shape[1]]
    if not outputs:
        return torch.zeros(len(x), 0, dtype=x.dtype)
    return torch.cat(outputs, dim=1)


def _matching_columns(got, candidates):
    """For each column of got: the index of a candidate column equal to it, or None."""
    if candidates.shape[1] == 0:
        return [None] * got.shape[1]
    scale = 1e-4 + 1e-3 * candidates.abs()
    close = ((got.unsqueeze(2) - candidates.unsqueeze(1)).abs() <= scale.unsqueeze(1)).all(dim=0)  # (D, R)
    return [int(c.nonzero()[0]) if c.any() else None for c in close]


def encoder_values(case):
    mu, logvar = _output(case, "mu_3").double(), _output(case, "logvar_3").double()
    for name, got in (("mu", mu), ("logvar", logvar)):
        if got.dim() != 2 or got.shape[0] != 7:
            fail(case.exercise, f"{name} of shape (7, latent_dim) for 7 images", tuple(got.shape),
                 "one row per image: flatten with start_dim=1 and apply the linear heads")
    convs, rest = _layers(case)
    x = case.inputs["x"]
    heads = _heads(x, convs, rest)
    found = {name: _matching_columns(got, heads) for name, got in (("mu", mu), ("logvar", logvar))}
    for name, got in (("mu", mu), ("logvar", logvar)):
        if None not in found[name]:
            continue
        if None not in _matching_columns(got, _heads(x, convs, rest, relu=False)):
            fail(case.exercise, f"{name} of conv -> ReLU -> conv -> ReLU -> linear (computed here from your weights)",
                 f"{name} of the same layers without the ReLUs", "put a ReLU after each convolution")
        if None not in _matching_columns(got, F.relu(heads)) or (got >= 0).all():
            fail(case.exercise, f"{name} to take negative values too", f"{name} >= 0 everywhere",
                 "no activation after the linear heads: a mean and a log-variance can be any real number")
        fail(case.exercise, f"{name} = a linear head applied to conv -> ReLU -> conv -> ReLU -> flatten "
             "(computed here from your weights)", "other values",
             "the layers of the table in that order, flatten each image (start_dim=1), no activation on the heads")
    if set(found["mu"]) & set(found["logvar"]):
        fail(case.exercise, "different mu and logvar", "the same head's outputs in both",
             "mu and logvar need separate heads (separate weights): self.fc_mu(h), self.fc_logvar(h)")


def encoder_float64_and_batch(case):
    mu, logvar = _output(case, "mu64"), _output(case, "logvar64")
    for name, got in (("mu", mu), ("logvar", logvar)):
        expect_shape(case.exercise, got, (7, mu.shape[-1]), f"{name} must be (B, latent_dim) like mu")
        expect_dtype(case.exercise, got, torch.float64, "a float64 model on float64 images must give float64 "
                     "(create no float32 tensors inside forward)")
        if not torch.isfinite(got).all():
            fail(case.exercise, "finite values", f"NaN or infinite values in {name}", "check the layers")
    again, one = case["again"], case["one"]
    if not (isinstance(again, tuple) and len(again) == 2 and torch.equal(again[0], mu) and torch.equal(again[1], logvar)):
        fail(case.exercise, "the same (mu, logvar) when the same images are encoded twice", "different values",
             "the encoder is deterministic: no sampling or dropout inside it")
    if not (isinstance(one, tuple) and len(one) == 2 and all(isinstance(t, torch.Tensor) and t.shape == (1, mu.shape[-1]) for t in one)
            and torch.allclose(one[0], mu[3:4], atol=1e-10) and torch.allclose(one[1], logvar[3:4], atol=1e-10)):
        fail(case.exercise, "image 3 encoded alone to give row 3 of the batch's (mu, logvar)", "other values",
             "each image is encoded independently of the rest of the batch (flatten with start_dim=1, no batch statistics)")
    grads = case["grads"]
    missing = [name for name, g in grads if not g > 0] if isinstance(grads, list) else ["?"]
    if missing or not grads:
        fail(case.exercise, "a gradient for every parameter", f"none for {missing}",
             "use every layer in forward, and do not detach or convert tensors to numpy")


ENCODER = Verdict(
    "test_encoder", "Exercise 2.3 Encoder", encoder_inputs, ENCODER_PROBE, (
        Part("mu and logvar of shape (B, latent_dim) for latent_dim 1, 3, 16 and batches 1 and 7", 1.0, encoder_shapes),
        Part("the layers of the table: convolutions 1 -> 32 -> 64 (kernel 4, stride 2, padding 1) and two heads", 1.0,
             encoder_layers),
        Part("conv -> ReLU -> conv -> ReLU -> flatten -> separate linear heads without activation, "
             "recomputed from your weights on the grader's images", 1.25, encoder_values),
        Part("float64 kept, deterministic, each image independent of the batch, gradients reach every parameter", 0.75,
             encoder_float64_and_batch),
    ))

VERDICTS = (CONV, COUNT, ENCODER)
