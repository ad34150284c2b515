"""Grader-side verdicts of 04_elbo (how they run: vaecourse/verdicts/core.py).

Inputs are drawn per grading run; the reference values are computed here from the formulas of
the notebook. vae_loss (4.4) is judged with stand-ins for the course's reconstruction_loss and
kl_divergence in place of the student's (vaecourse/verdicts/foreseen_calls.py: the grader's values and
partial derivatives for the probe's inputs, never the formulas), so a mistake in 4.1 or 4.2 costs
that exercise only. kl_monte_carlo (4.3) must be an estimate: its spread over calls on the same
mu and logvar shrinks like 1/sqrt(num_samples), so the closed form (4.2) or a fixed number of samples
is told from it.
"""
import math

import numpy as np
import torch

from vaecourse.checking import expect_close, expect_dtype, expect_shape, fail
from vaecourse.verdicts import foreseen_calls
from vaecourse.verdicts.core import Part, Verdict, close, likely_cause

BATCHES = (1, 7)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---------------------------------------------------------------- 4.1 reconstruction_loss

def reconstruction_inputs(rng):
    inputs = {}
    for b in BATCHES:
        inputs[f"x_{b}"] = rng.random((b, 1, 28, 28))  # grey values, not only 0 and 1
        inputs[f"x_hat_{b}"] = _sigmoid(2 * rng.standard_normal((b, 1, 28, 28)))
    return inputs


RECONSTRUCTION_PROBE = """
for b in (1, 7):
    x_hat = inputs[f"x_hat_{b}"].clone().requires_grad_()
    with attempt(f"loss_{b}", f"grad_{b}"):
        loss = reconstruction_loss(x_hat, inputs[f"x_{b}"])
        emit(f"loss_{b}", loss)
        loss.sum().backward()
        emit(f"grad_{b}", x_hat.grad)
"""


def _bernoulli_nll(x_hat, x):
    return -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum(dim=(1, 2, 3))


def _bce(case, b):
    return _bernoulli_nll(case.inputs[f"x_hat_{b}"], case.inputs[f"x_{b}"])


def reconstruction_shape(case):
    for b in BATCHES:
        got = case.tensor(f"loss_{b}")
        if got.dim() == 0:
            fail(case.exercise, f"shape ({b},)", "() - a single number",
                 "return one value per image: sum over the pixels (dims 1, 2, 3), not over the batch")
        expect_shape(case.exercise, got, (b,), "return one value per image: sum over dims (1, 2, 3)")


def reconstruction_values(case):
    for b in BATCHES:
        expect_close(case.exercise, case.tensor(f"loss_{b}").double(), _bce(case, b),
                     f"batch {b}, grey pixels: -sum(x log x_hat + (1 - x) log(1 - x_hat)) over the 784 pixels; "
                     "x_hat is already a probability (no sigmoid, no _with_logits), prediction first",
                     atol=1e-3, rtol=1e-5)


def reconstruction_float64(case):
    expect_dtype(case.exercise, case.tensor("loss_7"), torch.float64, "keep the dtype of the inputs (no .float() inside)")


def reconstruction_gradient(case):
    for b in BATCHES:
        x, x_hat = case.inputs[f"x_{b}"], case.inputs[f"x_hat_{b}"]
        grad = case.tensor(f"grad_{b}", "gradients must flow back to x_hat (no .detach(), no .item())")
        expect_close(case.exercise, grad.double(), (x_hat - x) / (x_hat * (1 - x_hat)),
                     "the gradient with respect to x_hat must be (x_hat - x) / (x_hat (1 - x_hat))", atol=1e-4, rtol=1e-4)


RECONSTRUCTION = Verdict(
    "test_reconstruction_loss", "Exercise 4.1 reconstruction_loss", reconstruction_inputs, RECONSTRUCTION_PROBE, (
        Part("one value per image, for batches of 1 and 7", 1.0, reconstruction_shape),
        Part("the Bernoulli negative log-likelihood on grey pixels", 1.0, reconstruction_values),
        Part("float64 inputs give float64", 0.5, reconstruction_float64),
        Part("the gradient with respect to x_hat", 0.5, reconstruction_gradient),
    ))


