"""The grader-side references of 08_likelihoods_and_bounds's verdicts, without a kernel: the statistical
part of iwae_bound passes correct bounds and fails the catalogued mistakes on many grading seeds, and
the gradient reference of continuous_bernoulli_log_norm is the derivative of the course's solution."""
import math

import numpy as np
import pytest
import torch

from vaecourse.reference.likelihoods_and_bounds import continuous_bernoulli_log_norm
from vaecourse.verdicts import likelihoods_and_bounds as verdicts
from vaecourse.verdicts.core import Case, Outputs


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
