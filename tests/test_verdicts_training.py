"""05_training's grader-side verdicts, without a kernel: the probes run here, in-process, on the course's
loops and on a few wrong ones, and the judges' replays agree with torch.optim.SGD and the course's code.

The catalogue (test_mistakes_05.py) proves the same through real nbgrader; these run in seconds.
"""
import contextlib

import numpy as np
import pytest
import torch

from vaecourse.reference import training as course
from vaecourse.verdicts.core import Case, Outputs, judge
from vaecourse.verdicts.training import EVAL_BETAS, EVALUATE, TRAIN, _evaluate_replay, _mean_per_image


def run_probe(verdict, inputs: dict, functions: dict) -> Outputs:
    """The probe run here as the kernel would run it: emitted values kept as the kernel would send them."""
    outputs = Outputs()

    def emit(name, value):
        if isinstance(value, torch.Tensor):
            outputs.values[name] = value.detach().cpu().clone()
            outputs.meta[name] = {"kind": "tensor", "dtype": str(value.dtype), "shape": list(value.shape)}
        else:
            outputs.values[name] = value
            outputs.meta[name] = {"kind": "number", "type": type(value).__name__}

    @contextlib.contextmanager
    def attempt(*names):
        try:
            yield
        except Exception as error:
            for name in names:
                if name not in outputs.values:
                    outputs.problems[name] = f"your code raised {type(error).__name__}: {error} on the grader's inputs"

    notebook = {"torch": torch, "device": torch.device("cpu"), "vae_loss": course.vae_loss,
                "stop_on_bad_loss": course.stop_on_bad_loss, **functions}
    scope = dict(notebook, inputs={k: torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v
                                   for k, v in inputs.items()},
                 emit=emit, attempt=attempt, course_versions=lambda **_: contextlib.nullcontext(), np=np)
    exec(verdict.helpers, scope)
    exec(verdict.probe, scope)
    return outputs


def earned(verdict, functions, seed=0):
    inputs = verdict.inputs(np.random.default_rng(seed))
    return [r.earned == r.points for r in judge(verdict, inputs, run_probe(verdict, inputs, functions))]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_course_loops_earn_every_part(seed):
    """The replay (SGD written out, z drawn from the probe's seed) matches torch.optim.SGD and the course's loop."""
    assert all(earned(TRAIN, {"train_one_epoch": course.train_one_epoch}, seed))
    assert all(earned(EVALUATE, {"evaluate": course.evaluate}, seed))


def test_a_loop_that_never_clears_gradients_loses_only_the_weights():
    def train_one_epoch(model, loader, optimizer, beta=1.0):
        model.train()
        total, count = 0.0, 0
        for x, _ in loader:
            x_hat, mu, logvar = model(x)
            loss = course.vae_loss(x_hat, x, mu, logvar, beta=beta)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(x), count + len(x)
        return total / count
    assert earned(TRAIN, {"train_one_epoch": train_one_epoch}) == [True, False, True]


def test_every_draw_of_the_grader_tells_sampled_z_from_z_equals_mu_by_far_more_than_the_tolerance():
    """Evaluating at z = mu must never come within the values' tolerance (EVAL_RTOL, 1e-4) of the sampled mean.
    Before the grader's decoder depended strongly on z, 1 draw in 200 let it through with full marks (seed 159)."""
    closest = []
    for seed in range(200):
        case = Case(EVALUATE, EVALUATE.inputs(np.random.default_rng(seed)), Outputs())
        sizes = case.inputs["sizes"].double()
        for beta in EVAL_BETAS:
            sampled, at_mean = (_mean_per_image(values, sizes) for values in _evaluate_replay(case, beta))
            closest.append(abs(at_mean - sampled) / abs(sampled))
    assert min(closest) > 0.01, f"z = mu within {min(closest):.2g} of the sampled value on some draw"


@pytest.mark.parametrize("seed", [0, 159])
def test_evaluating_at_z_equals_mu_loses_the_values_on_the_draw_that_once_let_it_through(seed):
    def evaluate(model, loader, beta=1.0):
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, _ in loader:
                mu, logvar = model.encoder(x)
                total += course.vae_loss(model.decoder(mu), x, mu, logvar, beta=beta).item() * len(x)
                count += len(x)
        return total / count
    assert earned(EVALUATE, {"evaluate": evaluate}, seed) == [True, True, False]
