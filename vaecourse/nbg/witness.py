"""Witness: what the grading process itself saw while nbgrader ran a notebook, never what the kernel said.

Student code runs in the kernel, so nothing the kernel prints, raises, sends or withholds may
decide that the machine was at fault. nbgrader's log text is no witness either: nbclient writes
strings the kernel chose into it (`self.log.error(f"unhandled iopub msg: {msg_type}")`, with a
message type the kernel invents), and nbgrader logs tracebacks that quote the cell's source. So
the job process records, in its own memory:

- `events`: nbclient's own log calls, recognised by the file that made them (nbclient/client.py)
  and by their whole fixed text (`EVENTS`, a full match: "unhandled iopub msg: Timeout waiting
  for IOPub output" is no IOPub timeout), each with the cell nbclient was running (from its
  `on_cell_start` hook) and the seconds since that cell started, on the grader's clock;
- `raised`: the exception that stopped nbgrader's conversion, by its class (`WitnessedAutograde`).

`install(config)` also makes nbclient log a late output instead of raising (the job decides
what it means: vaecourse.grading.faults), and stops a notebook whose kernel ignored the
interrupt after a cell timeout (`InterruptIgnored`): its later cells would each wait out the
timeouts again.
"""
import logging
import os
import re
import time

from vaecourse.masters import grade_id, is_course_cell

EXECUTE_TIMEOUT, INTERRUPTED, IOPUB_TIMEOUT, KERNEL_DIED = "execute timeout", "interrupted", "iopub timeout", "kernel died"
EVENTS = {  # nbclient's own log messages (their whole text) and what they mean
    re.compile(r"Timeout waiting for execute reply \(\d+s\)\."): EXECUTE_TIMEOUT,
    re.compile(r"Interrupting kernel"): INTERRUPTED,
    re.compile(r"Timeout waiting for IOPub output"): IOPUB_TIMEOUT,
    re.compile(r"Kernel died while waiting for execute reply\."): KERNEL_DIED,
}


class InterruptIgnored(RuntimeError):
    """A cell ran past the cell timeout and its kernel sent nothing more after the interrupt."""


def _nbclient_file() -> str:
    import nbclient.client

    return os.path.normcase(os.path.abspath(nbclient.client.__file__))


class Witness:
    """One notebook run as the grader saw it; `summary()` is plain JSON."""

    def __init__(self):
        self.events: list[dict] = []
        self.raised: dict | None = None
        self.cell: dict | None = None  # the cell nbclient is running
        self.course_so_far: str | None = None  # grade_id of the last course cell started
        self.started = 0.0
        self.handler = _EventHandler(self)

    def __deepcopy__(self, memo):  # traitlets deep-copies configured values: the hook must stay this one
        return self

    def install(self, config) -> None:
        """Into an nbgrader Config: the cell hook, and late outputs logged rather than raised."""
        config.NotebookClient.on_cell_start = self.cell_started
        config.Execute.raise_on_iopub_timeout = False

    def cell_started(self, cell, cell_index, **_) -> None:
        """nbclient's on_cell_start hook (also for the checks' probes, which are cells of their own)."""
        if self.cell is not None and self.interrupt_ignored(self.cell["cell"]):
            raise InterruptIgnored(f"cell {self.cell['cell'] + 1} did not stop when interrupted")
        gid = grade_id(cell) if cell.get("cell_type") == "code" else None
        course = is_course_cell(cell)
        if course:
            self.course_so_far = gid
        self.cell = {"cell": cell_index, "grade_id": gid, "course": course, "course_so_far": self.course_so_far}
        self.started = time.monotonic()

    def seen(self, what: str) -> None:
        where = dict(self.cell or {"cell": None, "grade_id": None, "course": False, "course_so_far": None})
        self.events.append({"event": what, **where, "seconds": round(time.monotonic() - self.started, 2)})

    def interrupt_ignored(self, cell: int | None) -> bool:
        """The cell was interrupted and then its output did not arrive: the kernel kept running it."""
        mine = [e["event"] for e in self.events if e["cell"] == cell]
        return INTERRUPTED in mine and IOPUB_TIMEOUT in mine[mine.index(INTERRUPTED):]

    def saw_raise(self, error: BaseException) -> None:
        if self.raised is None:
            self.raised = {"type": type(error).__name__, "module": type(error).__module__,
                           "cell": (self.cell or {}).get("cell"), "message": _first_line(error)}

    def summary(self) -> dict:
        return {"events": list(self.events), "raised": self.raised}

    def autograde(self, api, assignment: str, student: str) -> dict:
        """NbGraderAPI.autograde, witnessed: the same app, its log read by this witness too."""
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
            app = witnessed_autograde_class()(coursedir=api.coursedir, parent=api)
            app.witness = self
            app.force, app.create_student = True, True
            app.log.addHandler(self.handler)
            try:
                return capture_log(app)
            finally:
                app.log.removeHandler(self.handler)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else ""


class _EventHandler(logging.Handler):
    """Turns nbclient's own log calls into the witness's events; every other record is ignored."""

    def __init__(self, witness: Witness):
        super().__init__(logging.DEBUG)
        self.witness = witness
        self.source = _nbclient_file()

    def emit(self, record: logging.LogRecord) -> None:
        if record.args or not isinstance(record.msg, str):  # nbclient's events are fixed texts, without arguments
            return
        if os.path.normcase(os.path.abspath(record.pathname)) != self.source:
            return
        for pattern, what in EVENTS.items():
            if pattern.fullmatch(record.msg):
                self.witness.seen(what)
                return


_AUTOGRADE = None


def witnessed_autograde_class():
    """nbgrader's Autograde, telling its witness which exception stopped a notebook's conversion."""
    global _AUTOGRADE
    if _AUTOGRADE is None:
        from nbgrader.converters.autograde import Autograde

        class WitnessedAutograde(Autograde):
            witness = None

            def convert_single_notebook(self, notebook_filename: str) -> None:
                try:
                    super().convert_single_notebook(notebook_filename)
                except Exception as error:
                    if self.witness is not None:
                        self.witness.saw_raise(error)
                    raise

        _AUTOGRADE = WitnessedAutograde
    return _AUTOGRADE
