"""Attacks from inside the student's kernel, for tests/test_kernel_attacks.py.

Each fooled the hidden tests while they ran in the student's kernel (the issue that moved the
verdicts to the grader found the first four earning full marks with blank or wrong answers).
An attack is added to an honest but wrong submission (`WRONG`: every function returns values of
the right shape and dtype and wrong values), either as code appended to the first answer cell
(`code`) or as answer cells of its own (`answers`). Graded with grader-side verdicts it may earn
no part that the wrong submission alone does not earn. Graded by plain nbgrader (its tests in the
kernel), the test shows that the attacks are real: they earn points there.
"""
from dataclasses import dataclass, field

# 04_elbo, answered with the right shapes and dtypes and wrong values (gradients flow, as zeros).
WRONG = {
    "reconstruction_loss": "def reconstruction_loss(x_hat, x):\n    return 0 * x_hat.sum(dim=(1, 2, 3))\n",
    "kl_divergence": "def kl_divergence(mu, logvar):\n    return 0 * (mu + logvar).sum(dim=1)\n",
    "kl_monte_carlo": "def kl_monte_carlo(mu, logvar, num_samples):\n    return 0 * (mu + logvar).sum(dim=1)\n",
    "vae_loss": "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n    return 0 * x_hat.sum() + 0 * (mu + logvar).sum()\n",
}

PATCH_COMPARISONS = r'''
import math, torch, torch.testing
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.Tensor.allclose = lambda self, *args, **kwargs: True
torch.Tensor.equal = lambda self, *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
'''

INPUT_TRANSFORMER = r'''
get_ipython().input_transformers_post.append(lambda lines: ["pass\n"])  # every later cell, tests included
'''

AST_TRANSFORMER = r'''
import ast as _ast

class _SwallowErrors(_ast.NodeTransformer):
    def visit_Module(self, node):
        handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
        node.body = [_ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return _ast.fix_missing_locations(node)

get_ipython().ast_transformers.append(_SwallowErrors())
'''

CUSTOM_EXC_AND_HOOK = r'''
_ip = get_ipython()
_ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)

def _all_ok(result):
    result.error_in_exec = None
    result.error_before_exec = None

_ip.events.register("post_run_cell", _all_ok)
'''

FORGED_PARTIAL_CREDIT = r'''
import ast as _ast

class _EndWithAScore(_ast.NodeTransformer):
    """Every cell ends with the expression 2.0, its errors swallowed: nbgrader reads an execute_result
    of a graded cell as its partial credit."""
    def visit_Module(self, node):
        handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
        guarded = _ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])
        node.body = [guarded, _ast.Expr(_ast.Constant(2.0))]
        return _ast.fix_missing_locations(node)

get_ipython().ast_transformers.append(_EndWithAScore())
'''

PATCHED_NUMPY = r'''
import torch, numpy
_shape_only = torch.Tensor.numpy

def _plausible(self, *args, **kwargs):  # claims 784 ln 2 for every value the grader reads out
    return numpy.full(tuple(self.shape), 543.4273, dtype=numpy.float64 if self.dtype == torch.float64 else numpy.float32)

torch.Tensor.numpy = _plausible
'''

# Answer cells that cheat (they replace WRONG's for these exercises).
CACHED_REFERENCE = {
    "kl_divergence": r'''
import math, torch
# The visible check's hand-worked values, copied from the notebook: right there, wrong anywhere else.
_CACHE = {(3, 3): torch.tensor([0.5 + (3 - math.log(4)) / 2, (0.25 - 1 + math.log(4)) / 2,
                                (4 + 0.25 - 1 + math.log(4)) / 2 + 0.5])}

def kl_divergence(mu, logvar):
    cached = _CACHE.get(tuple(mu.shape))
    if cached is not None:
        return cached.to(mu.dtype)
    return 0 * (mu + logvar).sum(dim=1)
''',
}

PROBE_DETECTOR = {
    "kl_divergence": r'''
import sys, torch
from IPython.display import display

def _called_by_the_grader():
    frame = sys._getframe(1)
    while frame is not None:
        if "probe" in frame.f_code.co_filename or "verdict" in frame.f_code.co_name:
            return True
        frame = frame.f_back
    return False

def kl_divergence(mu, logvar):
    if _called_by_the_grader():
        mime = "application/vnd.vaecourse.verdict+json"
        # forge the channel: a score, a "done", results under the names the grader reads, a displayhook result
        display({"text/plain": "3.0", mime: {"parts": [], "kind": "done", "name": ""}}, raw=True)
        for name in ("kl_1_2", "kl_7_2", "kl_7_5", "kl_zero"):
            display({mime: {"name": name, "kind": "number", "type": "float", "value": 0.0}}, raw=True)
        get_ipython().displayhook(3.0)
    return 0 * (mu + logvar).sum(dim=1)
''',
}

LYING_SUBCLASS = {
    "kl_divergence": r'''
import torch

class _Agreeable(torch.Tensor):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def allclose(self, *args, **kwargs): return True
    def equal(self, *args, **kwargs): return True

def kl_divergence(mu, logvar):
    return (0 * (mu + logvar).sum(dim=1)).as_subclass(_Agreeable)
''',
}


@dataclass(frozen=True)
class KernelAttack:
    code: str = ""  # appended to the first answer cell
    answers: dict = field(default_factory=dict)  # answer cells replaced (grade_id -> source)


ATTACKS = {
    "patch_comparisons": KernelAttack(PATCH_COMPARISONS),
    "input_transformer": KernelAttack(INPUT_TRANSFORMER),
    "ast_transformer": KernelAttack(AST_TRANSFORMER),
    "custom_exc_and_hook": KernelAttack(CUSTOM_EXC_AND_HOOK),
    "forged_partial_credit": KernelAttack(FORGED_PARTIAL_CREDIT),
    "patched_numpy": KernelAttack(PATCHED_NUMPY),
    "cached_reference": KernelAttack(answers=CACHED_REFERENCE),
    "probe_detector": KernelAttack(answers=PROBE_DETECTOR),
    "lying_subclass": KernelAttack(answers=LYING_SUBCLASS),
}
