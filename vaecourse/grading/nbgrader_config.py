"""What grading adds to the course's nbgrader configuration.

`apply_grading_config(c)` is called after `vaecourse.nbgrader_ext.apply_course_config(c)`
by every nbgrader run of the grading command (and by autograder/nbgrader_config.py, so
that formgrader's buttons behave the same). It changes three things, each a documented
decision:

1. Output is capped right after execution (`CapOutput`): a student who prints 50 MB
   gets a notebook, a gradebook and a feedback page of normal size. nbgrader's own
   LimitOutput counts lines, and one 50 MB line passes it.
2. stderr in a test cell does not cost the test its points (`StderrNotCounted`): plain
   nbgrader scores a test cell 0 when anything is written to stderr, so a correct
   exercise that emits a warning would lose the points of a test it passes. The stderr
   text is kept, moved to stdout under a `[stderr]` label, so the student still sees
   the warning in the feedback. A test still fails by raising, as every course test does.
3. Feedback never shows hidden tests (`HideHiddenTests`, see vaecourse/grading/feedback.py).
"""
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    Execute,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    SaveAutoGrades,
)
from traitlets import Integer

from vaecourse.grading.feedback import HideHiddenTests

MAX_OUTPUT_CHARS = 20_000  # per cell, all text outputs together
STDERR_LABEL = "[stderr, not counted against the test] "


class CapOutput(NbGraderPreprocessor):
    """Cut each cell's text output to `max_chars` characters (whatever the line count)."""

    max_chars = Integer(MAX_OUTPUT_CHARS, help="maximum characters of text output per cell").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        budget = self.max_chars
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream":
                text = output.text
                if len(text) > budget:
                    dropped = len(text) - budget
                    output.text = text[:budget] + f"\n... output truncated ({dropped:,} characters dropped) ...\n"
                    budget = 0
                else:
                    budget -= len(text)
                if output.text or budget > 0:
                    kept.append(output)
                continue
            data = output.get("data", {})
            for mime in ("text/plain", "text/html"):
                value = data.get(mime)
                if isinstance(value, str) and len(value) > self.max_chars:
                    data[mime] = value[:self.max_chars] + "\n... output truncated ...\n"
            kept.append(output)
        cell.outputs = kept
        return cell, resources


class StderrNotCounted(NbGraderPreprocessor):
    """In autograded test cells, move stderr text to stdout under a label (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
                    output.text = "".join(STDERR_LABEL + line for line in output.text.splitlines(True))
        return cell, resources


def apply_grading_config(c, cell_timeout: int | None = None, max_output_chars: int = MAX_OUTPUT_CHARS) -> None:
    """Add grading's preprocessors and limits to an nbgrader Config `c` (after apply_course_config)."""
    c.Autograde.autograde_preprocessors = [
        Execute,
        CapOutput,
        StderrNotCounted,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    c.CapOutput.max_chars = max_output_chars
    c.LimitOutput.max_lines = 200
    c.LimitOutput.max_traceback = 40
    if cell_timeout is not None:
        c.Execute.timeout = int(cell_timeout)
        c.ExecutePreprocessor.timeout = int(cell_timeout)
    c.Execute.interrupt_on_timeout = True
    # nbclient waits only 4 s (iopub_timeout) for a cell's last output after its reply, and
    # nbgrader makes that wait fatal: on a loaded machine a sound notebook then fails to
    # grade at random. The cell timeout bounds the wait instead.
    c.Execute.iopub_timeout = max(int(cell_timeout or 30), 30)
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
