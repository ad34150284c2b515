"""Faults a status may put down to the machine: only those the grader established itself (vaecourse/grading/faults.py).

A submission with wrong answers must not get itself sent back for regrading as "the machine's
fault" by raising its own MNISTUnavailable, by withholding a cell's output or writing nbclient's
"Timeout waiting for IOPub output" into nbgrader's log, or by blocking a course cell from
an earlier cell. Each hostile notebook below is the `partial` notebook (two exercises right, one
wrong) with one attack; one class, graded once through `python -m vaecourse.grade` with the
sandbox on and the course's 30 s cell timeout, is shared by the end-to-end tests (module fixture). Every
attacker must get a status that says what happened without blaming the machine, and a review
flag; each is graded as it ran, for no more than `partial` earned, except the one whose kernel
sends a message nbgrader cannot read (not graded, with that reason). On the code before this
file each of them was `could not grade` with "grade it again" (machine overloaded, or not the
student's fault).

The other tests run the decisions in this process, nbclient with a real kernel where the
witness is concerned, the machine check and the data check in the real sandbox, and one real
job whose course cell is slow with no student code at all: that one is put down to the machine.

CI budget: about 250 s on a 2-core CPU (190 s measured on a quiet machine, 350 s on one shared
with other work): the class of 7 notebooks, --jobs 2, 90-230 s, of which 30 s is the IOPub wait
one attacker causes; a two-try job whose course cell is slow by itself, 40 s; the unit tests
55-85 s, mostly sandboxed kernels started for the machine check and the data check.
"""
import copy
import logging
import os
import time

import nbformat
import pytest
from harness import grading_env
from simulated_class import filled
from test_grading_end_to_end import read_csv
from test_hostile_submissions import new_course, row, score, write_submission
from test_instructor_term import grade_cli

from vaecourse.masters import grade_id

# The end-to-end tests need nothing new from the package, so that they run, and fail, on the code before it.
EXECUTE_TIMEOUT, INTERRUPTED, IOPUB_TIMEOUT = "execute timeout", "interrupted", "iopub timeout"  # nbg.witness's

NB = "01_mnist"
CELL_TIMEOUT = 30  # the course's: with 10 s the helpers alone took 8.4 s on a busy 2-core CPU, and the
# machine check rightly calls half the cell timeout slow
COMMON = ["--cell-timeout", str(CELL_TIMEOUT), "--time-limit", "300", "--no-progress"]
MACHINE_WORDS = ("machine", "overloaded", "grade it again", "not the student's fault")

# ---------------------------------------------------------------- the attacks (student code)

OWN_MNIST_CLASS = '''
class MNISTUnavailable(RuntimeError):
    """Not the course's: a class of the student's own, raised on purpose."""
raise MNISTUnavailable("MNIST could not be loaded on this machine")
'''

PATCHED_LOADER = '''
def mnist_tensors(*args, **kwargs):  # the course's loader, replaced: the course's own class, raised on purpose
    raise MNISTUnavailable("no MNIST in the data folder")
'''

WITHHOLD_OUTPUT = '''
_kernel = get_ipython().kernel
_publish = _kernel._publish_status
def _hold_back(status, channel, parent=None):
    if status == "idle" and channel == "shell":  # this cell's "idle" never comes: nbclient waits it out
        _kernel._publish_status = _publish
        return
    _publish(status, channel, parent)
_kernel._publish_status = _hold_back
'''

FORGE_LOG_LINE = '''
_kernel = get_ipython().kernel
_parent = _kernel.get_parent("shell")
for _text in ("Timeout waiting for IOPub output", "Timeout waiting for execute reply (30s)."):
    _kernel.session.send(_kernel.iopub_socket, _text, {}, parent=_parent)  # nbclient logs "unhandled iopub msg: <type>"
_kernel.session.send(_kernel.iopub_socket, "status", {}, parent=_parent)  # no execution_state: nbclient stops
'''

SLEEPING_IMPORT = '''
import builtins, time
_real_import = builtins.__import__
def _slow_import(name, *args, **kwargs):
    if name == "numpy":  # the course helpers' first import waits until nbclient interrupts it
        builtins.__import__ = _real_import
        time.sleep(3600)
    return _real_import(name, *args, **kwargs)
builtins.__import__ = _slow_import
'''

