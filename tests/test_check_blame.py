"""A check blames the exercise that is wrong, and grading charges one mistake once (03_decoder, 04_elbo).

A student whose vae_loss is right but whose reconstruction_loss (4.1) or kl_divergence (4.2)
is not used to fail vae_loss's check with `expected 544.927, got -0.806853` and no word of
4.1 or 4.2. These tests run the real check cell of vae_loss (Exercise 4.4), and of ConvVAE
(Exercise 3.4, built from the Decoder of 3.2 and reparameterize of 3.3):

- as the student runs it (the notebook's check cell) it names the wrong exercise;
- the grader's verdict (vaecourse/verdicts/, its probe run here in the notebook's namespace as it
  runs in the kernel) judges the exercise with the course's own versions of the earlier ones, and
  the probe gives the student's back afterwards;
- the training cell after vae_loss stops at a negative loss and names the exercises to look at;

and the unit tests of vaecourse.checking.expect_earlier (stop_on_bad_loss: tests/test_runtime_and_checks.py).
The mistakes are those of the notebooks' catalogues (tests/test_mistakes_03.py, test_mistakes_04.py).
"""

import numpy as np
import pytest
import torch
from harness import load_master, load_student, probe_here
from test_mistakes_03 import CATALOGUE as CATALOGUE_03
from test_mistakes_04 import CATALOGUE

from vaecourse.checking import CheckFailed, expect_earlier
from vaecourse.masters import grade_id, is_test
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import judge

NB = "04_elbo"
EXERCISE = {"reconstruction_loss": "Exercise 4.1 reconstruction_loss", "kl_divergence": "Exercise 4.2 kl_divergence"}
EARLIER_MISTAKES = sorted(key for key, m in CATALOGUE.mistakes.items() if m.cell in EXERCISE)


def cell_source(nb, gid: str) -> str:
    return next(cell.source for cell in nb.cells if grade_id(cell) == gid)


def notebook_namespace(replace: dict[str, str] | None = None, nb: str = NB, check: str = "test_vae_loss") -> dict:
    """The master's code cells up to the check run in one namespace (its helpers imported
    from the package), with solution cells replaced by `replace` (grade_id -> source)."""
    namespace: dict = {}
    for cell in load_master(nb).cells:
        if grade_id(cell) == check:
            break
        if cell.cell_type == "code" and not is_test(cell):
            source = (replace or {}).get(grade_id(cell), cell.source)
            try:
                exec(compile(source, grade_id(cell) or cell.id, "exec"), namespace)  # noqa: S102 (the master's own cells)
            except Exception:
                if grade_id(cell):  # an exercise or the helpers must run; a demo cell may fail on a
                    raise           # mistake, as in the student's notebook (03's gradient demo on a detached std)
    return namespace


def with_mistake(key: str, more: dict[str, str] | None = None) -> dict:
    return notebook_namespace({CATALOGUE.mistakes[key].cell: CATALOGUE.edited_source(key), **(more or {})})


def run_check(namespace: dict, nb: str = NB, check: str = "test_vae_loss") -> None:
    """The notebook's check cell (what the student runs)."""
    exec(compile(cell_source(load_student(nb), check), check, "exec"), namespace)  # noqa: S102 (the notebook's own cell)


def verdict_here(namespace: dict, nb: str = NB, check: str = "test_vae_loss", seed: int = 0) -> dict:
    """The grader's verdict of `check`, its probe run in `namespace` as it runs in the student's kernel
    (what it would display is collected instead): part name -> (earned, points, message)."""
    verdict = verdicts_for(nb)[check]
    inputs = verdict.inputs(np.random.default_rng(seed))
    return {r.name: (r.earned, r.points, r.message) for r in judge(verdict, inputs, probe_here(verdict, inputs, namespace))}


def full_marks(parts: dict) -> bool:
    return all(earned == points for earned, points, _ in parts.values())


# ------------------------------------------------------------ the check cell of vae_loss

