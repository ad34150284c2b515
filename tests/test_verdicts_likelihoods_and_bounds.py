"""The grader-side references of 08_likelihoods_and_bounds's verdicts, without a kernel: the statistical
part of iwae_bound passes correct bounds and fails the catalogued mistakes on many grading seeds, and
the gradient reference of continuous_bernoulli_log_norm is the derivative of the course's solution.
iwae_bound's probe, run in this process, hands the student's function the grader's models
(vaecourse/verdicts/stand_ins.py), whose k = 1 reference is the closed form: the course's solution and
its right alternatives earn every part, each catalogued mistake loses points with its cause.

CI budget: about 15 s."""
import math

import numpy as np
import pytest
import torch
from harness import probe_here
from test_mistakes_08 import CATALOGUE

from vaecourse.reference.decoder import reparameterize
from vaecourse.reference.elbo import kl_divergence, reconstruction_loss
from vaecourse.reference.likelihoods_and_bounds import continuous_bernoulli_log_norm
from vaecourse.verdicts import likelihoods_and_bounds as verdicts
from vaecourse.verdicts.core import Case, Outputs, judge


def _bounds(inputs, k, kind, generator):
    """What a student's iwae_bound gives on the verdict's stub: correct, or a catalogued mistake."""
    mu, logvar = torch.from_numpy(inputs["stub_mu"]), torch.from_numpy(inputs["stub_logvar"])
    eps = torch.randn(k, verdicts.STUB_IMAGES, len(mu), generator=generator, dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * eps
    log_w = verdicts.LOG_HALF + (-0.5 * z ** 2 + 0.5 * eps ** 2 + 0.5 * logvar).sum(-1)  # (k, B)
    if kind == "mean_of_log_weights":
        return log_w.mean(dim=0)
    if kind == "missing_log_k":
        return torch.logsumexp(log_w, dim=0)
    return torch.logsumexp(log_w, dim=0) - math.log(k)


@pytest.mark.parametrize("kind, passes", [("correct", True), ("mean_of_log_weights", False), ("missing_log_k", False)])
def test_iwae_log_mean_exp_part_separates_correct_from_mistakes(kind, passes):
    for seed in range(6):
        inputs = verdicts.iwae_inputs(np.random.default_rng(seed))
        generator = torch.Generator().manual_seed(10 ** 6 + seed)
        values = {f"stub_{k}": _bounds(inputs, k, kind, generator) for k in verdicts.STUB_KS}
        case = Case(verdicts.IWAE, inputs, Outputs(values=values, meta={n: {"kind": "tensor"} for n in values}))
        if passes:
            verdicts.iwae_log_mean_exp(case)
        else:
            with pytest.raises(AssertionError):
                verdicts.iwae_log_mean_exp(case)


def test_log_norm_references_match_the_course_solution_in_float64():
    lam = torch.tensor(verdicts.log_norm_inputs(np.random.default_rng(0))["lam_near"], requires_grad=True)
    values = continuous_bernoulli_log_norm(lam)
    values.sum().backward()
    assert torch.allclose(values.detach(), verdicts._log_norm(lam.detach()), atol=1e-10)
    assert torch.allclose(lam.grad, verdicts._log_norm_grad(lam.detach()), atol=1e-8, rtol=1e-8)


def test_the_k1_reference_of_the_graders_linear_vae_is_its_closed_form():
    inputs = verdicts.iwae_inputs(np.random.default_rng(4))
    case = Case(verdicts.IWAE, inputs, Outputs())
    mu, logvar, decode = verdicts._linear_vae(case)
    i = case.inputs
    h = i["x"].flatten(1)  # (B, 784)
    assert torch.allclose(mu, h @ i["w_mu"] + i["b_mu"], atol=1e-12)
    assert torch.allclose(logvar, torch.tanh(h @ i["w_logvar"] + i["b_logvar"]), atol=1e-12)
    z = torch.randn(7, verdicts.IWAE_LATENT, dtype=torch.float64)
    assert decode(z).dtype == torch.float64
    assert torch.allclose(decode(z), torch.sigmoid(z @ i["w_dec"] + i["b_dec"]), atol=1e-12)


IWAE_CASES = {**{key: (CATALOGUE.edited_source(key), CATALOGUE.mistakes[key].message)
                 for key, m in CATALOGUE.mistakes.items() if m.cell == "iwae_bound"},
              **{key: (alternative["iwae_bound"], None) for key, alternative in CATALOGUE.correct.items()
                 if "iwae_bound" in alternative},
              "course": (CATALOGUE.sources["iwae_bound"], None)}


@pytest.mark.parametrize("key", sorted(IWAE_CASES))
def test_iwae_bound_on_the_graders_models_full_marks_or_a_loss_with_its_cause(key):
    source, cause = IWAE_CASES[key]
    notebook = {"torch": torch, "math": math, "reconstruction_loss": reconstruction_loss,
                "kl_divergence": kl_divergence, "reparameterize": reparameterize}  # as the notebook's helpers give them
    exec(compile(source, "<iwae_bound>", "exec"), notebook)  # noqa: S102 (the catalogue's sources)
    for seed in range(2):
        inputs = verdicts.IWAE.inputs(np.random.default_rng([seed, 8]))
        results = judge(verdicts.IWAE, inputs, probe_here(verdicts.IWAE, inputs, dict(notebook)))
        messages = [r.message for r in results if r.earned < r.points]
        if cause is None:
            assert not messages, (seed, messages)
        else:
            assert any(cause in message for message in messages), (seed, messages)
