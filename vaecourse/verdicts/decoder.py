"""Grader-side verdicts of 03_decoder (how they run: vaecourse/verdicts/core.py).

Inputs are drawn per grading run; the reference values are computed here: sizes from the
formula, the decoder from the grader's weights loaded into the student's layers, samples
against the closed-form mean and spread and against the same seed, ConvVAE from the weights it
sends back. ConvVAE (3.4) is judged with the grader's stand-ins for Encoder, Decoder and reparameterize
(vaecourse/verdicts/stand_ins.py) in place of the student's, so a mistake in 3.2 or 3.3 costs that
exercise only.
"""
import inspect
import math

import numpy as np
import torch
import torch.nn.functional as F

from vaecourse.checking import (
    expect_close,
    expect_dtype,
    expect_equal,
    expect_shape,
    fail,
)
from vaecourse.verdicts.core import Part, PartFailed, Verdict, close, describe_meta, likely_cause, number
from vaecourse.verdicts.stand_ins import (
    CONV_VAE_PARTS,
    StandInDecoder,
    StandInEncoder,
    stand_in_reparameterize,
)

BATCHES = (1, 7)


def _tensor_or_none(case, name):
    """The emitted value `name` when it is a tensor, else None (a missing gradient comes back as None)."""
    value = case[name]
    return value if isinstance(value, torch.Tensor) and case.meta(name).get("kind") == "tensor" else None


# ---------------------------------------------------------------- 3.1 conv_transpose2d_output_size

SIZE_CASES = 24
DECODER_SIZES = ((7, 4, 2, 1), (14, 4, 2, 1))  # the decoder's own: 7 -> 14 -> 28


def _transposed(n, k, s=1, p=0):
    return (n - 1) * s - 2 * p + k


def size_inputs(rng):
    cases = list(DECODER_SIZES)
    while len(cases) < SIZE_CASES:
        n, k, s, p = (int(rng.integers(1, 30)), int(rng.integers(1, 8)), int(rng.integers(1, 5)),
                      int(rng.integers(0, 4)))
        if _transposed(n, k, s, p) >= 1:
            cases.append((n, k, s, p))
    order = rng.permutation(len(cases))
    defaults = [(int(rng.integers(2, 30)), int(rng.integers(1, 8))) for _ in range(2)]
    return {"cases": np.array([cases[i] for i in order], dtype=np.int64), "defaults": np.array(defaults, dtype=np.int64)}


SIZE_PROBE = """
for i, (n, k, s, p) in enumerate(inputs["cases"].tolist()):
    with attempt(f"size_{i}"):
        emit(f"size_{i}", conv_transpose2d_output_size(n, kernel_size=k, stride=s, padding=p))
for i, (n, k) in enumerate(inputs["defaults"].tolist()):
    with attempt(f"default_{i}"):
        emit(f"default_{i}", conv_transpose2d_output_size(n, k))
"""

# A wrong formula that explains every answer, named by its cause (as the visible check does)
SIZE_SLIPS = {
    "that is the size of a (forward) convolution; a transposed one goes the other way":
        lambda n, k, s, p: (n + 2 * p - k) // s + 1,
    "there are size - 1 gaps of stride pixels between the first and the last stamp: (size - 1) * stride":
        lambda n, k, s, p: n * s - 2 * p + k,
    "padding is cropped from BOTH sides: subtract 2 * padding": lambda n, k, s, p: (n - 1) * s - p + k,
}


def describe_value(case, name):
    """What came back as `name`, in words, from what the kernel said of it."""
    return describe_meta(case.meta(name))


def _size_names(case):
    return [f"size_{i}" for i in range(len(case.inputs["cases"]))] + \
        [f"default_{i}" for i in range(len(case.inputs["defaults"]))]


def size_int(case):
    for name in _size_names(case):
        case[name]
        meta = case.meta(name)
        if meta.get("kind") != "number" or meta.get("type") != "int":
            fail(case.exercise, "an int", describe_value(case, name), "sizes are whole numbers: return an int "
                 "(a Python int, not a float, a tensor or a numpy number)")


def _not_a_size(case, name, value):
    fail(case.exercise, "a number", describe_value(case, name), "return the output length as an int")


def size_values(case):
    cases = case.inputs["cases"].tolist()
    got = [number(case, f"size_{i}", _not_a_size, as_given=True) for i in range(len(cases))]
    expected = [_transposed(*c) for c in cases]
    if got != expected:
        cause = (likely_cause(SIZE_SLIPS, lambda slip: [slip(*a) for a in cases] == got)
                 or "use (size - 1) * stride - 2 * padding + kernel_size")
        i = next(i for i in range(len(cases)) if got[i] != expected[i])
        n, k, s, p = cases[i]
        fail(case.exercise, f"{expected[i]} for size={n}, kernel_size={k}, stride={s}, padding={p} "
             "(what nn.ConvTranspose2d gives)", got[i], cause)
    for i, (n, k) in enumerate(case.inputs["defaults"].tolist()):
        got = number(case, f"default_{i}", _not_a_size, as_given=True)
        if got != _transposed(n, k):
            fail(case.exercise, f"{_transposed(n, k)} for conv_transpose2d_output_size({n}, {k})", got,
                 "the defaults must be stride=1, padding=0")