# ---------------------------------------------------------------- 4.2 kl_divergence

KL_SHAPES = ((1, 2), (7, 2), (7, 5))


def kl_inputs(rng):
    inputs = {}
    for b, d in KL_SHAPES:
        inputs[f"mu_{b}_{d}"] = 1.5 * rng.standard_normal((b, d))
        inputs[f"logvar_{b}_{d}"] = 1.5 * rng.standard_normal((b, d))
    return inputs


KL_PROBE = """
for b, d in ((1, 2), (7, 2), (7, 5)):
    mu = inputs[f"mu_{b}_{d}"].clone().requires_grad_()
    logvar = inputs[f"logvar_{b}_{d}"].clone().requires_grad_()
    with attempt(f"kl_{b}_{d}", f"grad_mu_{b}_{d}", f"grad_logvar_{b}_{d}"):
        kl = kl_divergence(mu, logvar)
        emit(f"kl_{b}_{d}", kl)
        kl.sum().backward()
        emit(f"grad_mu_{b}_{d}", mu.grad)
        emit(f"grad_logvar_{b}_{d}", logvar.grad)
with attempt("kl_zero"):
    emit("kl_zero", kl_divergence(torch.zeros(7, 4), torch.zeros(7, 4)))
"""


def _kl(mu, logvar):
    return (0.5 * (mu ** 2 + torch.exp(logvar) - 1 - logvar)).sum(dim=1)


def kl_shape(case):
    for b, d in KL_SHAPES:
        got = case.tensor(f"kl_{b}_{d}")
        if got.dim() == 0:
            fail(case.exercise, f"shape ({b},)", "() - a single number",
                 "return one value per image; sum over the latent dimensions (dim=1) only, not over the batch")
        expect_shape(case.exercise, got, (b,), f"batch {b}, latent_dim {d}: sum over the latent dimensions (dim=1), "
                     "keeping one value per image")


def kl_values(case):
    for b, d in KL_SHAPES:
        expected = _kl(case.inputs[f"mu_{b}_{d}"], case.inputs[f"logvar_{b}_{d}"])
        got = case.tensor(f"kl_{b}_{d}").double()
        if got.shape == expected.shape and (got < -1e-6).any():
            fail(case.exercise, "non-negative values (a KL is never negative)", f"minimum {got.min():.4g}",
                 "check the sign: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar))")
        expect_close(case.exercise, got, expected, f"batch {b}, latent_dim {d}: per dimension KL = "
                     "(mu^2 + exp(logvar) - 1 - logvar) / 2, summed; exp(logvar) is the variance", atol=1e-5, rtol=1e-6)


def kl_float64_and_zero(case):
    expect_dtype(case.exercise, case.tensor("kl_7_5"), torch.float64, "keep the dtype of the inputs")
    zero = case.tensor("kl_zero")
    expect_shape(case.exercise, zero, (7,), "one value per image")
    if not torch.equal(zero.double(), torch.zeros(7, dtype=torch.float64)):
        fail(case.exercise, "exactly 0 for mu = 0, logvar = 0", zero.tolist()[:3],
             "the KL of N(0, 1) from itself is 0: check the constant term (1 + logvar - ...)")


def kl_gradient(case):
    for b, d in KL_SHAPES:
        mu, logvar = case.inputs[f"mu_{b}_{d}"], case.inputs[f"logvar_{b}_{d}"]
        cause = "gradients must flow to mu and logvar: dKL/dmu = mu, dKL/dlogvar = (exp(logvar) - 1) / 2"
        expect_close(case.exercise, case.tensor(f"grad_mu_{b}_{d}", cause).double(), mu, cause, atol=1e-6)
        expect_close(case.exercise, case.tensor(f"grad_logvar_{b}_{d}", cause).double(), 0.5 * (logvar.exp() - 1),
                     cause, atol=1e-6)


