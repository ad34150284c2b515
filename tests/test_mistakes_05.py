"""Catalogued mistakes in 05_training, each autograded with real nbgrader: each loses points on the
right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission (a notebook run costs ~20 s here). Mistakes in different
exercises are independent (each exercise has its own test cell), so a submission carries at most
one mistake per exercise: it must lose points on exactly the tests of its mistakes.
"""
from itertools import zip_longest

import pytest

from harness import autograde, filled_student, solution_sources

NB = "05_training"
PREFIXES = ("CheckFailed: Exercise 5.", "AssertionError: Exercise 5.")

# name -> (grade_id of the solution, [(text in the master's solution, replacement), ...],
#          test that must lose points, words its message must contain)
MISTAKES = {
    "no_zero_grad": (
        "train_one_epoch", [("        optimizer.zero_grad()\n", "")], "test_train_one_epoch", "zero_grad()"),
    "no_optimizer_step": (
        "train_one_epoch", [("        optimizer.step()\n", "")], "test_train_one_epoch", "optimizer.step()"),
    "zero_grad_between_backward_and_step": (
        "train_one_epoch", [("        optimizer.zero_grad()\n        loss.backward()\n",
                             "        loss.backward()\n        optimizer.zero_grad()\n")],
        "test_train_one_epoch", "not between backward and step"),
    "summed_not_averaged": (
        "train_one_epoch", [("    return total / count", "    return total")], "test_train_one_epoch",
        "divide the summed loss by the number of images"),
    "mean_of_batch_means": (
        "train_one_epoch", [("total += loss.item() * x.shape[0]", "total += loss.item()"),
                            ("count += x.shape[0]", "count += 1")],
        "test_train_one_epoch", "weight each batch by its size"),
    "ignores_beta": (
        "train_one_epoch", [("vae_loss(x_hat, x, mu, logvar, beta=beta)", "vae_loss(x_hat, x, mu, logvar)")],
        "test_train_one_epoch", "beta=3.0"),
    "evaluation_trains": (
        "evaluate", [("    model.eval()\n", "    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                      "    return train_one_epoch(model, loader, optimizer, beta)\n")],
        "test_evaluate", "must not train"),
    "evaluation_without_no_grad": (
        "evaluate", [("    with torch.no_grad():\n", "    if True:\n")], "test_evaluate", "torch.no_grad()"),
    "evaluation_without_eval_mode": (
        "evaluate", [("    model.eval()\n", "")], "test_evaluate", "model.eval()"),
    "evaluation_at_z_equals_mu": (
        "evaluate", [("x_hat, mu, logvar = model(x)  # z is sampled inside, as in training",
                      "mu, logvar = model.encoder(x)\n            x_hat = model.decoder(mu)")],
        "test_evaluate", "do not decode z = mu"),
    "evaluation_mean_of_batch_means": (
        "evaluate", [(".item() * x.shape[0]", ".item()"), ("count += x.shape[0]", "count += 1")],
        "test_evaluate", "weight each batch's mean by its number of images"),
    "evaluation_summed": (
        "evaluate", [("    return total / count", "    return total")], "test_evaluate", "or sum them"),
}

CORRECT = {
    # Per-image terms summed by hand, gradients cleared at the end of the step through the model,
    # the loss accumulated as a tensor and turned into a float once.
    "terms_by_hand": {
        "train_one_epoch": (
            "import torch\n\n\n"
            "def train_one_epoch(model, loader, optimizer, beta=1.0):\n"
            "    model.train()\n"
            "    where = next(model.parameters()).device\n"
            "    sums, sizes = [], []\n"
            "    for batch in loader:\n"
            "        x = batch[0].to(where)\n"
            "        x_hat, mu, logvar = model(x)\n"
            "        per_image = reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar)  # (B,)\n"
            "        per_image.mean().backward()\n"
            "        optimizer.step()\n"
            "        model.zero_grad(set_to_none=True)\n"
            "        sums.append(per_image.detach().sum())\n"
            "        sizes.append(len(x))\n"
            "    return float(torch.stack(sums).sum() / sum(sizes))\n"),
        "evaluate": (
            "def evaluate(model, loader, beta=1.0):\n"
            "    model.eval()\n"
            "    total, n = 0.0, 0\n"
            "    with torch.inference_mode():\n"
            "        for x, _ in loader:\n"
            "            x = x.to(next(model.parameters()).device)\n"
            "            mu, logvar = model.encoder(x)\n"
            "            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
            "            x_hat = model.decoder(z)\n"
            "            total += (reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar)).sum().item()\n"
            "            n += len(x)\n"
            "    return total / n\n"),
    },
    # Running mean updated per batch; evaluation with torch.set_grad_enabled(False) and the loss of vae_loss.
    "running_mean": {
        "train_one_epoch": (
            "import torch\n\n\n"
            "def train_one_epoch(model, loader, optimizer, beta=1.0):\n"
            "    model.train()\n"
            "    mean, seen = 0.0, 0\n"
            "    for i, (x, y) in enumerate(loader):\n"
            "        x = x.to(next(model.parameters()).device)\n"
            "        optimizer.zero_grad(set_to_none=False)\n"
            "        x_hat, mu, logvar = model(x)\n"
            "        loss = vae_loss(x_hat, x, mu, logvar, beta)\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        seen += x.size(0)\n"
            "        mean += (loss.item() - mean) * x.size(0) / seen\n"
            "    return mean\n"),
        "evaluate": (
            "def evaluate(model, loader, beta=1.0):\n"
            "    model.eval()\n"
            "    losses, counts = [], []\n"
            "    with torch.set_grad_enabled(False):\n"
            "        for x, _ in loader:\n"
            "            x_hat, mu, logvar = model(x)\n"
            "            losses.append(vae_loss(x_hat, x, mu, logvar, beta=beta) * len(x))\n"
            "            counts.append(len(x))\n"
            "    return (sum(losses) / sum(counts)).item()\n"),
    },
}


def submission_with(mistakes: list[str]):
    """The filled student notebook with the named mistakes applied (at most one per solution cell)."""
    sources = solution_sources_cached()
    replace = {}
    for key in mistakes:
        gid, edits, _, _ = MISTAKES[key]
        assert gid not in replace, f"two mistakes in {gid}"
        source = sources[gid]
        for old, new in edits:
            assert old in source, f"mistake {key}: {old!r} is not in the master's solution of {gid}:\n{source}"
            source = source.replace(old, new, 1)
        replace[gid] = source
    return filled_student(NB, replace)


_SOURCES = {}


def solution_sources_cached():
    if not _SOURCES:
        from harness import load_master
        _SOURCES.update(solution_sources(load_master(NB)))
    return _SOURCES


def mistake_groups() -> list[list[str]]:
    """Mistakes combined into submissions: the k-th mistake of every exercise together."""
    by_exercise = {}
    for key, (gid, _, _, _) in MISTAKES.items():
        by_exercise.setdefault(gid, []).append(key)
    return [[key for key in group if key] for group in zip_longest(*by_exercise.values())]


def submission_name(group: list[str]) -> str:
    return "mistakes_" + "__".join(group)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data, monkeypatch_module):
    monkeypatch_module.setenv("VAE_COURSE_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
    submissions = {"perfect": filled_student(NB)}
    for group in mistake_groups():
        submissions[submission_name(group)] = submission_with(group)
    for key, replace in CORRECT.items():
        submissions[f"correct_{key}"] = filled_student(NB, replace)
    result, log = autograde(NB, submissions, tmp_path_factory.mktemp("grading"), offline_data)
    missing = set(submissions) - set(result)
    assert not missing, f"nbgrader did not grade {missing}:\n{log}"
    return result


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_catalogue_is_large_and_covers_both_exercises():
    assert len(MISTAKES) >= 12
    assert {gid for gid, _, _, _ in MISTAKES.values()} == {"train_one_epoch", "evaluate"}
    for key in MISTAKES:  # every edit still applies to the current master
        submission_with([key])


@pytest.mark.slow
def test_perfect_submission_gets_full_marks(graded):
    perfect = graded["perfect"]
    assert perfect.max_total() == 6
    assert perfect.total() == perfect.max_total(), perfect.errors


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_loses_points_on_the_right_test_with_a_teaching_message(graded, key):
    group = next(g for g in mistake_groups() if key in g)
    result = graded[submission_name(group)]
    expected_lost = sorted({MISTAKES[k][2] for k in group})
    assert result.lost() == expected_lost, f"{group}: expected to lose points on {expected_lost}, lost {result.lost()}"
    _, _, test_id, words = MISTAKES[key]
    message = result.errors.get(test_id, "")
    assert message.startswith(PREFIXES), message
    assert words in message, f"the message should name the likely cause ({words!r}): {message}"


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CORRECT))
def test_correct_alternative_gets_full_marks(graded, key):
    result = graded[f"correct_{key}"]
    assert result.total() == result.max_total() == 6, result.errors
