"""The grader-side verdicts' machinery (vaecourse/verdicts/core.py), piece by piece.

- every graded test cell of every master has a verdict, and its parts add up to the cell's points;
- what a kernel sends back is read without pickle, and anything malformed, doubled or forged is a
  problem of that value, never a crash and never a pass;
- the probe, run in a real kernel, reads the inputs, calls the student's code, sends what came back
  (tensors of any dtype, numbers, tuples, errors per value), swaps the course's versions in and back,
  and leaves no name behind in the notebook.
"""
import base64
import io
import re

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from vaecourse.checking import CheckFailed, fail
from vaecourse.masters import ROOT, grade_id, is_test, master_paths, nbgrader_md, read_master
from vaecourse.verdicts import verdict_module_name, verdicts_for
from vaecourse.verdicts.core import (
    MIME,
    Case,
    Outputs,
    Part,
    PartFailed,
    Verdict,
    close,
    judge,
    likely_cause,
    number,
    probe_source,
    read_outputs,
    report,
    score,
)

MASTERS = [path.stem for path in master_paths()]


@pytest.mark.parametrize("notebook", MASTERS)
def test_every_graded_test_cell_has_a_verdict_worth_its_points(notebook):
    master = read_master(notebook)
    cells = {grade_id(cell): nbgrader_md(cell)["points"] for cell in master.cells
             if is_test(cell) and cell.cell_type == "code"}
    verdicts = verdicts_for(notebook)
    assert sorted(verdicts) == sorted(cells), "a graded test cell without a verdict, or a verdict without its cell"
    for gid, verdict in verdicts.items():
        names = [part.name for part in verdict.parts]
        assert len(names) == len(set(names)) >= 2, f"{gid}: parts need distinct names, and at least two"
        assert all(part.points > 0 for part in verdict.parts), gid
        assert verdict.points == pytest.approx(cells[gid]), f"{gid}: parts give {verdict.points}, the cell {cells[gid]}"
        assert verdict.exercise.startswith(f"Exercise {int(notebook[:2])}."), verdict.exercise
        assert "### BEGIN HIDDEN TESTS" not in "".join(c.source for c in master.cells if grade_id(c) == gid), \
            f"{gid} is judged by the grader: its in-kernel hidden tests must go"
        inputs = verdict.inputs(np.random.default_rng(0))
        assert inputs and all(isinstance(v, (np.ndarray, int, float)) for v in inputs.values()), gid


def test_one_rule_names_a_notebooks_verdicts_for_the_grader_and_the_catalogs():
    """`04_elbo` -> vaecourse.verdicts.elbo (lang_ja's in Japanese); the catalogs read that module's file."""
    from vaecourse.translation.catalogs import verdict_module
    from vaecourse.translation.modules import translated

    assert verdict_module_name("04_elbo") == "vaecourse.verdicts.elbo"
    assert (translated("vaecourse.verdicts", "ja").verdict_module_name("07_ae_vs_vae_and_beta")
            == "vaecourse.lang_ja.verdicts.ae_vs_vae_and_beta")
    assert verdict_module("07_ae_vs_vae_and_beta") == ROOT / "vaecourse" / "verdicts" / "ae_vs_vae_and_beta.py"
    assert verdict_module("01_mnist").is_file()


def test_the_catalogs_read_the_rule_without_loading_torch():
    import subprocess
    import sys

    code = "import sys, vaecourse.translation.catalogs; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def _npy(array, allow_pickle=False) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return base64.b64encode(buffer.getvalue()).decode()


def _display(record) -> dict:
    return {"output_type": "display_data", "data": {MIME: record}, "metadata": {}}


