"""Hostile submissions for tests/test_trust_attacks.py: what an instructor must be able to trust.

Each submission is 04_elbo answered wrong (`kernel_attacks.WRONG`: right shapes and dtypes, wrong
values; its score is the ceiling of every attack) with one attack added, or, for the grader's
secrets, a blank 03_decoder with one attack added. A submission is built from:

- answers: answer cells replaced (grade_id -> source),
- appended: code appended to answer cells (grade_id -> code),
- last_cells: code cells the student adds at the end of the notebook (nbgrader keeps them),
- written: written answers (markdown grade_id -> text).

The classes of attack:

1. REWRITE (rewriting a decided score): nbclient applies an `update_display_data` message to the
   earlier outputs that showed its display_id, by cell and output index. A display the student's
   function makes in a test cell (its visible check, or the grader's probe, which runs at the same
   cell index) is the cell's first output until the grader puts the verdict in front of it; the
   verdict's `execute_result` then sits at that index, and a later update rewrites its data: a
   forged score and forged verdict parts. The update comes from a later cell, a background thread,
   or an IPython hook; FORGED_RECORDS adds forged verdict MIME records without a display_id.
2. SECRETS (reading the grader's secrets): while the probe runs, the student's code is on the same
   stack and in the same process as the course code the probe swaps in (the course versions of
   earlier exercises); it keeps what it finds and prints it in cells of its own at the end
   (`# loot: <how>`), so it lands on its own feedback page.
3. the course package (SANDBOX_ATTACK, run in the sandbox by the test, not in a notebook).
4. SCRIPTS (scripts in the instructor's browser): outputs and a written answer carrying script, each
   payload marked with its own token (`xss-...`) so a live one says which variant it was.
5. MALFORMED (malformed values sent while probed): 4.1's function, called by the probe, sends
   records under the verdict MIME itself before its (wrong) values go out.
"""
import json
from dataclasses import dataclass, field

from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import MIME

NB, SECRETS_NB = "04_elbo", "03_decoder"
FUNCTION_OF = {"test_reconstruction_loss": "reconstruction_loss", "test_kl_divergence": "kl_divergence",
               "test_kl_monte_carlo": "kl_monte_carlo", "test_vae_loss": "vae_loss"}
ANSWER_ORDER = list(FUNCTION_OF.values())  # 04_elbo's answer cells, in notebook order


@dataclass(frozen=True)
class Submission:
    answers: dict = field(default_factory=dict)
    appended: dict = field(default_factory=dict)
    last_cells: tuple = ()
    written: dict = field(default_factory=dict)
    base: str = "wrong"  # "wrong": WRONG's answers (04_elbo); "blank": the released notebook as it is


def forged_outputs(notebook: str = NB) -> dict:
    """test grade_id -> the output data of a full-marks verdict (names and points of the public verdicts)."""
    forged = {}
    for gid, verdict in verdicts_for(notebook).items():
        parts = [{"name": p.name, "points": p.points, "earned": p.points, "message": ""} for p in verdict.parts]
        forged[gid] = {"text/plain": repr(float(verdict.points)), MIME: {"parts": parts}}
    return forged


# ---------------------------------------------------------------- 1. rewriting a decided score

REWRITE_PRELUDE = r'''
import json as _json, sys as _sys, threading as _threading, time as _time
from IPython.display import display as _display, update_display as _update_display

_FORGED = _json.loads(r"""FORGED_JSON""")
_SHOWN = []  # the test cells whose first output is a display of ours


def _in_probe():
    frame = _sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if "probe" in code.co_filename or "grader" in code.co_filename or "verdict" in code.co_name:
            return True
        frame = frame.f_back
    return False


def _forge_all(*_, how="update"):
    for gid in list(_SHOWN):
        if how == "update":
            _update_display(_FORGED[gid], raw=True, display_id="forge-" + gid)
        else:  # a display with the same id updates the earlier ones too
            _display(_FORGED[gid], raw=True, display_id="forge-" + gid)


def _forge_for_a_while():
    end = _time.monotonic() + 240
    while _time.monotonic() < end:
        _forge_all()
        _time.sleep(0.02)


def _mark(function, gid, when, thread=False):
    """function, showing a display with an id of ours the first time it runs in `gid`'s test (when="any":
    its visible check or the probe, whichever calls first; "probe": only under the grader's probe)."""
    def marked(*args, **kwargs):
        if gid not in _SHOWN and (when == "any" or _in_probe()):
            _SHOWN.append(gid)
            _display({"text/plain": ""}, raw=True, display_id="forge-" + gid)
            if thread and len(_SHOWN) == 1:
                _threading.Thread(target=_forge_for_a_while, daemon=True).start()
        return function(*args, **kwargs)
    return marked
'''