SIZE = Verdict(
    "test_conv_transpose2d_output_size", "Exercise 3.1 conv_transpose2d_output_size", size_inputs, SIZE_PROBE, (
        Part("an int", 0.25, size_int),
        Part("the sizes of nn.ConvTranspose2d on the grader's cases, stride=1 and padding=0 by default", 0.75,
             size_values),
    ))


# ---------------------------------------------------------------- 3.2 Decoder

def _decoder_parameters(latent_dim):
    return 3136 * (latent_dim + 1) + 32800 + 513


def decoder_inputs(rng):
    latents = (1, 2, int(rng.integers(3, 17)))
    ld = int(rng.integers(2, 9))  # the latent size of the value, float64 and gradient checks
    inputs = {"seed": int(rng.integers(2 ** 31)), "latents": np.array(latents, dtype=np.int64), "ld": ld,
              "z": 1.5 * rng.standard_normal((5, ld)), "z64": rng.standard_normal((7, ld)),
              "weight_seed": int(rng.integers(2 ** 31))}  # the grader's weights: drawn from it on both sides
    for i, latent_dim in enumerate(latents):
        for b in BATCHES:
            inputs[f"z_{i}_{b}"] = 2 * rng.standard_normal((b, latent_dim))
    return inputs


def _grader_weights(seed, latent_dim):
    """The grader's decoder weights (float32), on the scale of PyTorch's default initialisation: the same
    numbers from the same seed in the kernel and in the grader (torch's CPU generator)."""
    generator = torch.Generator().manual_seed(seed)
    shapes = (("w_fc", (3136, latent_dim), latent_dim), ("b_fc", (3136,), latent_dim), ("w_up1", (64, 32, 4, 4), 256),
              ("b_up1", (32,), 256), ("w_up2", (32, 1, 4, 4), 128), ("b_up2", (1,), 128))
    return {name: (2 * torch.rand(shape, generator=generator) - 1) / fan_in ** 0.5 for name, shape, fan_in in shapes}


# The same function in the kernel (the probe's helpers): random numbers from a seed, not secret and no answer
WEIGHTS = inspect.getsource(_grader_weights)

DECODER_PROBE = """
torch.manual_seed(inputs["seed"])
for i, latent_dim in enumerate(inputs["latents"].tolist()):
    with attempt(f"params_{i}", *(f"{name}_{i}_{b}" for name in ("x_hat", "seen") for b in (1, 7))):
        dec = Decoder(latent_dim=latent_dim)
        emit(f"params_{i}", sum(p.numel() for p in dec.parameters() if p.requires_grad))
        seen = []  # input shapes of the nn.ConvTranspose2d layers, in call order
        hooks = [m.register_forward_pre_hook(lambda m, args: seen.append(list(args[0].shape)))
                 for m in dec.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        try:
            for b in (1, 7):
                with attempt(f"x_hat_{i}_{b}", f"seen_{i}_{b}"):
                    seen.clear()
                    try:
                        with torch.no_grad():
                            x_hat = dec(inputs[f"z_{i}_{b}"].float())
                    finally:
                        emit(f"seen_{i}_{b}", list(seen))
                    emit(f"x_hat_{i}_{b}", x_hat)
        finally:
            for h in hooks:
                h.remove()
ld = inputs["ld"]
with attempt("x_hat_big"):
    with torch.no_grad():
        emit("x_hat_big", Decoder(latent_dim=ld)(torch.full((1, ld), 50.0)))
with attempt("layers", "x_hat_w"):
    dec = Decoder(latent_dim=ld)
    found = {}
    for m in dec.modules():
        shape = tuple(getattr(getattr(m, "weight", None), "shape", ()))
        if isinstance(m, torch.nn.Linear) and shape == (3136, ld):
            found.setdefault("fc", m)
        elif isinstance(m, torch.nn.ConvTranspose2d) and shape == (64, 32, 4, 4):
            found.setdefault("up1", m)
        elif isinstance(m, torch.nn.ConvTranspose2d) and shape == (32, 1, 4, 4):
            found.setdefault("up2", m)
    emit("layers", sorted(found))
    weights = _grader_weights(inputs["weight_seed"], ld)
    with torch.no_grad():
        for key, m in found.items():
            m.weight.copy_(weights[f"w_{key}"])
            if m.bias is not None:
                m.bias.copy_(weights[f"b_{key}"])
        emit("x_hat_w", dec(inputs["z"].float()))
with attempt("x64", "x64_again", "x64_row"):
    dec = Decoder(latent_dim=ld).double()
    with torch.no_grad():
        emit("x64", dec(inputs["z64"]))
        emit("x64_again", dec(inputs["z64"]))
        emit("x64_row", dec(inputs["z64"][2:3]))
with attempt("requires_grad", "grad_missing", "grad_z"):
    dec = Decoder(latent_dim=ld)
    z = inputs["z"].float().requires_grad_()
    x_hat = dec(z)
    emit("requires_grad", bool(x_hat.requires_grad))
    if x_hat.requires_grad:
        x_hat.pow(2).sum().backward()
    emit("grad_missing", [n for n, p in dec.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)][:20])
    emit("grad_z", z.grad)
"""

