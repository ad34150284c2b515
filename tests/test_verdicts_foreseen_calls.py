"""What the grader sends into a student's kernel holds no answer (vaecourse/verdicts/foreseen_calls.py).

vae_loss (4.4), cyclical_beta (7.4) and VectorQuantizer (9.2) are judged with the course's version of the
exercise they build on in the notebook's globals. The student's code runs while the probe does and can keep
whatever the probe lends it (a function of the student's reads its globals, walks its frames, patches exec):
so what the probe sends is values, never the code of an answer. Here, in this process, without nbgrader:

- no line of the probes and helpers of these three notebooks' verdicts is a line of any exercise's answer
  (the solution cells of every master), and none of them imports vaecourse (the sandbox does not show it);
- a student's function that keeps the stand-in it was lent and calls it on inputs of its own gets an error,
  not the course's answer;
- the stand-in answers the calls the grader foresaw with the course's values, in the dtype and on the
  device of the arguments, and carries the course's gradients (torch.autograd.Function);
- a mistake in the earlier exercise still costs only that exercise, for a later one that calls it.

CI budget: about 5 s (no kernel; the probes run here).
"""
import functools
import importlib
import io
import re
import tokenize

import numpy as np
import pytest
import torch
from harness import load_master, load_student, probe_here, solution_sources
from test_mistakes_07 import CATALOGUE as CATALOGUE_07

from vaecourse.masters import HELPERS_TAG, master_paths
from vaecourse.reference.decoder import reparameterize
from vaecourse.verdicts import foreseen_calls, verdicts_for
from vaecourse.verdicts.core import Part, Verdict, judge

NOTEBOOKS = ("04_elbo", "07_ae_vs_vae_and_beta", "09_vq_vae")
MIN_LENGTH = 12  # shorter answer lines (`return 1.0`, `return tau`) say nothing of an answer
PRELUDE = "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"


def code_lines(source: str) -> list[str]:
    """The lines of Python source without comments, spaces collapsed, blank ones dropped."""
    lines = source.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, IndentationError):
        pass
    return [" ".join(line.split()) for line in lines if line.strip()]


ASSIGNED = re.compile(r"^(?:return |[\w.\[\], ()]+ = )(.+)$")  # `return EXPR`, `names = EXPR`: EXPR is the answer


@functools.cache
def answer_lines() -> frozenset[str]:
    """Every line of every exercise's answer: the solution cells of the masters and the correct alternatives of
    their catalogues (tests/test_mistakes_NN.py), each line also as the expression it returns or assigns (the
    same formula under another name is the same answer); less imports, and less what the student notebooks show
    outside their course helpers (which inline earlier answers): a solution cell's def line, docstring and
    stub, and lines like `loss.backward()` that any course cell has."""
    answers, shown = set(), set()
    for path in master_paths():
        shown |= {line for cell in load_student(path.stem).cells if cell.cell_type == "code"
                  and HELPERS_TAG not in cell.metadata.get("tags", []) for line in code_lines(cell.source)}
        sources = [solution_sources(load_master(path.stem))]
        sources += importlib.import_module(f"test_mistakes_{path.stem[:2]}").CATALOGUE.correct.values()
        for source in (text for cells in sources for text in cells.values()):
            for line in code_lines(source):
                expression = ASSIGNED.match(line)
                computes = expression and re.search(r"[-+*/@(\[]", expression.group(1))  # not a list of names
                answers |= {line, expression.group(1)} if computes else {line}
    return frozenset(line for line in answers - shown
                     if len(line) >= MIN_LENGTH and not line.startswith(("import ", "from ")))


def test_the_answer_lines_are_what_they_claim():
    answers = answer_lines()
    assert "return min(1.0, step / warmup_steps)" in answers  # 7.3
    assert "flat = z_e.permute(0, 2, 3, 1).reshape(-1, D)" in answers  # 9.1, its comment dropped
    assert "def reconstruction_loss(x_hat, x):" not in answers  # the student's notebook shows it


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_source_sent_to_the_kernel_holds_an_answer_line_or_imports_vaecourse(notebook):
    answers = answer_lines()
    for gid, verdict in verdicts_for(notebook).items():
        sent = verdict.helpers + "\n" + verdict.probe
        found = sorted({answer for line in code_lines(sent) for answer in answers if answer in line})
        assert not found, f"{notebook}:{gid} sends the code of an answer to the student's kernel: {found}"
        assert "vaecourse" not in sent, f"{notebook}:{gid}: the kernel has no vaecourse package to import"
        inputs = verdict.inputs(np.random.default_rng(0))
        assert all(isinstance(v, (np.ndarray, bool, int, float)) for v in inputs.values()), gid


# ------------------------------------------------------------ what a student's function can keep