KL = Verdict(
    "test_kl_divergence", "Exercise 4.2 kl_divergence", kl_inputs, KL_PROBE, (
        Part("one value per image, for any batch and latent size", 1.0, kl_shape),
        Part("the closed-form KL on the grader's inputs", 1.0, kl_values),
        Part("float64 kept, exactly 0 when q = p", 0.5, kl_float64_and_zero),
        Part("the gradients with respect to mu and logvar", 0.5, kl_gradient),
    ))


# ---------------------------------------------------------------- 4.3 kl_monte_carlo

MC_SHAPES = ((1, 3), (5, 2))
MC_SAMPLES = 40_000
# The spread: one image's KL estimated SPREAD_ROWS times, with few and with many samples. An estimate varies from
# call to call with standard deviation sd / sqrt(num_samples) (sd: of one term log q(z|x) - log p(z)); the closed
# form does not vary, noise added to it does not shrink with num_samples, nor does a fixed number of samples.
SPREAD_ROWS, SPREAD_SAMPLES = 400, (("few", 2), ("many", 200))
SPREAD_RATIO = (0.7, 1.4)  # measured / expected standard deviation: 1, give or take 0.05 at worst over 400 calls


def mc_inputs(rng):
    inputs = {"seed": int(rng.integers(2 ** 31))}
    for b, d in MC_SHAPES:
        inputs[f"mu_{b}_{d}"] = rng.standard_normal((b, d))
        inputs[f"logvar_{b}_{d}"] = 0.8 * rng.standard_normal((b, d))
    inputs["mu_spread"] = rng.choice([-1.0, 1.0], (1, 2)) * rng.uniform(0.5, 1.5, (1, 2))
    inputs["logvar_spread"] = rng.choice([-1.0, 1.0], (1, 2)) * rng.uniform(0.2, 0.8, (1, 2))
    return inputs


MC_PROBE = f"""
torch.manual_seed(inputs["seed"])
for b, d in {MC_SHAPES!r}:
    mu = inputs[f"mu_{{b}}_{{d}}"].clone().requires_grad_()
    logvar = inputs[f"logvar_{{b}}_{{d}}"].clone().requires_grad_()
    with attempt(f"kl_{{b}}_{{d}}", f"grad_mu_{{b}}_{{d}}"):
        kl = kl_monte_carlo(mu, logvar, {MC_SAMPLES})
        emit(f"kl_{{b}}_{{d}}", kl)
        kl.sum().backward()
        emit(f"grad_mu_{{b}}_{{d}}", mu.grad)
with attempt("kl_equal"):
    emit("kl_equal", kl_monte_carlo(torch.zeros(4, 3), torch.zeros(4, 3), 5))
with attempt("kl_one_sample"):
    emit("kl_one_sample", kl_monte_carlo(torch.ones(2, 3), torch.zeros(2, 3), 1))
for c, num_samples in {SPREAD_SAMPLES!r}:
    with attempt(f"spread_{{c}}", f"spread_grad_{{c}}"):
        estimates, grads = [], []
        for _ in range({SPREAD_ROWS}):  # one image, estimated again and again: each call draws anew
            mu, logvar = (inputs[f"{{k}}_spread"].clone().requires_grad_() for k in ("mu", "logvar"))
            kl = kl_monte_carlo(mu, logvar, num_samples)
            estimates.append(kl.detach().reshape(-1))
            kl.sum().backward()
            grads.append(mu.grad)
        emit(f"spread_{{c}}", torch.cat(estimates))
        emit(f"spread_grad_{{c}}", None if any(g is None for g in grads) else torch.cat(grads))
"""


def mc_shape(case):
    for b, d in MC_SHAPES:
        got = case.tensor(f"kl_{b}_{d}")
        if got.dim() == 0:
            fail(case.exercise, f"shape ({b},)", "() - a single number", "draw num_samples samples per image, z of "
                 "shape (num_samples, B, latent_dim), and average over the samples (dim 0) only")
        expect_shape(case.exercise, got, (b,), "one value per image: sum over the latent dimensions, average over samples")
    expect_shape(case.exercise, case.tensor("kl_one_sample"), (2,), "num_samples = 1 must still give one value per image")


