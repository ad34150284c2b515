"""Grader-side verdicts of 09_vq_vae (how they run: vaecourse/verdicts/core.py).

Inputs are drawn per grading run; the references are computed here: nearest codes by exact squared
distances, the straight-through gradient, the two loss terms and their gradients, the perplexity.
VectorQuantizer (9.2) is judged with a stand-in for the course's quantize in place of the student's
(vaecourse/verdicts/foreseen_calls.py: the grader's z_q and indices for the probe's z_e and codebook, the
gradient of z_q reaching the codebook, never the code), so a mistake in 9.1 costs that exercise only.
"""
import math

import numpy as np
import torch

from vaecourse.checking import expect_close, expect_shape, fail
from vaecourse.verdicts import foreseen_calls
from vaecourse.verdicts.core import Part, PartFailed, Verdict, close, likely_cause, number


def _flat(z_e):
    """(B, D, H, W) -> (B*H*W, D): the vector at each position, in the order of indices.flatten()."""
    return z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])


def _squared_distances(flat, codebook):
    return ((flat[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)  # (N, K)


def _nearest(z_e, codebook):
    """Indices (B, H, W) of the nearest codes, ties to the lowest index (argmin takes the first minimum)."""
    B, _, H, W = z_e.shape
    return _squared_distances(_flat(z_e), codebook).argmin(dim=1).reshape(B, H, W)


def _lookup(codebook, indices):
    """codebook[indices] in the (B, D, H, W) layout."""
    return codebook[indices].permute(0, 3, 1, 2)


def _python_float(case, name, cause):
    """The emitted value must have been a Python float (numpy's float64 is one)."""
    meta = case.meta(name)
    if meta.get("kind") != "number" or meta.get("type") not in ("float", "float64"):
        what = (f"a tensor of shape {tuple(meta.get('shape', ()))}" if meta.get("kind") == "tensor"
                else repr(case[name]) if meta.get("kind") == "number" else f"a {meta.get('type', meta.get('kind'))}")
        fail(case.exercise, "a Python float", what, cause)


# ---------------------------------------------------------------- 9.1 quantize

def quantize_inputs(rng):
    return {
        "z_e": rng.standard_normal((3, 5, 4, 2)),  # (B, D, H, W): H != W, so a wrong permute shows
        "codebook": rng.standard_normal((11, 5)),  # (K, D)
        # small integers: every distance is exact, and many positions are equally near several codes
        "z_tie": rng.integers(-2, 3, (2, 3, 3, 3)).astype(float),
        "codebook_tie": rng.integers(-2, 3, (6, 3)).astype(float),
    }


QUANTIZE_PROBE = """
with attempt("pair", "z_q", "indices"):
    out = quantize(inputs["z_e"], inputs["codebook"])
    emit("pair", len(out) if isinstance(out, (tuple, list)) else type(out).__name__)
    z_q, indices = out
    emit("z_q", z_q)
    emit("indices", indices)
with attempt("z_q_one", "indices_one"):
    z_q, indices = quantize(inputs["z_e"][:1, :, :1, :1], inputs["codebook"])
    emit("z_q_one", z_q)
    emit("indices_one", indices)
with attempt("z_q_tie", "indices_tie"):
    z_q, indices = quantize(inputs["z_tie"].float(), inputs["codebook_tie"].float())
    emit("z_q_tie", z_q)
    emit("indices_tie", indices)
"""


def _pair(case):
    pair = case["pair"]
    if pair != 2:
        fail(case.exercise, "a pair (z_q, indices)", pair if isinstance(pair, str) else f"{pair} items",
             "return z_q, indices")


def quantize_shapes(case):
    _pair(case)
    z_e = case.inputs["z_e"]
    B, D, H, W = z_e.shape
    for suffix, shape in (("", (B, H, W)), ("_one", (1, 1, 1))):
        indices = case.tensor(f"indices{suffix}", "return the indices as a tensor (B, H, W)")
        expect_shape(case.exercise, indices, shape, "indices has one code number per position: (B, H, W); reshape "
                     "the flat (B*H*W,) argmin back to (B, H, W)")
        if indices.dtype != torch.int64:
            fail(case.exercise, "indices of dtype torch.int64", indices.dtype, "keep the output of argmin (a long tensor)")
    for suffix, shape in (("", (B, D, H, W)), ("_one", (1, D, 1, 1))):
        z_q = case.tensor(f"z_q{suffix}", "return z_q as a tensor (B, D, H, W)")
        if tuple(z_q.shape) == (B, H, W, D) and suffix == "":
            fail(case.exercise, f"shape {(B, D, H, W)}", tuple(z_q.shape), "z_q has the shape of z_e, (B, D, H, W): "
                 "after looking up the codes (B*H*W, D), reshape to (B, H, W, D) and permute(0, 3, 1, 2) back")
        expect_shape(case.exercise, z_q, shape, "z_q has the shape of z_e, (B, D, H, W): after looking up the codes "
                     "(B*H*W, D), reshape to (B, H, W, D) and permute(0, 3, 1, 2) back")
    if case.tensor("z_q").dtype != torch.float64:
        fail(case.exercise, "z_q of dtype torch.float64 for a float64 codebook", case.tensor("z_q").dtype,
             "z_q holds rows of the codebook: keep its dtype")


def _indices_like(case, name, shape):
    indices = case.tensor(name, "return the indices as a tensor (B, H, W)")
    if indices.numel() != math.prod(shape) or indices.is_floating_point():
        fail(case.exercise, f"{math.prod(shape)} integer code numbers, shape {shape}",
             f"shape {tuple(indices.shape)} and dtype {indices.dtype}", "indices is (B, H, W), one code number per position")
    return indices.reshape(-1).long()


def quantize_nearest(case):
    z_e, codebook = case.inputs["z_e"], case.inputs["codebook"]
    B, D, H, W = z_e.shape
    got = _indices_like(case, "indices", (B, H, W))
    if got.min() < 0 or got.max() >= len(codebook):
        fail(case.exercise, f"code numbers between 0 and {len(codebook) - 1}", f"{got.min().item()} to {got.max().item()}",
             "indices are rows of the codebook: argmin over the K codes (dim=1 of the (N, K) distances)")
    flat = _flat(z_e)
    distances = _squared_distances(flat, codebook)  # (N, K)
    chosen = distances.gather(1, got[:, None]).squeeze(1)
    wrong = chosen > distances.min(dim=1).values + 1e-9
    if wrong.any():
        mixed = z_e.reshape(-1, D)  # what reshape without permute makes of the positions
        likely = (
            (distances.argmax(dim=1), "you picked the FARTHEST code: the nearest code has the smallest distance, so "
                                      "use argmin, not argmax"),
            ((flat @ codebook.t()).argmax(dim=1), "the largest dot product z . e_k is not the nearest code: the squared "
             "distance is ||z||^2 - 2 z . e_k + ||e_k||^2, and ||e_k||^2 differs from code to code"),
            (_squared_distances(mixed, codebook).argmin(dim=1), "the vector at position (h, w) is z_e[b, :, h, w] (D is "
             "the channel dimension, dim 1): permute(0, 2, 3, 1) before reshape(-1, D), otherwise numbers from "
             "different positions are mixed into one vector"),
            ((flat[:, None, :] - codebook[None]).abs().sum(-1).argmin(dim=1), "use the squared EUCLIDEAN distance "
             "sum((z - e)^2), not the sum of absolute differences (L1)"),
        )
        for indices, cause in likely:
            if torch.equal(got, indices):
                fail(case.exercise, "the nearest code at every position", f"{int(wrong.sum())} of {len(got)} positions "
                     "with a farther code", cause)
        fail(case.exercise, "the nearest code at every position", f"{int(wrong.sum())} of {len(got)} positions with a "
             "farther code", "indices[b, h, w] is the argmin over k of the squared distance between z_e[b, :, h, w] "
             "and codebook[k]")
    one = _indices_like(case, "indices_one", (1, 1, 1))
    expect_close(case.exercise, one, distances[:1].argmin(dim=1), "a batch of one image with one position: the "
                 "nearest code of z_e[0, :, 0, 0]", atol=0, rtol=0)


def quantize_codes(case):
    z_e, codebook = case.inputs["z_e"], case.inputs["codebook"]
    B, D, H, W = z_e.shape
    cause = "z_q[b, :, h, w] must be codebook[indices[b, h, w]] in the (B, D, H, W) layout"
    for suffix, shape in (("", (B, H, W)), ("_one", (1, 1, 1))):
        indices = _indices_like(case, f"indices{suffix}", shape)
        if indices.min() < 0 or indices.max() >= len(codebook):
            fail(case.exercise, "code numbers of the codebook", indices.tolist()[:6], cause)
        z_q = case.tensor(f"z_q{suffix}", cause)
        expect_close(case.exercise, z_q.double(), _lookup(codebook, indices.reshape(shape)), cause, atol=1e-6, rtol=1e-6)


def quantize_ties(case):
    z_tie, codebook = case.inputs["z_tie"], case.inputs["codebook_tie"]
    B, D, H, W = z_tie.shape
    got = _indices_like(case, "indices_tie", (B, H, W))
    distances = _squared_distances(_flat(z_tie), codebook)
    expected = distances.argmin(dim=1)  # the first of equal minima: the lowest index
    nearest = distances.gather(1, got[:, None].clamp(0, len(codebook) - 1)).squeeze(1) == distances.min(dim=1).values
    if torch.equal(got, expected):
        return
    if nearest.all():
        fail(case.exercise, expected.tolist()[:12], got.tolist()[:12], "where several codes are equally near, take the "
             "lowest index (torch.argmin does; integer inputs make such ties exact)")
    fail(case.exercise, f"the nearest codes {expected.tolist()[:12]}", got.tolist()[:12], "integer-valued z_e and "
         "codebook (float32): indices[b, h, w] is the argmin over k of the squared distance, the lowest index on ties")


QUANTIZE = Verdict(
    "test_quantize", "Exercise 9.1 quantize", quantize_inputs, QUANTIZE_PROBE, (
        Part("(z_q (B, D, H, W), indices (B, H, W) int64), one position included", 0.75, quantize_shapes),
        Part("the nearest code by squared Euclidean distance, D the channel dimension", 1.25, quantize_nearest),
        Part("z_q holds the chosen codes in the (B, D, H, W) layout", 0.5, quantize_codes),
        Part("equally near codes: the lowest index", 0.5, quantize_ties),
    ))


# ---------------------------------------------------------------- 9.2 VectorQuantizer

DEAD_CODES = 6


def _quantized(z_e, codebook):
    """The course's 9.1 in the grader: (z_q, indices) of the nearest codes, z_q differentiable in the codebook."""
    indices = _nearest(z_e, codebook)
    return _lookup(codebook, indices), indices


def vq_inputs(rng):
    used = rng.choice(DEAD_CODES - 1, size=2, replace=False)  # the last code is always unused (bincount's length)
    inputs = {
        "seed": int(rng.integers(2 ** 31)),
        "beta": float(rng.choice([0.1, 0.4, 0.6, 2.0])),  # never 0.25 (the default) nor 1 (both terms alike)
        "codebook": rng.standard_normal((7, 3)),
        "z_e": rng.standard_normal((2, 3, 2, 3)),  # (B, D, H, W)
        "weight": rng.standard_normal((2, 3, 2, 3)),  # d (sum(z_q_st * weight)) / d z_q_st
        "dead_codebook": 100 + rng.standard_normal((DEAD_CODES, 3)),
        "dead_z_e": rng.standard_normal((2, 3, 2, 2)),
        "dead_indices": rng.choice(used, size=(2, 2, 2)),  # any shape: (B, H, W) here
    }
    # forward calls quantize(z_e, self.codebook), both float32 in the probe: the course's result, as values
    call = (inputs["z_e"].astype(np.float32), inputs["codebook"].astype(np.float32))
    inputs.update(foreseen_calls.foresee("quantize", _quantized, [call], differentiable=(1,)))
    return inputs


VQ_PROBE = f"""
torch.manual_seed(inputs["seed"])
with course_versions(quantize=stand_in(inputs, "quantize", ("z_e", "codebook"))):
    with attempt("forward", "st_grad_z", "st_grad_codebook", "loss_grad_z", "loss_grad_codebook"):
        vq = VectorQuantizer(num_codes=7, code_dim=3, beta=inputs["beta"])
        with torch.no_grad():
            vq.codebook.copy_(inputs["codebook"].float())
        z_e = inputs["z_e"].float().requires_grad_()
        out = vq(z_e)
        emit("forward", out)
        z_q_st, vq_loss, indices = out
        with attempt("st_grad_z", "st_grad_codebook"):
            if z_q_st.requires_grad:
                grads = torch.autograd.grad((z_q_st * inputs["weight"].float()).sum(), [z_e, vq.codebook],
                                            allow_unused=True, retain_graph=True)
            else:
                grads = (None, None)
            emit("st_grad_z", grads[0])
            emit("st_grad_codebook", grads[1])
        with attempt("loss_grad_z", "loss_grad_codebook"):
            if vq_loss.requires_grad:
                grads = torch.autograd.grad(vq_loss, [z_e, vq.codebook], allow_unused=True)
            else:
                grads = (None, None)
            emit("loss_grad_z", grads[0])
            emit("loss_grad_codebook", grads[1])
with attempt("moved", "parameter_after", "codebook_after", "moved_none"):
    dead = VectorQuantizer(num_codes={DEAD_CODES}, code_dim=3)
    parameter = dead.codebook
    with torch.no_grad():
        parameter.copy_(inputs["dead_codebook"].float())
    moved = dead.reset_dead_codes(inputs["dead_z_e"].float(), inputs["dead_indices"])
    emit("moved", moved)
    emit("parameter_after", parameter)
    emit("codebook_after", dead.codebook)
    emit("moved_none", dead.reset_dead_codes(inputs["dead_z_e"].float(), torch.arange({DEAD_CODES})))
"""


def _forward(case):
    out = case["forward"]
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(case.exercise, "forward returning (z_q_st, vq_loss, indices)", repr(out)[:80], "return z_q_st, vq_loss, indices")
    return out


def _vq_reference(case):
    """(z_e, codebook, z_q, indices) in float64, from the float32 values the kernel used."""
    z_e, codebook = case.inputs["z_e"].float(), case.inputs["codebook"].float()
    indices = _nearest(z_e, codebook)  # in float32, as the course's quantize chose them in the kernel
    return z_e.double(), codebook.double(), _lookup(codebook.double(), indices), indices


def vq_shapes(case):
    z_q_st, vq_loss, indices = _forward(case)
    shape = tuple(case.inputs["z_e"].shape)
    expect_shape(case.exercise, z_q_st, shape, "z_q_st has the shape of z_e, (B, D, H, W)")
    expect_shape(case.exercise, indices, (shape[0], *shape[2:]), "indices is (B, H, W), as quantize returns it")
    expect_shape(case.exercise, vq_loss, (), "vq_loss is one number: the MEAN of the squared differences over all "
                 "elements (F.mse_loss)")
    _, _, _, expected = _vq_reference(case)
    expect_close(case.exercise, indices.long(), expected, "indices of the nearest codes: call quantize(z_e, self.codebook)",
                 atol=0, rtol=0)


def vq_straight_through(case):
    z_q_st = _forward(case)[0]
    z_e, _, z_q, _ = _vq_reference(case)
    expect_shape(case.exercise, z_q_st, tuple(z_e.shape), "z_q_st has the shape of z_e, (B, D, H, W)")
    expect_close(case.exercise, z_q_st.double(), z_q, "the forward value of z_q_st is z_q, the chosen codes: "
                 "z_e + (z_q - z_e).detach()", atol=1e-6)
    grad_z, grad_codebook = case["st_grad_z"], case["st_grad_codebook"]
    weight = case.inputs["weight"].float().double()
    if grad_z is None or not isinstance(grad_z, torch.Tensor) or grad_z.abs().sum() == 0:
        fail(case.exercise, "the decoder's gradient copied to z_e", "no gradient reaching z_e",
             "the gradient does not reach the encoder: quantization has no gradient, so return the straight-through "
             "z_e + (z_q - z_e).detach(), not z_q (and detach the whole difference)")
    expect_close(case.exercise, grad_z.double(), weight, "the straight-through output must pass the gradient to z_e "
                 "unchanged: z_e + (z_q - z_e).detach()", atol=1e-5)
    if isinstance(grad_codebook, torch.Tensor) and grad_codebook.abs().sum() > 0:
        fail(case.exercise, "no gradient from z_q_st to the codebook", "a gradient", "detach the whole difference "
             "(z_q - z_e): the codebook learns from the codebook loss, not through the straight-through output")


def _loss_terms(case):
    z_e, codebook, z_q, indices = _vq_reference(case)
    diff = (z_e - z_q) * 2 / z_e.numel()  # d mean((z_e - e)^2) / d z_e
    codes = torch.zeros_like(codebook)  # d mean((e - sg[z_e])^2) / d codebook: minus diff, summed per chosen code
    codes.index_add_(0, indices.reshape(-1), -_flat(diff))
    return ((z_e - z_q) ** 2).mean(), diff, codes


def vq_loss_value(case):
    vq_loss = _forward(case)[1]
    beta = case.inputs["beta"]
    squared, _, _ = _loss_terms(case)
    if not isinstance(vq_loss, torch.Tensor) or vq_loss.numel() != 1:
        fail(case.exercise, "vq_loss as one number", repr(vq_loss)[:80], "vq_loss is one number: the MEAN of the squared "
             "differences over all elements (F.mse_loss)")
    got = float(vq_loss.reshape(()))
    expected = (1 + beta) * squared.item()

    def close(value):
        return abs(got - value) <= 1e-5 * abs(value) + 1e-6

    if not close(expected):
        n = case.inputs["z_e"].numel()
        if close(1.25 * squared.item()):
            cause = f"use self.beta, the weight given to the constructor (here beta = {beta}), not 0.25"
        elif close(expected * n):
            cause = "the MEAN over all elements (F.mse_loss), not the sum"
        else:
            cause = ("vq_loss = mean((sg[z_e] - z_q)^2) + beta * mean((z_e - sg[z_q])^2): the MEAN over all elements "
                     "(F.mse_loss)")
        fail(case.exercise, f"{expected:.6g} = (1 + beta) * mean squared distance, beta = {beta}", f"{got:.6g}", cause)


def _grad(case, name, like):
    value = case[name]
    if value is None:
        return torch.zeros_like(like)
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(like.shape):
        fail(case.exercise, f"a gradient of shape {tuple(like.shape)}", repr(value)[:80], "vq_loss must be a tensor "
             "computed from z_e and self.codebook")
    return value.double()


def vq_stop_gradients(case):
    beta = case.inputs["beta"]
    _, diff, codes = _loss_terms(case)
    grad_z = _grad(case, "loss_grad_z", diff)
    grad_codebook = _grad(case, "loss_grad_codebook", codes)

    def close(got, expected):
        return torch.allclose(got, expected, rtol=1e-4, atol=1e-6)

    if close(grad_z, (1 + beta) * diff) and close(grad_codebook, (1 + beta) * codes):
        fail(case.exercise, "stop-gradients in both terms", "both terms pulling both sides",
             "stop-gradients are missing: the codebook term is ||sg[z_e] - e||^2 (detach z_e) and the commitment term "
             "||z_e - sg[e]||^2 (detach the codes)")
    if close(grad_z, diff) and close(grad_codebook, beta * codes):
        fail(case.exercise, f"the encoder's gradient weighted by beta = {beta}", f"weight 1 on the encoder and {beta} on "
             "the codes", "the commitment and codebook terms are swapped: beta multiplies the COMMITMENT term "
             "||z_e - sg[e]||^2 (the one whose gradient reaches the encoder); the codebook term has weight 1")
    if grad_codebook.abs().sum() == 0:
        fail(case.exercise, "a gradient of vq_loss on the codebook", "none", "the codebook loss ||sg[z_e] - e||^2 is "
             "missing, or e is detached in it: it is the only term that moves the codes (F.mse_loss(z_q, z_e.detach()))")
    if grad_z.abs().sum() == 0:
        fail(case.exercise, "a gradient of vq_loss on z_e", "none", "the commitment loss beta * ||z_e - sg[e]||^2 is "
             "missing, or z_e is detached in it: it is the term that keeps the encoder close to its codes")
    expect_close(case.exercise, grad_z, beta * diff, "the gradient of vq_loss on z_e must come from beta * "
                 "||z_e - sg[e]||^2 only", atol=1e-6, rtol=1e-4)
    expect_close(case.exercise, grad_codebook, codes, "the gradient of vq_loss on the codes must come from "
                 "||sg[z_e] - e||^2 only", atol=1e-6, rtol=1e-4)


def vq_dead_codes(case):
    before = case.inputs["dead_codebook"].float().double()
    used = sorted(set(case.inputs["dead_indices"].reshape(-1).tolist()))
    dead = [k for k in range(DEAD_CODES) if k not in used]
    rows = _flat(case.inputs["dead_z_e"].float().double())  # the encoder outputs a revived code may take
    after = case.tensor("codebook_after", "keep self.codebook a tensor (an nn.Parameter)").double()
    parameter = case.tensor("parameter_after").double()
    expect_shape(case.exercise, after, tuple(before.shape), "keep the codebook's shape (num_codes, code_dim)")
    if not torch.equal(after, parameter):
        fail(case.exercise, "the same codebook Parameter, changed in place", "a new Parameter", "write into the existing "
             "codebook (self.codebook[dead] = ... under torch.no_grad()): the optimizer holds the old Parameter and "
             "would never see a new one")
    if not torch.allclose(after[used], before[used]):
        fail(case.exercise, f"codes {used} (used) unchanged", "they moved", "reset only the codes that NEVER appear in "
             "indices (count 0); codes in use must keep their values")
    still = [k for k in dead if torch.allclose(after[k], before[k])]
    if still:
        cause = ("count uses with torch.bincount(indices.flatten(), minlength=self.num_codes) so that codes never used, "
                 "the highest ones included, get a count of 0" if still[-1] > max(used) else
                 f"codes {dead} never appear in indices {used}: move each of them")
        fail(case.exercise, f"codes {dead} moved", f"codes {still} did not move", cause)
    for k in dead:
        if not ((rows - after[k]).abs().max(dim=1).values < 1e-6).any():
            fail(case.exercise, f"code {k} moved onto one of the encoder outputs z_e[b, :, h, w]",
                 [round(v, 4) for v in after[k].tolist()], "copy a D-vector z_e[b, :, h, w] (rows of "
                 "z_e.permute(0, 2, 3, 1).reshape(-1, D)), not random numbers, so that a revived code sits where the "
                 "data are")
    cause = "return how many codes were reset (an int)"

    def not_a_count(case, name, value):
        fail(case.exercise, "a number", repr(value), cause)

    moved = number(case, "moved", not_a_count)
    if moved != len(dead):
        fail(case.exercise, f"{len(dead)} (codes moved)", moved, cause)
    none = number(case, "moved_none", not_a_count)
    if none != 0:
        fail(case.exercise, "0 codes moved when every code is used", none, cause)


VECTOR_QUANTIZER = Verdict(
    "test_vector_quantizer", "Exercise 9.2 VectorQuantizer", vq_inputs, VQ_PROBE, (
        Part("forward returns (z_q_st (B, D, H, W), vq_loss (), indices (B, H, W) of the nearest codes)", 0.5, vq_shapes),
        Part("the straight-through output: value z_q, gradient copied to z_e, none to the codebook", 1.0,
             vq_straight_through),
        Part("vq_loss = (1 + beta) * mean squared distance, with self.beta", 0.75, vq_loss_value),
        Part("the stop-gradients: the codebook term moves the codes, beta * commitment reaches z_e", 0.75,
             vq_stop_gradients),
        Part("reset_dead_codes: unused codes moved onto encoder outputs in place, used ones kept, count returned", 1.0,
             vq_dead_codes),
    ), helpers=foreseen_calls.KERNEL_SOURCE)


# ---------------------------------------------------------------- 9.3 codebook_perplexity

def perplexity_inputs(rng):
    weights = rng.random(6) + 0.2  # 6 codes of 50 used, unequally
    return {
        "indices": rng.choice(6, size=(4, 7, 7), p=weights / weights.sum()) + int(rng.integers(0, 40)),
        "single": int(rng.integers(0, 12)),
        "uniform_codes": int(rng.integers(5, 40)),
    }


PERPLEXITY_PROBE = """
with attempt("mixed"):
    emit("mixed", codebook_perplexity(inputs["indices"], 50))
with attempt("single"):
    emit("single", codebook_perplexity(torch.full((3, 7, 7), inputs["single"]), 12))
with attempt("uniform"):
    k = inputs["uniform_codes"]
    emit("uniform", codebook_perplexity(torch.arange(k).repeat(3)[torch.randperm(3 * k)], k))
"""


def _not_a_perplexity(case, name, value):
    return PartFailed(f"{case.exercise}: expected a number, got {value!r:.80} - return float(...) of the perplexity")


def perplexity_float(case):
    for name in ("mixed", "single", "uniform"):
        _python_float(case, name, "return a Python float: float(...) or .item()")


def perplexity_values(case):
    indices = case.inputs["indices"]
    got = number(case, "mixed", _not_a_perplexity)
    counts = torch.bincount(indices.reshape(-1), minlength=50).double()
    p = counts[counts > 0] / counts.sum()
    entropy = -(p * p.log()).sum().item()
    expected = math.exp(entropy)
    if math.isnan(got):
        fail(case.exercise, f"{expected:.4f}", "nan", "unused codes have p = 0 and 0 * log(0) is nan in floating point: "
             "keep only p > 0 (p = p[p > 0])")
    if close(got, expected, rtol=1e-5):
        return
    likely = {
        "that is the entropy; the perplexity is exp(entropy)": entropy,
        "the entropy was computed with log2 but raised with exp: use the natural log with exp (or log2 with 2 ** H)":
            math.exp(entropy / math.log(2)),
        "that is the number of codes used; the perplexity weighs each code by its frequency: exp(-sum p log p), equal "
        "to the count only when usage is uniform": float(len(p)),
    }
    cause = likely_cause(likely, lambda value: close(got, value, rtol=1e-5))
    if cause is not None:
        fail(case.exercise, f"{expected:.4f} (6 of 50 codes used unequally)", f"{got:.4f}", cause)
    fail(case.exercise, f"{expected:.4f} (6 of 50 codes used unequally)", f"{got:.4g}", "exp(-sum p log p) with the "
         "natural log, p the usage frequencies of the codes (counts divided by the total), unused codes left out")


def perplexity_extremes(case):
    single = number(case, "single", _not_a_perplexity)
    if math.isnan(single):
        fail(case.exercise, "1.0 (a single code used)", "nan", "unused codes have p = 0 and 0 * log(0) is nan in "
             "floating point: keep only p > 0 (p = p[p > 0])")
    expect_close(case.exercise, single, 1.0, "a single code used: the entropy is 0 and the perplexity exp(0) = 1", atol=1e-6)
    k = case.inputs["uniform_codes"]
    expect_close(case.exercise, number(case, "uniform", _not_a_perplexity), float(k), f"all {k} codes used equally often: the perplexity "
                 f"is {k}", atol=0, rtol=1e-5)


PERPLEXITY = Verdict(
    "test_codebook_perplexity", "Exercise 9.3 codebook_perplexity", perplexity_inputs, PERPLEXITY_PROBE, (
        Part("a Python float", 0.5, perplexity_float),
        Part("exp(entropy) of the code frequencies on the grader's indices, unused codes left out", 1.5,
             perplexity_values),
        Part("1 for a single code, K for K codes used equally", 1.0, perplexity_extremes),
    ))

VERDICTS = (QUANTIZE, VECTOR_QUANTIZER, PERPLEXITY)