def namespace(notebook: str, replace: dict | None = None) -> dict:
    """The master's solutions run in one namespace (a kernel's globals), `replace` (grade_id -> source) swapped in."""
    names = {"__name__": "__main__", "reparameterize": reparameterize, "_kept": []}
    exec(PRELUDE, names)  # noqa: S102 (the course's own cells)
    for gid, source in solution_sources(load_master(notebook)).items():
        exec((replace or {}).get(gid, source), names)  # noqa: S102
    return names


KEEPERS = {  # a later exercise, right, that keeps what it was lent in place of the earlier one
    "04_elbo": ("test_vae_loss", {"vae_loss": (
        "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n"
        "    _kept.append((reconstruction_loss, kl_divergence))\n"
        "    return (reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar)).mean()\n")}),
    "07_ae_vs_vae_and_beta": ("test_cyclical_beta", {"cyclical_beta": (
        "def cyclical_beta(step, cycle_length, ratio=0.5):\n"
        "    _kept.append((linear_warmup,))\n"
        "    return linear_warmup(step % cycle_length, ratio * cycle_length)\n")}),
    "09_vq_vae": ("test_vector_quantizer", {}),
}
KEEPING_VECTOR_QUANTIZER = (
    "_Quantizer = VectorQuantizer\n\n\n"
    "class VectorQuantizer(_Quantizer):\n"
    "    def forward(self, z_e):\n"
    "        _kept.append((quantize,))\n"
    "        return super().forward(z_e)\n")
OWN_INPUTS = {  # inputs of the student's own, which the grader could not foresee
    "reconstruction_loss": (torch.rand(3, 1, 28, 28) * 0.8 + 0.1, torch.rand(3, 1, 28, 28)),
    "kl_divergence": (torch.randn(3, 2), torch.randn(3, 2)),
    "linear_warmup": (5, 12.345),
    "quantize": (torch.randn(2, 3, 2, 2), torch.randn(4, 3)),
}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_function_that_keeps_the_course_version_it_was_lent_gets_no_answer_from_it(notebook):
    gid, replace = KEEPERS[notebook]
    names = namespace(notebook, replace)
    if notebook == "09_vq_vae":
        exec(KEEPING_VECTOR_QUANTIZER, names)  # noqa: S102
    verdict = verdicts_for(notebook)[gid]
    inputs = verdict.inputs(np.random.default_rng(5))
    results = judge(verdict, inputs, probe_here(verdict, inputs, names))
    assert all(r.earned == r.points for r in results), [r.message for r in results if r.message]
    kept = {function.__name__: function for functions in names["_kept"] for function in functions}
    assert kept, "the student's function was not called with the course's versions in its globals"
    for name, function in kept.items():
        with pytest.raises(LookupError, match="knows only the calls the grader prepared"):
            function(*OWN_INPUTS[name])
        assert names[name] is not function, f"the student's own {name} is not back after the probe"


# ------------------------------------------------------------ the stand-in itself

def _bce(x_hat, x):
    return -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum(dim=(1, 2, 3))


def _nearest(z_e, codebook):
    flat = z_e.movedim(1, -1).reshape(-1, z_e.shape[1])
    indices = torch.cdist(flat.double(), codebook.double()).argmin(dim=1)
    return codebook[indices].reshape(*z_e.movedim(1, -1).shape).movedim(-1, 1), indices.reshape(z_e.shape[0], -1)


def _try(probe: str, inputs: dict):
    """A probe of the test's own (the stand-ins of `inputs` in its helpers), run as the kernel runs it."""
    verdict = Verdict("t", "a test", lambda rng: inputs, probe, (Part("all", 1.0, lambda case: None),),
                      helpers=foreseen_calls.KERNEL_SOURCE)
    return probe_here(verdict, inputs, {})