DECODER_LAYERS = ("Linear(latent_dim, 3136), reshape to (B, 64, 7, 7), ConvTranspose2d(64, 32, 4, stride=2, padding=1), "
                  "ReLU, ConvTranspose2d(32, 1, 4, stride=2, padding=1), Sigmoid")
CHANNELS_FIRST = "reshape the linear layer's (B, 3136) output to (B, 64, 7, 7): channels first, h.view(-1, 64, 7, 7)"


def _decoder_cases(case):
    return [(i, ld, b) for i, ld in enumerate(case.inputs["latents"].tolist()) for b in BATCHES]


def decoder_shape(case):
    cases = _decoder_cases(case)
    for i, ld, b in cases:  # a reshape to the wrong layout shows in what the first transposed convolution receives
        seen = case.outputs.values.get(f"seen_{i}_{b}")
        if isinstance(seen, list) and seen and seen[0] != [b, 64, 7, 7]:
            fail(case.exercise, f"the first transposed convolution to receive {(b, 64, 7, 7)}", tuple(seen[0]),
                 CHANNELS_FIRST)
    worked = {ld for i, ld, b in cases if f"x_hat_{i}_{b}" in case.outputs.values}
    failed = sorted({ld for i, ld, b in cases} - worked)
    if worked and failed:
        i = next(i for i, ld, b in cases if ld == failed[0])
        fail(case.exercise, f"x_hat from Decoder(latent_dim={failed[0]}) and z of shape (B, {failed[0]})",
             f"{case.outputs.problems.get(f'x_hat_{i}_1', 'no x_hat')} (latent_dim {sorted(worked)} worked)",
             "use latent_dim for the linear layer's input: Linear(latent_dim, 3136)")
    for i, ld, b in cases:
        got = case.tensor(f"x_hat_{i}_{b}")
        seen = case[f"seen_{i}_{b}"]
        if tuple(got.shape) != (b, 1, 28, 28) and isinstance(seen, list) and len(seen) > 1 and seen[1] != [b, 32, 14, 14]:
            fail(case.exercise, f"the second transposed convolution to receive {(b, 32, 14, 14)} (latent_dim {ld})",
                 tuple(seen[1]), "use kernel_size=4, stride=2, padding=1 in the first transposed convolution (7 -> 14)")
        expect_shape(case.exercise, got, (b, 1, 28, 28), f"latent_dim {ld}, batch {b}: use kernel_size=4, stride=2, "
                     "padding=1 in both transposed convolutions (7 -> 14 -> 28) and end with one channel")


def decoder_parameters(case):
    for i, ld in enumerate(case.inputs["latents"].tolist()):
        got = case[f"params_{i}"]
        if ld == 2:
            cause = ("Linear(2, 3136) has 9,408 parameters, ConvTranspose2d(64, 32, 4) 32,800, ConvTranspose2d(32, 1, 4) "
                     "513: check the channels and that there are no extra layers")
        else:
            cause = (f"Decoder(latent_dim={ld}): Linear(latent_dim, 3136) has 3136 * (latent_dim + 1) parameters - use "
                     "latent_dim for the linear layer's input; the transposed convolutions add 33,313")
        expect_equal(case.exercise, got, _decoder_parameters(ld), cause)


def decoder_range(case):
    for i, ld, b in _decoder_cases(case):
        got = case.tensor(f"x_hat_{i}_{b}").double()
        if got.numel() and not ((got > 0) & (got < 1)).all():
            fail(case.exercise, "values in (0, 1)", f"values from {got.min():.3f} to {got.max():.3f}",
                 "end with a Sigmoid: x_hat holds Bernoulli probabilities, one per pixel")
    big = case.tensor("x_hat_big").double()
    if not ((big >= 0) & (big <= 1)).all():
        fail(case.exercise, "values in [0, 1] for a large z (all 50)", f"values from {big.min():.3f} to {big.max():.3f}",
             "end with a Sigmoid: x_hat holds Bernoulli probabilities, one per pixel")