def _rewrite(when: str, *, thread: bool = False, hooks: bool = False, later: str = "") -> Submission:
    prelude = REWRITE_PRELUDE.replace("FORGED_JSON", json.dumps(forged_outputs()))
    appended = {}
    for gid, function in FUNCTION_OF.items():
        appended[function] = f"{function} = _mark({function}, {gid!r}, {when!r}, thread={thread!r})\n"
    appended["reconstruction_loss"] = prelude + "\n" + appended["reconstruction_loss"]
    if hooks:
        appended["reconstruction_loss"] += (
            "import atexit as _atexit\n"
            "get_ipython().events.register('post_execute', _forge_all)\n"
            "get_ipython().events.register('post_run_cell', _forge_all)\n"
            "_atexit.register(_forge_all)\n")
    if later == "next answer cells":  # each answer cell forges the tests before it, the added last cell the rest
        for function in ANSWER_ORDER[1:]:
            appended[function] += "_forge_all()\n"
    last = (f"_forge_all(how={'display' if later == 'display' else 'update'!r})\n",) if later else ()
    return Submission(appended=appended, last_cells=last)


FORGED_RECORDS_CODE = r'''
import json as _json
from IPython.display import display as _display

_FORGED = _json.loads(r"""FORGED_JSON""")


class _Verdict:
    """Shown as a cell's result: an execute_result carrying a full-marks verdict record."""
    def __init__(self, gid):
        self.gid = gid

    def _repr_mimebundle_(self, include=None, exclude=None):
        return _FORGED[self.gid]


def _records(function, gid):
    def recorded(*args, **kwargs):  # in the visible check and under the probe alike: display_data records
        _display(_FORGED[gid], raw=True)
        _display({"MIME": {"name": "", "kind": "done"}, "text/plain": _FORGED[gid]["text/plain"]}, raw=True)
        return function(*args, **kwargs)
    return recorded
'''.replace('"MIME"', repr(MIME))


def _forged_records() -> Submission:
    appended = {function: f"{function} = _records({function}, {gid!r})\n" for gid, function in FUNCTION_OF.items()}
    prelude = FORGED_RECORDS_CODE.replace("FORGED_JSON", json.dumps(forged_outputs()))
    appended["reconstruction_loss"] = prelude + "\n" + appended["reconstruction_loss"] + "_Verdict('test_reconstruction_loss')\n"
    return Submission(appended=appended, last_cells=("_Verdict('test_vae_loss')\n",
                                                      "get_ipython().displayhook(_Verdict('test_kl_divergence'))\n"))


REWRITE = {
    "rewrite_later_cell": _rewrite("any", later="update"),  # displays in the visible checks, updates in an added last cell
    "rewrite_probe_path": _rewrite("probe", later="next answer cells"),  # displays under the probe
    "rewrite_same_display_id": _rewrite("probe", later="display"),  # display(..., display_id=) again, later
    "rewrite_thread": _rewrite("probe", thread=True),  # a thread started under the probe keeps updating
    "rewrite_hooks": _rewrite("probe", hooks=True),  # post_execute, post_run_cell and atexit hooks update
    "rewrite_forged_records": _forged_records(),
}


# ---------------------------------------------------------------- 2. reading the grader's secrets

LOOT = r'''
import builtins as _builtins, gc as _gc, inspect as _inspect, re as _re, sys as _sys, types as _types
_LOOT = {}
# the course versions of earlier exercises, as the grader names them (and not this cell's own text)
_COURSE_CODE = _re.compile("(def _course_?[a-z]|class _Course[A-Z])")


_SCANNED = set()  # (label, id, length) of the texts already looked at: each is searched once


def _keep(label, value, depth=0):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if (label, id(value), len(value)) in _SCANNED:
            return
        _SCANNED.add((label, id(value), len(value)))
        if _COURSE_CODE.search(value) and "_LOOT" not in value and value not in _LOOT.get(label, []):
            _LOOT.setdefault(label, []).append(value)
    elif isinstance(value, _types.CodeType) and depth < 4:
        for const in value.co_consts:
            _keep(label, const, depth + 1)
    elif isinstance(value, _types.FunctionType) and depth < 4:
        _keep(label, value.__code__, depth + 1)
    elif isinstance(value, (tuple, list)) and depth < 2:
        for item in value[:1000]:
            _keep(label, item, depth + 1)
'''

