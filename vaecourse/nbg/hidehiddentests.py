"""HideHiddenTests: feedback without hidden tests.

nbgrader's generate_feedback renders the autograded notebook, whose test cells hold the
full source from the gradebook, hidden tests included, and tracebacks that quote them.
`HideHiddenTests` runs before the HTML export and

- replaces each `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` region with one line,
  `# hidden tests (part of this cell's N points): passed` (or `failed`),
- shortens every error output to `ExceptionName: message` (the check's own message,
  which says what was expected and the likely cause; no traceback, so no quoted source).
"""
import re

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import HIDDEN_TESTS, has_region, nbgrader_md, replace_regions

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_line(output) -> str:
    """'ExceptionName: message' of an nbformat error output, without colour codes."""
    evalue = _ANSI_RE.sub("", str(output.get("evalue", "")))
    return f"{output.get('ename', 'Error')}: {evalue}".rstrip(": ") if evalue else str(output.get("ename", "Error"))


class HideHiddenTests(NbGraderPreprocessor):
    """Before feedback: no hidden test source, no tracebacks (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        failed = any(output.output_type == "error" for output in cell.get("outputs", []))
        if has_region(cell.source, HIDDEN_TESTS):
            points = nbgrader_md(cell).get("points") if utils.is_grade(cell) else None
            share = f"part of this cell's {points:g} points" if points is not None else "ungraded"
            summary = f"# hidden tests ({share}): {'failed' if failed else 'passed'}"
            cell.source, _ = replace_regions(cell.source, HIDDEN_TESTS, lambda lines, index: summary)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [error_line(output)]
        return cell, resources