def test_read_outputs_decodes_tensors_numbers_and_sequences():
    outputs = read_outputs([
        _display({"name": "t", "kind": "tensor", "dtype": "torch.float64", "shape": [2], "npy": _npy(np.array([1.0, 2.0]))}),
        _display({"name": "n", "kind": "number", "type": "float", "value": "nan"}),
        _display({"name": "s", "kind": "sequence", "type": "tuple", "length": 2, "items": [
            {"kind": "number", "type": "int", "value": 3}, {"kind": "none"}]}),
        _display({"name": "b", "kind": "tensor", "dtype": "torch.bfloat16", "shape": [1],
                  "npy": _npy(np.array([0.5], dtype=np.float32))}),
        {"output_type": "stream", "name": "stdout", "text": "anything else is ignored"},
    ])
    assert torch.equal(outputs.values["t"], torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert np.isnan(outputs.values["n"]) and outputs.values["s"] == (3, None)
    assert outputs.values["b"].dtype == torch.bfloat16 and not outputs.problems


def _nested(depth: int) -> dict:
    record = {"kind": "sequence", "type": "list", "items": []}
    inner = record
    for _ in range(depth):
        inner["items"].append({"kind": "sequence", "type": "list", "items": []})
        inner = inner["items"][0]
    return record


@pytest.mark.parametrize("record, why", [
    ({"kind": "tensor", "dtype": "torch.float64", "shape": [1], "npy": _npy(np.array([object()]), allow_pickle=True)},
     "could not be read"),  # a pickled array is never loaded
    ({"kind": "tensor", "dtype": "torch.float64", "shape": [3], "npy": _npy(np.zeros(2))}, "could not be read"),
    ({"kind": "tensor", "dtype": "torch.complex64", "shape": [2], "npy": _npy(np.zeros(2))}, "could not be read"),
    ({"kind": "tensor", "dtype": "torch.float64", "shape": [2], "npy": "not base64!"}, "could not be read"),
    ({"kind": "made-up"}, "could not be read"),
    ({"kind": "raised", "error": "ValueError: no"}, "raised ValueError: no"),
    # an .npy header that claims a huge array: numpy would allocate it before reading (MemoryError ended the job)
    ({"kind": "tensor", "dtype": "torch.float64", "shape": [100000, 100000],
      "npy": _npy(np.zeros((2, 3))).replace(_npy(np.zeros((2, 3))), base64.b64encode(base64.b64decode(
          _npy(np.zeros((2, 3)))).replace(b"(2, 3)", b"(100000, 100000)")).decode())}, "could not be read"),
    (_nested(5000), "could not be read"),  # deeper than the recursion limit: RecursionError ended the job
    ({"kind": "sequence", "type": "list", "items": [{"kind": "none"}] * 100_000}, "could not be read"),
    ({"kind": "mapping", "items": "not a mapping"}, "could not be read"),
])
def test_a_malformed_value_is_a_problem_of_that_value(record, why):
    outputs = read_outputs([_display({"name": "v", **record}), _display({"name": "ok", "kind": "none"})])
    assert "v" not in outputs.values and why in outputs.problems["v"]
    assert outputs.values == {"ok": None}


def test_a_value_sent_twice_counts_for_nothing_and_nothing_claims_a_pass():
    first = {"name": "v", "kind": "number", "type": "float", "value": 1.0}
    outputs = read_outputs([_display(first), _display(first),
                            _display({"name": "", "kind": "done", "parts": [{"earned": 3}]}),
                            {"output_type": "execute_result", "data": {"text/plain": "3.0"}, "metadata": {}}])
    assert "came back twice" in outputs.problems["v"] and not outputs.values
    later = read_outputs([_display({"name": "w", "kind": "none"}), _display({"name": "w", "kind": "raised", "error": "E"})])
    assert later.values == {"w": None} and not later.problems  # what came first stands


def _verdict(probe: str, parts, helpers: str = "") -> Verdict:
    return Verdict("test_f", "Exercise 9.9 f", lambda rng: {"x": rng.random((3, 2)), "k": 2}, probe, tuple(parts), helpers)


def _case(**values) -> Case:
    return Case(_verdict("", []), {}, Outputs(values=values))


def _refused(case, name, value):
    return PartFailed(f"{case.exercise}: {name} came as {value!r}")


def test_number_reads_one_number_and_leaves_the_words_of_a_refusal_to_the_verdict():
    case = _case(f=2.5, i=3, t=torch.tensor([[1.5]], dtype=torch.float32), ti=torch.tensor([7]), b=True,
                 tb=torch.tensor([True]), many=torch.zeros(2), text="3")
    assert number(case, "f", _refused) == 2.5 and number(case, "t", _refused) == 1.5
    assert type(number(case, "i", _refused)) is float and number(case, "tb", _refused) == 1.0
    assert type(number(case, "i", _refused, as_given=True)) is int and number(case, "ti", _refused, as_given=True) == 7
    assert type(number(case, "ti", _refused, as_given=True)) is int
    for name, shown, as_given in (("b", "True", False), ("many", "tensor([0., 0.])", False), ("text", "'3'", False),
                                  ("tb", "True", True)):
        with pytest.raises(PartFailed, match=f"^Exercise 9.9 f: {name} came as {re.escape(shown)}$"):
            number(case, name, _refused, as_given=as_given)
    with pytest.raises(CheckFailed, match="^Exercise 9.9 f: expected a number, got 'x' - return a float$"):
        number(_case(v="x"), "v", lambda case, name, value: fail(case.exercise, "a number", repr(value), "return a float"))


def test_close_numbers_and_tensors_of_one_shape_within_atol_plus_rtol():
    assert close(1.0 + 9e-6, 1.0, rtol=1e-5) and not close(1.0 + 2e-5, 1.0, rtol=1e-5)
    assert close(-1.0 - 9e-6, -1.0, rtol=1e-5) and not close(2e-8, 0.0, rtol=1e-5)
    assert close(2e-8, 0.0, rtol=1e-5, atol=1e-7) and not close(float("nan"), 1.0, rtol=1.0)
    assert close(torch.ones(3) + 1e-7, torch.ones(3), rtol=1e-6)
    assert not close(torch.ones(3) + 1e-5, torch.ones(3), rtol=1e-6)
    assert close(torch.ones(3) + 1e-5, torch.ones(3), rtol=0, atol=2e-5)
    assert not close(torch.ones(1, 3), torch.ones(3), rtol=1.0), "same values, another shape: not what was expected"


def test_likely_cause_names_the_first_known_mistake_that_gives_what_came():
    asked = []

    def matches(value):
        asked.append(value)
        return value == 2

    likely = {"sum, not mean": 1, "the batch summed": 2, "twice": 2, "never asked": 3}
    assert likely_cause(likely, matches) == "the batch summed" and asked == [1, 2]
    assert likely_cause(likely, lambda value: False) is None and likely_cause({}, matches) is None


def test_judge_scores_parts_and_reports_why():
    def shape_part(case):
        if tuple(case.tensor("y").shape) != (3,):
            fail(case.exercise, "shape (3,)", tuple(case.tensor("y").shape), "sum over dim 1")

    def value_part(case):
        raise PartFailed(f"{case.exercise}: wrong values")

    def broken_part(case):
        return 1 / 0

    verdict = _verdict("", [Part("shape", 1.0, shape_part), Part("values", 0.5, value_part),
                            Part("judged", 0.5, broken_part), Part("missing", 1.0, lambda case: case["nothing"])])
    outputs = Outputs(values={"y": torch.zeros(3)}, meta={"y": {"kind": "tensor"}}, error="RuntimeError: boom")
    results = judge(verdict, verdict.inputs(np.random.default_rng(0)), outputs)
    assert [r.earned for r in results] == [1.0, 0.0, 0.0, 0.0] and score(results) == 1.0
    assert "could not be judged (ZeroDivisionError" in results[2].message
    assert "your code raised RuntimeError: boom on the grader's inputs" in results[3].message
    text = report(verdict, results)
    assert text.startswith("Graded by the course outside your notebook") and "1 / 3 points" in text
    assert "\u2713 shape (1 / 1)" in text and "\u2717 values (0 / 0.5)" in text


STUDENT = '''
import torch
def f(x, k):
    return x.sum(dim=1) * k
def g(x):
    return earlier(x) + 1
def earlier(x):
    raise ValueError("the student's earlier exercise is wrong")
'''

PROBE = '''
x = inputs["x"].clone().requires_grad_()
with attempt("y", "grad"):
    y = f(x, inputs["k"])
    emit("y", y)
    y.sum().backward()
    emit("grad", x.grad)
with attempt("half"):
    emit("half", f(x.detach().to(torch.bfloat16), 1))
with attempt("crash"):
    emit("crash", f("not a tensor", 1))
with course_versions(earlier=course_earlier):
    emit("g", g(torch.ones(2)))
emit("mixed", (1, 2.5, None, "text", torch.Size([2, 3])))
emit("module", torch.nn.Linear(2, 2))
'''


def test_the_probe_runs_in_a_real_kernel_and_leaves_nothing_behind():
    verdict = _verdict(PROBE, [], helpers="def course_earlier(x):\n    return x * 10\n")
    inputs = verdict.inputs(np.random.default_rng(1))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(STUDENT),
                                         nbformat.v4.new_code_cell("_before = sorted(globals())"),
                                         nbformat.v4.new_code_cell(probe_source(verdict, inputs)),
                                         nbformat.v4.new_code_cell(
                                             "_new = sorted(n for n in set(globals()) - set(_before) if not n.startswith('_i'))\n"
                                             "assert _new == ['_before'], _new\n"
                                             "sorted(set(globals()) - set(_before))\n"
                                             "g(torch.ones(1))")])
    NotebookClient(nb, timeout=60, allow_errors=True).execute()
    out = read_outputs(nb.cells[2].outputs)
    x = torch.from_numpy(inputs["x"])
    assert torch.allclose(out.values["y"], x.sum(dim=1) * 2) and out.values["y"].dtype == torch.float64
    assert torch.equal(out.values["grad"], torch.full((3, 2), 2.0, dtype=torch.float64))
    assert out.values["half"].dtype == torch.bfloat16 and out.meta["y"]["grad_fn"]
    assert "raised AttributeError" in out.problems["crash"]
    assert torch.equal(out.values["g"], torch.full((2,), 11.0))
    assert out.values["mixed"] == (1, 2.5, None, "text", (2, 3))
    assert "Linear" in repr(out.values["module"]) and not out.error
    # the student's own `earlier` is back, and no name of the probe stayed in the notebook
    last = nb.cells[3].outputs
    assert [o.get("ename") for o in last if o.output_type == "error"] == ["ValueError"], last


