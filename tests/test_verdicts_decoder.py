"""03_decoder's grader-side verdicts (vaecourse/verdicts/decoder.py) in a real kernel, without nbgrader.

ConvVAE (Exercise 3.4) is judged with the course's Encoder, Decoder and reparameterize in place of
the student's (`course_versions` in its probe): a mistake of 3.2 or 3.3 beside a right ConvVAE keeps
all of 3.4's points, and the student's own Decoder and reparameterize are back in the notebook's
globals after the probe, for the cells that follow. tests/test_check_blame.py runs the probe in a plain
namespace for every such mistake; this runs it in a real kernel, as grading does, for two. The
catalogue, tests/test_mistakes_03.py, grades them all through nbgrader.
"""
import nbformat
import numpy as np
import pytest
from harness import load_master, solution_sources
from nbclient import NotebookClient
from test_mistakes_03 import CATALOGUE

from vaecourse.verdicts.core import judge, probe_source, read_outputs
from vaecourse.verdicts.decoder import CONV_VAE

# one of 3.2 and one of 3.3 that the visible check of 3.4 blames (all of them: tests/test_check_blame.py, in-process)
MISTAKES = ["channels_last_reshape", "std_detached"]
ORDER = ("conv_transpose2d_output_size", "decoder", "reparameterize", "conv_vae")
RESTORED = "print('restored:', Decoder is _mine[0] and reparameterize is _mine[1])"


@pytest.fixture(scope="module")
def judged():
    """mistake -> (the parts of ConvVAE's verdict, what the cell after the probe printed): one kernel for all."""
    master = load_master("03_decoder")
    solutions = solution_sources(master)
    cells = [cell.source for cell in master.cells if "course-helpers" in cell.metadata.get("tags", [])]
    cells.append("import torch\nfrom torch import nn\nimport torch.nn.functional as F")
    rng = np.random.default_rng(3)
    plan = []
    for key in ["perfect", *MISTAKES]:
        edited = {} if key == "perfect" else {CATALOGUE.mistakes[key].cell: CATALOGUE.edited_source(key)}
        cells += [edited.get(gid, solutions[gid]) for gid in ORDER]
        cells.append("_mine = (Decoder, reparameterize)")
        inputs = CONV_VAE.inputs(rng)
        plan.append((key, inputs, len(cells)))
        cells += [probe_source(CONV_VAE, inputs), RESTORED]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(nb, timeout=120, allow_errors=True).execute()
    return {key: (judge(CONV_VAE, inputs, read_outputs(nb.cells[index].outputs)),
                  "".join(output.get("text", "") for output in nb.cells[index + 1].outputs))
            for key, inputs, index in plan}


@pytest.mark.slow
@pytest.mark.parametrize("key", ["perfect", *MISTAKES])
def test_conv_vae_keeps_its_points_beside_a_wrong_decoder_or_reparameterize(judged, key):
    results, _ = judged[key]
    assert [r.earned for r in results] == [r.points for r in results], [(r.name, r.message) for r in results]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["perfect", *MISTAKES])
def test_the_students_decoder_and_reparameterize_are_back_after_the_probe(judged, key):
    assert judged[key][1].strip() == "restored: True"