def _reference_decoder(case):
    i = {k: v.double() for k, v in _grader_weights(case.inputs["weight_seed"], case.inputs["ld"]).items()}
    h = F.linear(case.inputs["z"].float().double(), i["w_fc"], i["b_fc"]).view(-1, 64, 7, 7)  # z as the probe gives it
    h = F.relu(F.conv_transpose2d(h, i["w_up1"], i["b_up1"], stride=2, padding=1))
    return torch.sigmoid(F.conv_transpose2d(h, i["w_up2"], i["b_up2"], stride=2, padding=1))


def decoder_values(case):
    layers = case["layers"]
    if layers != ["fc", "up1", "up2"]:
        missing = [name for key, name in (("fc", f"Linear({case.inputs['ld']}, 3136)"), ("up1", "ConvTranspose2d(64, 32, 4)"),
                                          ("up2", "ConvTranspose2d(32, 1, 4)")) if key not in (layers or [])]
        fail(case.exercise, f"the layers {DECODER_LAYERS}", f"no {', '.join(missing)} among your layers",
             "build the decoder from nn.Linear and nn.ConvTranspose2d layers of these shapes")
    got = case.tensor("x_hat_w")
    expect_shape(case.exercise, got, (5, 1, 28, 28), "x_hat has one channel of 28 x 28 pixels per image")
    if not ((got > 0) & (got < 1)).all():
        fail(case.exercise, "values in (0, 1)", f"values from {got.min():.3f} to {got.max():.3f}",
             "end with a Sigmoid: x_hat holds Bernoulli probabilities, one per pixel")
    expect_close(case.exercise, got.double(), _reference_decoder(case),
                 f"with the grader's weights in your layers, x_hat must be what {DECODER_LAYERS} give, in that order",
                 atol=1e-5, rtol=1e-4)


def decoder_float64(case):
    x64 = case.tensor("x64")
    expect_dtype(case.exercise, x64, torch.float64, "a float64 model and z must give float64: no .float() inside")
    b = case.inputs["z64"].shape[0]
    expect_shape(case.exercise, x64, (b, 1, 28, 28), "one image per row of z")
    if not torch.equal(x64, case.tensor("x64_again")):
        fail(case.exercise, "the same x_hat for the same z", "a different one",
             "the decoder must be deterministic: no sampling or dropout in it")
    if torch.allclose(x64[0], x64[1]):
        fail(case.exercise, "different images for different z", "the same image",
             "decode each row of z: do not average over the batch")
    expect_close(case.exercise, case.tensor("x64_row"), x64[2:3], "each z must be decoded independently of the batch: "
                 "decoding row 2 alone must give row 2 of the batch's x_hat", atol=1e-10, rtol=0)


def decoder_gradient(case):
    cause = "use every layer in forward; do not detach"
    if case["requires_grad"] is not True:
        fail(case.exercise, "x_hat connected to the parameters in the autograd graph", "a tensor that does not require grad",
             cause)
    missing = case["grad_missing"]
    if missing != []:
        fail(case.exercise, "a gradient for every parameter", f"none for {missing}", cause)
    grad = _tensor_or_none(case, "grad_z")
    if grad is None or not grad.abs().sum() > 0:
        fail(case.exercise, "a gradient with respect to z", "none", "z must stay connected to x_hat: do not detach it")


DECODER = Verdict(
    "test_decoder", "Exercise 3.2 Decoder", decoder_inputs, DECODER_PROBE, (
        Part("x_hat of shape (B, 1, 28, 28) for batches of 1 and 7 and three latent sizes", 0.75, decoder_shape),
        Part("3136 (latent_dim + 1) + 33,313 parameters (42,721 for latent_dim 2)", 0.5, decoder_parameters),
        Part("values in (0, 1), in [0, 1] for a large z", 0.5, decoder_range),
        Part("with the grader's weights in your layers, the course's x_hat", 0.5, decoder_values),
        Part("float64 kept, deterministic, each z decoded independently of the batch", 0.25, decoder_float64),
        Part("a gradient for every parameter and for z", 0.5, decoder_gradient),
    ), helpers=WEIGHTS)


# ---------------------------------------------------------------- 3.3 reparameterize

SAMPLES = 20_000


def reparameterize_inputs(rng):
    # three columns with |logvar| in [1, 2], where exp(logvar), |logvar| and exp(logvar / 2) differ, and a
    # column with mu = 0, logvar = 0, where z is the noise itself
    inputs = {"seed": int(rng.integers(2 ** 30)),
              "mu_row": np.concatenate([rng.uniform(-3, 3, 3), [0.0]]),
              "logvar_row": np.concatenate([rng.choice([-1.0, 1.0], 3) * rng.uniform(1, 2, 3), [0.0]])}
    for i, b in enumerate((1, int(rng.integers(5, 9)))):
        d = int(rng.integers(2, 6))
        inputs[f"mu_{i}"] = rng.standard_normal((b, d))
        inputs[f"logvar_{i}"] = rng.standard_normal((b, d))
        inputs[f"w_{i}"] = rng.standard_normal((b, d))
    return inputs