def test_the_seed_is_secret_per_course_and_fixed_per_submitted_bytes(tmp_path):
    from traitlets.config import Config

    from vaecourse.grading.course_folder import CourseFolder
    from vaecourse.grading.runner import verdict_secret, verdict_seed
    from vaecourse.nbg.config import configure

    secret = verdict_secret(tmp_path)
    assert len(secret) == 32 and verdict_secret(tmp_path) == secret  # made once, then kept
    assert CourseFolder(tmp_path).verdict_secret.stat().st_mode & 0o777 == 0o600
    seed = verdict_seed(secret, "ann", "04_elbo", "abc")
    assert seed == verdict_seed(secret, "ann", "04_elbo", "abc") and 0 <= seed < 2 ** 63
    others = {verdict_seed(secret, "bob", "04_elbo", "abc"), verdict_seed(secret, "ann", "04_elbo", "abd"),
              verdict_seed(verdict_secret(tmp_path / "other"), "ann", "04_elbo", "abc")}
    assert seed not in others and len(others) == 3
    config = Config()
    configure(config, grading=True, verdict_seed=seed)
    assert config.VerdictExecute.verdict_seed == seed


def test_the_probe_leaves_the_random_state_as_it_found_it():
    verdict = _verdict("torch.manual_seed(inputs['k']); emit('r', torch.rand(2))", [])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [
        "import torch, random, numpy\ntorch.manual_seed(1); random.seed(1); numpy.random.seed(1)",
        probe_source(verdict, verdict.inputs(np.random.default_rng(0))),
        "print(torch.rand(1).item(), random.random(), numpy.random.rand())",
        "torch.manual_seed(1); random.seed(1); numpy.random.seed(1)\n"
        "print(torch.rand(1).item(), random.random(), numpy.random.rand())"]])
    NotebookClient(nb, timeout=60, allow_errors=True).execute()
    after_probe, without_probe = (nb.cells[i].outputs[0]["text"] for i in (2, 3))
    assert after_probe == without_probe