STEAL = LOOT + r'''

_TRIES = []


def _steal():
    """At most 20 looks (each walks every object), until each way has found something."""
    if len(_LOOT) >= 3 or len(_TRIES) >= 20:
        return
    _TRIES.append(1)
    frame = _sys._getframe(1)
    while frame is not None:  # sys._getframe().f_back...: the probe's frames and the grader's kernel function
        for value in [*frame.f_locals.values(), frame.f_code]:
            _keep("sys._getframe", value)
        frame = frame.f_back
    for info in _inspect.stack(0):
        for value in [*info.frame.f_locals.values(), *info.frame.f_globals.values()]:
            _keep("inspect.stack", value)
    for obj in _gc.get_objects():
        if isinstance(obj, dict):
            for value in list(obj.values()):
                _keep("gc.get_objects", value)
        elif isinstance(obj, _types.FunctionType):
            _keep("gc.get_objects", obj)
'''

HOOKS = LOOT + r'''
_real_compile, _real_exec = _builtins.compile, _builtins.exec


def _compile(source, *args, **kwargs):
    _keep("builtins.compile", source)
    return _real_compile(source, *args, **kwargs)


def _exec(source, *args, **kwargs):
    _keep("builtins.exec", source)
    return _real_exec(source, *args, **kwargs)


_builtins.compile, _builtins.exec = _compile, _exec


def _audit(event, args):
    if event in ("compile", "exec") and args:
        _keep("sys.addaudithook", args[0])


_sys.addaudithook(_audit)


def _watcher(label):
    walked = set()  # the code objects whose first call was looked around

    def watch(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_filename.startswith("<") and "frozen" not in code.co_filename \
                and code not in walked:
            walked.add(code)
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    _keep(label, value)
                frame = frame.f_back
            if any(len(_COURSE_CODE.findall(text)) >= 2 for text in _LOOT.get(label, [])):
                # the course versions of earlier exercises: stop watching (the notebook's training would run
                # past the cell timeout under a trace function)
                (_sys.settrace if label == "sys.settrace" else _sys.setprofile)(None)
        return None
    return watch


_sys.settrace(_watcher("sys.settrace"))
_sys.setprofile(_watcher("sys.setprofile"))
'''

LINECACHE = r'''
# loot: linecache (the cells IPython compiled, the grader's among them)
import ast as _ast, linecache as _linecache
for _entry in list(_linecache.cache.values()):
    for _line in (_entry[2] if len(_entry) > 2 else []):
        if _line.lstrip().startswith("HELPERS = "):
            try:
                _keep("linecache", _ast.literal_eval(_line.split("=", 1)[1].strip()))
            except Exception:
                _keep("linecache", _line)
        elif _COURSE_CODE.search(_line):
            _keep("linecache", _line)
'''


LOOT_PRINT = r'''
# loot: LABEL
import re as _re_loot
_blocks = []
for _text in _LOOT.get("LABEL", []):
    for _form in (_text, _text.encode("utf-8", "replace").decode("unicode_escape", "replace")):  # as kept, and unquoted
        for _match in _re_loot.finditer(r"^(?:def _course|class _Course)\w*.*\n(?:[ \t]+.*\n|[ \t]*\n)*", _form + "\n",
                                        _re_loot.M):
            if _match.group(0) not in _blocks:
                _blocks.append(_match.group(0))
for _block in _blocks:
    print(_block.rstrip())
print("LABEL: kept", len(_LOOT.get("LABEL", [])), "texts,", len(_blocks), "course definitions")
'''


def loot_cell(label: str) -> str:
    """A cell at the end of the notebook that prints every course definition `label`'s way kept."""
    return LOOT_PRINT.replace("LABEL", label)


IN_CALL = ("sys._getframe", "inspect.stack", "gc.get_objects")
BY_HOOKS = ("builtins.compile", "builtins.exec", "sys.addaudithook", "sys.settrace", "sys.setprofile", "linecache")

# 4.4 vae_loss is probed with the course's 4.1 and 4.2 swapped in; 3.4 ConvVAE with the course's Encoder,
# Decoder and reparameterize: the student's function looks around while it runs.
STEALING_VAE_LOSS = STEAL + '''

def vae_loss(x_hat, x, mu, logvar, beta=1.0):
    _steal()
    return 0 * x_hat.sum() + 0 * (mu + logvar).sum()
'''

