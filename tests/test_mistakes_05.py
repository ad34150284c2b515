"""Catalogued mistakes in 05_training, each autograded with real nbgrader: each loses points on the
right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission (a notebook run costs ~20 s here). Mistakes in different
exercises are independent (each exercise has its own test cell), so a submission carries at most
one mistake per exercise: it must lose points on exactly the tests of its mistakes.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "05_training"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "no_zero_grad": Mistake(
        cell="train_one_epoch",
        edit=[("        optimizer.zero_grad()\n", "")],
        test="test_train_one_epoch",
        message="zero_grad()"),
    "no_optimizer_step": Mistake(
        cell="train_one_epoch",
        edit=[("        optimizer.step()\n", "")],
        test="test_train_one_epoch",
        message="optimizer.step()"),
    "zero_grad_between_backward_and_step": Mistake(
        cell="train_one_epoch",
        edit=[("        optimizer.zero_grad()\n        loss.backward()\n",
                             "        loss.backward()\n        optimizer.zero_grad()\n")],
        test="test_train_one_epoch",
        message="not between backward and step"),
    "summed_not_averaged": Mistake(
        cell="train_one_epoch",
        edit=[("    return total / count", "    return total")],
        test="test_train_one_epoch",
        message="divide the summed loss by the number of images"),
    "mean_of_batch_means": Mistake(
        cell="train_one_epoch",
        edit=[("total += loss.item() * x.shape[0]", "total += loss.item()"),
                            ("count += x.shape[0]", "count += 1")],
        test="test_train_one_epoch",
        message="weight each batch by its size"),
    "ignores_beta": Mistake(
        cell="train_one_epoch",
        edit=[("vae_loss(x_hat, x, mu, logvar, beta=beta)", "vae_loss(x_hat, x, mu, logvar)")],
        test="test_train_one_epoch",
        message="beta=3.0"),
    "evaluation_trains": Mistake(
        cell="evaluate",
        edit=[("    model.eval()\n", "    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                      "    return train_one_epoch(model, loader, optimizer, beta)\n")],
        test="test_evaluate",
        message="must not train"),
    "evaluation_without_no_grad": Mistake(
        cell="evaluate",
        edit=[("    with torch.no_grad():\n", "    if True:\n")],
        test="test_evaluate",
        message="torch.no_grad()"),
    "evaluation_without_eval_mode": Mistake(
        cell="evaluate",
        edit=[("    model.eval()\n", "")],
        test="test_evaluate",
        message="model.eval()"),
    "evaluation_at_z_equals_mu": Mistake(
        cell="evaluate",
        edit=[("x_hat, mu, logvar = model(x)  # z is sampled inside, as in training",
                      "mu, logvar = model.encoder(x)\n            x_hat = model.decoder(mu)")],
        test="test_evaluate",
        message="do not decode z = mu"),
    "evaluation_mean_of_batch_means": Mistake(
        cell="evaluate",
        edit=[(".item() * x.shape[0]", ".item()"), ("count += x.shape[0]", "count += 1")],
        test="test_evaluate",
        message="weight each batch's mean by its number of images"),
    "evaluation_summed": Mistake(
        cell="evaluate",
        edit=[("    return total / count", "    return total")],
        test="test_evaluate",
        message="or sum them"),
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

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=6, grouping="by_exercise", assertion_errors_count=True, min_mistakes=12)


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
