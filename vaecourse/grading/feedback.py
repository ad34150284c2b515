"""Feedback without hidden tests.

nbgrader's generate_feedback renders the autograded notebook, whose test cells hold the
full source from the gradebook, hidden tests included, and tracebacks that quote them.
`HideHiddenTests` runs before the HTML export and

- replaces each `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` region with one line,
  `# hidden tests (part of this cell's N points): passed` (or `failed`),
- shortens every error output to `ExceptionName: message` (the check's own message,
  which says what was expected and the likely cause; no traceback, so no quoted source).

`hidden_test_lines` and `page_text` let tests search feedback pages for hidden test source.
"""
import html
import re

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_line(output) -> str:
    """'ExceptionName: message' of an nbformat error output, without colour codes."""
    evalue = _ANSI_RE.sub("", str(output.get("evalue", "")))
    return f"{output.get('ename', 'Error')}: {evalue}".rstrip(": ") if evalue else str(output.get("ename", "Error"))


def hide_hidden_regions(source: str, summary: str) -> tuple[str, int]:
    """The source with each hidden-test region replaced by `summary`; and how many regions."""
    lines, out, inside, regions = source.split("\n"), [], False, 0
    for line in lines:
        if BEGIN_HIDDEN in line:
            inside, regions = True, regions + 1
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + summary)
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    if inside:  # an unterminated region hides everything after its start
        pass
    return "\n".join(out), regions


class HideHiddenTests(NbGraderPreprocessor):
    """Before feedback: no hidden test source, no tracebacks (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        failed = any(output.output_type == "error" for output in cell.get("outputs", []))
        if BEGIN_HIDDEN in cell.source:
            points = cell.metadata.get("nbgrader", {}).get("points") if utils.is_grade(cell) else None
            share = f"part of this cell's {points:g} points" if points is not None else "ungraded"
            summary = f"# hidden tests ({share}): {'failed' if failed else 'passed'}"
            cell.source, _ = hide_hidden_regions(cell.source, summary)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [error_line(output)]
        return cell, resources


def hidden_test_lines(nb, visible_text: str = "", min_length: int = 12) -> set[str]:
    """Source lines inside hidden-test regions of a master notebook that a student must not see.

    Lines shorter than min_length and lines that also occur in `visible_text` (e.g. the
    student notebook) are left out: they are not secret.
    """
    lines = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or BEGIN_HIDDEN not in cell.source:
            continue
        inside = False
        for line in cell.source.splitlines():
            if BEGIN_HIDDEN in line:
                inside = True
            elif END_HIDDEN in line:
                inside = False
            elif inside:
                text = " ".join(line.split())
                if len(text) >= min_length and text not in visible_text:
                    lines.add(text)
    return lines


def page_text(page_html: str) -> str:
    """The text a reader sees in an HTML page: tags removed, entities decoded, spaces collapsed."""
    page_html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page_html)
    text = html.unescape(re.sub(r"<[^>]+>", "", page_html))
    return " ".join(text.split())
