"""Attacks from inside the student's kernel earn nothing once the grader judges (issue #14).

One real nbgrader run, in the grading sandbox when this machine has one, grades 04_elbo for the
perfect notebook, an honest but wrong one (`kernel_attacks.WRONG`) and one wrong notebook per
attack of tests/kernel_attacks.py: patched comparisons, input and AST transformers, a silenced
exception handler with a post_run_cell hook, a forged partial-credit result, a patched
Tensor.numpy, a cached reference, a function that detects the probe and forges its channel, and
a tensor subclass that agrees with everything. No attack may earn a part the wrong notebook does
not earn. The same attacked notebooks graded by plain nbgrader (its tests in the kernel) show
that the attacks are real: there four of them earn 8 to 11 of 11 points, the wrong notebook 0.
"""
import copy

import pytest
from harness import PLAIN_NBGRADER, autograde, filled_student
from kernel_attacks import ATTACKS, WRONG

from vaecourse.masters import is_answer
from vaecourse.sandbox import probe

NB = "04_elbo"
# the attacks that earn points from plain nbgrader (measured: 11, 11, 11 and 8 of 11; the wrong answers alone 0)
FOOL_PLAIN_NBGRADER = ("input_transformer", "ast_transformer", "custom_exc_and_hook", "forged_partial_credit")


def attacked(attack):
    nb = filled_student(NB, {**WRONG, **attack.answers})
    if attack.code:
        first = next(cell for cell in nb.cells if is_answer(cell) and cell.cell_type == "code")
        first.source += "\n\n" + attack.code.strip("\n") + "\n"
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    submissions = {"perfect": filled_student(NB), "wrong": filled_student(NB, WRONG)}
    submissions.update({name: attacked(attack) for name, attack in ATTACKS.items()})
    with pytest.MonkeyPatch.context() as patch:
        if probe().available:
            patch.setenv("VAE_COURSE_TEST_SANDBOX", "1")
        judged, log = autograde(NB, submissions, tmp_path_factory.mktemp("judged"), offline_data)
        controls = {k: copy.deepcopy(v) for k, v in submissions.items() if k == "wrong" or k in FOOL_PLAIN_NBGRADER}
        plain, plain_log = autograde(NB, controls, tmp_path_factory.mktemp("plain"), offline_data,
                                     extra_config=PLAIN_NBGRADER)
    assert set(judged) == set(submissions), log
    assert set(plain) == set(controls), plain_log
    return judged, plain


def earned(result, gid):
    return {part["name"]: part["earned"] for part in result.parts[gid]}


@pytest.mark.slow
def test_the_wrong_notebook_earns_only_the_shape_parts_and_the_perfect_one_everything(graded):
    judged, _ = graded
    assert judged["perfect"].total() == judged["perfect"].max_total() == 11
    wrong = judged["wrong"]
    assert 0 < wrong.total() < 6, {gid: earned(wrong, gid) for gid in wrong.parts}
    for gid in wrong.parts:
        lost = [p for p in wrong.parts[gid] if p["earned"] < p["points"]]
        assert lost and all(p["message"].startswith("Exercise 4.") for p in lost), wrong.parts[gid]


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_attack_earns_no_part_the_wrong_notebook_did_not(graded, attack):
    judged, _ = graded
    wrong, result = judged["wrong"], judged[attack]
    print(f"\n{attack}: {result.total():g} / 11 judged by the grader; the wrong notebook alone: {wrong.total():g}")
    assert sorted(result.parts) == sorted(wrong.parts)
    for gid in wrong.parts:
        ceiling, got = earned(wrong, gid), earned(result, gid)
        gained = {name: points for name, points in got.items() if points > ceiling[name]}
        assert not gained, f"{attack} earned {gained} on {gid}, which the wrong answers alone do not"
        assert result.scores[gid].score == sum(got.values()), (gid, result.scores[gid], got)


@pytest.mark.slow
def test_the_attacks_are_real_plain_nbgrader_gives_them_points(graded):
    """Judged in the kernel, the hook and transformer attacks earn what the wrong answers alone do not."""
    _, plain = graded
    print("\nplain nbgrader:", {name: plain[name].total() for name in FOOL_PLAIN_NBGRADER}, "wrong alone:",
          plain["wrong"].total())
    for name in FOOL_PLAIN_NBGRADER:
        assert plain[name].total() >= plain["wrong"].total() + 5, (name, plain[name].total())
