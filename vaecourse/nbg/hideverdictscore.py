"""HideVerdictScore: a feedback page shows a verdict's report, not the bare number it was scored from.

`VerdictExecute` puts a graded test cell's score first among its outputs as an `execute_result`
(nbgrader reads its partial credit there). On the page the cell's heading already says
"Exercise 4.2 kl_divergence — 2.5 / 3" and the report under it says which parts earned what;
a bare `2.5` as the cell's output would only puzzle, so it goes. The autograded notebook keeps it.
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.verdicts.record import is_result_output


class HideVerdictScore(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.get("outputs", []) if not is_result_output(output)]
        return cell, resources
