"""Catalogued mistakes in 06_latent_space, each autograded with real nbgrader: each loses points on
the right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission. Mistakes in different exercises are independent (each
exercise has its own test cell), so a submission carries at most one mistake per exercise: it must
lose points on exactly the tests of its mistakes.
"""
from itertools import zip_longest

import pytest

from harness import autograde, filled_student, solution_sources

NB = "06_latent_space"
PREFIXES = ("CheckFailed: Exercise 6.", "AssertionError: Exercise 6.")

# name -> (grade_id of the solution, [(text in the master's solution, replacement), ...],
#          test that must lose points, words its message must contain)
MISTAKES = {
    "encodes_a_sample_not_the_mean": (
        "encode_dataset", [("mu, _ = model.encoder(x.to(device))",
                            "mu, logvar = model.encoder(x.to(device))\n            mu = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)")],
        "test_encode_dataset", "not a sample"),
    "encodes_logvar": (
        "encode_dataset", [("mu, _ = model.encoder(x.to(device))", "_, mu = model.encoder(x.to(device))")],
        "test_encode_dataset", "keep the FIRST"),
    "encodes_with_gradients": (
        "encode_dataset", [("    with torch.no_grad():\n", "    if True:\n")], "test_encode_dataset", "torch.no_grad()"),
    "encodes_the_last_batch_only": (
        "encode_dataset", [("return torch.cat(mus), torch.cat(labels)", "return mus[-1], labels[-1]")],
        "test_encode_dataset", "EVERY batch"),
    "grid_upside_down": (
        "latent_grid", [("values.flip(0), values", "values, values")], "test_latent_grid", "upside down"),
    "grid_missing_endpoint": (
        "latent_grid", [("values = torch.linspace(-limit, limit, n)",
                         "values = torch.arange(n) * (2 * limit / n) - limit")],
        "test_latent_grid", "include both endpoints"),
    "grid_columns_swapped": (
        "latent_grid", [("torch.stack([z1.flatten(), z2.flatten()], dim=1)",
                         "torch.stack([z2.flatten(), z1.flatten()], dim=1)")], "test_latent_grid", "z1 first"),
    "grid_column_major": (
        "latent_grid", [('indexing="ij"', 'indexing="xy"')], "test_latent_grid", "row-major"),
    "interpolation_missing_endpoint": (
        "interpolate", [("t = torch.linspace(0, 1, steps, dtype=z_start.dtype, device=z_start.device).unsqueeze(1)",
                         "t = (torch.arange(steps, dtype=z_start.dtype) / steps).unsqueeze(1)")],
        "test_interpolate", "torch.linspace(0, 1, steps) includes 1"),
    "interpolation_backwards": (
        "interpolate", [("z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)",
                         "z_end.unsqueeze(0) + t * (z_start - z_end).unsqueeze(0)")],
        "test_interpolate", "not backwards"),
    "interpolation_transposed": (
        "interpolate", [("return z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)",
                         "return (z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)).T")],
        "test_interpolate", "(steps, latent_dim)"),
}

CORRECT = {
    # The full forward pass (its mu output), detached by hand; labels as Python ints; a grid from two
    # loops; torch.lerp for the line.
    "loops_and_lerp": {
        "encode_dataset": (
            "import torch\n\n\n"
            "def encode_dataset(model, loader):\n"
            "    model.eval()\n"
            "    where = next(model.parameters()).device\n"
            "    mus, ys = [], []\n"
            "    for x, y in loader:\n"
            "        _, mu, _ = model(x.to(where))\n"
            "        mus.append(mu.detach().cpu())\n"
            "        ys.extend(int(v) for v in y)\n"
            "    return torch.cat(mus), torch.tensor(ys)\n"),
        "latent_grid": (
            "def latent_grid(n, limit=3.0):\n"
            "    step = 2 * limit / (n - 1)\n"
            "    points = []\n"
            "    for row in range(n):\n"
            "        for col in range(n):\n"
            "            points.append([-limit + col * step, limit - row * step])\n"
            "    return torch.tensor(points)\n"),
        "interpolate": (
            "def interpolate(z_start, z_end, steps):\n"
            "    weights = torch.linspace(0.0, 1.0, steps).to(z_start.dtype)[:, None]\n"
            "    return torch.lerp(z_start.expand(steps, -1), z_end.expand(steps, -1), weights)\n"),
    },
    # Vectorised differently: cartesian_prod, and a weighted sum of the two ends.
    "cartesian": {
        "latent_grid": (
            "def latent_grid(n, limit=3.0):\n"
            "    axis = torch.linspace(-limit, limit, n)\n"
            "    pairs = torch.cartesian_prod(torch.flip(axis, [0]), axis)  # (z2, z1), z1 fastest\n"
            "    return pairs[:, [1, 0]]\n"),
        "interpolate": (
            "def interpolate(z_start, z_end, steps):\n"
            "    t = torch.linspace(0, 1, steps).to(z_start)\n"
            "    return torch.stack([(1 - w) * z_start + w * z_end for w in t])\n"),
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


def test_catalogue_is_large_and_covers_every_exercise():
    assert len(MISTAKES) >= 10
    assert {gid for gid, _, _, _ in MISTAKES.values()} == {"encode_dataset", "latent_grid", "interpolate"}
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
