"""The grader-side verdicts of 01_mnist and 02_encoder, judged in seconds without nbgrader: each probe
runs in this process on the master's solutions (with a catalogued mistake, a correct alternative or
the stubs), its values go through the same encoding as from a kernel, and the grader judges them.
The catalogues (test_mistakes_01.py, test_mistakes_02.py) prove the same through real nbgrader."""
import importlib

import numpy as np
import pytest

from harness import probe_here
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge

NOTEBOOKS = ("01_mnist", "02_encoder")
SETUP = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
STUB = "def {0}(*args, **kwargs):\n    raise NotImplementedError('{0}')\n"


def catalogue(notebook):
    return importlib.import_module(f"test_mistakes_{notebook[:2]}").CATALOGUE


def grade(notebook, replace=None, seed=0):
    """{grade_id: [PartResult]} for the master's solutions with `replace` (grade_id -> source) swapped in."""
    namespace = {}
    exec(SETUP, namespace)
    for gid, source in catalogue(notebook).sources.items():
        exec((replace or {}).get(gid, source), namespace)
    rng = np.random.default_rng(seed)
    results = {}
    for gid, verdict in verdicts_for(notebook).items():
        inputs = verdict.inputs(rng)
        results[gid] = judge(verdict, inputs, probe_here(verdict, inputs, dict(namespace)))
    return results


def lost(results):
    return {gid: [r for r in parts if r.earned < r.points] for gid, parts in results.items()}


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_solutions_and_correct_alternatives_get_full_marks(notebook, seed):
    for replace in [{}, *catalogue(notebook).correct.values()]:
        assert not any(lost(grade(notebook, replace, seed)).values()), lost(grade(notebook, replace, seed))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_stubs_earn_nothing(notebook):
    stubs = {gid: (STUB.format(gid) if gid != "encoder" else
                   "class Encoder(nn.Module):\n    def __init__(self, latent_dim=2):\n"
                   "        super().__init__()\n        raise NotImplementedError('Encoder')\n")
             for gid in catalogue(notebook).sources}
    for gid, parts in grade(notebook, stubs).items():
        assert all(r.earned == 0 and "NotImplementedError" in r.message for r in parts), (gid, parts)


@pytest.mark.parametrize("notebook,key", [(nb, key) for nb in NOTEBOOKS for key in catalogue(nb).mistakes])
def test_each_mistake_loses_a_part_of_its_own_test_and_names_the_cause(notebook, key):
    master = catalogue(notebook)
    mistake = master.mistakes[key]
    failed = {gid: parts for gid, parts in lost(grade(notebook, {mistake.cell: master.edited_source(key)}, seed=3)).items()
              if parts}
    assert set(failed) == {mistake.test}, failed
    assert any(mistake.message in r.message for r in failed[mistake.test]), failed
