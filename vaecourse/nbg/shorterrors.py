"""ShortErrors: feedback errors as the check's own message, without a traceback.

nbgrader's generate_feedback renders the autograded notebook, where an error output carries the
whole traceback: frames of the course's helpers and of the student's code, colour codes, and the
source lines it passes through. `ShortErrors` runs before the HTML export and shortens every error
output to `ExceptionName: message`: the check's own message, which already says what was expected,
what came and the likely cause (vaecourse/checking.py), is what a student needs to read.

There is nothing secret to hide in a test cell's source any more: the hidden tests are judged in
the grader (vaecourse/verdicts/), and a master may not hold a hidden-test region
(`vaecourse.masters.check_no_hidden_tests`, run by every build).
"""
import re

from nbgrader.preprocessors import NbGraderPreprocessor

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_line(output) -> str:
    """'ExceptionName: message' of an nbformat error output, without colour codes."""
    evalue = _ANSI_RE.sub("", str(output.get("evalue", "")))
    return f"{output.get('ename', 'Error')}: {evalue}".rstrip(": ") if evalue else str(output.get("ename", "Error"))


class ShortErrors(NbGraderPreprocessor):
    """Before feedback: every error output's traceback replaced by its one line (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else ():
            if output.output_type == "error":
                output.traceback = [error_line(output)]
        return cell, resources