@pytest.mark.parametrize("mistake", EARLIER_MISTAKES)
def test_the_students_check_names_the_wrong_earlier_exercise(mistake):
    earlier = EXERCISE[CATALOGUE.mistakes[mistake].cell]
    number = " ".join(earlier.split()[:2])
    with pytest.raises(CheckFailed) as error:
        run_check(with_mistake(mistake))
    message = str(error.value)
    assert message.startswith("Exercise 4.4 vae_loss: your vae_loss may be right, but "), message
    assert f"{earlier} is not" in message and f"fix {number} first" in message, message


@pytest.mark.parametrize("mistake", EARLIER_MISTAKES)
def test_the_grader_judges_vae_loss_with_the_courses_versions_and_restores_the_students(mistake):
    namespace = with_mistake(mistake)
    name = CATALOGUE.mistakes[mistake].cell
    students = namespace[name]
    parts = verdict_here(namespace)
    assert full_marks(parts), parts  # a right vae_loss keeps its points
    assert namespace[name] is students, f"{name} was not given back after the verdict's probe"


def test_a_wrong_vae_loss_is_caught_for_its_own_mistake_beside_a_wrong_earlier_one():
    def both_wrong():
        return with_mistake("kl_wrong_sign", {"vae_loss": CATALOGUE.edited_source("loss_sum_over_batch")})

    parts = verdict_here(both_wrong())
    assert not full_marks(parts) and any("take the MEAN" in message for _, _, message in parts.values()), parts
    with pytest.raises(CheckFailed, match="Exercise 4.2 kl_divergence is not"):
        run_check(both_wrong())


def test_the_right_answers_pass_both_ways(capsys):
    run_check(notebook_namespace())
    assert capsys.readouterr().out.count("\u2713 Exercise 4.4 vae_loss") == 1
    assert full_marks(verdict_here(notebook_namespace()))


def test_the_training_cell_stops_at_a_negative_loss_and_names_the_exercises(offline_data, monkeypatch):
    monkeypatch.setattr("vaecourse.data.DATA_DIR", offline_data)
    namespace = with_mistake("log_likelihood_not_its_negative")
    namespace["QUICK"] = True
    master = load_master(NB)
    training = next(cell.source for cell in master.cells if "for epoch in range(num_epochs)" in cell.source)
    with pytest.raises(CheckFailed) as error:
        exec(compile(training, "the loss at work", "exec"), namespace)  # noqa: S102 (the master's own cell)
    message = str(error.value)
    assert message.startswith("Training stopped at epoch 1: expected a finite, non-negative loss"), message
    assert "sign or reduction error" in message and "Exercises 4.1, 4.2" in message, message
    assert not namespace["history"]["train"], "it must stop at the first step, before an epoch ends"


# ------------------------------------------------------------ the check cell of ConvVAE (03)

EXERCISE_03 = {"decoder": "Exercise 3.2 Decoder", "reparameterize": "Exercise 3.3 reparameterize"}
EARLIER_MISTAKES_03 = sorted(key for key, m in CATALOGUE_03.mistakes.items() if m.cell in EXERCISE_03)


CONV_VAE_CHECK = ("03_decoder", "test_conv_vae")  # (notebook, check cell)


def with_mistake_03(key: str) -> dict:
    return notebook_namespace({CATALOGUE_03.mistakes[key].cell: CATALOGUE_03.edited_source(key)}, *CONV_VAE_CHECK)


def run_conv_vae_check(namespace: dict) -> None:
    run_check(namespace, *CONV_VAE_CHECK)


@pytest.mark.parametrize("mistake", EARLIER_MISTAKES_03)
def test_the_students_conv_vae_check_passes_or_names_the_earlier_exercise(mistake):
    """A mistake in 3.2 or 3.3 that ConvVAE's own checks would notice is named as 3.2's or 3.3's;
    one they cannot see (a missing sigmoid keeps every shape) lets a right ConvVAE pass."""
    earlier = EXERCISE_03[CATALOGUE_03.mistakes[mistake].cell]
    try:
        run_conv_vae_check(with_mistake_03(mistake))
    except CheckFailed as error:
        assert str(error).startswith(f"Exercise 3.4 ConvVAE: your ConvVAE may be right, but {earlier} is not"), error


