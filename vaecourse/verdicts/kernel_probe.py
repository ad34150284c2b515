"""The probe runner: the one cell the grader runs in the student's kernel after a graded test cell.

This module is not imported by the kernel (the sandbox does not show the course package): the
grader reads its three functions as source (vaecourse/verdicts/core.py `probe_source`) and sends
them, followed by one call of `__vaecourse_verdict__` with the verdict's settings (which takes
the three names away again at its end): the mime type, the limits, the inputs
as JSON, the verdict's helpers and probe. It is here, as a real module, so that linters and tests
read it like any other code. Nothing in it is secret: student code can read it while it runs.

It runs as one cell; everything else it defines lives inside these functions, so that it leaves
no name behind in the notebook and relies on no name the student could have replaced (it imports its own
modules). The student's code can still patch what it calls (numpy, torch, display): that can only
spoil the values it sends, never make wrong ones right.
"""


KERNEL_FUNCTIONS = ("__vaecourse_encode__", "__vaecourse_channel__", "__vaecourse_verdict__")


def __vaecourse_encode__(value, settings, depth=0):  # noqa: N807 (a name no notebook uses)
    """A value the student's code returned, as a JSON record: numbers, strings, .npy bytes, or its type."""
    import base64
    import io
    import math

    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        t = value.detach()
        meta = {"kind": "tensor", "dtype": str(t.dtype), "shape": list(t.shape), "device": str(t.device),
                "requires_grad": bool(value.requires_grad), "grad_fn": value.grad_fn is not None,
                "type": type(value).__name__}
        if t.numel() > settings["MAX_ITEMS"]:
            return {"kind": "too_big", "type": "Tensor", "shape": list(t.shape)}
        t = t.cpu()
        if str(t.dtype) not in settings["NUMPY_DTYPES"]:
            t = t.float()
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(t.numpy()), allow_pickle=False)
        meta["npy"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        return meta
    if isinstance(value, np.ndarray):
        if value.size > settings["MAX_ITEMS"] or value.dtype == object:
            return {"kind": "other", "type": "ndarray", "repr": f"an array of dtype {value.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, (bool, int, float)) and type(value) in (bool, int, float):
        return {"kind": "number", "type": type(value).__name__,
                "value": value if not isinstance(value, float) or math.isfinite(value) else repr(value)}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return {"kind": "number", "type": type(value).__name__, "value": value.item() if
                not isinstance(value, np.floating) or math.isfinite(value) else repr(value.item())}
    if isinstance(value, str):
        return {"kind": "str", "value": value[:200]}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (tuple, list, torch.Size)) and depth < 3:
        return {"kind": "sequence", "type": type(value).__name__, "length": len(value),
                "items": [__vaecourse_encode__(v, settings, depth + 1) for v in list(value)[:32]]}
    if isinstance(value, dict) and depth < 3:
        return {"kind": "mapping", "items": {str(k): __vaecourse_encode__(v, settings, depth + 1)
                                             for k, v in list(value.items())[:32]}}
    text = repr(value) if type(value).__repr__ is object.__repr__ else object.__repr__(value)
    return {"kind": "other", "type": type(value).__name__, "repr": text[:200]}


def __vaecourse_channel__(notebook_globals, settings):  # noqa: N807
    """What a probe calls: send(record), emit(name, value), attempt(*names), course_versions(**functions)."""
    import contextlib

    from IPython.display import display

    mime, chars = settings["MIME"], settings["MESSAGE_CHARS"]
    emitted = set()
    missing = object()

    def send(record):
        display({mime: record}, raw=True)

    def emit(name, value):
        try:
            record = __vaecourse_encode__(value, settings)
        except Exception as error:  # a value that cannot be read out is that value's problem
            record = {"kind": "unreadable", "error": f"{type(error).__name__}: {error}"[:chars]}
        record["name"] = str(name)
        emitted.add(str(name))
        send(record)

    @contextlib.contextmanager
    def attempt(*names):
        try:
            yield
        except Exception as error:  # the student's code failed on these values: each says so
            for name in [n for n in names if str(n) not in emitted]:
                send({"kind": "raised", "name": str(name), "error": f"{type(error).__name__}: {error}"[:chars]})

    @contextlib.contextmanager
    def course_versions(**functions):
        saved = {name: notebook_globals.get(name, missing) for name in functions}
        notebook_globals.update(functions)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is missing:
                    notebook_globals.pop(name, None)
                else:
                    notebook_globals[name] = value

    return send, emit, attempt, course_versions


def __vaecourse_verdict__(notebook_globals, settings):  # noqa: N807
    """Run the verdict's helpers and probe beside the notebook's globals; the random state put back after."""
    import base64
    import io
    import json
    import math
    import random

    import numpy as np
    import torch

    def load(entry):
        if "npy" in entry:
            return torch.from_numpy(np.load(io.BytesIO(base64.b64decode(entry["npy"])), allow_pickle=False))
        return entry["value"]

    send, emit, attempt, course_versions = __vaecourse_channel__(notebook_globals, settings)
    # The probe draws random numbers (torch.manual_seed(inputs["seed"]), the student's code): the cells
    # after it must see the random state they would have seen without it, so it is put back at the end.
    saved_random = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
                    torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    scope = dict(notebook_globals)
    scope.update(inputs={k: load(v) for k, v in json.loads(settings["INPUTS"]).items()}, emit=emit,
                 attempt=attempt, course_versions=course_versions, torch=torch, np=np, math=math)
    try:
        exec(compile(settings["HELPERS"], "<course helpers for the grader>", "exec"), scope)
        exec(compile(settings["PROBE"], "<grader probe>", "exec"), scope)
    except BaseException as error:
        send({"kind": "error", "name": "", "error": f"{type(error).__name__}: {error}"[:settings["MESSAGE_CHARS"]]})
    finally:
        random.setstate(saved_random[0])
        np.random.set_state(saved_random[1])
        torch.random.set_rng_state(saved_random[2])
        if saved_random[3] is not None:
            torch.cuda.set_rng_state_all(saved_random[3])
    send({"kind": "done", "name": ""})
    for name in settings.get("DEFINED", ()):  # this cell's own functions: no name is left in the notebook
        notebook_globals.pop(name, None)
