"""Catalogued mistakes in 01_mnist, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives get full marks."""
import pytest

from harness import autograde, filled_student, mutate

NB = "01_mnist"

# name -> (grade_id of the solution, text in the master's solution, replacement,
#          test that must lose points, words the visible check's message must contain)
MISTAKES = {
    "bincount_without_minlength": (
        "count_per_class", "torch.bincount(labels.long().flatten(), minlength=10)",
        "torch.bincount(labels.long().flatten())", "test_count_per_class", "minlength=10"),
    "float_counts": (
        "count_per_class", "torch.bincount(labels.long().flatten(), minlength=10)",
        "torch.bincount(labels.long().flatten(), minlength=10).float()", "test_count_per_class", "LongTensor"),
    "last_image_not_first": (
        "first_image_per_digit", "if label not in found:", "if True:", "test_first_image_per_digit",
        "FIRST image"),
    "digits_in_found_order": (
        "first_image_per_digit", "torch.stack([found[d] for d in range(10)])", "torch.stack(list(found.values()))",
        "test_first_image_per_digit", "digit order"),
    "mean_over_all_images": (
        "mean_image_per_digit", "images[labels == d].float().mean(dim=0)", "images.float().mean(dim=0)",
        "test_mean_image_per_digit", "only the images whose label is d"),
    "sum_not_mean": (
        "mean_image_per_digit", "images[labels == d].float().mean(dim=0)", "images[labels == d].float().sum(dim=0)",
        "test_mean_image_per_digit", "divide"),
}

CORRECT = {
    "loop_counts": {"count_per_class": (
        "def count_per_class(labels):\n"
        "    counts = torch.zeros(10, dtype=torch.long)\n"
        "    for label in labels.tolist():\n"
        "        counts[label] += 1\n"
        "    return counts\n")},
    "one_hot_means": {"mean_image_per_digit": (
        "def mean_image_per_digit(images, labels):\n"
        "    one_hot = torch.nn.functional.one_hot(labels, 10).float()  # (N, 10)\n"
        "    sums = torch.einsum('nk,nchw->kchw', one_hot, images.float())\n"
        "    return sums / one_hot.sum(0).view(10, 1, 1, 1)\n"),
        "first_image_per_digit": (
        "def first_image_per_digit(dataset):\n"
        "    rows = [None] * 10\n"
        "    i = 0\n"
        "    while any(r is None for r in rows):\n"
        "        x, y = dataset[i]\n"
        "        if rows[y] is None:\n"
        "            rows[y] = x\n"
        "        i += 1\n"
        "    return torch.stack(rows).float()\n")},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    submissions = {"perfect": filled_student(NB)}
    for key, (gid, old, new, _, _) in MISTAKES.items():
        submissions[f"mistake_{key}"] = mutate(NB, gid, old, new)
    for key, replace in CORRECT.items():
        submissions[f"correct_{key}"] = filled_student(NB, replace)
    result, log = autograde(NB, submissions, tmp_path_factory.mktemp("grading"), offline_data)
    missing = set(submissions) - set(result)
    assert not missing, f"nbgrader did not grade {missing}:\n{log}"
    return result


@pytest.mark.slow
def test_perfect_submission_gets_full_marks(graded):
    perfect = graded["perfect"]
    assert perfect.max_total() == 6
    assert perfect.total() == perfect.max_total(), perfect.errors


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_loses_points_on_the_right_test_with_a_teaching_message(graded, key):
    _, _, _, test_id, words = MISTAKES[key]
    result = graded[f"mistake_{key}"]
    assert result.lost() == [test_id], f"expected to lose points on {test_id} only, lost {result.lost()}"
    message = result.errors.get(test_id, "")
    assert message.startswith("CheckFailed: Exercise 1."), message
    assert words in message, f"the message should name the likely cause ({words!r}): {message}"


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CORRECT))
def test_correct_alternative_gets_full_marks(graded, key):
    result = graded[f"correct_{key}"]
    assert result.total() == result.max_total() == 6, result.errors
