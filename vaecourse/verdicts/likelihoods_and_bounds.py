"""Grader-side verdicts of 08_likelihoods_and_bounds (how they run: vaecourse/verdicts/core.py).

Inputs are drawn per grading run; the reference values are computed here from the formulas of
the notebook. The three exercises are independent: iwae_bound (8.3) uses only the course's
reconstruction_loss of notebook 04, imported by the notebook's setup cell. It is judged on a
small linear VAE whose weights are grader inputs, on the CPU in float64, with eps drawn from a
seed, so the grader can redraw the same eps and compute the bound of k = 1 exactly; larger k
are judged statistically on an encoder that ignores x and a decoder that ignores z, where
log p(x) is known exactly.
"""
import math

import numpy as np
import torch

from vaecourse.checking import expect_close, expect_dtype, expect_shape, fail
from vaecourse.verdicts.core import Part, Verdict, likely_cause
from vaecourse.verdicts.stand_ins import IWAE_MODELS, GraderLinearVAE

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _matches(got: torch.Tensor, value: torch.Tensor, rtol: float = 1e-5, atol: float = 1e-3) -> bool:
    """got equals what a known mistake gives (same shape, close), for a message naming that mistake."""
    return got.shape == value.shape and bool(torch.isfinite(got).all()) and torch.allclose(got, value, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- 8.1 gaussian_nll

NLL_CASES = ((1, "small"), (5, "large"))  # batch, one sigma < 1 (log_sigma < 0) or one sigma > 1
NLL_PIXEL = 4  # the batch of the per-pixel and per-image log_sigma


def nll_inputs(rng):
    inputs = {}
    for b, name in NLL_CASES:
        inputs[f"x_{name}"] = rng.random((b, 1, 28, 28))  # grey pixels
        inputs[f"x_hat_{name}"] = _sigmoid(1.5 * rng.standard_normal((b, 1, 28, 28)))
    # one sigma for every pixel, sent as a number (the probe makes the 0-d tensor)
    inputs["log_sigma_small"] = float(rng.uniform(-2.5, -0.5))  # sigma 0.08 to 0.6: log(log_sigma) is NaN
    inputs["log_sigma_large"] = float(rng.uniform(0.1, 0.6))  # sigma 1.1 to 1.8
    inputs["x_pixel"] = rng.random((NLL_PIXEL, 1, 28, 28))
    inputs["x_hat_pixel"] = _sigmoid(1.5 * rng.standard_normal((NLL_PIXEL, 1, 28, 28)))
    inputs["log_sigma_pixel"] = rng.uniform(-2.5, 0.5, (1, 1, 28, 28))  # one sigma per pixel, shared by the images
    inputs["log_sigma_image"] = rng.uniform(-2.5, 0.5, (NLL_PIXEL, 1, 28, 28))  # one per pixel of every image
    return inputs


NLL_PROBE = """
for name in ("small", "large", "pixel"):
    x_hat, x = inputs[f"x_hat_{name}"], inputs[f"x_{name}"]
    log_sigma = torch.as_tensor(inputs[f"log_sigma_{name}"], dtype=torch.float64).clone().requires_grad_()
    with attempt(f"nll_{name}", f"grad_{name}"):
        nll = gaussian_nll(x_hat, x, log_sigma)
        emit(f"nll_{name}", nll)
        nll.sum().backward()
        emit(f"grad_{name}", log_sigma.grad)
with attempt("nll_image"):
    emit("nll_image", gaussian_nll(inputs["x_hat_pixel"], inputs["x_pixel"], inputs["log_sigma_image"]))
"""


def _gaussian(x_hat, x, log_sigma):
    """The reference, per pixel (broadcast to x's shape)."""
    return HALF_LOG_TWO_PI + log_sigma + 0.5 * ((x - x_hat) / log_sigma.exp()) ** 2 + torch.zeros_like(x)


def nll_shape(case):
    for b, name in NLL_CASES:
        got = case.tensor(f"nll_{name}")
        if got.dim() == 0:
            fail(case.exercise, f"shape ({b},)", "() - a single number",
                 "return one value per image: sum over the pixels (dims 1, 2, 3), not over the batch")
        expect_shape(case.exercise, got, (b,), f"batch {b}: one value per image, summed over the pixels, dims (1, 2, 3)")


def _log_sigma(case, name):
    return torch.as_tensor(case.inputs[f"log_sigma_{name}"], dtype=torch.float64)


LOG_OF_LOG_SIGMA = ("log_sigma is log(sigma), not sigma: divide by sigma = exp(log_sigma), and the per-pixel log sigma "
                    "term is log_sigma itself (no log of it)")


def _nll_mistakes(case, got, x, x_hat, log_sigma, setting):
    """Fail naming the cause when got is what a common mistake gives on these inputs; return otherwise."""
    expected = _gaussian(x_hat, x, log_sigma).sum(dim=(1, 2, 3))
    if got.shape != expected.shape:
        return
    if not torch.isfinite(got).all():
        fail(case.exercise, f"finite values for {setting}", "NaN or inf", LOG_OF_LOG_SIGMA)
    pixels = torch.zeros_like(x)
    likely = {  # what common mistakes give, and what to say then
        "include the normalising constant 0.5 * log(2 * pi) for every pixel: it makes the density integrate to 1":
            expected - 784 * HALF_LOG_TWO_PI,
        "784x too small: SUM over the 784 pixels, do not average": expected / 784,
        "the squared error needs its factor 1/2: (x - x_hat)^2 / (2 sigma^2)":
            expected + 0.5 * (((x - x_hat) / log_sigma.exp()) ** 2).sum(dim=(1, 2, 3)),
        "the log sigma term is missing: every pixel pays + log sigma (= log_sigma)":
            expected - (log_sigma + pixels).sum(dim=(1, 2, 3)),
        "return the NEGATIVE log-likelihood": -expected,
    }
    if (log_sigma > 0).all():  # log(log_sigma) is finite
        likely[LOG_OF_LOG_SIGMA] = (HALF_LOG_TWO_PI + log_sigma.log() + 0.5 * ((x - x_hat) / log_sigma) ** 2
                                    + pixels).sum(dim=(1, 2, 3))
    cause = likely_cause(likely, lambda value: _matches(got, value))
    if cause is not None:
        fail(case.exercise, f"{expected[0].item():.2f} for the first image ({setting})", f"{got[0].item():.2f}",
             cause)


def nll_values(case):
    for b, name in NLL_CASES:
        x, x_hat, log_sigma = case.inputs[f"x_{name}"], case.inputs[f"x_hat_{name}"], _log_sigma(case, name)
        got = case.tensor(f"nll_{name}").double()
        setting = f"batch {b}, log_sigma = {log_sigma.item():.3f} (sigma = {log_sigma.exp().item():.3f})"
        _nll_mistakes(case, got, x, x_hat, log_sigma, setting)
        expect_close(case.exercise, got, _gaussian(x_hat, x, log_sigma).sum(dim=(1, 2, 3)),
                     f"{setting}: per pixel 0.5 log(2 pi) + log_sigma + (x - x_hat)^2 / (2 exp(log_sigma)^2), summed "
                     "over the 784 pixels; log_sigma is log(sigma)", atol=1e-6, rtol=1e-7)


def nll_per_pixel(case):
    x, x_hat = case.inputs["x_pixel"], case.inputs["x_hat_pixel"]
    for name, shape in (("pixel", (1, 1, 28, 28)), ("image", (NLL_PIXEL, 1, 28, 28))):
        log_sigma = case.inputs[f"log_sigma_{name}"]
        expected = _gaussian(x_hat, x, log_sigma).sum(dim=(1, 2, 3))
        got = case.tensor(f"nll_{name}").double()
        cause = (f"log_sigma of shape {shape}, one sigma per pixel, must broadcast against the pixels: do not sum or "
                 "average it before it meets them")
        expect_shape(case.exercise, got, (NLL_PIXEL,), cause)
        for wrong in (log_sigma.mean(), log_sigma.sum()):
            if _matches(got, _gaussian(x_hat, x, wrong).sum(dim=(1, 2, 3))):
                fail(case.exercise, f"{expected[0].item():.2f} for the first image", f"{got[0].item():.2f}", cause)
        _nll_mistakes(case, got, x, x_hat, log_sigma, f"log_sigma of shape {shape}")
        expect_close(case.exercise, got, expected, cause, atol=1e-6, rtol=1e-7)


def nll_float64(case):
    expect_dtype(case.exercise, case.tensor("nll_large"), torch.float64, "keep the dtype of the inputs (no .float() inside)")


def nll_gradient(case):
    cause = ("d/d log_sigma of the summed loss must be (number of pixels) - sum((x - x_hat)^2 / sigma^2): a learned "
             "sigma needs it (no .item(), no .detach(), no float() of log_sigma)")
    for name in ("small", "large", "pixel"):
        x, x_hat, log_sigma = case.inputs[f"x_{name}"], case.inputs[f"x_hat_{name}"], _log_sigma(case, name)
        per_pixel = 1 - ((x - x_hat) / log_sigma.exp()) ** 2  # (B, 1, 28, 28)
        expected = per_pixel.sum() if log_sigma.dim() == 0 else per_pixel.sum(dim=0, keepdim=True)
        grad = case.tensor(f"grad_{name}", cause).double()
        expect_close(case.exercise, grad, expected, f"log_sigma of shape {tuple(log_sigma.shape)}: {cause}",
                     atol=1e-6, rtol=1e-7)


GAUSSIAN_NLL = Verdict(
    "test_gaussian_nll", "Exercise 8.1 gaussian_nll", nll_inputs, NLL_PROBE, (
        Part("one value per image, for batches of 1 and 5", 0.5, nll_shape),
        Part("the Gaussian negative log-likelihood for one sigma below and one above 1", 1.0, nll_values),
        Part("log_sigma per pixel, shapes (1, 1, 28, 28) and (B, 1, 28, 28)", 0.75, nll_per_pixel),
        Part("float64 inputs give float64", 0.25, nll_float64),
        Part("the gradient with respect to log_sigma (a learned sigma)", 0.5, nll_gradient),
    ))


# ---------------------------------------------------------------- 8.2 continuous_bernoulli_log_norm

BAND = 0.01  # the Taylor band |lam - 0.5| < BAND of the exercise


def log_norm_inputs(rng):
    def signs(n):
        return rng.choice([-1, 1], n)

    # float64, shape (4, 6): 0.5 itself, 6 values inside the band, 17 outside it, in random places
    d = np.concatenate([[0.0], rng.uniform(0, BAND, 6) * signs(6), rng.uniform(BAND, 0.49, 17) * signs(17)])
    # float32 for the gradient: 0.5 itself, the deep band (where the exact formula's float32 gradient is lost to
    # cancellation), the outer band (where a correct answer may still use the exact formula), and far from it
    # (not just outside the band: artanh written as a log is less accurate in float32 there, and correct)
    near = np.concatenate([[0.0], rng.uniform(5e-5, 3e-4, 4) * np.array([-1, 1, -1, 1]),
                           rng.uniform(0.0065, 0.0095, 2) * np.array([1, -1]), rng.uniform(0.05, 0.45, 4) * signs(4)])
    return {"lam": 0.5 + rng.permutation(d).reshape(4, 6), "lam_single": np.array([0.5]), "lam_near": 0.5 + near}


LOG_NORM_PROBE = """
with attempt("log_norm", "log_norm_single"):
    emit("log_norm", continuous_bernoulli_log_norm(inputs["lam"]))
    emit("log_norm_single", continuous_bernoulli_log_norm(inputs["lam_single"]))
lam = inputs["lam_near"].float().requires_grad_()
with attempt("log_norm_near", "grad_near"):
    out = continuous_bernoulli_log_norm(lam)
    emit("log_norm_near", out)
    out.sum().backward()
    emit("grad_near", lam.grad)
"""


def _log_norm(lam):
    """log C(lam) in float64: torch's continuous Bernoulli, log p(x = 0) - log(1 - lam)."""
    lam = lam.double()
    cb = torch.distributions.ContinuousBernoulli(probs=lam, validate_args=False)
    return cb.log_prob(torch.zeros_like(lam)) - (1 - lam).log()


def _log_norm_grad(lam):
    """d log C / d lam in float64; the Taylor series' derivative where 1 - 2 lam is tiny."""
    lam = lam.double()
    d = lam - 0.5
    u = torch.where(d.abs() > 1e-3, -2 * d, torch.full_like(d, 0.5))
    exact = -2 * (1 / (torch.atanh(u) * (1 - u ** 2)) - 1 / u)
    v = d ** 2
    return torch.where(d.abs() > 1e-3, exact, (4 / 3 + 208 / 45 * v + 3 * 64 * 251 / 2835 * v ** 2) * 2 * d)


def _taylor(lam):
    v = (lam.double() - 0.5) ** 2
    return math.log(2) + (4 / 3 + 104 / 45 * v) * v


def log_norm_shape(case):
    got = case.tensor("log_norm")
    expect_shape(case.exercise, got, (4, 6), "return one value per lam, the same shape as lam")
    expect_shape(case.exercise, case.tensor("log_norm_single"), (1,), "return one value per lam, the same shape as lam")
    expect_dtype(case.exercise, got, torch.float64, "keep the dtype of the input: float64 lam gives float64")
    near = case.tensor("log_norm_near")
    expect_shape(case.exercise, near, tuple(case.inputs["lam_near"].shape), "the same shape as lam")
    expect_dtype(case.exercise, near, torch.float32, "keep the dtype of the input: float32 lam gives float32")


def log_norm_values(case):
    lam = case.inputs["lam"]
    got, expected = case.tensor("log_norm").double(), _log_norm(lam)
    single = case.tensor("log_norm_single").double().flatten()
    if single.numel() == 1 and torch.isnan(single).all():
        fail(case.exercise, f"log 2 = {math.log(2):.6f} at lam = 0.5", "NaN",
             "the exact formula is 0/0 at lam = 0.5: use the Taylor expansion log 2 + (4/3 + 104/45 v) v, "
             "v = (lam - 0.5)^2, near 0.5")
    if got.shape == expected.shape:
        far = (lam - 0.5).abs() >= BAND
        center = (lam == 0.5)
        if torch.isnan(got[center]).any():
            fail(case.exercise, f"log 2 = {math.log(2):.6f} at lam = 0.5", "NaN",
                 "the exact formula is 0/0 at lam = 0.5: use the Taylor expansion near 0.5")
        likely = {
            "the Taylor expansion holds only near 0.5: use the exact formula where |lam - 0.5| >= 0.01": _taylor(lam),
            "C(lam) = 2 artanh(1 - 2 lam) / (1 - 2 lam): the factor 2 is missing (C(0.5) = 2)": expected - math.log(2),
            "the sign is flipped: log C(lam), not log(1 / C(lam))": -expected,
            "return the LOG of the normaliser, log C(lam)": expected.exp(),
        }
        cause = likely_cause(likely, lambda value: _matches(got[far], value[far], rtol=1e-6, atol=1e-6))
        if cause is not None:
            worst = int((likely[cause] - expected).abs().argmax())
            fail(case.exercise, f"{expected.flatten()[worst]:.6f} at lam = {lam.flatten()[worst]:.4f}",
                 f"{got.flatten()[worst]:.6f}", cause)
    expect_close(case.exercise, single, torch.tensor([math.log(2)], dtype=torch.float64),
                 "C(0.5) = 2, so log C(0.5) = log 2", atol=1e-7, rtol=0)
    expect_close(case.exercise, got, expected, "float64 lam across (0, 1): log(2 artanh(1 - 2 lam) / (1 - 2 lam)), "
                 "log 2 + (4/3 + 104/45 v) v with v = (lam - 0.5)^2 inside |lam - 0.5| < 0.01 (compared with "
                 "torch.distributions.ContinuousBernoulli)", atol=1e-7, rtol=0)


def log_norm_finite_gradient(case):
    lam = case.inputs["lam_near"]
    values = case.tensor("log_norm_near")
    if values.shape == lam.shape and torch.isnan(values[:1]).any():
        fail(case.exercise, "a finite value and gradient at lam = 0.5", "NaN",
             "the exact formula is 0/0 at lam = 0.5: use the Taylor expansion near 0.5")
    grad = case.tensor("grad_near", "gradients must flow back to lam (no .detach(), no .item())")
    expect_shape(case.exercise, grad, tuple(lam.shape), "one gradient per lam")
    if not torch.isfinite(grad).all():
        bad = [round(v, 6) for v in lam[~torch.isfinite(grad)].tolist()]
        fail(case.exercise, "finite gradients at and near lam = 0.5", f"NaN or inf at lam = {bad}",
             "torch.where backpropagates through BOTH branches: give the exact formula a safe lam where it is not "
             "used, e.g. safe = torch.where(near, torch.full_like(lam, 0.25), lam)")


def log_norm_band(case):
    lam = case.inputs["lam_near"]
    values = case.tensor("log_norm_near").double()
    expect_close(case.exercise, values, _log_norm(lam.float()), "values near 0.5 in float32: log 2 + (4/3 + 104/45 v) v "
                 "with v = (lam - 0.5)^2 inside the band, the exact formula outside it", atol=2e-6, rtol=1e-6)
    grad = case.tensor("grad_near", "gradients must flow back to lam (no .detach(), no .item())").double()
    expected = _log_norm_grad(lam.float())
    away = lam != 0.5  # lam = 0.5 itself is the previous part's
    expect_shape(case.exercise, grad, tuple(lam.shape), "one gradient per lam")
    expect_close(case.exercise, grad[away], expected[away], "gradient near 0.5 in float32: the exact formula loses it "
                 "to cancellation, use the Taylor expansion in the whole band |lam - 0.5| < 0.01, not only at 0.5",
                 atol=2e-5, rtol=1e-3)


LOG_NORM = Verdict(
    "test_continuous_bernoulli_log_norm", "Exercise 8.2 continuous_bernoulli_log_norm", log_norm_inputs,
    LOG_NORM_PROBE, (
        Part("the shape and dtype of lam (float64 and float32)", 0.5, log_norm_shape),
        Part("log C(lam) across (0, 1) in float64, log 2 at 0.5", 1.25, log_norm_values),
        Part("a finite gradient at and near lam = 0.5", 0.5, log_norm_finite_gradient),
        Part("accurate values and gradients in the band |lam - 0.5| < 0.01 in float32", 0.75, log_norm_band),
    ))


# ---------------------------------------------------------------- 8.3 iwae_bound

IWAE_LATENT = 3
IWAE_BATCH = 5
STUB_IMAGES = 200
STUB_KS = (5, 50)
SIMULATIONS = 4000  # the grader's own draws of L_k for the statistical part
LOG_HALF = -784 * math.log(2)  # log p(x|z) of a decoder that says 0.5 for every pixel

# The models iwae_bound is handed (vaecourse/verdicts/stand_ins.py; not secret, and not the answer to any
# exercise): their source goes to the kernel, and the grader's k = 1 reference runs the same GraderLinearVAE.


def iwae_inputs(rng):
    d = IWAE_LATENT
    inputs = {"seed": int(rng.integers(2 ** 31)), "seed_stub": int(rng.integers(2 ** 31))}
    inputs["x"] = rng.random((IWAE_BATCH, 1, 28, 28))
    inputs["w_mu"], inputs["b_mu"] = 0.06 * rng.standard_normal((784, d)), 0.5 * rng.standard_normal(d)
    inputs["w_logvar"], inputs["b_logvar"] = 0.06 * rng.standard_normal((784, d)), 0.5 * rng.standard_normal(d)
    inputs["w_dec"], inputs["b_dec"] = rng.standard_normal((d, 784)), rng.standard_normal(784)
    # the stub's q: a KL of about 0.6 to 1.5 nats from the prior, a variance that keeps the weights' variance finite
    inputs["stub_mu"] = rng.uniform(0.5, 1.0, d) * rng.choice([-1, 1], d)
    inputs["stub_logvar"] = rng.uniform(-0.2, 0.5, d)
    inputs["x_stub"] = rng.random((STUB_IMAGES, 1, 28, 28))
    return inputs


IWAE_PROBE = f"""
model = GraderLinearVAE(*(inputs[name] for name in ("w_mu", "b_mu", "w_logvar", "b_logvar", "w_dec", "b_dec")))
with attempt("bound_1"):
    torch.manual_seed(inputs["seed"])
    with torch.no_grad():
        emit("bound_1", iwae_bound(model, inputs["x"], 1))
with attempt("bound_single"):
    with torch.no_grad():
        emit("bound_single", iwae_bound(model, inputs["x"][:1], 3))
exact_q = GraderStub(torch.zeros({IWAE_LATENT}), torch.zeros({IWAE_LATENT}))  # float32, q = p
for k in (1, 5, 50):
    with attempt(f"exact_{{k}}"):
        with torch.no_grad():
            emit(f"exact_{{k}}", iwae_bound(exact_q, inputs["x_stub"][:3].float(), k))
stub = GraderStub(inputs["stub_mu"], inputs["stub_logvar"])  # float64, q != p
torch.manual_seed(inputs["seed_stub"])
for k in {STUB_KS!r}:
    with attempt(f"stub_{{k}}"):
        with torch.no_grad():
            emit(f"stub_{{k}}", iwae_bound(stub, inputs["x_stub"], k))
"""


def _linear_vae(case):
    """mu, logvar and the decoder (z -> (N, 784) Bernoulli means) of the grader's linear VAE on the inputs x, in
    float64: the probe's own model."""
    model = GraderLinearVAE(*(case.inputs[name] for name in ("w_mu", "b_mu", "w_logvar", "b_logvar", "w_dec", "b_dec")))
    with torch.no_grad():
        mu, logvar = model.encoder(case.inputs["x"])

    def decode(z):
        with torch.no_grad():
            return model.decoder(z).flatten(1)
    return mu, logvar, decode


def _log_px_z(x_hat, x):
    """log p(x|z) of Bernoulli means x_hat (N, 784) for images x (N, 784): -reconstruction_loss."""
    return (x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum(dim=-1)


def iwae_shape(case):
    got = case.tensor("bound_1")
    if got.dim() == 0:
        fail(case.exercise, f"shape ({IWAE_BATCH},)", "() - a single number",
             "return one value per image: reduce over the k samples only (dim 0), not over the batch")
    expect_shape(case.exercise, got, (IWAE_BATCH,), "one value per image: log-mean-exp over the k samples")
    expect_shape(case.exercise, case.tensor("bound_single"), (1,), "a batch of one image, k = 3: one value")
    expect_dtype(case.exercise, got, torch.float64, "a float64 model and x must give float64: draw eps with "
                 "dtype=mu.dtype")


def iwae_one_sample(case):
    mu, logvar, decode = _linear_vae(case)
    x = case.inputs["x"].flatten(1)
    generator = torch.Generator().manual_seed(case.inputs["seed"])
    eps = torch.randn(1, *mu.shape, generator=generator, dtype=torch.float64)[0]  # as torch.randn(1, B, D) after the seed

    def one_sample(eps, log_std_is_logvar=False):
        std = torch.exp(0.5 * logvar)
        z = mu + std * eps
        log_pz = (-0.5 * z ** 2).sum(-1)
        log_qz = (-0.5 * eps ** 2 - (logvar if log_std_is_logvar else 0.5 * logvar)).sum(-1)
        return _log_px_z(decode(z), x), log_pz - log_qz

    rec, log_ratio = one_sample(eps)
    expected = rec + log_ratio
    got = case.tensor("bound_1").double()
    if got.shape == expected.shape and not torch.isfinite(got).all():
        fail(case.exercise, f"{expected[0].item():.3f} for the first image (k = 1)", f"{got[0].item()}",
             "exp(log w) underflows to 0 for log-weights of hundreds of nats: never form the weights, use "
             "torch.logsumexp(log_w, dim=0) - math.log(k)")
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum(-1)
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4, rtol=1e-7):
        return  # (a float32 eps draws the same numbers, rounded: not a mistake)
    likely = {
        "the weight needs log p(z) - log q(z|x) at the SAMPLED z, not minus the analytic KL (which averages it over z)":
            rec - kl,
        "q(z|x) has std = exp(logvar / 2): log q(z|x) = sum(-eps^2 / 2 - logvar / 2 - log(2 pi) / 2) with the logvar "
        "term halved": sum(one_sample(eps, log_std_is_logvar=True)),
    }
    cause = likely_cause(likely, lambda value: _matches(got, value, rtol=1e-6, atol=1e-4))
    if cause is not None:
        fail(case.exercise, f"{expected[0].item():.3f} for the first image (k = 1)", f"{got[0].item():.3f}", cause)
    expect_close(case.exercise, got, expected, "k = 1 must equal log p(x|z) + log p(z) - log q(z|x) at one z = mu + std "
                 "* eps, eps = torch.randn(k, B, latent_dim, dtype=mu.dtype) drawn once; log p(x|z) = "
                 "-reconstruction_loss(model.decoder(z), x); log q(z|x) uses std = exp(logvar / 2)",
                 atol=1e-6, rtol=1e-9)


def iwae_exact(case):
    for k in (1, 5, 50):
        got = case.tensor(f"exact_{k}").double()
        expected = torch.full((3,), LOG_HALF, dtype=torch.float64)
        setting = f"k = {k}, q = p and a decoder that ignores z (float32)"
        expect_shape(case.exercise, got, (3,), "one value per image")
        if not torch.isfinite(got).all():
            fail(case.exercise, f"{LOG_HALF:.2f} ({setting})", f"{got[0].item()}", "exp(log w) underflows to 0 for "
                 "log-weights of hundreds of nats: never form the weights, use torch.logsumexp(log_w, dim=0) - "
                 "math.log(k)")
        if k > 1 and _matches(got, expected + math.log(k), rtol=0, atol=1e-2):
            fail(case.exercise, f"{LOG_HALF:.2f} ({setting})", f"{got[0].item():.2f} = that + log {k}",
                 "a MEAN over k samples: subtract log k after the logsumexp")
        expect_close(case.exercise, got, expected, f"{setting}: every weight is p(x|z), so the bound is exactly "
                     "-784 log 2; check log p(z) - log q(z|x) (0 here) and log p(x|z) = -reconstruction_loss", atol=1e-2,
                     rtol=0)


def _simulated_bounds(mu, logvar, k, generator):
    """SIMULATIONS draws of L_k - log p(x) for q = N(mu, exp(logvar)) and a decoder that ignores z."""
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(SIMULATIONS, k, len(mu), generator=generator, dtype=torch.float64)
    z = mu + std * eps
    log_w = (-0.5 * z ** 2 + 0.5 * eps ** 2 + 0.5 * logvar).sum(-1)  # log p(z) - log q(z|x), (SIMULATIONS, k)
    return torch.logsumexp(log_w, dim=1) - math.log(k)


def iwae_log_mean_exp(case):
    mu, logvar = case.inputs["stub_mu"], case.inputs["stub_logvar"]
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum().item()
    generator = torch.Generator().manual_seed(case.inputs["seed_stub"] + 1)
    for k in STUB_KS:
        got = case.tensor(f"stub_{k}").double()
        expect_shape(case.exercise, got, (STUB_IMAGES,), "one value per image")
        reference = _simulated_bounds(mu, logvar, k, generator) + LOG_HALF
        mean, se = reference.mean().item(), reference.std().item() * math.sqrt(1 / STUB_IMAGES + 1 / SIMULATIONS)
        got_mean = got.mean().item()
        if not math.isfinite(got_mean):
            fail(case.exercise, f"a finite bound for k = {k}", got_mean, "exp(log w) underflows to 0 for log-weights of "
                 "hundreds of nats: use torch.logsumexp(log_w, dim=0) - math.log(k)")
        if abs(got_mean - mean) <= 5 * se + 1e-6:
            continue
        expected = (f"a mean of {mean:.3f} +- {5 * se:.3f} over {STUB_IMAGES} images for k = {k} "
                    f"(log p(x) = {LOG_HALF:.3f}, ELBO = {LOG_HALF - kl:.3f})")
        if abs(got_mean - (LOG_HALF - kl)) <= 5 * se + 0.05:
            fail(case.exercise, expected, f"{got_mean:.3f}, the ELBO", "averaging the log-weights (or k ELBOs) gives "
                 "the ELBO again, whatever k: take the log of the MEAN of the weights, torch.logsumexp(log_w, dim=0) - "
                 "math.log(k)")
        if abs(got_mean - math.log(k) - mean) <= 5 * se:
            fail(case.exercise, expected, f"{got_mean:.3f} = that + log {k}", "a MEAN over k samples: subtract log k "
                 "after the logsumexp")
        fail(case.exercise, expected, f"{got_mean:.3f}", "log w = log p(x|z) + log p(z) - log q(z|x) for each of the k "
             "samples (k draws per image), then torch.logsumexp over k minus log k: the bound rises from the ELBO "
             "towards log p(x) as k grows")


IWAE = Verdict(
    "test_iwae_bound", "Exercise 8.3 iwae_bound", iwae_inputs, IWAE_PROBE, (
        Part("one value per image, float64 kept", 0.5, iwae_shape),
        Part("k = 1 is the one-sample ELBO at the sampled z", 1.25, iwae_one_sample),
        Part("exactly log p(x|z) for every k when q = p, in float32 (no underflow, minus log k)", 0.75, iwae_exact),
        Part("the log-mean-exp over k = 5 and 50 samples rises towards log p(x)", 1.5, iwae_log_mean_exp),
    ), helpers=IWAE_MODELS)

VERDICTS = (GAUSSIAN_NLL, LOG_NORM, IWAE)