STEALING_CONV_VAE = "import torch\nfrom torch import nn\n" + STEAL + '''

class ConvVAE(nn.Module):
    def __init__(self, latent_dim=2):
        super().__init__()
        _steal()
        self.latent_dim = latent_dim
        self.encoder = Encoder(latent_dim)
        self.decoder = Decoder(latent_dim)

    def forward(self, x):
        mu, logvar = self.encoder(x)
        return self.decoder(0 * mu), mu, logvar
'''

SECRETS = {  # student -> {notebook: Submission}
    "secrets_in_call": {
        NB: Submission(answers={"vae_loss": STEALING_VAE_LOSS}, last_cells=tuple(loot_cell(k) for k in IN_CALL)),
        SECRETS_NB: Submission(answers={"conv_vae": STEALING_CONV_VAE}, base="blank",
                               last_cells=tuple(loot_cell(k) for k in IN_CALL)),
    },
    "secrets_by_hooks": {
        NB: Submission(appended={"reconstruction_loss": HOOKS}, last_cells=(LINECACHE, *map(loot_cell, BY_HOOKS))),
        SECRETS_NB: Submission(appended={"conv_transpose2d_output_size": HOOKS}, base="blank",
                               last_cells=(LINECACHE, *map(loot_cell, BY_HOOKS))),
    },
}
LOOT_LABELS = {"secrets_in_call": IN_CALL, "secrets_by_hooks": BY_HOOKS}


# ---------------------------------------------------------------- 3. the course package, from the sandbox

SANDBOX_ATTACK = r'''
"""Run in the sandbox by the kernel's python: what of the course package can it reach? Prints JSON.

Only what has content counts: a module imported from a file, or a submodule; a file that reads as
bytes; a folder with entries; metadata with a name. An empty folder, or a name that reads as nothing,
which a sandbox may leave where it hid something, is not the package."""
import importlib, importlib.metadata, importlib.util, json, os, pkgutil, site, sys

found = {}


def note(how, what):
    if str(what)[:300] not in found.get(how, []):
        found.setdefault(how, []).append(str(what)[:300])


def content(path):
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False


for name in ("vaecourse", "vaecourse.reference", "vaecourse.verdicts", "vaecourse.reference.elbo"):
    try:
        module = __import__(name, fromlist=["_"])
    except Exception:
        continue
    if getattr(module, "__file__", None) or "." in name:
        note("import", f"{name} from {getattr(module, '__file__', None)}")
for name in ("vae" + "course.reference.encoder", "vae" + "course.verdicts.core", "vae" + "course.sandbox"):
    try:
        note("importlib.import_module", f"{name} from {importlib.import_module(name).__file__}")
    except Exception:
        pass
try:
    spec = importlib.util.find_spec("vae" + "course")
    if spec is not None and spec.origin not in (None, "namespace"):
        note("importlib.util.find_spec", spec.origin)
except Exception:
    pass
for module in pkgutil.iter_modules():
    if "vaecourse" in module.name:
        try:
            spec = module.module_finder.find_spec(module.name)
        except Exception:
            continue
        if spec is not None and spec.origin and content(spec.origin):
            note("pkgutil.iter_modules", f"{module.name}: {spec.origin}")
roots = [p for p in {*sys.path, sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()} if p]
for root in roots:  # sys.path scanning
    try:
        names = os.listdir(root)
    except OSError:
        continue
    for name in names:
        if "vaecourse" in name and content(os.path.join(root, name)):
            note("sys.path scan", os.path.join(root, name))
for root in roots:  # every file under the interpreter's folders, read with open()
    for folder, folders, files in os.walk(root):
        folders[:] = [f for f in folders if f not in ("proc", "sys", "dev")]
        for name in files:
            path = os.path.join(folder, name)
            if "vaecourse" not in path:
                continue
            try:
                with open(path, "rb") as handle:
                    text = handle.read(1_000_000).decode("utf-8", "replace")
            except OSError:
                continue
            if text:
                note("os.walk + open", path)
            if "def kl_divergence" in text or "def reparameterize" in text or "Verdict(" in text:
                note("course code read", path)
try:
    distribution = importlib.metadata.distribution("vaecourse")
    if distribution.metadata["Name"] is not None:
        note("importlib.metadata", f"{distribution.metadata['Name']} {distribution.version}")
    for file in (distribution.files or [])[:2000]:
        try:
            text = file.read_text()
        except Exception:
            continue
        if text and ("def kl_divergence" in text or "def reparameterize" in text):
            note("importlib.metadata files", file)
except Exception:
    pass
print(json.dumps(found))
'''


