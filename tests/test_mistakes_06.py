"""Catalogued mistakes in 06_latent_space, each autograded with real nbgrader: each loses points on
the right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission. Mistakes in different exercises are independent (each
exercise has its own test cell), so a submission carries at most one mistake per exercise: it must
lose points on exactly the tests of its mistakes.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "06_latent_space"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "encodes_a_sample_not_the_mean": Mistake(
        cell="encode_dataset",
        edit=[("mu, _ = model.encoder(x.to(device))",
                            "mu, logvar = model.encoder(x.to(device))\n            mu = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)")],
        test="test_encode_dataset",
        message="not a sample"),
    "encodes_logvar": Mistake(
        cell="encode_dataset",
        edit=[("mu, _ = model.encoder(x.to(device))", "_, mu = model.encoder(x.to(device))")],
        test="test_encode_dataset",
        message="keep the FIRST"),
    "encodes_with_gradients": Mistake(
        cell="encode_dataset",
        edit=[("    with torch.no_grad():\n", "    if True:\n")],
        test="test_encode_dataset",
        message="torch.no_grad()"),
    "encodes_the_last_batch_only": Mistake(
        cell="encode_dataset",
        edit=[("return torch.cat(mus), torch.cat(labels)", "return mus[-1], labels[-1]")],
        test="test_encode_dataset",
        message="EVERY batch"),
    "grid_upside_down": Mistake(
        cell="latent_grid",
        edit=[("values.flip(0), values", "values, values")],
        test="test_latent_grid",
        message="upside down"),
    "grid_missing_endpoint": Mistake(
        cell="latent_grid",
        edit=[("values = torch.linspace(-limit, limit, n)",
                         "values = torch.arange(n) * (2 * limit / n) - limit")],
        test="test_latent_grid",
        message="include both endpoints"),
    "grid_columns_swapped": Mistake(
        cell="latent_grid",
        edit=[("torch.stack([z1.flatten(), z2.flatten()], dim=1)",
                         "torch.stack([z2.flatten(), z1.flatten()], dim=1)")],
        test="test_latent_grid",
        message="z1 first"),
    "grid_column_major": Mistake(
        cell="latent_grid",
        edit=[('indexing="ij"', 'indexing="xy"')],
        test="test_latent_grid",
        message="row-major"),
    "interpolation_missing_endpoint": Mistake(
        cell="interpolate",
        edit=[("t = torch.linspace(0, 1, steps, dtype=z_start.dtype, device=z_start.device).unsqueeze(1)",
                         "t = (torch.arange(steps, dtype=z_start.dtype) / steps).unsqueeze(1)")],
        test="test_interpolate",
        message="torch.linspace(0, 1, steps) includes 1"),
    "interpolation_backwards": Mistake(
        cell="interpolate",
        edit=[("z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)",
                         "z_end.unsqueeze(0) + t * (z_start - z_end).unsqueeze(0)")],
        test="test_interpolate",
        message="not backwards"),
    "interpolation_transposed": Mistake(
        cell="interpolate",
        edit=[("return z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)",
                         "return (z_start.unsqueeze(0) + t * (z_end - z_start).unsqueeze(0)).T")],
        test="test_interpolate",
        message="(steps, latent_dim)"),
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

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=6, grouping="by_exercise", replace_count=1, assertion_errors_count=True, min_mistakes=10)


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
