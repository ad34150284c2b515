"""Unit tests of the grading command's parts that need no kernel: repair, feedback, output limits."""
import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from harness import grade_id, load_student, page_text
from simulated_class import class_submissions, duplicated, filled, first_exercise, reordered, stripped_metadata, without_cell
from vaecourse.masters import MasterError, check_no_hidden_tests
from vaecourse.nbg.capoutput import CapOutput
from vaecourse.nbg.shorterrors import ShortErrors, error_line
from vaecourse.nbg.stderrnotcounted import STDERR_LABEL, StderrNotCounted
from vaecourse.grading.repair import CannotGrade, repair

NB = "01_mnist"


def release():
    return load_student(NB)


def order(nb):
    return [grade_id(c) for c in nb.cells if grade_id(c)]


def as_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode() if not isinstance(nb, (bytes, str)) else (nb if isinstance(nb, bytes) else nb.encode())


def test_an_intact_submission_is_left_as_it_is():
    perfect = filled(NB)
    result = repair(as_bytes(perfect), release())
    assert result.notes == [] and result.test_notes == {}
    assert [c.source for c in result.nb.cells] == [c.source for c in perfect.cells]
    assert [c.metadata.get("nbgrader") for c in result.nb.cells] == [c.metadata.get("nbgrader") for c in perfect.cells]


def test_stripped_metadata_and_ids_are_restored_by_content():
    perfect = filled(NB)
    result = repair(stripped_metadata(perfect).encode(), release())
    assert order(result.nb) == order(release())
    for got, want in zip(result.nb.cells, perfect.cells):
        assert got.source == want.source
        assert got.metadata.get("nbgrader") == want.metadata.get("nbgrader")
    assert any("metadata restored" in note for note in result.notes)


def test_reordered_cells_go_back_in_release_order():
    gid, _, tests = first_exercise(NB)
    result = repair(as_bytes(reordered(filled(NB), gid, tests[0])), release())
    assert order(result.nb) == order(release())
    assert [c.source for c in result.nb.cells] == [c.source for c in filled(NB).cells]
    assert any("out of order" in note for note in result.notes)


def test_duplicates_keep_the_filled_copy_and_drop_the_stub_copy():
    gid, _, _ = first_exercise(NB)
    perfect = filled(NB)
    result = repair(as_bytes(duplicated(perfect, release(), gid)), release())
    graded = [c for c in result.nb.cells if grade_id(c) == gid]
    assert len(graded) == 1 and graded[0].source == next(c.source for c in perfect.cells if grade_id(c) == gid)
    stub = next(c.source for c in release().cells if grade_id(c) == gid)
    assert stub not in [c.source for c in result.nb.cells]
    assert len({c.id for c in result.nb.cells}) == len(result.nb.cells)


def test_a_deleted_test_cell_is_restored():
    _, _, tests = first_exercise(NB)
    result = repair(as_bytes(without_cell(filled(NB), tests[0])), release())
    assert order(result.nb) == order(release())
    assert any(f"test cell {tests[0]} was deleted" in note for note in result.notes)


def test_a_deleted_answer_comes_back_as_the_stub_and_its_tests_say_could_not_grade():
    gid, _, tests = first_exercise(NB)
    result = repair(as_bytes(without_cell(filled(NB), gid)), release())
    assert order(result.nb) == order(release())
    assert result.test_notes == {test: f"could not grade: answer cell {gid} not found in the submission "
                                       "(deleted or renamed)" for test in tests}


def test_a_renamed_cell_without_metadata_is_matched_by_the_function_it_defines():
    gid, function, _ = first_exercise(NB)
    nb = filled(NB)
    for cell in nb.cells:
        if grade_id(cell) == gid:
            del cell.metadata["nbgrader"]
            cell.id = "my-own-cell"
    result = repair(as_bytes(nb), release())
    cell = next(c for c in result.nb.cells if grade_id(c) == gid)
    assert f"def {function}" in cell.source and "NotImplementedError" not in cell.source


@pytest.mark.parametrize("data, words", [
    (b'{"cells": [', "invalid notebook JSON"),
    (b"\xff\xfe\x00binary", "not a text file"),
    (b'{"hello": 1}', "not a Jupyter notebook"),
    (b"[]", "not a Jupyter notebook"),
])
def test_unreadable_submissions_say_why(data, words):
    with pytest.raises(CannotGrade, match=words):
        repair(data, release())


def test_every_simulated_submission_is_repaired_or_refused_with_a_reason():
    for student, (nb, exp) in class_submissions(NB).items():
        if nb is None:
            continue
        try:
            result = repair(as_bytes(nb), release())
        except CannotGrade as error:
            assert exp.status == "could not grade" and exp.reason in str(error), student
            continue
        assert order(result.nb) == order(release()), student
        assert exp.note in " ".join(result.notes), (student, result.notes)


