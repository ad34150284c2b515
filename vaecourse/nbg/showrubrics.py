"""ShowRubrics: under each written answer of the autograded notebook, its model answer and rubric.

A written question is a manually graded markdown answer cell. Its master holds the model
answer and the rubric, and release replaces them by "YOUR ANSWER HERE" in what students
get; the released source in the course folder (source/<assignment>/<assignment>.ipynb,
which every grading job carries with it) keeps them. Formgrader's grading page renders the
autograded notebook, so a cell there is where the grader reads it. Run in autograde after
SaveAutoGrades, this

- drops every cell of the student's notebook that carries the rubric mark
  (`metadata.vaecourse.rubric_for`) and is no nbgrader cell: the grader's cell comes from
  here only, never from the student's file; the mark is removed from an nbgrader cell (the
  student's own answer stays, and is not hidden from its feedback page);
- inserts after each manually graded markdown answer a markdown cell, marked with the
  answer's grade id, holding the source's cell of that grade id (as a block quote) under a
  heading saying it is for the grader; its cell id is made from the grade id, so every
  grading of a submission writes the same notebook.

The cell has no nbgrader metadata (no grade, solution or lock), so no score changes. The
autograded notebook is made anew from the submission by every autograde and old marked
cells are dropped first, so a regrade shows one rubric per answer. The feedback pages leave
it out (`HideRubrics`).
"""
import re
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import grade_id, is_written_answer, nbgrader_md

MARK = "vaecourse"  # metadata key of the grader's cell: {"rubric_for": grade_id}
HEADING = "**For the grader** (formgrader only, never shown to the student): model answer and rubric of `{gid}`."


def is_rubric_cell(cell) -> bool:
    """The grader's cell (marked in its metadata) that ShowRubrics inserts."""
    mark = cell.get("metadata", {}).get(MARK)
    return isinstance(mark, dict) and "rubric_for" in mark


def quoted(text: str) -> str:
    """Markdown text as a block quote: on the grading page it reads as set apart from the notebook."""
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


def rubric_cell(gid: str, source_text: str, taken: frozenset = frozenset()):
    """The grader's cell for answer `gid`. Its id comes from the grade id, not at random: two gradings
    of one submission (serial, --jobs, Dask, a regrade) write the same autograded notebook; a
    number is added while the id is `taken` by another cell (ids must be unique)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", gid)[:50] + "-rubric"
    cell_id = next(f"{base}{n or ''}" for n in range(len(taken) + 1) if f"{base}{n or ''}" not in taken)
    cell = nbformat.v4.new_markdown_cell(HEADING.format(gid=gid) + "\n\n" + quoted(source_text), id=cell_id)
    cell.metadata[MARK] = {"rubric_for": gid}
    return cell


def model_answers(source: Path) -> dict[str, str]:
    """grade_id -> the source text of each written answer of the released source notebook."""
    return {grade_id(cell): cell.source for cell in nbformat.read(source, as_version=4).cells
            if is_written_answer(cell)}


class ShowRubrics(NbGraderPreprocessor):
    """Insert the source's model answer and rubric under each written answer (see module doc)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                      f"{info['notebook']}.ipynb")
        answers = model_answers(source) if source.is_file() else {}
        if not source.is_file():
            self.log.warning("no released source at %s: the written answers are shown without their rubric", source)
        cells = []
        for cell in nb.cells:
            if is_rubric_cell(cell):
                if not nbgrader_md(cell):
                    continue  # a copy in the student's file: the grader's cell comes from the source only
                del cell.metadata[MARK]
            cells.append(cell)
        nb.cells, taken = [], frozenset(cell.get("id") for cell in cells)
        for cell in cells:
            nb.cells.append(cell)
            if is_written_answer(cell) and grade_id(cell) in answers:
                nb.cells.append(rubric_cell(grade_id(cell), answers[grade_id(cell)], taken))
        return nb, resources