def mc_values(case):
    for b, d in MC_SHAPES:
        mu, logvar = case.inputs[f"mu_{b}_{d}"], case.inputs[f"logvar_{b}_{d}"]
        var = logvar.exp()
        expected = _kl(mu, logvar)
        se = ((mu ** 2 * var + (var - 1) ** 2 / 2).sum(dim=1) / MC_SAMPLES).sqrt()
        got = case.tensor(f"kl_{b}_{d}").double()
        expect_shape(case.exercise, got, (b,), "one value per image")
        if ((got - expected).abs() > 5 * se).any():
            fail(case.exercise, f"{[round(v, 3) for v in expected.tolist()]} within 5 standard errors "
                 f"{[round(v, 3) for v in (5 * se).tolist()]}", [round(v, 3) for v in got.tolist()],
                 "average over the samples of the sum over latent dimensions of log q(z|x) - log p(z), "
                 "q = N(mu, exp(logvar)), p = N(0, 1)")
    zero = case.tensor("kl_equal").double()
    expect_shape(case.exercise, zero, (4,), "one value per image")
    if zero.abs().max() >= 1e-5:
        fail(case.exercise, "0 for every sample when q = p", zero.tolist(), "log q(z|x) - log p(z) is 0 when q = p")
    mu, var = case.inputs["mu_spread"][0], case.inputs["logvar_spread"][0].exp()
    _mc_spread(case, "spread", (mu ** 2 * var + (var - 1) ** 2 / 2).sum().sqrt().reshape(1), (SPREAD_ROWS,),
               "the same estimate every time: it does not depend on the noise. Estimate the KL, do not compute its "
               "closed form (Exercise 4.2): average log q(z|x) - log p(z) over num_samples samples "
               "z = mu + sigma * eps, drawn anew at each call")


def _mc_spread(case, name, sd, shape, constant):
    """The standard deviation over SPREAD_ROWS calls on one image: sd / sqrt(num_samples) for each num_samples
    of SPREAD_SAMPLES (sd: one term's, per column of the value)."""
    got, expected = {}, {}
    for c, num_samples in SPREAD_SAMPLES:
        value = case.tensor(f"{name}_{c}", "the gradient must reach mu").double()
        expect_shape(case.exercise, value, shape, f"one image estimated {SPREAD_ROWS} times: one value per call")
        got[c], expected[c] = value.std(dim=0), sd / math.sqrt(num_samples)
    if all((got[c] <= 1e-9 * expected[c]).all() for c in got):
        fail(case.exercise, f"values that differ from call to call (one image estimated {SPREAD_ROWS} times)",
             "the same value every time", constant)
    low, high = SPREAD_RATIO
    if all(((got[c] >= low * expected[c]) & (got[c] <= high * expected[c])).all() for c in got):
        return
    (few, small), (many, large) = SPREAD_SAMPLES
    shown = f"standard deviations {_rounded(expected[few])} for num_samples = {small} and {_rounded(expected[many])} " \
            f"for num_samples = {large}, over {SPREAD_ROWS} estimates of one image"
    if ((got[few] / got[many].clamp(min=1e-300)) < math.sqrt(math.sqrt(large / small))).any():
        fail(case.exercise, shown, f"{_rounded(got[few])} and {_rounded(got[many])}", "the spread does not shrink like "
             "1 / sqrt(num_samples): draw num_samples samples per image (z of shape (num_samples, B, latent_dim)), "
             "not a fixed number, and average over them")
    fail(case.exercise, shown, f"{_rounded(got[few])} and {_rounded(got[many])}", "the mean of num_samples terms "
         "log q(z|x) - log p(z) at z = mu + sigma * eps varies with the standard deviation of one term divided by "
         "sqrt(num_samples): sample z = mu + exp(logvar / 2) * eps with eps ~ N(0, I), and add no noise of your own")


