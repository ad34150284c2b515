"""The probe runner: the one cell the grader runs in the student's kernel after a graded test cell.

This module is not imported by the kernel (the sandbox does not show the course package): the
grader reads `__vaecourse_verdict__` as source (vaecourse/verdicts/core.py `probe_source`) and
sends it, followed by one call with the verdict's settings: the mime type, the limits, the inputs
as JSON, the verdict's helpers and probe. It is here, as a real module, so that linters and tests
read it like any other code. Nothing in it is secret: student code can read it while it runs.

It runs as one cell; everything it defines lives inside the function, so that it leaves no name
behind in the notebook and relies on no name the student could have replaced (it imports its own
modules). The student's code can still patch what it calls (numpy, torch, display): that can only
spoil the values it sends, never make wrong ones right.
"""


def __vaecourse_verdict__(__notebook_globals, settings):  # noqa: N807 (a name no notebook uses)
    import base64
    import contextlib
    import io
    import json
    import math
    import numpy as np
    import torch
    from IPython.display import display

    MIME, MAX_ITEMS, MESSAGE_CHARS = settings["MIME"], settings["MAX_ITEMS"], settings["MESSAGE_CHARS"]
    NUMPY_DTYPES = set(settings["NUMPY_DTYPES"])
    INPUTS, HELPERS, PROBE = settings["INPUTS"], settings["HELPERS"], settings["PROBE"]

    def load(entry):
        if "npy" in entry:
            return torch.from_numpy(np.load(io.BytesIO(base64.b64decode(entry["npy"])), allow_pickle=False))
        return entry["value"]

    def encode(value, depth=0):
        if isinstance(value, torch.Tensor):
            t = value.detach()
            meta = {"kind": "tensor", "dtype": str(t.dtype), "shape": list(t.shape), "device": str(t.device),
                    "requires_grad": bool(value.requires_grad), "grad_fn": value.grad_fn is not None,
                    "type": type(value).__name__}
            if t.numel() > MAX_ITEMS:
                return {"kind": "too_big", "type": "Tensor", "shape": list(t.shape)}
            t = t.cpu()
            if str(t.dtype) not in NUMPY_DTYPES:
                t = t.float()
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(t.numpy()), allow_pickle=False)
            meta["npy"] = base64.b64encode(buffer.getvalue()).decode("ascii")
            return meta
        if isinstance(value, np.ndarray):
            if value.size > MAX_ITEMS or value.dtype == object:
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
                    "items": [encode(v, depth + 1) for v in list(value)[:32]]}
        if isinstance(value, dict) and depth < 3:
            return {"kind": "mapping", "items": {str(k): encode(v, depth + 1) for k, v in list(value.items())[:32]}}
        text = repr(value) if type(value).__repr__ is object.__repr__ else object.__repr__(value)
        return {"kind": "other", "type": type(value).__name__, "repr": text[:200]}

    emitted = set()

    def send(record):
        display({MIME: record}, raw=True)

    def emit(name, value):
        try:
            record = encode(value)
        except Exception as error:  # a value that cannot be read out is that value's problem
            record = {"kind": "unreadable", "error": f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]}
        record["name"] = str(name)
        emitted.add(str(name))
        send(record)

    @contextlib.contextmanager
    def attempt(*names):
        try:
            yield
        except Exception as error:  # the student's code failed on these values: each says so
            for name in [n for n in names if str(n) not in emitted]:
                send({"kind": "raised", "name": str(name), "error": f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]})

    @contextlib.contextmanager
    def course_versions(**functions):
        saved = {name: __notebook_globals.get(name, __vaecourse_missing__) for name in functions}
        __notebook_globals.update(functions)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is __vaecourse_missing__:
                    __notebook_globals.pop(name, None)
                else:
                    __notebook_globals[name] = value

    __vaecourse_missing__ = object()
    # The probe draws random numbers (torch.manual_seed(inputs["seed"]), the student's code): the cells
    # after it must see the random state they would have seen without it, so it is put back at the end.
    import random
    saved_random = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
                    torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    scope = dict(__notebook_globals)
    scope.update(inputs={k: load(v) for k, v in json.loads(INPUTS).items()}, emit=emit,
                 attempt=attempt, course_versions=course_versions, torch=torch, np=np, math=math)
    try:
        exec(compile(HELPERS, "<course helpers for the grader>", "exec"), scope)
        exec(compile(PROBE, "<grader probe>", "exec"), scope)
    except BaseException as error:
        send({"kind": "error", "name": "", "error": f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]})
    finally:
        random.setstate(saved_random[0])
        np.random.set_state(saved_random[1])
        torch.random.set_rng_state(saved_random[2])
        if saved_random[3] is not None:
            torch.cuda.set_rng_state_all(saved_random[3])
    send({"kind": "done", "name": ""})