REPARAMETERIZE_PROBE = f"""
seed = inputs["seed"]
with attempt("z_many"):
    torch.manual_seed(seed)
    emit("z_many", reparameterize(inputs["mu_row"].repeat({SAMPLES}, 1), inputs["logvar_row"].repeat({SAMPLES}, 1)))
for i in range(2):
    mu, logvar = inputs[f"mu_{{i}}"].clone().requires_grad_(), inputs[f"logvar_{{i}}"].clone().requires_grad_()
    with attempt(f"z_{{i}}", f"grad_mu_{{i}}", f"grad_logvar_{{i}}"):
        torch.manual_seed(seed + 1 + i)
        z = reparameterize(mu, logvar)
        emit(f"z_{{i}}", z)
        if z.requires_grad:
            (z * inputs[f"w_{{i}}"]).sum().backward()
        emit(f"grad_mu_{{i}}", mu.grad)
        emit(f"grad_logvar_{{i}}", logvar.grad)
with attempt("fresh_a", "fresh_b"):
    emit("fresh_a", reparameterize(torch.zeros(3, 2), torch.zeros(3, 2)))
    emit("fresh_b", reparameterize(torch.zeros(3, 2), torch.zeros(3, 2)))
with attempt("tiny"):
    emit("tiny", reparameterize(inputs["mu_row"].repeat(4, 1), torch.full((4, 4), -60.0, dtype=torch.float64)))
"""


def _eps(seed, shape):
    """The noise torch.randn_like draws for a float64 tensor of `shape` right after torch.manual_seed(seed)."""
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def reparameterize_shape(case):
    z = case.tensor("z_many")
    expect_shape(case.exercise, z, (SAMPLES, 4), "z has the shape of mu: draw eps with torch.randn_like(mu)")
    expect_dtype(case.exercise, z, torch.float64, "z has the dtype of mu: draw eps with torch.randn_like(mu) (float64 here)")
    for i in range(2):
        mu = case.inputs[f"mu_{i}"]
        got = case.tensor(f"z_{i}")
        expect_shape(case.exercise, got, tuple(mu.shape), "z has the shape of mu: draw eps with torch.randn_like(mu)")
        expect_dtype(case.exercise, got, torch.float64, "z has the dtype of mu: draw eps with torch.randn_like(mu)")
    noise = z[:, 3]  # mu = 0, sigma = 1: z is eps itself
    if noise.std() > 0.5 and torch.equal(noise.float().double(), noise):
        fail(case.exercise, "float64 noise for float64 mu", "noise drawn in float32 and converted",
             "draw eps with the dtype and device of mu: torch.randn_like(mu), not torch.randn(mu.shape)")


def _rounded(t):
    return [round(v, 2) for v in t.tolist()]


def reparameterize_statistics(case):
    z = case.tensor("z_many").double()
    expect_shape(case.exercise, z, (SAMPLES, 4), "z has the shape of mu")
    mu, logvar = case.inputs["mu_row"], case.inputs["logvar_row"]
    if torch.equal(z, mu.expand_as(z)):
        fail(case.exercise, "random samples around mu", "z equal to mu", "add the noise: sigma * eps")
    sigma = torch.exp(0.5 * logvar)
    mean, sd = z.mean(0), z.std(0)

    def near(target):  # within 3 % (or 0.01): tells the common slips apart, not a pass
        return bool(((sd - target).abs() <= 0.03 * target + 0.01).all())

    if near(sigma / math.sqrt(12)) or ((mean - mu) / sigma - 0.5).abs().max() < 0.05:
        fail(case.exercise, f"means {_rounded(mu)} and standard deviations {_rounded(sigma)}",
             f"means {_rounded(mean)} and standard deviations {_rounded(sd)}",
             "eps must be standard normal, mean 0 and spread 1 (torch.randn_like, not the uniform torch.rand_like)")
    if near(torch.exp(logvar)):
        fail(case.exercise, f"standard deviations {_rounded(sigma)} for variances {_rounded(torch.exp(logvar))}",
             _rounded(sd), "exp(logvar) is the variance; the standard deviation is exp(0.5 * logvar) - the 0.5 is missing")
    if near(logvar.abs()):
        fail(case.exercise, f"standard deviations {_rounded(sigma)} for logvar {_rounded(logvar)}", _rounded(sd),
             "logvar is a logarithm: take exp(0.5 * logvar) before multiplying with eps")
    se = sigma / math.sqrt(SAMPLES)
    if ((mean - mu).abs() > 5 * se).any():
        fail(case.exercise, f"means {_rounded(mu)} (within 5 standard errors)", _rounded(mean),
             "the samples must be centred on mu: z = mu + sigma * eps with eps of mean 0 "
             "(standard normal: torch.randn_like, not the uniform torch.rand_like)")
    if ((sd - sigma).abs() > 5 * sigma / math.sqrt(2 * SAMPLES)).any():
        fail(case.exercise, f"standard deviations {_rounded(sigma)} (within 5 standard errors)", _rounded(sd),
             "the spread must be sigma = exp(0.5 * logvar); eps must be standard normal (randn, not rand)")