BUSY_FINDER = '''
import sys, time
class _BusyFinder:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":  # the course helpers' import of torch spins until nbclient interrupts it
            sys.meta_path.remove(self)
            while True:
                time.perf_counter()
        return None
sys.meta_path.insert(0, _BusyFinder())
'''

# student -> (attack code, where: "top" (a cell before everything) or "after" (a cell after the first answer))
ATTACKS = {
    "own_mnist_class": (OWN_MNIST_CLASS, "after"),
    "patched_loader": (PATCHED_LOADER, "after"),
    "withheld_output": (WITHHOLD_OUTPUT, "after"),
    "forged_log_line": (FORGE_LOG_LINE, "after"),
    "sleeping_import": (SLEEPING_IMPORT, "top"),
    "busy_finder": (BUSY_FINDER, "top"),
}


def partial():
    """Two exercises right, the third wrong (it sums instead of averaging): some points, not all."""
    right = filled(NB)
    nb = copy.deepcopy(right)
    cell = next(c for c in nb.cells if grade_id(c) == "mean_image_per_digit")
    cell.source = cell.source.replace("images[labels == d].float().mean(dim=0)", "images[labels == d].float().sum(dim=0)")
    assert cell.source != next(c for c in right.cells if grade_id(c) == "mean_image_per_digit").source
    return nb


def with_attack(code: str, where: str):
    nb = partial()
    index = [grade_id(c) for c in nb.cells].index("count_per_class")
    nb.cells.insert(0 if where == "top" else index + 1, nbformat.v4.new_code_cell(code.strip("\n")))
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    tmp = tmp_path_factory.mktemp("machine_faults")
    env = grading_env(offline_data)
    env["VAE_COURSE_REQUIRE_SANDBOX"] = "1"
    submissions = tmp / "class"
    write_submission(submissions, "partial", NB, partial())
    for student, (code, where) in ATTACKS.items():
        write_submission(submissions, student, NB, with_attack(code, where))
    course = new_course(tmp, "course", submissions, env, [NB])
    started = time.monotonic()
    result = grade_cli(course, "autograde", "--jobs", "2", "--csv", str(tmp / "class.csv"), *COMMON, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"\nclass graded in {time.monotonic() - started:.0f} s")
    rows = read_csv(tmp / "class.csv")
    for student in ["partial", *ATTACKS]:
        got = row(rows, student, NB)
        print(f"{student:16} {got['score']:>4}/{got['max_score']:<4} {got['status']}: {got['reason']}")
    return {"rows": rows, "out": result.stdout, "course": course}


def review_line(graded, student: str) -> str:
    lines = [line for line in graded["out"].splitlines() if f"review: {student} {NB}:" in line]
    assert len(lines) == 1, (student, graded["out"][-3000:])
    return lines[0]


def assert_no_machine_blame(text: str) -> None:
    assert not [word for word in MACHINE_WORDS if word in text.replace("not put down to the machine", "")], text


def assert_graded_as_it_ran(graded, student: str) -> dict:
    """Graded (not `could not grade`), no more than `partial`, and the points it earned kept."""
    got = row(graded["rows"], student, NB)
    assert got["status"] in ("graded", "needs manual grading"), got  # 01's written answer is graded by hand
    assert 0 < score(graded["rows"], student, NB) <= score(graded["rows"], "partial", NB), got
    assert_no_machine_blame(got["reason"])
    return got


# ---------------------------------------------------------------- (a) MNISTUnavailable from the notebook

@pytest.mark.slow
def test_an_mnist_error_raised_by_the_notebook_is_the_notebooks_own(graded):
    for student in ("own_mnist_class", "patched_loader"):
        got = assert_graded_as_it_ran(graded, student)
        assert score(graded["rows"], student, NB) == score(graded["rows"], "partial", NB), got
        assert "raised MNISTUnavailable" in got["reason"] and "the notebook's own error" in got["reason"], got
        assert "raised MNISTUnavailable" in review_line(graded, student)


# ---------------------------------------------------------------- (b) output withheld, log text forged

@pytest.mark.slow
def test_withheld_output_is_graded_as_it_ran(graded):
    got = assert_graded_as_it_ran(graded, "withheld_output")
    assert score(graded["rows"], "withheld_output", NB) == score(graded["rows"], "partial", NB), got
    assert "did not arrive within 30 s of its reply" in got["reason"], got
    assert "not put down to the machine" in got["reason"] and "fresh sandboxed kernel" in got["reason"], got
    assert "did not arrive" in review_line(graded, "withheld_output")


