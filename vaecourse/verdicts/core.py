"""Grader-side verdicts: the student's kernel only computes, the grader judges.

A hidden test used to run inside the student's kernel, after the student's code, where that
code could patch `torch.allclose`, IPython's input transformers or the kernel's reply and
pass it. Now each graded test cell has a `Verdict`, judged in the grading process:

1. `Verdict.inputs(rng)` draws the test's inputs in the grader, from a seed no submission can
   know beforehand: the grading command derives it from the course's secret key and the
   submitted bytes (vaecourse.grading.runner.verdict_seed); plain nbgrader draws a new one per run.
2. `probe_source(verdict, inputs)` is the code the grader sends to the student's kernel after
   the test cell ran: it loads the inputs (`.npy` bytes, never pickle), runs the verdict's
   `probe` (which calls the student's functions and `emit(name, value)`s what came back,
   gradients included) and sends each value back at once as plain numbers and `.npy` bytes
   in a display message of its own MIME type. Nothing it sends says "passed".
3. `read_outputs` decodes what came back (numpy without pickle, shapes and dtypes checked);
   anything malformed, missing or sent twice is an error of that value, never a crash.
4. `judge(verdict, inputs, outputs)` runs each `Part` of the verdict in the grader on those
   values, with the reference computed here: a part earns its points when its judge raises
   nothing, else it loses them with the judge's message (what was expected, what came, the
   likely cause), or with the error the student's code raised on the grader's inputs. The judges share
   `number` (one number that came back), `close` (within a tolerance) and `likely_cause` (which known
   mistake gives what came); each message's words stay in the verdict's module (its notebook's catalog).

So a kernel can only earn a part by sending the right values for inputs it first saw when
the probe ran: by computing them. Whatever it patches, fakes or withholds costs its own points.
`vaecourse/nbg/verdictexecute.py` runs this inside nbgrader's autograde; the verdicts of
each notebook live in `vaecourse/verdicts/<notebook name>.py`.
"""
import base64
import inspect
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from vaecourse.checking import CheckFailed
from vaecourse.verdicts import kernel_probe
from vaecourse.verdicts.record import MIME, CellResult, PartResult  # the result model (record.py: no torch), named here too
from vaecourse.verdicts.timeouts import TIMEOUT_ERRORS

MAX_ITEMS = 2_000_000  # values per array a probe may send back (a (B, 1, 28, 28) batch is B * 784)
MESSAGE_CHARS = 400  # an error's text is cut here

# torch dtypes numpy holds as they are; others travel as float32 and are restored by name
_NUMPY_DTYPES = {"torch.float64", "torch.float32", "torch.float16", "torch.int64", "torch.int32", "torch.int16",
                 "torch.int8", "torch.uint8", "torch.bool"}
_TORCH_DTYPES = {str(d): d for d in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                     torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}


class PartFailed(CheckFailed):
    """A part of a verdict is not met; the message is for the student."""


@dataclass(frozen=True)
class Part:
    """One graded part of a test cell: what it checks (for the feedback), its points, and its judge.

    judge(case) raises (CheckFailed from vaecourse.checking's expect_* helpers, or PartFailed)
    when the part is not met; returning means it is.
    """
    name: str
    points: float
    judge: Callable[["Case"], None]


@dataclass(frozen=True)
class Verdict:
    """The grader-side hidden test of one graded test cell.

    inputs(rng) -> {name: numpy array or number}: drawn in the grader from a secret seed.
    probe: Python run in the student's kernel after the test cell; it sees the student's globals,
    `inputs` (the same values as torch tensors, arrays as float64/int64/bool as drawn), `emit(name,
    value)`, `attempt(*names)` (a context manager: an exception inside it is recorded as the result
    of each of `names`, and the probe goes on), `course_versions(**functions)` (a context manager putting course versions of earlier
    exercises in the notebook's globals while it runs), `torch`, `np` and `math`. A list, tuple or
    dict travels with at most 32 items and without the metadata of the tensors inside it: emit a
    long list of numbers as one tensor, and tensors whose requires_grad matters on their own.
    parts: the cell's points split by how students fail; their points add up to the cell's.
    """
    grade_id: str
    exercise: str
    inputs: Callable[[np.random.Generator], dict]
    probe: str
    parts: tuple[Part, ...]
    helpers: str = ""  # course code the probe needs in the kernel (e.g. the course's earlier functions)

    @property
    def points(self) -> float:
        return sum(part.points for part in self.parts)