def _rounded(values):
    return [round(v, 3) for v in values.tolist()] if values.numel() > 1 else round(values.item(), 3)


def mc_float64(case):
    expect_dtype(case.exercise, case.tensor("kl_5_2"), torch.float64, "keep the dtype of the inputs")


def mc_gradient(case):
    for b, d in MC_SHAPES:
        mu, var = case.inputs[f"mu_{b}_{d}"], case.inputs[f"logvar_{b}_{d}"].exp()
        cause = "sample with reparameterize (z = mu + sigma * eps) so that gradients flow through z; .sample() cuts them"
        grad = case.tensor(f"grad_mu_{b}_{d}", cause).double()
        expect_shape(case.exercise, grad, (b, d), cause)
        if ((grad - mu).abs() > 5 * var.sqrt() / math.sqrt(MC_SAMPLES) + 1e-9).any():
            fail(case.exercise, f"d estimate / d mu close to mu = {[[round(v, 3) for v in r] for r in mu.tolist()]}",
                 [[round(v, 3) for v in r] for r in grad.tolist()], cause)
    _mc_spread(case, "spread_grad", case.inputs["logvar_spread"][0].exp().sqrt(), (SPREAD_ROWS, 2),
               "the same gradient every time: it does not flow through the samples. The gradient of an estimate "
               "from num_samples samples z = mu + sigma * eps is itself an estimate, the mean of the samples z, and "
               "varies from call to call; d KL / d mu = mu exactly is the closed form's (Exercise 4.2)")


MONTE_CARLO = Verdict(
    "test_kl_monte_carlo", "Exercise 4.3 kl_monte_carlo", mc_inputs, MC_PROBE, (
        Part("one value per image, num_samples = 1 included", 0.5, mc_shape),
        Part("the closed form within 5 standard errors, 0 when q = p, a spread shrinking like 1 / sqrt(num_samples)",
             0.75, mc_values),
        Part("float64 inputs give float64", 0.25, mc_float64),
        Part("the gradient with respect to mu flows through the samples", 0.5, mc_gradient),
    ))


# ---------------------------------------------------------------- 4.4 vae_loss

LOSS_CASES = ((1, 1.0), (7, 1.0), (7, 0.0), (7, 4.0))


def loss_inputs(rng):
    inputs = {}
    for i, (b, _) in enumerate(LOSS_CASES):
        inputs[f"x_{i}"] = rng.random((b, 1, 28, 28))
        inputs[f"x_hat_{i}"] = _sigmoid(rng.standard_normal((b, 1, 28, 28)))
        inputs[f"mu_{i}"] = rng.standard_normal((b, 3))
        inputs[f"logvar_{i}"] = rng.standard_normal((b, 3))
    for name in ("x", "x_hat", "mu", "logvar"):  # beta = 0 and 4 on the images of beta = 1: what beta changes shows
        inputs[f"{name}_2"] = inputs[f"{name}_3"] = inputs[f"{name}_1"]
    cases = range(len(LOSS_CASES))  # the course's 4.1 and 4.2 on these inputs, as values: foreseen_calls.py
    inputs.update(foreseen_calls.foresee("reconstruction_loss", _bernoulli_nll,
                                   [(inputs[f"x_hat_{i}"], inputs[f"x_{i}"]) for i in cases], differentiable=(0,)))
    inputs.update(foreseen_calls.foresee("kl_divergence", _kl, [(inputs[f"mu_{i}"], inputs[f"logvar_{i}"]) for i in cases],
                                   differentiable=(0, 1)))
    return inputs


