"""03_decoder's grader-side verdicts (vaecourse/verdicts/decoder.py) in a real kernel and in this process.

ConvVAE (Exercise 3.4) is judged with the grader's stand-ins for Encoder, Decoder and reparameterize
(vaecourse/verdicts/stand_ins.py, no exercise's answer) in place of the student's (`course_versions`
in its probe): a mistake of 3.2 or 3.3 beside a right ConvVAE keeps all of 3.4's points, and the
student's own Encoder, Decoder and reparameterize are back in the notebook's globals after the probe,
for the cells that follow. tests/test_check_blame.py runs the probe in a plain namespace for every
such mistake; the slow tests here run it in a real kernel, as grading does, for two, and for a ConvVAE
that draws z itself. The fast ones run it in this process on many draws: ConvVAEs written in other
right ways keep every point, wrong ones lose the values part with its cause. The catalogue,
tests/test_mistakes_03.py, grades them all through nbgrader.

CI budget: about 25 s (one kernel for the slow tests; the fast ones about 5 s).
"""
import nbformat
import numpy as np
import pytest
import torch
from harness import load_master, probe_here, solution_sources
from nbclient import NotebookClient
from test_mistakes_03 import CATALOGUE

from vaecourse.verdicts.core import judge, probe_source, read_outputs, score
from vaecourse.verdicts.decoder import CONV_VAE
from vaecourse.verdicts.stand_ins import StandInVAE, stand_in_reparameterize

# one of 3.2 and one of 3.3 that the visible check of 3.4 blames (all of them: tests/test_check_blame.py, in-process)
MISTAKES = ["channels_last_reshape", "std_detached"]
DRAWS_Z = "attributes_rsample_inline"  # a right ConvVAE that draws z itself instead of calling reparameterize
ORDER = ("conv_transpose2d_output_size", "decoder", "reparameterize", "conv_vae")
RESTORED = "print('restored:', Encoder is _mine[0] and Decoder is _mine[1] and reparameterize is _mine[2])"


@pytest.fixture(scope="module")
def judged():
    """mistake -> (the parts of ConvVAE's verdict, what the cell after the probe printed): one kernel for all."""
    master = load_master("03_decoder")
    solutions = solution_sources(master)
    cells = [cell.source for cell in master.cells if "course-helpers" in cell.metadata.get("tags", [])]
    cells.append("import torch\nfrom torch import nn\nimport torch.nn.functional as F")
    rng = np.random.default_rng(3)
    plan = []
    for key in ["perfect", *MISTAKES, DRAWS_Z]:
        if key in CATALOGUE.mistakes:
            edited = {CATALOGUE.mistakes[key].cell: CATALOGUE.edited_source(key)}
        else:
            edited = CATALOGUE.correct.get(key, {})
        cells += [edited.get(gid, solutions[gid]) for gid in ORDER]
        cells.append("_mine = (Encoder, Decoder, reparameterize)")
        inputs = CONV_VAE.inputs(rng)
        plan.append((key, inputs, len(cells)))
        cells += [probe_source(CONV_VAE, inputs), RESTORED]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    NotebookClient(nb, timeout=120, allow_errors=True).execute()
    return {key: (judge(CONV_VAE, inputs, read_outputs(nb.cells[index].outputs)),
                  "".join(output.get("text", "") for output in nb.cells[index + 1].outputs))
            for key, inputs, index in plan}


@pytest.mark.slow
@pytest.mark.parametrize("key", ["perfect", *MISTAKES, DRAWS_Z])
def test_conv_vae_keeps_its_points_beside_a_wrong_decoder_or_reparameterize(judged, key):
    results, _ = judged[key]
    assert [r.earned for r in results] == [r.points for r in results], [(r.name, r.message) for r in results]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["perfect", *MISTAKES, DRAWS_Z])
def test_the_students_encoder_decoder_and_reparameterize_are_back_after_the_probe(judged, key):
    assert judged[key][1].strip() == "restored: True"


# ---------------------------------------------------------------- in this process, many draws

CONV_VAE_HEAD = ("class ConvVAE(nn.Module):\n    def __init__(self, latent_dim=2):\n        super().__init__()\n"
                 "        self.encoder = Encoder(latent_dim=latent_dim)\n        self.decoder = Decoder(latent_dim=latent_dim)\n"
                 "\n    def forward(self, x):\n        mu, logvar = self.encoder(x)\n")