@dataclass
class Outputs:
    """What a probe sent back: values by name, and the error that stopped it (if any)."""
    values: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)  # name -> why that value cannot be used
    error: str = ""  # the exception the probe (the student's code) raised, "ExceptionName: message"
    timed_out: bool = False


class Case:
    """A judge's view of one probe run: the inputs (torch tensors, in the grader) and what came back."""

    def __init__(self, verdict: Verdict, inputs: dict, outputs: Outputs, timeout: float | None = None):
        self.verdict = verdict
        self.exercise = verdict.exercise
        self.inputs = {k: as_tensor(v) for k, v in inputs.items()}
        self.outputs = outputs
        self.timeout = timeout

    def __getitem__(self, name: str):
        """The value the probe emitted as `name`; a missing one fails the part with the reason."""
        out = self.outputs
        if name in out.problems:
            raise PartFailed(f"{self.exercise}: {out.problems[name]}")
        if name in out.values:
            return out.values[name]
        if out.timed_out:
            detail = out.error if out.error.startswith("the check above") else (
                f"your code did not finish on the grader's inputs within {self.timeout or '?'} s")
            raise PartFailed(f"{self.exercise}: {detail} (an endless loop, or far too slow)")
        if out.error:
            raise PartFailed(f"{self.exercise}: your code raised {out.error} on the grader's inputs")
        raise PartFailed(f"{self.exercise}: no result came back from your notebook for this part "
                         "(did a cell change IPython's hooks or stdout?)")

    def meta(self, name: str) -> dict:
        """type, dtype, shape, device, requires_grad (tensors) of an emitted value, as the kernel saw it."""
        self[name]
        return self.outputs.meta.get(name, {})

    def tensor(self, name: str, cause: str = "return a torch.Tensor") -> torch.Tensor:
        """The emitted value `name`, which must have been a torch.Tensor."""
        value = self[name]
        if not isinstance(value, torch.Tensor) or self.outputs.meta.get(name, {}).get("kind") != "tensor":
            raise PartFailed(f"{self.exercise}: expected a torch.Tensor, got {describe_meta(self.outputs.meta.get(name, {}))}"
                             f" - {cause}")
        return value


def as_tensor(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return value



# ---------------------------------------------------------------- what the judges share

def number(case: Case, name: str, refuse: Callable[[Case, str, object], Exception | None], *, as_given: bool = False):
    """The emitted value `name` as one number: a Python int or float (a bool is none), or a tensor of one value.

    It comes as a float; with `as_given`, as the code gave it (an int stays an int, a tensor gives its .item(),
    and a bool tensor's is a bool, so none). For anything else `refuse(case, name, value)` (value: what came,
    after that .item()) raises the part's message, as checking.fail does, or returns the exception to raise:
    the words are the verdict's own.
    """
    value = case[name]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        if not as_given:
            return float(value.reshape(()))
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise refuse(case, name, value)
    return value if as_given else float(value)


def close(got, expected, *, rtol: float, atol: float = 0.0) -> bool:
    """got is within atol + rtol * |expected| of expected: two numbers, or two tensors of one shape (torch.allclose)."""
    if isinstance(expected, torch.Tensor):
        return got.shape == expected.shape and torch.allclose(got, expected, rtol=rtol, atol=atol)
    return abs(got - expected) <= atol + rtol * abs(expected)


def likely_cause(likely: dict, matches: Callable[[object], bool]):
    """The first cause in `likely` (the likely cause -> what that mistake gives on the grader's inputs) whose
    value `matches` what came back, for the message; None when no known mistake gives it."""
    return next((cause for cause, value in likely.items() if matches(value)), None)


# ---------------------------------------------------------------- grader -> kernel

def _npy_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)  # (ascontiguousarray would make a 0-d array 1-d)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def encode_inputs(inputs: dict) -> dict:
    """The inputs as JSON: arrays as base64 .npy, numbers as they are."""
    encoded = {}
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            encoded[name] = {"npy": _npy_b64(value)}
        elif isinstance(value, (bool, int, float)):
            encoded[name] = {"value": value}
        else:
            raise TypeError(f"verdict input {name!r} must be a numpy array or a number, not {type(value).__name__}")
    return encoded


