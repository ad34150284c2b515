"""The verdicts of 09_vq_vae and 10_evaluating_samples without nbgrader: each probe runs in this process
on the master's solutions (or a catalogued mistake), on inputs from many seeds, and is judged as the grader
judges it. Fast, so that the statistical parts (random inputs every grading run) are tried on many draws:
a correct answer must never lose a point, a mistake must always lose its part."""
import importlib

import numpy as np
import pytest

from harness import load_master, load_student, probe_here, solution_sources
from vaecourse.masters import grade_id
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge

PRELUDE = "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
SEEDS = range(20)


@pytest.fixture
def run():
    """run(notebook, sources, seed) -> {grade_id: [PartResult]}: the solutions executed in a fresh namespace
    (as a kernel's globals), then every verdict's probe, judged."""
    def run_(notebook, sources, seed):
        namespace = {"__name__": "__main__"}
        exec(PRELUDE, namespace)
        for source in sources.values():
            exec(source, namespace)
        results = {}
        for number, (gid, verdict) in enumerate(verdicts_for(notebook).items()):
            inputs = verdict.inputs(np.random.default_rng([seed, number]))
            results[gid] = judge(verdict, inputs, probe_here(verdict, inputs, namespace))
        return results
    return run_


def _catalogue(number):
    return importlib.import_module(f"test_mistakes_{number}").CATALOGUE


@pytest.mark.parametrize("number", ["09", "10"])
def test_solutions_and_correct_alternatives_earn_every_part_on_every_draw(run, number):
    catalogue = _catalogue(number)
    variants = [solution_sources(load_master(catalogue.notebook))]
    variants += [{**variants[0], **replace} for replace in catalogue.correct.values()]
    for seed in SEEDS:
        for sources in variants:
            for gid, parts in run(catalogue.notebook, sources, seed).items():
                assert all(p.earned == p.points for p in parts), (seed, gid, [p for p in parts if p.message])


@pytest.mark.parametrize("number", ["09", "10"])
def test_blank_notebook_earns_nothing_and_every_part_says_why(run, number):
    catalogue = _catalogue(number)
    stubs = {grade_id(cell): cell.source for cell in load_student(catalogue.notebook).cells
             if grade_id(cell) in catalogue.sources}
    for gid, parts in run(catalogue.notebook, stubs, 0).items():
        assert all(p.earned == 0 and "NotImplementedError" in p.message for p in parts), (gid, parts)


@pytest.mark.parametrize("number", ["09", "10"])
def test_every_catalogued_mistake_loses_a_part_of_its_test_only_naming_the_cause_on_every_draw(run, number):
    catalogue = _catalogue(number)
    for key, mistake in catalogue.mistakes.items():
        sources = {**catalogue.sources, mistake.cell: catalogue.edited_source(key)}
        for seed in range(5):
            results = run(catalogue.notebook, sources, seed)
            lost = sorted(gid for gid, parts in results.items() if any(p.earned < p.points for p in parts))
            assert lost == sorted(catalogue.lost_by(key)), (key, seed, lost)
            messages = "\n".join(p.message for p in results[mistake.test])
            assert mistake.message in messages, (key, seed, messages)