@pytest.mark.parametrize("mistake", ["channels_last_reshape", "deconv_padding_0", "latent_dim_hard_coded",
                                     "logvar_used_as_std", "torch_normal_blocks_gradients"])
def test_shape_value_and_gradient_mistakes_of_3_2_and_3_3_are_named(mistake):
    earlier = EXERCISE_03[CATALOGUE_03.mistakes[mistake].cell]
    with pytest.raises(CheckFailed, match=f"but {earlier} is not"):
        run_conv_vae_check(with_mistake_03(mistake))


@pytest.mark.parametrize("mistake", EARLIER_MISTAKES_03)
def test_the_grader_judges_conv_vae_with_the_courses_parts_and_restores_the_students(mistake):
    namespace = with_mistake_03(mistake)
    name = EXERCISE_03[CATALOGUE_03.mistakes[mistake].cell].split()[-1]  # "Exercise 3.2 Decoder" -> Decoder
    students = namespace[name]
    parts = verdict_here(namespace, *CONV_VAE_CHECK)
    assert full_marks(parts), parts  # a right ConvVAE keeps its points
    assert namespace[name] is students, f"{name} was not given back after the verdict's probe"


# ------------------------------------------------------------ expect_earlier

def _double(t):
    return 2 * t


CASES = [((torch.tensor([1.0, 2.0]),), torch.tensor([2.0, 4.0])), ((torch.zeros(3),), torch.zeros(3))]


def test_expect_earlier_passes_silently_when_the_earlier_function_is_right(capsys):
    expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", _double, CASES)
    expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", lambda t: 2 * t + 1e-5, CASES)  # within atol
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("wrong, found", [
    (lambda t: 3 * t, "(it gave 6 where 4 was expected)"),  # the worst entry
    (lambda t: (2 * t).sum(), "(it gave a tensor of shape () and dtype torch.float32 where shape (2,) was expected)"),
    (lambda t: [2.0, 4.0], "(it gave a list of 2 items where shape (2,) was expected)"),
    (lambda t: 2 * t + float("nan"), "(it gave nan where 2 was expected)"),
])
def test_expect_earlier_blames_the_earlier_exercise_and_says_what_it_gave(wrong, found):
    with pytest.raises(CheckFailed) as error:
        expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", wrong, CASES)
    assert str(error.value) == ("Exercise 9.3 total: your total may be right, but Exercise 9.1 double is not "
                                f"{found}: fix Exercise 9.1 first (its check above says how)")


def test_expect_earlier_counts_an_error_of_the_earlier_function_as_its_mistake():
    def stub(t):
        raise NotImplementedError("Exercise 9.1: implement double")

    with pytest.raises(CheckFailed, match=r"is not \(it raised NotImplementedError: Exercise 9.1: implement double\)"):
        expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", stub, CASES)


def test_expect_earlier_with_a_torch_size_checks_the_shape_only():
    expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", lambda t: torch.rand(2, 5), [((1,), torch.Size([2, 5]))])
    with pytest.raises(CheckFailed, match=r"it gave a tensor of shape \(5, 2\) .* where shape \(2, 5\) was expected"):
        expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", lambda t: torch.rand(5, 2),
                       [((1,), torch.Size([2, 5]))])


def test_expect_earlier_checks_every_case_and_compares_on_the_cpu_in_float64():
    only_first_right = lambda t: 2 * t if t.sum() > 0 else t + 1
    with pytest.raises(CheckFailed, match="it gave 1 where 0 was expected"):
        expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", only_first_right, CASES)
    expect_earlier("Exercise 9.3 total", "Exercise 9.1 double", lambda t: (2 * t).double(), CASES)