# The kernel side is vaecourse/verdicts/kernel_probe.py, sent as source (the kernel cannot import it).
_KERNEL_RUNNER = "\n\n".join(inspect.getsource(getattr(kernel_probe, name)) for name in kernel_probe.KERNEL_FUNCTIONS)


def probe_source(verdict: Verdict, inputs: dict) -> str:
    """The cell the grader runs in the student's kernel for `verdict` on `inputs` (kernel_probe.py's runner)."""
    settings = {"MIME": MIME, "MAX_ITEMS": MAX_ITEMS, "MESSAGE_CHARS": MESSAGE_CHARS,
                "NUMPY_DTYPES": sorted(_NUMPY_DTYPES), "INPUTS": json.dumps(encode_inputs(inputs)),
                "HELPERS": verdict.helpers, "PROBE": verdict.probe}
    settings["DEFINED"] = list(kernel_probe.KERNEL_FUNCTIONS)  # the runner takes its own names away again
    return "\n\n".join([_KERNEL_RUNNER, f"{kernel_probe.KERNEL_FUNCTIONS[-1]}(globals(),{settings!r})"]) + "\n"


# ---------------------------------------------------------------- kernel -> grader

MAX_DEPTH = 4  # sequences and mappings inside each other: the kernel side sends at most 3 levels
MAX_SEQUENCE = 32  # items of a sequence or mapping: the kernel side sends at most 32


def _load_npy(text: str) -> np.ndarray:
    """An .npy the kernel sent, read only after its header has been checked against its bytes: a header
    may claim any shape, and numpy allocates what the header claims before reading the data."""
    raw = base64.b64decode(text, validate=True)
    buffer = io.BytesIO(raw)
    version = np.lib.format.read_magic(buffer)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read_header is None:
        raise ValueError("not an .npy version the course sends")
    shape, _, dtype = read_header(buffer, max_header_size=10_000)
    if dtype.hasobject or dtype.itemsize == 0:
        raise ValueError("not a plain array")
    count = int(np.prod(shape, dtype=object))  # Python ints: a claimed shape cannot overflow here
    if count > MAX_ITEMS or len(raw) - buffer.tell() != count * dtype.itemsize:
        raise ValueError("an array whose header does not match its data")
    array = np.load(io.BytesIO(raw), allow_pickle=False)
    if array.dtype == object or array.size > MAX_ITEMS:
        raise ValueError("not a plain array")
    return array


def decode(record: dict, depth: int = 0):
    """A value the kernel sent, as plain Python and torch in the grader; ValueError when malformed."""
    if not isinstance(record, dict):
        raise ValueError("not a record")
    if depth > MAX_DEPTH:
        raise ValueError("nested deeper than a probe sends")
    kind = record.get("kind")
    if kind == "tensor":
        dtype = _TORCH_DTYPES.get(record.get("dtype"))
        array = _load_npy(record["npy"])
        if dtype is None or list(array.shape) != list(record.get("shape", [])):
            raise ValueError("a tensor whose dtype or shape does not match its data")
        return torch.from_numpy(array.copy()).to(dtype)
    if kind == "ndarray":
        return _load_npy(record["npy"])
    if kind == "number":
        value = record.get("value")
        if isinstance(value, str):
            value = float(value)  # 'nan', 'inf', '-inf'
        if not isinstance(value, (bool, int, float)):
            raise ValueError("not a number")
        return value
    if kind == "str":
        return str(record.get("value", ""))
    if kind == "none":
        return None
    if kind == "sequence":
        items = record.get("items", [])
        if not isinstance(items, list) or len(items) > MAX_SEQUENCE:
            raise ValueError("not a sequence a probe sends")
        items = tuple(decode(item, depth + 1) for item in items)
        return list(items) if record.get("type") == "list" else items
    if kind == "mapping":
        items = record.get("items", {})
        if not isinstance(items, dict) or len(items) > MAX_SEQUENCE:
            raise ValueError("not a mapping a probe sends")
        return {str(k): decode(v, depth + 1) for k, v in items.items()}
    if kind in ("other", "too_big"):
        return Opaque(record)
    raise ValueError(f"unknown kind {kind!r}")