def reparameterize_seeded(case):
    seed = case.inputs["seed"]
    for i in range(2):
        mu, logvar = case.inputs[f"mu_{i}"], case.inputs[f"logvar_{i}"]
        expected = mu + torch.exp(0.5 * logvar) * _eps(seed + 1 + i, tuple(mu.shape))
        expect_close(case.exercise, case.tensor(f"z_{i}").double(), expected,
                     "with torch.manual_seed(s), z must equal mu + exp(0.5 * logvar) * torch.randn_like(mu): "
                     "draw eps once, with the dtype of mu, and nothing else random", atol=1e-10, rtol=0)
    a, b = case.tensor("fresh_a"), case.tensor("fresh_b")
    if torch.equal(a, b):
        fail(case.exercise, "fresh noise on every call", "the same z twice", "draw eps inside reparameterize, every call")
    tiny = case.tensor("tiny").double()
    expect_close(case.exercise, tiny, case.inputs["mu_row"].expand(4, 4), "with a tiny variance (logvar = -60) z must "
                 "equal mu: sigma = exp(0.5 * logvar)", atol=1e-6, rtol=0)


def reparameterize_gradient(case):
    for i in range(2):
        z = case.tensor(f"z_{i}")
        if not case.meta(f"z_{i}").get("requires_grad"):
            fail(case.exercise, "z connected to mu and logvar in the autograd graph", "a tensor that does not require grad",
                 "sampling with .sample() or under torch.no_grad() blocks gradients: compute z from mu and std with "
                 "eps drawn separately")
        grad_mu, grad_logvar = _tensor_or_none(case, f"grad_mu_{i}"), _tensor_or_none(case, f"grad_logvar_{i}")
        no_mu = grad_mu is None or not grad_mu.abs().sum() > 0
        no_logvar = grad_logvar is None or not grad_logvar.abs().sum() > 0
        if no_mu and no_logvar:
            fail(case.exercise, "dz/dmu = 1 and dz/dlogvar = (z - mu) / 2", "no gradient (None or zeros) for mu and logvar",
                 "torch.normal(mu, std) and Normal(mu, std).sample() treat mu and std as constants: "
                 "draw eps ~ N(0, I) separately and compute z from mu and std")
        if no_mu:
            fail(case.exercise, "dz/dmu = 1", "no gradient for mu", "add mu itself, not a detached copy")
        if no_logvar:
            fail(case.exercise, "dz/dlogvar = (z - mu) / 2", "no gradient for logvar",
                 "the gradient must reach logvar through std: do not detach std (or compute it outside autograd)")
        w, mu = case.inputs[f"w_{i}"], case.inputs[f"mu_{i}"]
        expect_close(case.exercise, grad_mu.double(), w, "dz/dmu must be 1: add mu itself, not a detached copy", atol=1e-6)
        expect_close(case.exercise, grad_logvar.double(), w * 0.5 * (z.double() - mu),
                     "dz/dlogvar must be sigma * eps / 2 = (z - mu) / 2: do not detach std or eps, and use "
                     "exp(0.5 * logvar)", atol=1e-6)


REPARAMETERIZE = Verdict(
    "test_reparameterize", "Exercise 3.3 reparameterize", reparameterize_inputs, REPARAMETERIZE_PROBE, (
        Part("z of the shape and dtype of mu, float64 noise for float64 mu", 0.5, reparameterize_shape),
        Part("many samples: mean mu, standard deviation exp(0.5 * logvar)", 1.0, reparameterize_statistics),
        Part("with a fixed seed, mu + exp(0.5 * logvar) * randn_like(mu); fresh noise; z = mu for a tiny variance", 0.5,
             reparameterize_seeded),
        Part("the gradients dz/dmu = 1 and dz/dlogvar = (z - mu) / 2", 1.0, reparameterize_gradient),
    ))


# ---------------------------------------------------------------- 3.4 ConvVAE
# ConvVAE is judged with the grader's stand-ins for Encoder, Decoder and reparameterize in the notebook's
# globals (vaecourse/verdicts/stand_ins.py: linear maps, and a reparameterize that does not sample; not
# secret, and not the answer to any exercise), so a mistake in 3.2 or 3.3 costs that exercise only and the
# kernel is sent no answer of 02 or 03. A ConvVAE that draws z itself, as 3.3 does, is right too.

VAE_LATENTS = (2, 5)


