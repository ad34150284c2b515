"""The grader-side verdicts of 06_latent_space and 07_ae_vs_vae_and_beta, run in this process on many
seeds (the real path, nbgrader and a kernel, is tests/test_mistakes_06.py and _07.py): the course's
solutions earn every part on any inputs the grader may draw, and a blank notebook none (that the parts add
up to each test cell's points: tests/test_verdicts.py). encode_dataset is handed the grader's StandInVAE
(vaecourse/verdicts/stand_ins.py), not the notebook's ConvVAE: its catalogued mistakes still lose their
points with their cause, its right alternative keeps them.

CI budget: about 10 s."""
import math

import numpy as np
import pytest
import torch
from harness import probe_here
from test_mistakes_06 import CATALOGUE as CATALOGUE_06

from vaecourse.reference import ae_vs_vae_and_beta, latent_space
from vaecourse.reference.decoder import ConvVAE
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge, score

NOTEBOOKS = {"06_latent_space": (latent_space, ("encode_dataset", "latent_grid", "interpolate")),
             "07_ae_vs_vae_and_beta": (ae_vs_vae_and_beta, ("kl_per_dimension", "active_units", "linear_warmup",
                                                             "cyclical_beta"))}
SEEDS = range(8)


def run_probe(verdict, inputs, functions: dict):
    """The probe cell run here as the kernel runs it, its display messages captured: the judged parts."""
    notebook = {"torch": torch, "math": math, "ConvVAE": ConvVAE, "device": torch.device("cpu"), **functions}
    return judge(verdict, inputs, probe_here(verdict, inputs, notebook))


def blank(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise: implement {name}")
    return stub


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_course_solutions_earn_every_part_and_a_blank_none_on_any_draw(notebook):
    module, names = NOTEBOOKS[notebook]
    course = {name: getattr(module, name) for name in names}
    stubs = {name: blank(name) for name in names}
    for seed in SEEDS:
        for gid, verdict in verdicts_for(notebook).items():
            inputs = verdict.inputs(np.random.default_rng([seed, 14]))
            results = run_probe(verdict, inputs, course)
            assert score(results) == verdict.points, (seed, gid, [r.message for r in results if r.message])
            results = run_probe(verdict, inputs, stubs)
            assert score(results) == 0 and all(r.message for r in results), (seed, gid, results)


class _NotTheGradersModel(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        raise AssertionError("the probe must hand encode_dataset the grader's model, not the notebook's ConvVAE")


ENCODE_CASES = {**{key: (CATALOGUE_06.edited_source(key), CATALOGUE_06.mistakes[key].message)
                   for key, m in CATALOGUE_06.mistakes.items() if m.cell == "encode_dataset"},
                **{key: (alternative["encode_dataset"], None) for key, alternative in CATALOGUE_06.correct.items()
                   if "encode_dataset" in alternative},
                "course": (CATALOGUE_06.sources["encode_dataset"], None)}


@pytest.mark.parametrize("key", sorted(ENCODE_CASES))
def test_encode_dataset_is_judged_on_the_graders_model_mistakes_losing_points_with_their_cause(key):
    source, cause = ENCODE_CASES[key]
    verdict = verdicts_for("06_latent_space")["test_encode_dataset"]
    for seed in SEEDS[:4]:
        functions: dict = {}
        exec(compile(source, "<encode_dataset>", "exec"), functions)  # noqa: S102 (the catalogue's sources)
        inputs = verdict.inputs(np.random.default_rng([seed, 6]))
        results = run_probe(verdict, inputs, {"encode_dataset": functions["encode_dataset"], "ConvVAE": _NotTheGradersModel})
        messages = [r.message for r in results if r.earned < r.points]
        if cause is None:
            assert not messages, (seed, messages)
        else:
            assert any(cause in message for message in messages), (seed, messages)