@pytest.mark.slow
def test_a_forged_nbclient_log_line_is_not_an_iopub_timeout(graded):
    """The kernel's message types reach nbgrader's log as text; they are no evidence of a timeout.
    nbgrader cannot finish a notebook whose kernel sends a status it cannot read: not graded, and the
    reason says so without blaming the machine (or, should nbgrader read such messages one day,
    graded as it ran)."""
    got = row(graded["rows"], "forged_log_line", NB)
    assert_no_machine_blame(got["reason"])
    assert "IOPub" not in got["reason"] and "Timeout" not in got["reason"], got
    if got["status"] == "could not grade":
        assert "nbgrader stopped with KeyError while running cell" in got["reason"], got
    else:
        assert_graded_as_it_ran(graded, "forged_log_line")
    assert "get_ipython" in review_line(graded, "forged_log_line")


# ---------------------------------------------------------------- (c) a course cell blocked by student code

@pytest.mark.slow
def test_a_course_cell_blocked_by_student_code_is_not_the_machines(graded):
    for student in ("sleeping_import", "busy_finder"):
        got = assert_graded_as_it_ran(graded, student)
        assert f"the course's own cell course_helpers ran past the {CELL_TIMEOUT} s cell timeout" in got["reason"], got
        assert "not put down to the machine" in got["reason"], got
        assert "ran past" in review_line(graded, student)


@pytest.mark.slow
def test_the_honest_notebook_has_no_fault_notes(graded):
    got = row(graded["rows"], "partial", NB)
    assert got["status"] == "needs manual grading" and got["reason"] == "", got
    assert not [line for line in graded["out"].splitlines() if "review: partial " in line]
    assert 0 < score(graded["rows"], "partial", NB) < float(got["max_score"])


# ---------------------------------------------------------------- the witness, with nbclient and a real kernel

WITNESSED_CELLS = [
    FORGE_LOG_LINE.replace('"Timeout waiting for execute reply (30s).")', '"Timeout waiting for execute reply (30s).", '
                           '"Interrupting kernel", "Kernel died while waiting for execute reply.")')
    .replace('_kernel.session.send(_kernel.iopub_socket, "status", {}, parent=_parent)', ""),
    'print("Timeout waiting for IOPub output")\nprint("Interrupting kernel")',
    WITHHOLD_OUTPUT,
    "import time\ntime.sleep(30)",
]