def _stand_ins(latent_dim):
    """Fresh stand-ins (encoder, decoder) for `latent_dim`, built without touching the grader's random state."""
    with torch.random.fork_rng(devices=[]):
        return StandInEncoder(latent_dim), StandInDecoder(latent_dim)


def _vae_parameters(latent_dim):
    """The parameters of ConvVAE(latent_dim) built from the stand-ins: theirs, nothing more."""
    return sum(p.numel() for module in _stand_ins(latent_dim) for p in module.parameters())


def vae_inputs(rng):
    inputs = {"seed": int(rng.integers(2 ** 30)), "ld": int(rng.integers(3, 7)), "x_v": rng.random((6, 1, 28, 28))}
    for b in BATCHES:
        inputs[f"x_{b}"] = rng.random((b, 1, 28, 28))
    return inputs


VAE_PROBE = f"""
with course_versions(Encoder=StandInEncoder, Decoder=StandInDecoder, reparameterize=stand_in_reparameterize):
    torch.manual_seed(inputs["seed"])
    for latent_dim in {VAE_LATENTS!r}:
        with attempt(f"params_{{latent_dim}}", *(f"{{name}}_{{latent_dim}}_{{b}}" for name in ("attributes", "out") for b in (1, 7))):
            model = ConvVAE(latent_dim=latent_dim)
            emit(f"params_{{latent_dim}}", sum(p.numel() for p in model.parameters() if p.requires_grad))
            for b in (1, 7):
                emit(f"attributes_{{latent_dim}}_{{b}}",
                     [isinstance(getattr(model, name, None), torch.nn.Module) for name in ("encoder", "decoder")])
                with attempt(f"out_{{latent_dim}}_{{b}}"), torch.no_grad():
                    emit(f"out_{{latent_dim}}_{{b}}", model(inputs[f"x_{{b}}"].float()))
    with attempt("params_default"):
        emit("params_default", sum(p.numel() for p in ConvVAE().parameters() if p.requires_grad))
    ld = inputs["ld"]
    with attempt("encoder_state", "decoder_state", "out_v"):
        model = ConvVAE(latent_dim=ld).double()
        emit("encoder_state", dict(model.encoder.state_dict()))
        emit("decoder_state", dict(model.decoder.state_dict()))
        with torch.no_grad():
            torch.manual_seed(inputs["seed"] + 1)
            emit("out_v", model(inputs["x_v"]))
    with attempt("grad_missing"):
        model = ConvVAE(latent_dim=ld)
        out = model(inputs["x_v"].float())
        x_hat = next((t for t in out if isinstance(t, torch.Tensor) and t.dim() == 4), out[0])
        if x_hat.requires_grad:
            x_hat.sum().backward()
        emit("grad_missing", [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)][:20])
"""

ORDER = "return x_hat, mu, logvar in that order"


def _triple(case, name):
    out = case[name]
    if not isinstance(out, (tuple, list)) or len(out) != 3 or not all(isinstance(t, torch.Tensor) for t in out):
        fail(case.exercise, "a triple of tensors (x_hat, mu, logvar)", describe_value(case, name), "return x_hat, mu, logvar")
    return out


def vae_shapes(case):
    for ld in VAE_LATENTS:
        for b in BATCHES:
            attributes = case[f"attributes_{ld}_{b}"]
            for name, ok in zip(("encoder", "decoder"), attributes if isinstance(attributes, list) else [False, False]):
                if ok is not True:
                    fail(case.exercise, f"an attribute model.{name} (an nn.Module)", "none",
                         "set self.encoder = Encoder(latent_dim) and self.decoder = Decoder(latent_dim) in __init__")
            x_hat, mu, logvar = _triple(case, f"out_{ld}_{b}")
            if tuple(x_hat.shape) != (b, 1, 28, 28) and any(tuple(t.shape) == (b, 1, 28, 28) for t in (mu, logvar)):
                fail(case.exercise, "(x_hat, mu, logvar) in that order", "the image in another place", ORDER)
            where = f"latent_dim {ld}, batch {b}: "
            expect_shape(case.exercise, x_hat, (b, 1, 28, 28), where + "x_hat comes first and has the shape of x")
            expect_shape(case.exercise, mu, (b, ld), where + "mu comes second: (B, latent_dim); pass latent_dim to "
                         "Encoder and Decoder")
            expect_shape(case.exercise, logvar, (b, ld), where + "logvar comes third: (B, latent_dim)")


def vae_parameters(case):
    for ld in VAE_LATENTS:
        expect_equal(case.exercise, case[f"params_{ld}"], _vae_parameters(ld),
                     f"ConvVAE(latent_dim={ld}), built from the grader's own Encoder and Decoder, must hold exactly "
                     "their parameters: an Encoder(latent_dim) and a Decoder(latent_dim), nothing more")
    expect_equal(case.exercise, case["params_default"], _vae_parameters(2),
                 "ConvVAE() must have latent_dim=2 by default: Encoder(2) and Decoder(2)")


