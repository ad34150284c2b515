"""Stand-ins for the course's earlier answers in a student's kernel: values, never the code of an answer.

Some exercises build on earlier ones (4.4 vae_loss on 4.1 and 4.2, 7.4 cyclical_beta may call 7.3,
9.2 VectorQuantizer calls 9.1). Their verdicts judge them with the course's version of the earlier
function in the notebook's globals while the probe runs (`course_versions` in core.py), so that one
mistake costs one exercise. What the probe puts there runs beside the student's code, which can read
it (frames, gc, a patched exec) and print it into its feedback page: so it must not be the course's
answer. It is a stand-in that knows only the calls the probe will make:

- grader side, `foresee(name, function, calls, differentiable)`: for each argument tuple the probe's
  code will pass, the grader computes the course's result here (`function`, the verdict's own
  reference) and, for the arguments in `differentiable`, the partial derivatives of each floating
  output (a sparse Jacobian); all of it goes to the kernel as verdict inputs (numbers and arrays);
- kernel side, `stand_in(inputs, name, params)` (the functions below, sent as source with
  inspect.getsource: `KERNEL_SOURCE`): a function that matches its arguments by value against the
  foreseen calls, returns the grader's values (in the dtype and on the device of its arguments),
  carries the grader's partial derivatives through a torch.autograd.Function, and raises a clear
  error for a call the grader did not foresee.

The values are the course's answer on the probe's inputs only: nothing the student can run again.
"""
import inspect

import numpy as np
import torch

PREFIX = "standin/"  # inputs entries of the stand-ins: standin/<name>/...


# ---------------------------------------------------------------- grader side

def foresee(name: str, function, calls, differentiable=()) -> dict:
    """The verdict inputs that let the kernel's stand-in for `name` answer each of `calls`.

    function(*args) -> a tensor, a tuple of tensors or a Python number: the course's result, computed here
    (tensors in the dtype of the arguments as the kernel will hold them; a floating output is returned in
    the dtype of the call's floating arguments, an integer one as it is).
    calls: argument tuples as the probe's code will pass them (numpy arrays, or numbers); repeats are dropped.
    differentiable: positions of the arguments the stand-in passes gradients to.
    """
    kept = list({_call_key(args): tuple(args) for args in calls}.values())  # in order, repeats dropped
    entries, outputs = {f"{PREFIX}{name}/calls": len(kept)}, 0
    for k, args in enumerate(kept):
        key = f"{PREFIX}{name}/{k}/"
        entries.update({f"{key}arg{i}": value for i, value in enumerate(args)})
        tensors = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in args]
        for i in differentiable:
            tensors[i] = tensors[i].clone().requires_grad_()
        result = function(*tensors)
        outputs = len(result) if isinstance(result, tuple) else 0  # 0: a single value, not a tuple
        for j, out in enumerate(result if isinstance(result, tuple) else (result,)):
            entries[f"{key}out{j}"] = out.detach().numpy() if isinstance(out, torch.Tensor) else out
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                for i in differentiable:
                    entries.update(_partials(f"{key}d{j}_{i}/", out, tensors[i]))
    entries[f"{PREFIX}{name}/outputs"] = outputs
    return entries


def _partials(key: str, out: torch.Tensor, arg: torch.Tensor) -> dict:
    """d out / d arg as a sparse Jacobian: rows (output elements), cols (argument elements), vals (one backward
    pass per output element: the outputs stood in for are small, a loss per image or a batch of codes)."""
    flat = out.reshape(-1)
    jacobian = torch.zeros(flat.numel(), arg.numel(), dtype=torch.float64)
    for n in range(flat.numel()):
        grad, = torch.autograd.grad(flat[n], arg, retain_graph=True, allow_unused=True)
        if grad is not None:
            jacobian[n] = grad.reshape(-1).double()
    rows, cols = np.nonzero(jacobian.numpy())
    return {f"{key}rows": rows.astype(np.int64), f"{key}cols": cols.astype(np.int64),
            f"{key}vals": jacobian.numpy()[rows, cols]}


def _call_key(args) -> tuple:
    """What makes two foreseen calls the same: their arguments' exact values (arrays by dtype, shape and bytes)."""
    return tuple((a.dtype.str, a.shape, a.tobytes()) if isinstance(a, np.ndarray) else (type(a).__name__, a)
                 for a in args)


# ---------------------------------------------------------------- kernel side (sent as source)