# ---------------------------------------------------------------- 4. scripts in the instructor's browser

SCRIPT_OUTPUTS = r'''
from IPython.display import HTML, SVG, Javascript, Markdown, display as _display

_display(HTML('<p>a plot</p><script>alert("xss-script-tag")</script>'))
_display(HTML('<ScRiPt type="text/javascript">alert("xss-script-case")</sCrIpT>'))
_display(HTML('<img src="x.png" onerror="alert(\'xss-img-onerror\')">'))
_display(HTML('<a href=" JaVaScRiPt:alert(\'xss-js-url\')">the figure</a>'))
_display(HTML('<iframe srcdoc="&lt;script&gt;alert(\'xss-iframe-srcdoc\')&lt;/script&gt;"></iframe>'))
_display(HTML('<div onmouseover="alert(\'xss-div-onmouseover\')">hover</div>'))
_display({"text/html": '<svg><script>alert("xss-svg-script")</script></svg>', "text/plain": "svg"}, raw=True)
_display(Javascript('alert("xss-javascript-output")'))
_display({"application/javascript": 'alert("xss-javascript-raw")', "text/plain": "js"}, raw=True)
_display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'xss-svg-onload\')">'
                           '<rect width="2" height="2"/></svg>', "text/plain": "svg"}, raw=True)
_display(Markdown('<img src="y.png" onerror="alert(\'xss-markdown-output\')"> and [a link](javascript:alert(\'xss-markdown-link\'))'))
print('<script>alert("xss-stream-text")</script>')  # text: shown, never run (a control of the detector)
'''

SCRIPT_IN_CHECK = r'''

def _html_on_first_call(function):
    calls = []
    def shown(*args, **kwargs):
        if not calls:
            calls.append(1)
            _display(HTML('<img src="z.png" onerror="alert(\'xss-in-test-cell\')">'))
        return function(*args, **kwargs)
    return shown


reconstruction_loss = _html_on_first_call(reconstruction_loss)


def _raises_html(function):
    def raising(*args, **kwargs):
        raise ValueError('<img src="e.png" onerror="alert(\'xss-error-message\')">')
    return raising
'''

WRITTEN_ANSWER = ("A larger beta pulls q(z|x) towards the prior.\n\n"
                  "<script>alert('xss-written-script')</script>\n\n"
                  "<img src=\"w.png\" onerror=\"alert('xss-written-onerror')\">\n\n"
                  "<svg onload=\"alert('xss-written-svg')\"></svg>\n\n"
                  "[the paper](javascript:alert('xss-written-link'))\n")

SCRIPTS = {
    "scripts": Submission(
        appended={"reconstruction_loss": SCRIPT_OUTPUTS + SCRIPT_IN_CHECK,
                  "kl_monte_carlo": "kl_monte_carlo = _raises_html(kl_monte_carlo)\n"},
        written={"q_beta": WRITTEN_ANSWER}),
}
SCRIPT_TOKENS = ("xss-script-tag", "xss-script-case", "xss-img-onerror", "xss-js-url", "xss-iframe-srcdoc",
                 "xss-div-onmouseover", "xss-svg-script", "xss-javascript-output", "xss-javascript-raw",
                 "xss-svg-onload", "xss-markdown-output", "xss-markdown-link", "xss-in-test-cell",
                 "xss-error-message", "xss-written-script", "xss-written-onerror", "xss-written-svg",
                 "xss-written-link")
SCRIPT_CONTROL = "xss-stream-text"  # printed text: never live, today or after the fix


# ---------------------------------------------------------------- 5. malformed values sent while probed

SEND_UNDER_PROBE = r'''
import sys as _sys
from IPython.display import display as _display
_MIME = "MIME"


def _in_probe():
    frame = _sys._getframe(1)
    while frame is not None:
        if "probe" in frame.f_code.co_filename or "verdict" in frame.f_code.co_name:
            return True
        frame = frame.f_back
    return False


def _malformed():
    """The records sent under the probe, before the real values."""
    return RECORDS


def _sending(function):
    sent = []
    def sending(*args, **kwargs):
        if not sent and _in_probe():
            sent.append(1)
            for record in _malformed():
                _display({_MIME: record}, raw=True)
        return function(*args, **kwargs)
    return sending


reconstruction_loss = _sending(reconstruction_loss)
'''.replace('"MIME"', repr(MIME))