LOSS_PROBE = f"""
with course_versions(reconstruction_loss=stand_in(inputs, "reconstruction_loss", ("x_hat", "x")),
                     kl_divergence=stand_in(inputs, "kl_divergence", ("mu", "logvar"))):
    for i, (b, beta) in enumerate({LOSS_CASES!r}):
        x_hat, mu, logvar = (inputs[f"{{k}}_{{i}}"].clone().requires_grad_() for k in ("x_hat", "mu", "logvar"))
        with attempt(f"loss_{{i}}", f"grad_x_hat_{{i}}", f"grad_mu_{{i}}", f"grad_logvar_{{i}}"):
            loss = vae_loss(x_hat, inputs[f"x_{{i}}"], mu, logvar, beta=beta)
            emit(f"loss_{{i}}", loss)
            loss.backward()
            emit(f"grad_x_hat_{{i}}", x_hat.grad)
            emit(f"grad_mu_{{i}}", mu.grad)
            emit(f"grad_logvar_{{i}}", logvar.grad)
"""


def loss_scalar(case):
    for i, (b, _) in enumerate(LOSS_CASES):
        got = case.tensor(f"loss_{i}")
        if got.dim() != 0:
            fail(case.exercise, "a scalar (shape ())", tuple(got.shape), "average the per-image losses over the batch: .mean()")
    expect_dtype(case.exercise, case.tensor("loss_1"), torch.float64, "keep the dtype of the inputs")


def loss_values(case):
    beta_one = case.tensor("loss_1").double()
    for i, (b, beta) in enumerate(LOSS_CASES):
        if i == 2 and torch.allclose(case.tensor("loss_2").double(), beta_one):
            fail(case.exercise, "a smaller loss for beta = 0 than for beta = 1 on the same images",
                 "the same value", "beta is ignored: multiply the KL term by beta")
    for i, (b, beta) in enumerate(LOSS_CASES):
        x, x_hat = case.inputs[f"x_{i}"], case.inputs[f"x_hat_{i}"]
        mu, logvar = case.inputs[f"mu_{i}"], case.inputs[f"logvar_{i}"]
        rec = _bernoulli_nll(x_hat, x)
        expected = (rec + beta * _kl(mu, logvar)).mean()
        got = case.tensor(f"loss_{i}").double()
        kl = _kl(mu, logvar)
        likely = {  # what common mistakes give, and what to say then
            "summing over the batch makes the loss scale with the batch size: take the MEAN over images":
                (rec + beta * kl).sum() if b > 1 else None,
            "the negative ELBO ADDS the KL: reconstruction + beta * KL": (rec - beta * kl).mean() if beta else None,
            "beta multiplies the KL term only, not the reconstruction": (beta * rec + kl).mean() if beta != 1 else None,
        }
        cause = likely_cause(likely, lambda value: value is not None and got.numel() == 1
                             and close(got.item(), value.item(), rtol=1e-6, atol=1e-4))
        if cause is not None:
            fail(case.exercise, f"{expected.item():.2f} nats per image (batch {b}, beta {beta})", f"{got.item():.2f}", cause)
        expect_close(case.exercise, got.reshape(()) if got.numel() == 1 else got, expected,
                     f"batch {b}, beta {beta}: the mean over images of reconstruction + beta * KL (beta multiplies "
                     "the KL only)", atol=1e-4, rtol=1e-6)


def loss_gradient(case):
    for i, (b, beta) in enumerate(LOSS_CASES):
        cause = "gradients must reach x_hat, mu and logvar; d loss / d mu = beta * mu / B (a mean over the batch)"
        for name in ("x_hat", "logvar"):
            case.tensor(f"grad_{name}_{i}", cause)
        expect_close(case.exercise, case.tensor(f"grad_mu_{i}", cause).double(), beta * case.inputs[f"mu_{i}"] / b,
                     cause, atol=1e-6)


VAE_LOSS = Verdict(
    "test_vae_loss", "Exercise 4.4 vae_loss", loss_inputs, LOSS_PROBE, (
        Part("a scalar, float64 kept", 1.0, loss_scalar),
        Part("the mean over images of reconstruction + beta * KL, for beta = 0, 1 and 4", 1.5, loss_values),
        Part("the gradients reach x_hat, mu and logvar", 0.5, loss_gradient),
    ), helpers=foreseen_calls.KERNEL_SOURCE)

VERDICTS = (RECONSTRUCTION, KL, MONTE_CARLO, VAE_LOSS)
