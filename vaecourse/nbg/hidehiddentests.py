"""HideHiddenTests: feedback without hidden tests.

nbgrader's generate_feedback renders the autograded notebook, whose test cells hold the
full source from the gradebook, hidden tests included, and tracebacks that quote them.
`HideHiddenTests` runs before the HTML export and

- replaces each `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` region with one line,
  `# hidden tests (part of this cell's N points): passed`, `failed`, or `not run (the
  visible check above failed first)`: the line the cell's error was raised at (the cell's
  own frame in the traceback, `Cell In[7], line 12`) says whether it came before, inside
  or after the region; an error without a line counts as `failed`, as before,
- shortens every error output to `ExceptionName: message` (the check's own message,
  which says what was expected and the likely cause; no traceback, so no quoted source),
- replaces every output line, in any cell, that quotes a hidden test line (student code
  in the same kernel can print the cells it runs, e.g. from an IPython `pre_run_cell` hook)
  with `[a hidden test line, not shown]`.
"""
import re

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import HIDDEN_TESTS, INSIDE, has_region, nbgrader_md, places, replace_regions

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE_RE = re.compile(r"Cell In\[\d+\], line (\d+)")
NOT_RUN = "not run (the visible check above failed first)"
MIN_SECRET = 12  # hidden lines shorter than this (`)`, `assert ok`) say nothing and are left in outputs
NOT_SHOWN = "[a hidden test line, not shown]"


def hidden_lines(nb) -> set[str]:
    """Every line inside a hidden test region of the notebook, spaces collapsed (long enough to matter)."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = cell.source.split("\n")
            found |= {" ".join(line.split()) for line, place in zip(lines, places(lines, HIDDEN_TESTS))
                      if place == INSIDE and len(" ".join(line.split())) >= MIN_SECRET}
    return found


def scrub(text: str, secret: set[str]) -> str:
    """`text` with each line that quotes a secret line replaced by NOT_SHOWN."""
    if not secret:
        return text
    out = [NOT_SHOWN if any(s in " ".join(line.split()) for s in secret) else line for line in text.split("\n")]
    return "\n".join(out)


def error_line(output) -> str:
    """'ExceptionName: message' of an nbformat error output, without colour codes."""
    evalue = _ANSI_RE.sub("", str(output.get("evalue", "")))
    return f"{output.get('ename', 'Error')}: {evalue}".rstrip(": ") if evalue else str(output.get("ename", "Error"))


def error_line_number(output) -> int | None:
    """The line of the cell (1-based) its error was raised at: the cell's own frame, the first
    `Cell In[N], line L` of the traceback; None when the traceback names none."""
    for entry in output.get("traceback", []):
        match = _CELL_LINE_RE.search(_ANSI_RE.sub("", str(entry)))
        if match:
            return int(match.group(1))
    return None


def region_verdict(lines: list[str], begin: int, failed: bool, line: int | None) -> str:
    """passed, failed or NOT_RUN for the hidden region whose BEGIN is lines[begin] (0-based),
    given whether the cell failed and at which line (1-based, None: unknown)."""
    if not failed:
        return "passed"
    if line is None:
        return "failed"
    if line <= begin:
        return NOT_RUN
    end = next((i for i in range(begin + 1, len(lines)) if "### END HIDDEN TESTS" in lines[i]), len(lines))
    return "passed" if line > end + 1 else "failed"


class HideHiddenTests(NbGraderPreprocessor):
    """Before feedback: no hidden test source, no tracebacks, no outputs quoting them (see module doc)."""

    def preprocess(self, nb, resources):
        self._secret = hidden_lines(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        errors = [output for output in cell.get("outputs", []) if output.output_type == "error"]
        if has_region(cell.source, HIDDEN_TESTS):
            points = nbgrader_md(cell).get("points") if utils.is_grade(cell) else None
            share = f"part of this cell's {points:g} points" if points is not None else "ungraded"
            line = error_line_number(errors[0]) if errors else None
            cell.source, _ = replace_regions(
                cell.source, HIDDEN_TESTS,
                lambda lines, index: f"# hidden tests ({share}): {region_verdict(lines, index, bool(errors), line)}")
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [scrub(error_line(output), getattr(self, "_secret", set()))]
            _scrub_output(output, getattr(self, "_secret", set()))
        return cell, resources


def _scrub_output(output, secret: set[str]) -> None:
    if output.get("output_type") == "stream":
        output.text = scrub(str(output.get("text", "")), secret)
    for key, value in output.get("data", {}).items():
        if isinstance(value, str) and key.startswith("text/"):
            output.data[key] = scrub(value, secret)
