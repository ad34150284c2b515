"""The grader-side verdicts of 06_latent_space and 07_ae_vs_vae_and_beta, run in this process on many
seeds (the real path, nbgrader and a kernel, is tests/test_mistakes_06.py and _07.py): the course's
solutions earn every part on any inputs the grader may draw, and a blank notebook none (that the parts add
up to each test cell's points: tests/test_verdicts.py)."""
import math

import numpy as np
import pytest
import torch

from harness import probe_here
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
