"""VerdictExecute: nbgrader's Execute preprocessor, with each graded test cell scored by the grader.

After a graded test cell with a verdict (`vaecourse.verdicts`) has run in the student's kernel,
its probe runs in the same kernel on inputs drawn from a secret seed (`verdict_seed`: the grading
command's, derived from the course's key and the submitted bytes; else a new one), and the verdict
is judged here, in the grading process (vaecourse/verdicts/core.py says how). The decision is
kept here, out of the kernel's reach, and written into the notebook only after the whole notebook
has run and the kernel is gone: while the kernel runs, a later cell could still change outputs
already in the notebook (nbclient applies a kernel's `update_display_data` to every earlier output
with that display_id). Then every output carrying the verdict mime type that the kernel made is
dropped, anywhere in the notebook, and each judged test cell's outputs start with

1. an `execute_result` holding the score (nbgrader's partial credit: `SaveAutoGrades` takes the
   first error or execute_result of a graded cell, so this one decides, whatever the kernel
   printed or raised after it; execute_results the kernel made in a test cell, whose code
   returns nothing, are dropped, so a student cannot send a score of their own), with the
   parts as JSON under `vaecourse.verdicts.record.MIME`,
2. the report the student reads, one line per part,

followed by what the cell itself printed (its visible check, for the student).
"""
import secrets
import zlib

import nbformat
import numpy as np
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Integer

from vaecourse.masters import grade_id
from vaecourse.translation import localise, notebook_language
from vaecourse.translation.modules import translated
from vaecourse.verdicts.record import MIME, CellResult
from vaecourse.verdicts.timeouts import TIMEOUT_ERRORS


WARM_UP = """
def __vaecourse_warm_up__():
    try:
        from zmq.utils.garbage import gc
        if not gc.is_alive():
            gc.start()
    except Exception:
        pass
__vaecourse_warm_up__()
del __vaecourse_warm_up__
"""


class VerdictExecute(Execute):
    verdict_seed = Integer(None, allow_none=True, help=(
        "The seed the verdicts draw their inputs from (the grading command sets it per submission); "
        "None: a new secret seed every run.")).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        notebook = ((resources or {}).get("nbgrader") or {}).get("notebook", "")
        # A Japanese notebook is judged by the same verdicts, their messages in Japanese (translation/modules.py).
        self._lang = notebook_language(nb)
        self._core = translated("vaecourse.verdicts.core", self._lang)
        self._verdicts = translated("vaecourse.verdicts", self._lang).verdicts_for(notebook) if notebook else {}
        self._seed = self.verdict_seed if self.verdict_seed is not None else secrets.randbits(63)
        self._decided = {}  # cell index -> the outputs that score it, decided here while the kernel runs
        if self._verdicts:
            self.log.info("verdicts of %s drawn from seed %d", notebook, self._seed)
        try:
            return super().preprocess(nb, resources, km)  # runs every cell, then shuts the kernel down
        finally:
            self._write_decided()

    def preprocess_cell(self, cell, resources, index):
        if index == 0 and getattr(self, "_verdicts", None):
            self._warm_up(cell)
        cell, resources = super().preprocess_cell(cell, resources, index)
        verdict = None
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            verdict = getattr(self, "_verdicts", {}).get(grade_id(cell))
        if verdict is not None:
            self._apply(cell, index, verdict)
        return cell, resources

    def _warm_up(self, first_cell) -> None:
        """Before the student's code: start the kernel's zmq garbage-collector thread, which sends every
        message over 64 KB (a probe's results). Started later, it would need a thread the student's code
        may have used up (a notebook that fills the process cap), and the kernel could no longer answer."""
        self._run_beside(WARM_UP, 0, first_cell)

    def _run_beside(self, source: str, index: int, cell) -> list:
        """Run `source` in the kernel as a cell that is not in the notebook; its outputs.

        nbclient puts the cell it ran at `index`: the notebook's own `cell` goes back there."""
        beside = nbformat.v4.new_code_cell(source)
        try:
            self.execute_cell(beside, index, store_history=False)
        finally:
            self.nb.cells[index] = cell
        return beside.outputs

    def _apply(self, cell, index, verdict) -> None:
        core = self._core
        rng = np.random.default_rng([self._seed, zlib.crc32(verdict.grade_id.encode())])
        inputs = verdict.inputs(rng)
        if any(output.get("ename") in TIMEOUT_ERRORS for output in cell.outputs if output.get("output_type") == "error"):
            # The check above ran the same code and did not finish: running it again would only wait
            # out the cell timeout a second time. Every part is lost, with that reason.
            why = localise("the check above did not finish within {timeout} s, so your code was not run again "
                           "on the grader's inputs", self._lang)
            outputs = core.Outputs(error=why.format(timeout=self.timeout), timed_out=True)
        else:
            outputs = core.read_outputs(self._run_beside(core.probe_source(verdict, inputs), index, cell))
        results = core.judge(verdict, inputs, outputs, self.timeout)
        verdict_output = nbformat.from_dict(CellResult(tuple(results)).to_output(cell.get("execution_count")))
        report_output = nbformat.v4.new_output("stream", name="stdout", text=core.report(verdict, results))
        self._decided[index] = (verdict_output, report_output)

    def _write_decided(self) -> None:
        """The decided scores into the notebook, once the kernel can no longer send anything.

        Whatever the kernel made that looks like a score goes: outputs with the verdict mime type in
        any cell, and execute_results in judged test cells (their code returns nothing, so one there
        could only be a score of the student's own)."""
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            kept = [output for output in cell.outputs if MIME not in output.get("data", {})
                    and not (index in self._decided and output.get("output_type") == "execute_result")]
            cell.outputs = [*self._decided.get(index, ()), *kept]