def test_a_foreseen_call_gets_the_graders_values_in_the_arguments_dtype_and_its_gradients():
    rng = np.random.default_rng(1)
    x_hat, x = 1 / (1 + np.exp(-rng.standard_normal((2, 1, 28, 28)))), rng.random((2, 1, 28, 28))
    inputs = {"x_hat": x_hat, "x": x, **foreseen_calls.foresee("reconstruction_loss", _bce, [(x_hat, x)], differentiable=(0,))}
    out = _try("""
f = stand_in(inputs, "reconstruction_loss", ("x_hat", "x"))
for name, dtype in (("64", torch.float64), ("32", torch.float32)):
    x_hat = inputs["x_hat"].to(dtype).clone().requires_grad_()
    loss = f(x=inputs["x"].to(dtype), x_hat=x_hat)  # by name, as float32 copies too
    emit("loss_" + name, loss)
    (loss * torch.tensor([1.0, -2.0], dtype=dtype)).sum().backward()
    emit("grad_" + name, x_hat.grad)
with attempt("other"):
    emit("other", f(inputs["x_hat"][:1], inputs["x"][:1]))
""", inputs)
    expected = _bce(torch.from_numpy(x_hat), torch.from_numpy(x))
    gradient = (torch.from_numpy(x_hat - x) / torch.from_numpy(x_hat * (1 - x_hat))) * torch.tensor(
        [1.0, -2.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    assert out.values["loss_64"].dtype == torch.float64 and out.values["loss_32"].dtype == torch.float32
    assert torch.allclose(out.values["loss_64"], expected, rtol=1e-12, atol=0)
    assert torch.allclose(out.values["grad_64"], gradient, rtol=1e-12, atol=0)
    assert torch.allclose(out.values["grad_32"].double(), gradient, rtol=1e-5)
    assert out.meta["grad_32"]["dtype"] == "torch.float32"
    assert "reconstruction_loss(a tensor of shape (1, 1, 28, 28), a tensor of shape (1, 1, 28, 28)) was called" \
        in out.problems["other"] and "knows only the calls the grader prepared" in out.problems["other"]


def test_a_pair_with_indices_keeps_them_integer_and_passes_the_gradient_to_the_codebook_only():
    rng = np.random.default_rng(2)
    z_e, codebook = rng.standard_normal((2, 3, 2, 2)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    inputs = {"z_e": z_e, "codebook": codebook,
              **foreseen_calls.foresee("quantize", _nearest, [(z_e, codebook)], differentiable=(1,))}
    out = _try("""
z_e, codebook = inputs["z_e"].clone().requires_grad_(), inputs["codebook"].clone().requires_grad_()
z_q, indices = stand_in(inputs, "quantize", ("z_e", "codebook"))(z_e, codebook)
emit("z_q", z_q)
emit("indices", indices)
(3 * z_q).sum().backward()
emit("grad_codebook", codebook.grad)
emit("grad_z_e", z_e.grad)
""", inputs)
    z_q, indices = _nearest(torch.from_numpy(z_e), torch.from_numpy(codebook))
    assert torch.equal(out.values["z_q"], z_q) and out.values["z_q"].dtype == torch.float32
    assert torch.equal(out.values["indices"], indices) and out.values["indices"].dtype == torch.int64
    counts = torch.bincount(indices.flatten(), minlength=5).float()
    assert torch.equal(out.values["grad_codebook"], 3 * counts[:, None].expand(5, 3))
    assert out.values["grad_z_e"] is None


def test_numbers_are_matched_by_value_and_come_back_as_the_graders_numbers():
    calls = [(s % 7, 0.3 * 7) for s in range(20)]
    inputs = foreseen_calls.foresee("linear_warmup", lambda step, ws: min(1.0, step / ws), calls)
    assert inputs["standin/linear_warmup/calls"] == 7  # repeats dropped
    out = _try("""
f = stand_in(inputs, "linear_warmup", ("step", "warmup_steps"))
emit("values", [f(s % 7, 7 * 0.3) for s in range(9)] + [f(np.int64(3), warmup_steps=2.1)])
with attempt("other"):
    f(3, 2.2)
""", inputs)
    values = out.values["values"]
    assert values == [min(1.0, (s % 7) / (0.3 * 7)) for s in range(9)] + [1.0]
    assert all(type(v) is float for v in values)
    assert "linear_warmup(3, 2.2) was called" in out.problems["other"]


# ------------------------------------------------------------ one mistake, one exercise

@pytest.mark.parametrize("mistake", sorted(k for k, m in CATALOGUE_07.mistakes.items() if m.cell == "linear_warmup"))
@pytest.mark.parametrize("cyclical", ["step_in_cycle", "tau"])
def test_a_cyclical_beta_built_on_linear_warmup_keeps_its_points_beside_a_wrong_one(mistake, cyclical):
    call = {"step_in_cycle": "linear_warmup(step % cycle_length, ratio * cycle_length)",
            "tau": "linear_warmup((step % cycle_length) / cycle_length, ratio)"}[cyclical]
    names = namespace("07_ae_vs_vae_and_beta", {
        "linear_warmup": CATALOGUE_07.edited_source(mistake),
        "cyclical_beta": f"def cyclical_beta(step, cycle_length, ratio=0.5):\n    return {call}\n"})
    for seed in range(3):
        results = {}
        for gid in ("test_linear_warmup", "test_cyclical_beta"):
            verdict = verdicts_for("07_ae_vs_vae_and_beta")[gid]
            inputs = verdict.inputs(np.random.default_rng([seed, 7]))
            results[gid] = judge(verdict, inputs, probe_here(verdict, inputs, names))
        assert all(r.earned == r.points for r in results["test_cyclical_beta"]), \
            [r.message for r in results["test_cyclical_beta"] if r.message]
        assert any(r.earned < r.points for r in results["test_linear_warmup"]), mistake