def stand_in(inputs, name, params):
    """`name` as the grader foresaw it: the grader's values for the calls it foresaw, nothing else."""
    import torch

    prefix = f"standin/{name}/"
    calls = [_standin_call(inputs, f"{prefix}{k}/", len(params)) for k in range(int(inputs[prefix + "calls"]))]
    outputs = int(inputs[prefix + "outputs"])
    exact = {}  # all-number calls by their exact values, found without a scan
    for k, (args, _, _) in enumerate(calls):
        if not any(isinstance(a, torch.Tensor) for a in args):
            exact.setdefault(tuple(float(a) for a in args), k)

    def course(*given, **named):
        args = _standin_bind(name, params, given, named)
        k = None
        if not any(isinstance(a, torch.Tensor) for a in args):
            k = exact.get(tuple(_standin_number(a) for a in args))
        if k is None:
            k = next((k for k, call in enumerate(calls) if all(map(_standin_same, args, call[0]))), None)
        if k is None:
            _standin_unforeseen(name, params, args)
        results = _standin_results(calls[k], args)
        return results if outputs else results[0]

    course.__name__ = course.__qualname__ = name
    return course


def _standin_call(inputs, key, count):
    """(arguments, outputs, partials {(output, argument): (rows, cols, vals)}) of one foreseen call."""
    args = [inputs[f"{key}arg{i}"] for i in range(count)]
    outs, j = [], 0
    while f"{key}out{j}" in inputs:
        outs.append(inputs[f"{key}out{j}"])
        j += 1
    partials = {(j, i): tuple(inputs[f"{key}d{j}_{i}/{part}"] for part in ("rows", "cols", "vals"))  # int64, float64
                for j in range(len(outs)) for i in range(count) if f"{key}d{j}_{i}/vals" in inputs}
    return args, outs, partials


def _standin_bind(name, params, given, named):
    """The arguments of a call in the order of params, however they were passed."""
    args = list(given) + [named.pop(p) for p in params[len(given):] if p in named]
    if named or len(args) != len(params):
        raise TypeError(f"{name}() takes the arguments ({', '.join(params)})")
    return args


def _standin_number(value):
    import torch

    if isinstance(value, torch.Tensor) and value.numel() != 1:
        return float("nan")  # matches no number
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _standin_same(given, foreseen):
    """Whether an argument has the value of a foreseen one: a tensor of its shape within 1e-6 relative and 1e-9
    absolute (a float32 copy of a float64 input matches), a number within 1e-9 relative."""
    import math

    import torch

    if isinstance(foreseen, torch.Tensor):
        if not isinstance(given, torch.Tensor) or tuple(given.shape) != tuple(foreseen.shape):
            return False
        difference = (given.detach().cpu().double() - foreseen.double()).abs()
        return bool((difference <= 1e-9 + 1e-6 * foreseen.double().abs()).all())
    number = _standin_number(given)
    return math.isclose(number, float(foreseen), rel_tol=1e-9, abs_tol=1e-12)


def _standin_unforeseen(name, params, args):
    import torch

    got = ", ".join(f"a tensor of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else repr(a)[:40] for a in args)
    raise LookupError(f"{name}({got}) was called, but while the grader judges this exercise {name} is the course's "
                      f"own (so that a mistake in {name} costs its own exercise only) and knows only the calls the "
                      "grader prepared: pass it the arguments your function was given, unchanged")


def _standin_results(call, args):
    """The foreseen outputs, in the dtype and on the device of the arguments, the partials attached."""
    import torch

    _, outs, partials = call
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if not any(isinstance(out, torch.Tensor) for out in outs):
        return list(outs)  # numbers (the grader foresees either numbers or tensors)
    floating = [t.dtype for t in tensors if t.is_floating_point()]
    dtype = floating[0] if floating else torch.get_default_dtype()
    for other in floating[1:]:
        dtype = torch.promote_types(dtype, other)
    device = tensors[0].device if tensors else torch.device("cpu")
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]

    class Course(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *given):
            values = [out.to(device=device, dtype=dtype if out.is_floating_point() else out.dtype).clone() for out in outs]
            ctx.mark_non_differentiable(*[v for v in values if not v.is_floating_point()])
            return tuple(values)

        @staticmethod
        def backward(ctx, *grads):
            return tuple(_standin_gradient(partials, grads, i, args[i]) for i in positions)

    return list(Course.apply(*tensors))


def _standin_gradient(partials, grads, i, arg):
    """The gradient reaching argument i: each output's gradient through the grader's partial derivatives."""
    import torch

    total = None
    for j, grad in enumerate(grads):
        if grad is None or (j, i) not in partials:
            continue
        rows, cols, vals = (t.to(grad.device) for t in partials[(j, i)])
        flat = torch.zeros(arg.numel(), dtype=torch.float64, device=grad.device)
        flat.index_add_(0, cols, grad.reshape(-1).double()[rows] * vals)
        total = flat if total is None else total + flat
    return None if total is None else total.reshape(arg.shape).to(arg.dtype)


KERNEL_SOURCE = "\n\n".join(inspect.getsource(function) for function in (
    stand_in, _standin_call, _standin_bind, _standin_number, _standin_same, _standin_unforeseen, _standin_results,
    _standin_gradient))
