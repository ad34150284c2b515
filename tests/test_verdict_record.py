"""The result model of a judged test cell (vaecourse/verdicts/record.py): written once by the grader,
read back in one place, rendered the same wherever it is shown. Unit tests, no kernel (about 1 s)."""
import json

import nbformat

from vaecourse.nbg.hideverdictscore import HideVerdictScore
from vaecourse.verdicts.record import MIME, CellResult, PartResult, is_result_output

RESULT = CellResult((PartResult("shape and dtype", 1, 1), PartResult("values", 1.5, 0.0, "expected 0.5\nline two"),
                     PartResult("gradients", 0.5, 0.0, "no gradient")))


def test_the_result_is_the_execute_result_nbgrader_scores_and_reads_back_equal():
    output = RESULT.to_output(execution_count=7)
    nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[output])]))
    assert output["data"]["text/plain"] == "1.0"  # nbgrader's partial credit for the cell
    assert output["execution_count"] == 7 and is_result_output(output)
    assert CellResult.from_output(json.loads(json.dumps(output))) == RESULT  # through the notebook's JSON


def test_the_score_is_rounded_once_and_what_was_lost_is_one_line():
    thirds = CellResult(tuple(PartResult(f"p{i}", 1 / 3, 1 / 3) for i in range(3)))
    assert thirds.score == 1.0 and thirds.lost == [] and thirds.why_lost() == ""
    assert [part.name for part in RESULT.lost] == ["values", "gradients"]
    assert RESULT.why_lost() == "values: expected 0.5 (and 1 more part)"
    two_more = CellResult((*RESULT.parts, PartResult("edge", 1, 0.5, "")))
    assert two_more.why_lost() == "values: expected 0.5 (and 2 more parts)"


def test_anything_else_carries_no_result():
    record = RESULT.to_output()
    shown = {**record, "output_type": "display_data"}  # a kernel's own display of the mime type
    broken = {**record, "data": {"text/plain": "3.0", MIME: {"parts": [{"name": "x"}]}}}
    plain = nbformat.v4.new_output("execute_result", data={"text/plain": "3.0"})
    assert [CellResult.from_output(o) for o in (shown, broken, plain)] == [None, None, None]
    assert not is_result_output(shown) and is_result_output(broken)


def test_the_feedback_page_drops_the_bare_score_and_keeps_the_report():
    report = nbformat.v4.new_output("stream", name="stdout", text="Graded by the course ...\n")
    cell = nbformat.v4.new_code_cell("check()", outputs=[nbformat.from_dict(RESULT.to_output()), report])
    nb, _ = HideVerdictScore().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    assert nb.cells[0].outputs == [report]