def _malformed(records: str, before: str = "") -> Submission:
    return Submission(appended={"reconstruction_loss": before + SEND_UNDER_PROBE.replace("RECORDS", records)})


NPY_HUGE_HEADER = r'''
import base64 as _base64, io as _io, numpy as _np


def _npy_claiming(shape, dtype="<f8", data=b"\0" * 8):
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return _base64.b64encode(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data).decode()


def _npy(array):
    buffer = _io.BytesIO()
    _np.save(buffer, _np.asarray(array), allow_pickle=False)
    return _base64.b64encode(buffer.getvalue()).decode()
'''

MALFORMED = {
    # depth 10,000 as JSON text (a record may be a JSON string: the grader parses it)
    "malformed_deep_text": _malformed(
        '[\'{"kind": "sequence", "name": "loss_1", "items": [\' + \'{"kind": "sequence", "items": [\' * 10_000'
        ' + "]}" * 10_000 + "]}"]'),
    # depth 10,000 as a message: the kernel's own JSON encoder goes that deep once its recursion limit is raised
    "malformed_deep_message": _malformed(
        "[_deep]", before="import sys as _s\n_s.setrecursionlimit(100_000)\n_deep = {'kind': 'none'}\n"
        "for _ in range(10_000):\n    _deep = {'kind': 'sequence', 'items': [_deep]}\n_deep['name'] = 'loss_1'\n"),
    # depth 400: plain JSON for both sides, deeper than the grader's decoder recursion
    "malformed_deep_record": _malformed(
        "[_deep]", before="_deep = {'kind': 'none'}\nfor _ in range(400):\n"
        "    _deep = {'kind': 'mapping', 'items': {'k': _deep}}\n_deep['name'] = 'loss_1'\n"),
    # an .npy header claiming 2**40 float64 (8 TiB) with 8 bytes of data
    "malformed_npy_header": _malformed(
        '[{"kind": "tensor", "name": "loss_1", "dtype": "torch.float64", "shape": [1 << 40], '
        '"npy": _npy_claiming((1 << 40,)), "requires_grad": False, "grad_fn": False, "type": "Tensor"}]',
        before=NPY_HUGE_HEADER),
    # a sequence whose items are not records
    "malformed_items": _malformed('[{"kind": "sequence", "name": "loss_1", "items": ["x", 1, None]}, '
                                  '{"kind": "mapping", "name": "loss_7", "items": {"a": "x"}}]'),
    # a number of 5,000 digits (the kernel lifts its own limit; JSON has none)
    "malformed_big_int": _malformed('[{"kind": "number", "name": "loss_1", "type": "int", "value": 10 ** 5000}]',
                                    before="import sys as _s\n_s.set_int_max_str_digits(0)\n"),
    # each of these is refused one by one today: invalid base64, an .npy that is not text, a tensor record
    # whose shape and dtype lie, huge JSON, a value sent twice, a name of 1 MB, a record that is not a mapping
    "malformed_mixed": _malformed(
        '[{"kind": "tensor", "name": "loss_1", "dtype": "torch.float64", "shape": [1], "npy": "!!not base64!!"},'
        ' {"kind": "tensor", "name": "grad_1", "dtype": "torch.float64", "shape": [1], "npy": [1, 2, 3]},'
        ' {"kind": "tensor", "name": "loss_7", "dtype": "torch.float64", "shape": [7, 3], "npy": _npy(_np.zeros(7))},'
        ' {"kind": "tensor", "name": "grad_7", "dtype": "torch.complex128", "shape": [7], "npy": _npy(_np.zeros(7))},'
        ' {"kind": "str", "name": "grad_7", "value": "x" * 50_000_000},'
        ' {"kind": "number", "name": "x" * 1_000_000, "type": "float", "value": 1.0},'
        ' ["not", "a", "record"], "{not json"]', before=NPY_HUGE_HEADER),
}
MALFORMED_TEST = "test_reconstruction_loss"  # the test whose probe the records are sent under


ALL = {**REWRITE, **SCRIPTS, **MALFORMED}  # students of 04_elbo (with perfect, wrong and SECRETS)
