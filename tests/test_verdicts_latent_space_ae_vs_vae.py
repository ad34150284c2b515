"""The grader-side verdicts of 06_latent_space and 07_ae_vs_vae_and_beta, run in this process on many
seeds (the real path, nbgrader and a kernel, is tests/test_mistakes_06.py and _07.py): the course's
solutions earn every part on any inputs the grader may draw, a blank notebook none, and the parts
add up to each test cell's points in the master."""
import math
from unittest import mock

import numpy as np
import pytest
import torch

from harness import load_master
from vaecourse.masters import grade_id
from vaecourse.reference import ae_vs_vae_and_beta, latent_space
from vaecourse.reference.decoder import ConvVAE
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge, probe_source, read_outputs, score

NOTEBOOKS = {"06_latent_space": (latent_space, ("encode_dataset", "latent_grid", "interpolate")),
             "07_ae_vs_vae_and_beta": (ae_vs_vae_and_beta, ("kl_per_dimension", "active_units", "linear_warmup",
                                                             "cyclical_beta"))}
SEEDS = range(8)


def run_probe(verdict, inputs, functions: dict):
    """The probe cell run here as the kernel runs it, its display messages captured: the judged parts."""
    outputs = []

    def display(obj, raw=False):
        outputs.append({"output_type": "display_data", "data": obj})

    notebook = {"torch": torch, "math": math, "ConvVAE": ConvVAE, "device": torch.device("cpu"), **functions}
    with mock.patch("IPython.display.display", display):
        exec(compile(probe_source(verdict, inputs), "<probe>", "exec"), notebook)
    return judge(verdict, inputs, read_outputs(outputs))


def blank(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise: implement {name}")
    return stub


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_parts_add_up_to_the_cells_points(notebook):
    points = {grade_id(cell): cell.metadata["nbgrader"]["points"] for cell in load_master(notebook).cells
              if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}
    verdicts = verdicts_for(notebook)
    assert sorted(verdicts) == sorted(points)
    for gid, verdict in verdicts.items():
        assert verdict.points == points[gid], gid
        assert all(part.points % 0.25 == 0 for part in verdict.parts), gid


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
