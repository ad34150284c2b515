"""HideRubrics: a feedback page without the grader's model answers and rubrics.

`ShowRubrics` puts them in the autograded notebook, under each written answer, for
formgrader's grading page; the feedback page is made from the same notebook, so before the
HTML export every cell it marked is removed.
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.nbg.showrubrics import is_rubric_cell


class HideRubrics(NbGraderPreprocessor):
    """Remove the grader's rubric cells from the notebook the feedback page is made of."""

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not is_rubric_cell(cell)]
        return nb, resources