def test_the_witness_sees_nbclients_own_events_not_the_kernels_words(tmp_path):
    """Only nbclient's own log calls count, each at the cell it happened in: forged message types
    and printed text are not events."""
    from nbclient import NotebookClient

    from vaecourse.nbg import witness as module

    assert (EXECUTE_TIMEOUT, INTERRUPTED, IOPUB_TIMEOUT) == (module.EXECUTE_TIMEOUT, module.INTERRUPTED,
                                                             module.IOPUB_TIMEOUT)
    witness = module.Witness()
    log = logging.getLogger("test_machine_faults.witness")
    log.propagate = False
    log.addHandler(witness.handler)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in WITNESSED_CELLS])
    client = NotebookClient(nb, timeout=3, iopub_timeout=2, interrupt_on_timeout=True, allow_errors=True,
                            raise_on_iopub_timeout=False, log=log, on_cell_start=witness.cell_started,
                            error_on_timeout={"ename": "CellTimeoutError", "evalue": "", "traceback": []},
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert [(e["event"], e["cell"]) for e in witness.events] == [
        (IOPUB_TIMEOUT, 2), (EXECUTE_TIMEOUT, 3), (INTERRUPTED, 3)], witness.events
    assert witness.events[0]["seconds"] >= 2 and witness.events[1]["seconds"] >= 3
    forged = logging.LogRecord("x", logging.ERROR, witness.handler.source, 1,
                               "unhandled iopub msg: Timeout waiting for IOPub output", (), None)
    witness.handler.handle(forged)
    elsewhere = logging.LogRecord("x", logging.ERROR, __file__, 1, "Timeout waiting for IOPub output", (), None)
    witness.handler.handle(elsewhere)
    assert len(witness.events) == 3


# ---------------------------------------------------------------- the decisions

def event(what: str, cell: int, course: bool = False, gid: str | None = None, so_far: str | None = "course_helpers"):
    return {"event": what, "cell": cell, "grade_id": gid, "course": course, "course_so_far": so_far, "seconds": 1.0}


def test_which_timeouts_could_be_the_machines():
    from vaecourse.grading import faults

    course_timeout = event(EXECUTE_TIMEOUT, 4, course=True, gid="course_helpers")
    assert "the course's own cell course_helpers ran past the 10 s" in faults.timeout_fault(
        {"events": [course_timeout, event(INTERRUPTED, 4)]}, 10).what
    assert faults.timeout_fault({"events": [event(EXECUTE_TIMEOUT, 13, gid="count_per_class"),
                                            event(INTERRUPTED, 13)]}, 10) is None  # the student's own slow cell
    late = faults.timeout_fault({"events": [event(IOPUB_TIMEOUT, 15)]}, 10)
    assert late.what == "the output of cell 16 did not arrive within 30 s of its reply" and late.upto == "course_helpers"
    assert faults.timeout_fault({"events": [event(EXECUTE_TIMEOUT, 15), event(INTERRUPTED, 15),
                                            event(IOPUB_TIMEOUT, 15)]}, 10) is None  # kept running after the interrupt
    assert faults.timeout_fault({"events": []}, 10) is None


def test_failure_reasons_come_from_the_witness_not_the_log_text():
    from vaecourse.grading import faults

    forged_log = {"success": False, "log": "[ERROR] unhandled iopub msg: Timeout waiting for IOPub output\n"
                                           "[ERROR] Interrupting kernel\nKernel died", "error": "NbGraderException"}
    keyerror = {"autograde": forged_log, "witness": {"events": [], "raised": {
        "type": "KeyError", "module": "builtins", "cell": 14, "message": "'execution_state'"}}}
    reason = faults.failure_reason(keyerror)
    assert reason.startswith("nbgrader stopped with KeyError while running cell 15"), reason
    assert_no_machine_blame(reason)
    assert "kernel died" not in reason
    died = {"autograde": forged_log, "witness": {"events": [], "raised": {"type": "DeadKernelError", "cell": 3}}}
    assert "the kernel died" in faults.failure_reason(died)
    ignored = {"autograde": forged_log, "witness": {"events": [], "raised": {"type": "InterruptIgnored", "cell": 3}}}
    assert "did not stop when interrupted" in faults.failure_reason(ignored)
    assert_no_machine_blame(faults.failure_reason({"autograde": forged_log}))


def test_a_machine_check_is_slow_from_half_the_timeout():
    from vaecourse.grading import faults

    def check(seconds, **more):
        return faults.MachineCheck(cells=[{"grade_id": "course_helpers", "seconds": seconds, "timed_out": False,
                                           "late": False, **more}], sandboxed=True)

    assert not check(4.6).slow(10) and check(5.0).slow(10) and check(9.5).slow(10)
    assert check(1.0, timed_out=True).slow(10) and check(1.0, late=True).slow(10)
    assert faults.MachineCheck(failed="no kernel").slow(10) and faults.MachineCheck().slow(10)
    assert check(4.6).describe(10) == ("alone, in a fresh sandboxed kernel with no student code, the course's cell "
                                       "course_helpers took 4.6 s of the 10 s cell timeout")


def test_an_mnist_error_in_a_notebook_is_a_note_for_review(tmp_path):
    from vaecourse.grading import faults

    cell = nbformat.v4.new_code_cell("x = mnist_tensors()")
    cell.outputs = [nbformat.v4.new_output("error", ename="MNISTUnavailable", evalue="the machine's fault", traceback=[])]
    path = tmp_path / "a.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), cell]), path)
    notes = faults.mnist_notes(path)
    assert notes == [("cell 2 raised MNISTUnavailable, but the grader had loaded the data folder itself before "
                      "grading: the notebook's own error, graded as it ran")]
    assert "machine's fault" not in notes[0]  # the kernel's words are not quoted


# ---------------------------------------------------------------- the grader's own checks, in the real sandbox

def sandbox():
    from vaecourse.sandbox import probe

    isolation = probe()
    if not isolation.available:
        if os.environ.get("VAE_COURSE_REQUIRE_SANDBOX"):
            pytest.fail(f"no sandbox: {isolation.describe()}")
        pytest.skip(f"no sandbox: {isolation.describe()}")
    return isolation


def course_cell(source: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": "course_helpers", "locked": True, "solution": False,
                                 "schema_version": 3}
    return cell


@pytest.mark.parametrize("source, slow", [("import time\ntime.sleep(6)", True), ("x = 1", False)])
def test_the_machine_check_times_the_course_cells_alone(tmp_path, offline_data, source, slow):
    """A course cell that is slow by itself (here: it sleeps past a 6 s cell timeout) is slow in
    the machine check; a quick one is not. The student's cells are not run."""
    from vaecourse.grading import faults
    from vaecourse.grading.jobs import JobSpec, machine_check

    isolation = sandbox()
    student = nbformat.v4.new_code_cell("import time\ntime.sleep(60)  # the student's: never run by the check")
    path = tmp_path / "source" / "a" / "a.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[course_cell(source), student]), path)
    spec = JobSpec("s", "a", 6, 120, {"VAE_COURSE_DATA": str(offline_data)}, isolation)
    started = time.monotonic()
    check = machine_check(tmp_path, spec, faults.Fault("a test", "course_helpers"))
    assert time.monotonic() - started < 60
    assert not check.failed and [c["grade_id"] for c in check.cells] == ["course_helpers"], check
    assert check.slow(6) is slow and check.sandboxed, check
    assert not (tmp_path / "machine_check").exists()


def slow_assignment(course, name: str, seconds: int):
    """A released assignment whose own course cell sleeps `seconds`, one answer and one test cell."""
    import shutil

    from vaecourse.nbg.config import config_text
    from vaecourse.nbg.layout import notebook_path, write_course_source
    from vaecourse.nbg.run import run_nbgrader

    answer = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "f", "locked": False, "solution": True,
                                   "schema_version": 3}
    test = nbformat.v4.new_code_cell('"""Checks f."""\nassert f() == 1')
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_f", "locked": True, "points": 1, "solution": False,
                                 "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[course_cell(f"import time\ntime.sleep({seconds})"), answer, test])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    write_course_source(course, {name: nb}, config_text())
    run_nbgrader(["generate_assignment", name, "--force"], course)
    job = course / "job"
    shutil.copytree(course / "source" / name, job / "source" / name)
    submitted = notebook_path(job, "submitted", name, "s")
    submitted.parent.mkdir(parents=True)
    shutil.copyfile(notebook_path(course, "release", name), submitted)
    shutil.copyfile(course / "gradebook.db", job / "gradebook.db")
    return job


