"""04_elbo's grader-side verdicts (vaecourse/verdicts/elbo.py), their probes run in this process as they run in
the student's kernel (the real path, nbgrader and a kernel: tests/test_mistakes_04.py, test_kernel_attacks.py):

- the master's solutions and the catalogued correct alternatives earn every part on any draw;
- kl_monte_carlo (4.3) must be an estimate: the closed form it approximates, the closed form with noise of
  the wrong scale, and an estimate from a fixed number of samples lose the values and gradient parts;
- vae_loss (4.4) is judged with stand-ins for the course's 4.1 and 4.2 (values, not code: foreseen_calls.py): beside
  wrong ones it gets exactly the values and gradients of the real formulas, a numerically guarded call still
  matches, and a call on other inputs is told why it gets no value.

CI budget: about 15 s (no kernel; the 40,000-sample Monte Carlo probe is most of it).
"""
import numpy as np
import pytest
import torch
from harness import probe_here
from test_mistakes_04 import CATALOGUE
from test_verdicts_foreseen_calls import namespace

from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge
from vaecourse.verdicts.elbo import LOSS_CASES, MONTE_CARLO, VAE_LOSS

NB = "04_elbo"
CLOSED_FORM = "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)"


def grade(verdict, names, seed):
    inputs = verdict.inputs(np.random.default_rng([seed, 4]))
    outputs = probe_here(verdict, inputs, names)
    return {r.name: r for r in judge(verdict, inputs, outputs)}, inputs, outputs


@pytest.mark.parametrize("variant", ["master", *sorted(CATALOGUE.correct)])
def test_solutions_and_correct_alternatives_earn_every_part_on_any_draw(variant):
    names = namespace(NB, CATALOGUE.correct.get(variant))
    for seed in range(2):
        for gid, verdict in verdicts_for(NB).items():
            results, _, _ = grade(verdict, dict(names), seed)
            assert all(r.earned == r.points for r in results.values()), \
                (seed, gid, [r.message for r in results.values() if r.message])


NOT_AN_ESTIMATE = {  # kl_monte_carlo answered without being a Monte Carlo estimate of num_samples samples
    "closed_form": f"    return {CLOSED_FORM}\n",
    "closed_form_and_a_little_noise": f"    return {CLOSED_FORM} + 0.01 * torch.randn(mu.shape[0], dtype=mu.dtype)\n",
    "closed_form_and_noise_of_one_scale": f"    return {CLOSED_FORM} + 0.3 * torch.randn(mu.shape[0], dtype=mu.dtype)\n",
    "a_thousand_samples_whatever_num_samples": CATALOGUE.sources["kl_monte_carlo"].split("\n", 2)[2].replace(
        "shape = (num_samples, *mu.shape)", "shape = (1000, *mu.shape)"),
    "ten_samples_whatever_num_samples": CATALOGUE.sources["kl_monte_carlo"].split("\n", 2)[2].replace(
        "shape = (num_samples, *mu.shape)", "shape = (10, *mu.shape)"),
}


@pytest.mark.parametrize("variant", sorted(NOT_AN_ESTIMATE))
def test_a_kl_monte_carlo_that_is_no_estimate_loses_the_values_and_the_gradient(variant):
    body = NOT_AN_ESTIMATE[variant]
    assert "num_samples" not in body.replace("kl_monte_carlo(mu, logvar, num_samples)", "")
    names = namespace(NB, {"kl_monte_carlo": "def kl_monte_carlo(mu, logvar, num_samples):\n" + body})
    for seed in range(2):
        results, _, _ = grade(MONTE_CARLO, names, seed)
        lost = {name for name, r in results.items() if r.earned < r.points}
        assert lost == {MONTE_CARLO.parts[1].name, MONTE_CARLO.parts[3].name}, (seed, lost)


def test_the_closed_form_passes_every_other_check_and_the_spread_names_it():
    names = namespace(NB, {"kl_monte_carlo": "def kl_monte_carlo(mu, logvar, num_samples):\n"
                                             + NOT_AN_ESTIMATE["closed_form"]})
    results, _, _ = grade(MONTE_CARLO, names, 0)
    assert "the same estimate every time: it does not depend on the noise" in results[MONTE_CARLO.parts[1].name].message
    assert "the same gradient every time: it does not flow" in results[MONTE_CARLO.parts[3].name].message


def _bce(x_hat, x):
    return -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum(dim=(1, 2, 3))


def _kl(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


@pytest.mark.parametrize("earlier", ["bce_sum_over_batch", "kl_wrong_sign"])
def test_vae_loss_beside_a_wrong_earlier_exercise_gets_the_real_formulas_values_and_gradients(earlier):
    names = namespace(NB, {CATALOGUE.mistakes[earlier].cell: CATALOGUE.edited_source(earlier)})
    results, inputs, outputs = grade(VAE_LOSS, names, 1)
    assert all(r.earned == r.points for r in results.values()), [r.message for r in results.values() if r.message]
    for i, (_, beta) in enumerate(LOSS_CASES):
        x_hat, mu, logvar = (torch.from_numpy(inputs[f"{k}_{i}"]).requires_grad_() for k in ("x_hat", "mu", "logvar"))
        loss = (_bce(x_hat, torch.from_numpy(inputs[f"x_{i}"])) + beta * _kl(mu, logvar)).mean()
        loss.backward()
        assert torch.allclose(outputs.values[f"loss_{i}"], loss.detach(), rtol=1e-12, atol=0)
        for name, tensor in (("x_hat", x_hat), ("mu", mu), ("logvar", logvar)):
            assert torch.allclose(outputs.values[f"grad_{name}_{i}"], tensor.grad, rtol=1e-10, atol=1e-14), (i, name)


def test_a_guarded_call_matches_and_a_call_on_other_inputs_is_told_why():
    guarded = CATALOGUE.sources["vae_loss"].replace("reconstruction_loss(x_hat, x)",
                                                    "reconstruction_loss(x_hat.clamp(1e-6, 1 - 1e-6), x)")
    results, _, _ = grade(VAE_LOSS, namespace(NB, {"vae_loss": guarded}), 2)
    assert all(r.earned == r.points for r in results.values()), [r.message for r in results.values() if r.message]
    binarised = CATALOGUE.sources["vae_loss"].replace("reconstruction_loss(x_hat, x)", "reconstruction_loss(x_hat, x.round())")
    results, _, _ = grade(VAE_LOSS, namespace(NB, {"vae_loss": binarised}), 2)
    message = results[VAE_LOSS.parts[1].name].message
    assert "reconstruction_loss(a tensor of shape (7, 1, 28, 28), a tensor of shape (7, 1, 28, 28)) was called" \
        in message and "knows only the calls the grader prepared" in message, message