def test_feedback_errors_are_one_line_without_a_traceback():
    cell = new_code_cell('"""Checks f."""\nvisible_check()\n')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_f", "points": 3, "solution": False, "locked": True}
    cell.outputs = [new_output("error", ename="AssertionError", evalue="\x1b[31mExercise 9.1 f: expected 42, got 41\x1b[0m",
                               traceback=["\x1b[31mTraceback\x1b[0m", "helper_frame(secret_path)", "AssertionError"]),
                    new_output("stream", name="stdout", text="checked 3 images\n")]
    nb, _ = ShortErrors().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: Exercise 9.1 f: expected 42, got 41"]
    assert nb.cells[0].outputs[1].text == "checked 3 images\n"  # other outputs as they were
    assert nb.cells[0].source == '"""Checks f."""\nvisible_check()\n'
    bare = new_output("error", ename="KeyboardInterrupt", evalue="", traceback=["long", "trace"])
    assert error_line(bare) == "KeyboardInterrupt"


def test_a_master_with_a_hidden_test_region_is_refused():
    """The hidden tests are the grader's verdicts; a region left in a master would reach every feedback page."""
    master = nbformat.v4.new_notebook(cells=[new_code_cell(
        "x = 1\n### BEGIN HIDDEN TESTS\nassert compute(7) == 49\n### END HIDDEN TESTS\n")])
    with pytest.raises(MasterError, match="code cell 0 holds a '### BEGIN HIDDEN TESTS' region.*vaecourse/verdicts/"):
        check_no_hidden_tests(master, "09_vq_vae")
    check_no_hidden_tests(nbformat.v4.new_notebook(cells=[new_code_cell("x = 1\n")]), "09_vq_vae")


def test_page_text():
    page = '<span class="k">assert</span> <span class="n">compute</span>(7) == 49, &#39;hidden&#39;'
    assert page_text(page) == "assert compute(7) == 49, 'hidden'"


def test_stderr_in_a_test_cell_is_kept_but_not_counted():
    from nbgrader.utils import determine_grade

    cell = new_code_cell("check()")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 2, "solution": False, "locked": True}
    cell.outputs = [new_output("stream", name="stderr", text="UserWarning: slow\n")]
    assert determine_grade(copy.deepcopy(cell))[0] == 0  # plain nbgrader
    nb, _ = StderrNotCounted().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    assert determine_grade(nb.cells[0])[0] == 2
    assert nb.cells[0].outputs[0].text == STDERR_LABEL + "UserWarning: slow\n"
    failing = copy.deepcopy(cell)
    failing.outputs.append(new_output("error", ename="AssertionError", evalue="no", traceback=[]))
    nb, _ = StderrNotCounted().preprocess(nbformat.v4.new_notebook(cells=[failing]), {})
    assert determine_grade(nb.cells[0])[0] == 0


def test_one_huge_line_of_output_is_cut():
    cell = new_code_cell("print('x' * 50_000_000)")
    cell.outputs = [new_output("stream", name="stdout", text="x" * 50_000_000 + "\n")]
    nb, _ = CapOutput(max_chars=1000).preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    assert len(nb.cells[0].outputs[0].text) < 1100 and "truncated" in nb.cells[0].outputs[0].text


def test_a_huge_print_is_cut_the_same_however_the_kernel_split_it():
    """A kernel flushes a long print on a clock: 3 stream messages on a quiet machine, 40 on a busy one."""
    text = "".join(f"line {i}\n" for i in range(200_000))

    def capped(pieces: int):
        cell = new_code_cell("for i in range(200_000): print('line', i)")
        size = -(-len(text) // pieces)
        cell.outputs = [new_output("stream", name="stdout", text=text[i:i + size]) for i in range(0, len(text), size)]
        cell.outputs.append(new_output("execute_result", data={"text/plain": "0"}, execution_count=1))
        nb, _ = CapOutput(max_chars=1000).preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
        return nb.cells[0].outputs

    assert capped(3) == capped(40)
    assert len(capped(40)) == 2 and capped(40)[0].text.count("truncated") == 1


def test_a_killed_job_process_names_its_signal():
    from vaecourse.grading.jobs import died_reason

    assert "killed (signal 9: SIGKILL)" in died_reason(-9) and "out of memory" in died_reason(-9)
    assert "killed (signal 15: SIGTERM)" in died_reason(-15) and "memory" not in died_reason(-15)
    assert "exit code 1" in died_reason(1) and "memory" not in died_reason(1)
