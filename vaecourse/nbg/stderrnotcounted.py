"""StderrNotCounted: stderr in an autograded test cell moved to stdout under a label.

Plain nbgrader scores a test cell 0 when anything is written to stderr; a test still
fails by raising, as every course test does (see vaecourse.nbg.config).
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import is_test

STDERR_LABEL = "[stderr, not counted against the test] "


class StderrNotCounted(NbGraderPreprocessor):
    """In autograded test cells, move stderr text to stdout under a label (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if is_test(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
                    output.text = "".join(STDERR_LABEL + line for line in output.text.splitlines(True))
        return cell, resources