RIGHT = {  # ways to write a right ConvVAE beyond the catalogue's
    "keywords": "        return self.decoder(reparameterize(mu=mu, logvar=logvar)), mu, logvar\n",
    "rsample": "        z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()\n"
               "        return self.decoder(z), mu, logvar\n",
    "noise_from_std": "        std = torch.exp(0.5 * logvar)\n        return self.decoder(mu + torch.randn_like(std) * std), mu, logvar\n",
}
WRONG = {  # ConvVAEs that lose the values part, and the words of its message
    "decodes_mu": ("        return self.decoder(mu), mu, logvar\n", "decode a sample"),
    "own_trick_without_the_half": ("        z = mu + torch.exp(logvar) * torch.randn_like(mu)\n        return self.decoder(z), mu, logvar\n",
                                   "x_hat must be self.decoder(z) for z = reparameterize(mu, logvar)"),
    "reparameterize_of_std": ("        return self.decoder(reparameterize(mu, torch.exp(0.5 * logvar))), mu, logvar\n",
                              "x_hat must be self.decoder(z) for z = reparameterize(mu, logvar)"),
}
VALUES = "float64 kept; mu, logvar from self.encoder(x) and x_hat = self.decoder(z) for z = reparameterize(mu, logvar)"


def namespace(conv_vae: str) -> dict:
    """The notebook's globals: its helpers (Encoder from the package), the master's 3.2 and 3.3, and `conv_vae`."""
    master = load_master("03_decoder")
    solutions = solution_sources(master)
    scope: dict = {}
    for source in [cell.source for cell in master.cells if "course-helpers" in cell.metadata.get("tags", [])] + [
            "import torch\nfrom torch import nn", solutions["decoder"], solutions["reparameterize"], conv_vae]:
        exec(compile(source, "<notebook cell>", "exec"), scope)  # noqa: S102 (the master's cells, the tests' ConvVAEs)
    return scope


def conv_vae_results(conv_vae: str, seed: int):
    inputs = CONV_VAE.inputs(np.random.default_rng([seed, 3]))
    return judge(CONV_VAE, inputs, probe_here(CONV_VAE, inputs, namespace(conv_vae)))


@pytest.mark.parametrize("key", sorted(RIGHT))
def test_conv_vaes_written_in_other_right_ways_keep_every_point(key):
    for seed in range(4):
        results = conv_vae_results(CONV_VAE_HEAD + RIGHT[key], seed)
        assert score(results) == CONV_VAE.points, (seed, [r.message for r in results if r.message])


@pytest.mark.parametrize("key", sorted(WRONG))
def test_a_wrong_z_loses_the_values_part_with_its_cause(key):
    forward, cause = WRONG[key]
    for seed in range(4):
        lost = {r.name: r.message for r in conv_vae_results(CONV_VAE_HEAD + forward, seed) if r.earned < r.points}
        assert VALUES in lost and cause in lost[VALUES], (seed, lost)


def test_the_stand_ins_keep_the_interface_and_are_no_sample():
    """What 3.4's probe puts in place of Encoder, Decoder and reparameterize: the shapes and range of the course's
    parts, gradients for mu and logvar, and the same z on every call (so the grader knows it), which is not mu."""
    torch.manual_seed(0)
    model = StandInVAE(latent_dim=3).double()
    x = torch.rand(5, 1, 28, 28, dtype=torch.float64)
    x_hat, mu, logvar = model(x)
    assert (x_hat.shape, mu.shape, logvar.shape) == ((5, 1, 28, 28), (5, 3), (5, 3)) and x_hat.dtype == torch.float64
    assert bool(((x_hat > 0) & (x_hat < 1)).all()) and not torch.allclose(mu, logvar)
    mu, logvar = mu.detach().requires_grad_(), logvar.detach().requires_grad_()
    z = stand_in_reparameterize(mu, logvar)
    assert torch.equal(z, stand_in_reparameterize(mu, logvar)) and (z - mu).min() > 0.1
    z.sum().backward()
    assert bool((mu.grad == 1).all()) and bool((logvar.grad > 0).all())