@dataclass(frozen=True)
class Opaque:
    """A value the kernel could not send as numbers (a module, a generator, ...): its type and repr."""
    record: dict

    def __repr__(self) -> str:
        return describe_meta(self.record)


def describe_meta(meta: dict) -> str:
    """A returned value described from what the kernel said of it, for a message."""
    kind = meta.get("kind")
    if kind == "tensor":
        return f"a tensor of shape {tuple(meta.get('shape', ()))} and dtype {meta.get('dtype')}"
    if kind == "number":
        return f"{meta.get('type', 'a number')} {meta.get('value')!r}"
    if kind == "sequence":
        return f"a {meta.get('type', 'sequence')} of {meta.get('length', '?')} items"
    if kind == "none":
        return "None"
    if kind == "too_big":
        return f"a tensor of shape {tuple(meta.get('shape', ()))} (too big to check)"
    return f"a {meta.get('type', kind or 'value')}"


def read_outputs(outputs: list) -> Outputs:
    """The values a probe sent, from the probe cell's outputs (anything else in them is ignored)."""
    result = Outputs()
    for output in outputs:
        if output.get("output_type") == "error" and not result.error:
            ename = output.get("ename", "")
            result.timed_out = ename in TIMEOUT_ERRORS
            result.error = f"{ename}: {output.get('evalue', '')}"[:MESSAGE_CHARS]
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        record = output.get("data", {}).get(MIME)
        if isinstance(record, str):
            try:
                record = json.loads(record)
            except (ValueError, RecursionError):
                continue
        if not isinstance(record, dict):
            continue
        name = str(record.get("name", ""))
        if record.get("kind") == "error":
            if not result.error:
                result.error = str(record.get("error", ""))[:MESSAGE_CHARS]
                result.timed_out = result.error.startswith("KeyboardInterrupt")
            continue
        if record.get("kind") == "done" or not name:
            continue
        if record.get("kind") == "raised":
            if name in result.values or name in result.problems:
                continue  # what came first stands
            result.problems[name] = f"your code raised {str(record.get('error', ''))[:MESSAGE_CHARS]} on the grader's inputs"
            continue
        if name in result.values or name in result.problems:
            result.values.pop(name, None)
            result.problems[name] = f"the value {name!r} came back twice, so neither can be trusted"
            continue
        if record.get("kind") == "unreadable":
            result.problems[name] = f"the value your code returned could not be read ({record.get('error', '')})"
            continue
        try:
            result.values[name] = decode(record)
        except Exception as error:  # whatever a kernel sends, a malformed value costs only the parts that need it
            result.problems[name] = f"the value your code returned could not be read ({type(error).__name__})"
            continue
        result.meta[name] = {k: v for k, v in record.items() if k not in ("npy", "items")}
    return result


# ---------------------------------------------------------------- the verdict

def judge(verdict: Verdict, inputs: dict, outputs: Outputs, timeout: float | None = None) -> list[PartResult]:
    """Each part's points, judged in this process on what the kernel sent back."""
    case = Case(verdict, inputs, outputs, timeout)
    results = []
    for part in verdict.parts:
        try:
            part.judge(case)
        except CheckFailed as failure:
            results.append(PartResult(part.name, part.points, 0.0, str(failure)[:1000]))
        except Exception as error:  # a judge meeting a value it did not foresee: the part is not shown to be met
            results.append(PartResult(part.name, part.points, 0.0,
                                      f"{verdict.exercise}: the value that came back could not be judged "
                                      f"({type(error).__name__}: {str(error)[:200]})"))
        else:
            results.append(PartResult(part.name, part.points, part.points))
    return results


def score(results: list[PartResult]) -> float:
    return CellResult(tuple(results)).score


REPORT_TITLE = "Graded by the course outside your notebook, on inputs drawn when it was graded"


def report(verdict: Verdict, results: list[PartResult]) -> str:
    """The text the student reads in the feedback, one line per part."""
    total = score(results)
    lines = [f"{REPORT_TITLE}: {_points(total)} / {_points(verdict.points)} points"]
    for r in results:
        mark = "\u2713" if r.earned == r.points else "\u2717"
        lines.append(f"  {mark} {r.name} ({_points(r.earned)} / {_points(r.points)})")
        if r.message:
            lines.append(f"      {r.message}")
    return "\n".join(lines) + "\n"


def _points(value: float) -> str:
    return f"{value:g}"