@pytest.mark.slow
def test_course_work_that_is_slow_alone_is_put_down_to_the_machine(tmp_path, offline_data):
    """The other half of the rule: a course cell that runs past the cell timeout with no student code
    in the way (here it sleeps past it) is slow in the machine check too, so the job is run again
    and then sent back to be graded again: the machine's fault, established by the grader."""
    from vaecourse.grading.jobs import JobSpec, run_job

    isolation = sandbox()
    job = slow_assignment(tmp_path, "00_slow", 8)
    spec = JobSpec("s", "00_slow", 6, 120, grading_env(offline_data), isolation)
    result = run_job(job, spec)
    assert not result.graded and result.attempts == 2, result
    assert result.reason.startswith("the course's own cell course_helpers ran past the 6 s cell timeout"), result.reason
    assert "on both tries" in result.reason and "ran past the 6 s cell timeout" in result.reason.split("slow too")[1]
    assert result.reason.endswith("the grading machine is overloaded; grade it again"), result.reason
    assert not result.notes


def test_the_data_check_loads_the_folder_as_a_sandboxed_kernel_sees_it(tmp_path, offline_data):
    from vaecourse.grading import faults

    isolation = sandbox()
    assert faults.data_check(offline_data, isolation) == ""
    raw = tmp_path / "linked" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (offline_data / "MNIST" / "raw").iterdir():
        (raw / path.name).symlink_to(path)
    assert faults.load_problem(tmp_path / "linked") == ""  # this process follows the links
    problem = faults.data_check(tmp_path / "linked", isolation)
    assert "a sandboxed kernel, which is shown only" in problem and "links to files outside" in problem, problem
    assert faults.data_check(tmp_path / "nothing", None).startswith("No MNIST in")
