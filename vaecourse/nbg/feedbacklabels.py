"""FeedbackLabels: each graded cell of a feedback page named by its exercise, and honest points.

nbgrader's feedback page lists its graded cells as "Test cell" and "Written response" and
scores a written answer nobody has graded yet as 0 / N, counted in the total. Run after
GetGrades (which puts the scores in the cells), this sets what the course's feedback page
(vaecourse.nbg.feedbackpage) shows instead:

- `nbgrader.feedback_title` of each grade cell: a test cell's `ex = "Exercise 4.2
  kl_divergence"` line (every check of the course names its exercise so), else its
  docstring's first line; a written answer's nearest heading above it ("Question 4.5");
  else the grade_id;
- `nbgrader.feedback_score`: "3 / 3", or "to be graded (2 points)" for a cell that has
  neither an automatic nor a manual score in the gradebook yet;
- `resources["nbgrader"]["feedback_total"]`: "Score: 11 / 11", or "Score: 11 / 11 so far;
  2 points still to be graded by hand".
"""
import ast
import re

from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import nbgrader_md
from vaecourse.translation import localise, notebook_language

_EX_RE = re.compile(r"""^ex\s*=\s*(["'])(.+?)\1\s*$""", re.MULTILINE)
_HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def points(value) -> str:
    return f"{float(value or 0):g}"


def test_title(source: str) -> str | None:
    """The exercise a test cell checks: its `ex = "..."` line, else its docstring's first line."""
    match = _EX_RE.search(source)
    if match:
        return match.group(2)
    try:
        doc = ast.get_docstring(ast.parse(source))
    except SyntaxError:
        doc = None
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def heading_title(markdown: str) -> str | None:
    """The last heading of a markdown cell, without a trailing parenthesis: "Question 4.5"."""
    found = _HEADING_RE.findall(markdown)
    return re.sub(r"\s*\([^)]*\)$", "", found[-1]).strip() or None if found else None


def total_text(score: float, max_score: float, ungraded: float, lang: str = "en") -> str:
    """The page's total, in the notebook's language."""
    if ungraded:
        return localise("Score: {score} / {max_score} so far; {ungraded} points still to be graded by hand",
                        lang).format(score=points(score), max_score=points(max_score - ungraded),
                                     ungraded=points(ungraded))
    return localise("Score: {score} / {max_score}", lang).format(score=points(score), max_score=points(max_score))


class FeedbackLabels(NbGraderPreprocessor):
    """Name each graded cell by its exercise and say which points are still to be graded (see module doc)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self._ungraded = 0.0
        self._heading = None
        self._lang = notebook_language(nb)
        with Gradebook(info["db_url"]) as gb:
            self._grade = lambda grade_id: gb.find_grade(grade_id, info["notebook"], info["assignment"],
                                                         info["student"])
            nb, resources = super().preprocess(nb, resources)
        info["feedback_total"] = total_text(info.get("score", 0), info.get("max_score", 0), self._ungraded, self._lang)
        return nb, resources

    def preprocess_cell(self, cell, resources, cell_index):
        md = nbgrader_md(cell)
        if utils.is_grade(cell):
            if utils.is_solution(cell):
                title = self._heading
            else:
                title = test_title(cell.source)
            md["feedback_title"] = title or md.get("grade_id", "")
            grade = self._grade(md["grade_id"])
            if grade.auto_score is None and grade.manual_score is None:
                self._ungraded += float(grade.max_score or 0)
                md["feedback_score"] = localise("to be graded ({points} points)", self._lang).format(
                    points=points(grade.max_score))
            else:
                md["feedback_score"] = f"{points(grade.score)} / {points(grade.max_score)}"
        if cell.cell_type == "markdown":
            self._heading = heading_title(cell.source) or self._heading
        return cell, resources