def _states(case):
    """Grader-side stand-ins (encoder, decoder) in float64 holding the weights of model.encoder and model.decoder
    as they came back, which must be the stand-ins' own."""
    modules = []
    for name, module in zip(("encoder_state", "decoder_state"), _stand_ins(case.inputs["ld"])):
        state = case[name]
        got = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)} if isinstance(state, dict) else {}
        if got != {k: tuple(v.shape) for k, v in module.state_dict().items()}:
            what = "Encoder(latent_dim)" if name == "encoder_state" else "Decoder(latent_dim)"
            fail(case.exercise, f"model.{name.split('_')[0]} to be {what}", f"a module with the parameters {sorted(got)[:6]}",
                 "set self.encoder = Encoder(latent_dim) and self.decoder = Decoder(latent_dim) in __init__")
        module.double().load_state_dict({k: v.double() for k, v in state.items()})
        modules.append(module)
    return modules


def vae_values(case):
    x_hat, mu, logvar = _triple(case, "out_v")
    b, ld = case.inputs["x_v"].shape[0], case.inputs["ld"]
    if tuple(x_hat.shape) != (b, 1, 28, 28) and any(tuple(t.shape) == (b, 1, 28, 28) for t in (mu, logvar)):
        fail(case.exercise, "(x_hat, mu, logvar) in that order", "the image in another place", ORDER)
    for name, t in (("x_hat", x_hat), ("mu", mu), ("logvar", logvar)):
        expect_dtype(case.exercise, t, torch.float64, f"a float64 model and x must give a float64 {name}")
    encoder, decoder = _states(case)
    with torch.no_grad():
        mu_ref, logvar_ref = encoder(case.inputs["x_v"])
        expect_close(case.exercise, mu, mu_ref, "mu and logvar must be what self.encoder(x) returns", atol=1e-8, rtol=1e-6)
        expect_close(case.exercise, logvar, logvar_ref, "mu and logvar must be what self.encoder(x) returns",
                     atol=1e-8, rtol=1e-6)
        called = decoder(stand_in_reparameterize(mu_ref, logvar_ref))  # z = reparameterize(mu, logvar)
        drawn = decoder(mu_ref + torch.exp(0.5 * logvar_ref) * _eps(case.inputs["seed"] + 1, (b, ld)))  # z drawn here
        if close(x_hat, called, rtol=1e-6, atol=1e-8) or close(x_hat, drawn, rtol=1e-6, atol=1e-8):
            return
        if close(x_hat, decoder(mu_ref), rtol=1e-6, atol=1e-8):
            fail(case.exercise, "x_hat = self.decoder(z) for z = reparameterize(mu, logvar)", "self.decoder(mu)",
                 "decode a sample z = reparameterize(mu, logvar), not mu itself")
        expect_close(case.exercise, x_hat, called, "x_hat must be self.decoder(z) for z = reparameterize(mu, logvar), "
                     "with mu and logvar from self.encoder(x)", atol=1e-8, rtol=1e-6)


def vae_gradient(case):
    missing = case["grad_missing"]
    if not isinstance(missing, list):
        raise PartFailed(f"{case.exercise}: no list of parameters came back")
    if missing and all(str(name).startswith("encoder.logvar_head.") for name in missing):
        fail(case.exercise, "a gradient from x_hat for logvar's layer", f"none for {missing[:4]}",
             "logvar must shape x_hat through the noise: decode a sample z = reparameterize(mu, logvar), not mu itself")
    if any(str(name).startswith("encoder.") for name in missing):
        fail(case.exercise, "gradients from x_hat back into the encoder", f"none for {missing[:4]}",
             "z must stay connected to mu and logvar: do not detach z or sample without the trick")
    if missing:
        fail(case.exercise, "a gradient from x_hat for every parameter", f"none for {missing[:4]}",
             "use the encoder's mu and logvar and the decoder in forward; do not detach")


CONV_VAE = Verdict(
    "test_conv_vae", "Exercise 3.4 ConvVAE", vae_inputs, VAE_PROBE, (
        Part("model.encoder and model.decoder; (x_hat, mu, logvar) of the right shapes for two latent sizes and "
             "batches of 1 and 7", 1.0, vae_shapes),
        Part("the parameters of an Encoder(latent_dim) and a Decoder(latent_dim), nothing more; latent_dim=2 by default",
             0.5, vae_parameters),
        Part("float64 kept; mu, logvar from self.encoder(x) and x_hat = self.decoder(z) for z = reparameterize(mu, logvar)",
             1.0, vae_values),
        Part("gradients from x_hat reach every parameter, the encoder's included", 0.5, vae_gradient),
    ), helpers=CONV_VAE_PARTS)

VERDICTS = (SIZE, DECODER, REPARAMETERIZE, CONV_VAE)
