"""Catalogued mistakes in 04_elbo, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives written
differently get full marks."""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "04_elbo"
# One mistake costs one exercise: vae_loss's hidden tests put the course's reconstruction_loss and
# kl_divergence in place of the student's while they judge it, so a mistake in 4.1 or 4.2 no longer
# costs test_vae_loss too. The k-th mistake of every exercise share a submission ("by_exercise"), and a
# submission must lose exactly the tests of its mistakes: a 4.1 mistake that also cost test_vae_loss
# would fail the catalogue.
TESTS = ["test_reconstruction_loss", "test_kl_divergence", "test_kl_monte_carlo", "test_vae_loss"]
FULL_MARKS = 3 + 3 + 2 + 3


BCE = 'F.binary_cross_entropy(x_hat, x, reduction="none")'
PER_IMAGE = "reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar)"
SAMPLE = "z = reparameterize(mu.expand(shape), logvar.expand(shape))"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "bce_mean_over_pixels": Mistake(
        cell="reconstruction_loss",
        edit=[("bce.sum(dim=(1, 2, 3))", "bce.mean(dim=(1, 2, 3))")],
        test="test_reconstruction_loss",
        message="784x too small"),
    "bce_sum_over_batch": Mistake(
        cell="reconstruction_loss",
        edit=[("bce.sum(dim=(1, 2, 3))", "bce.sum()")],
        test="test_reconstruction_loss",
        message="not over the batch"),
    "bce_arguments_swapped": Mistake(
        cell="reconstruction_loss",
        edit=[(BCE, 'F.binary_cross_entropy(x, x_hat, reduction="none")')],
        test="test_reconstruction_loss",
        message="arguments are swapped"),
    "bce_with_logits_on_probabilities": Mistake(
        cell="reconstruction_loss",
        edit=[(BCE, 'F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")')],
        test="test_reconstruction_loss",
        message="do not apply a sigmoid again"),
    "log_likelihood_not_its_negative": Mistake(
        cell="reconstruction_loss",
        edit=[("return bce.sum(", "return -bce.sum(")],
        test="test_reconstruction_loss",
        message="NEGATIVE log-likelihood"),
    "kl_wrong_sign": Mistake(
        cell="kl_divergence",
        edit=[("-0.5 * torch.sum(", "0.5 * torch.sum(")],
        test="test_kl_divergence",
        message="KL is never negative"),
    "kl_missing_half": Mistake(
        cell="kl_divergence",
        edit=[("-0.5 * torch.sum(", "-torch.sum(")],
        test="test_kl_divergence",
        message="factor 1/2"),
    "logvar_as_log_std": Mistake(
        cell="kl_divergence",
        edit=[("1 + logvar - mu.pow(2) - logvar.exp()",
                                             "1 + 2 * logvar - mu.pow(2) - (2 * logvar).exp()")],
        test="test_kl_divergence",
        message="not log(sigma)"),
    "std_used_as_variance": Mistake(
        cell="kl_divergence",
        edit=[("logvar.exp()", "(0.5 * logvar).exp()")],
        test="test_kl_divergence",
        message="exp(logvar) is the variance"),
    "kl_sum_over_batch": Mistake(cell="kl_divergence", edit=[(", dim=1)", ")")], test="test_kl_divergence", message="not over the batch"),
    "kl_mean_over_latent": Mistake(cell="kl_divergence", edit=[("torch.sum(", "torch.mean(")], test="test_kl_divergence", message="do not average"),
    "mc_drops_log_q": Mistake(
        cell="kl_monte_carlo",
        edit=[("q.log_prob(z) - p.log_prob(z)", "-p.log_prob(z)")],
        test="test_kl_monte_carlo",
        message="do not drop log q"),
    "mc_at_mu_not_a_sample": Mistake(
        cell="kl_monte_carlo",
        edit=[(SAMPLE, "z = mu.expand(shape)")],
        test="test_kl_monte_carlo",
        message="evaluate it at SAMPLES"),
    "mc_sample_cuts_gradients": Mistake(
        cell="kl_monte_carlo",
        edit=[(SAMPLE, "z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample((num_samples,))")],
        test="test_kl_monte_carlo",
        message=".sample() cuts them"),
    "mc_one_sample_for_all": Mistake(
        cell="kl_monte_carlo",
        edit=[(SAMPLE, "z = reparameterize(mu, logvar)")],
        test="test_kl_monte_carlo",
        message="draw num_samples samples per image"),
    "mc_closed_form": Mistake(  # no sampling at all: what the estimate approximates, not the estimate
        cell="kl_monte_carlo",
        edit=[(("log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(dim=-1)  # (L, B, latent_dim) -> (L, B)\n"
                "    return log_ratio.mean(dim=0)  # (L, B) -> (B,)"),
               "return torch.distributions.kl_divergence(q, p).sum(dim=-1)")],
        test="test_kl_monte_carlo",
        message="does not depend on the noise"),
    "mc_mean_over_latent": Mistake(
        cell="kl_monte_carlo",
        edit=[(".sum(dim=-1)", ".mean(dim=-1)")],
        test="test_kl_monte_carlo",
        message="do not average them"),
    "loss_sum_over_batch": Mistake(cell="vae_loss", edit=[("per_image.mean()", "per_image.sum()")], test="test_vae_loss", message="take the MEAN"),
    "beta_on_reconstruction": Mistake(
        cell="vae_loss",
        edit=[(PER_IMAGE, "beta * reconstruction_loss(x_hat, x) + kl_divergence(mu, logvar)")],
        test="test_vae_loss",
        message="KL term only"),
    "beta_ignored": Mistake(
        cell="vae_loss",
        edit=[(PER_IMAGE, "reconstruction_loss(x_hat, x) + kl_divergence(mu, logvar)")],
        test="test_vae_loss",
        message="beta is ignored"),
    "kl_subtracted": Mistake(
        cell="vae_loss",
        edit=[(PER_IMAGE, "reconstruction_loss(x_hat, x) - beta * kl_divergence(mu, logvar)")],
        test="test_vae_loss",
        message="ADDS the KL"),
}

CORRECT = {
    # the Bernoulli log-likelihood written out, the KL in the "1/2 (mu^2 + sigma^2 - 1 - log sigma^2)" form,
    # its Monte Carlo estimate with the Gaussian log-densities written out, and the loss as sums divided by the batch size
    "hand_written_formulas": {
        "reconstruction_loss": (
            "def reconstruction_loss(x_hat, x):\n"
            "    log_lik = x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)\n"
            "    return -log_lik.flatten(start_dim=1).sum(dim=1)\n"),
        "kl_divergence": (
            "def kl_divergence(mu, logvar):\n"
            "    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar).sum(dim=-1)\n"),
        "kl_monte_carlo": (
            "def kl_monte_carlo(mu, logvar, num_samples):\n"
            "    eps = torch.randn((num_samples,) + tuple(mu.shape), dtype=mu.dtype, device=mu.device)\n"
            "    z = mu + torch.exp(0.5 * logvar) * eps\n"
            "    log_q = -0.5 * (math.log(2 * math.pi) + logvar + eps ** 2)  # (z - mu)^2 / sigma^2 = eps^2\n"
            "    log_p = -0.5 * (math.log(2 * math.pi) + z ** 2)\n"
            "    return (log_q - log_p).sum(dim=2).mean(dim=0)\n"),
        "vae_loss": (
            "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n"
            "    batch_size = x.shape[0]\n"
            "    rec = F.binary_cross_entropy(x_hat, x, reduction='sum')\n"
            "    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())\n"
            "    return (rec + beta * kl) / batch_size\n"),
    },
    # torch.distributions for both terms and the samples (Bernoulli without its {0, 1} support check: pixels are grey)
    "torch_distributions": {
        "reconstruction_loss": (
            "def reconstruction_loss(x_hat, x):\n"
            "    p = torch.distributions.Bernoulli(probs=x_hat, validate_args=False)\n"
            "    return -p.log_prob(x).sum(dim=(1, 2, 3))\n"),
        "kl_divergence": (
            "def kl_divergence(mu, logvar):\n"
            "    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
            "    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
            "    return torch.distributions.kl_divergence(q, p).sum(dim=1)\n"),
        "kl_monte_carlo": (
            "def kl_monte_carlo(mu, logvar, num_samples):\n"
            "    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
            "    z = q.rsample((num_samples,))\n"
            "    p = torch.distributions.Normal(0.0, 1.0)\n"
            "    return (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)\n"),
        "vae_loss": (
            "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n"
            "    return torch.mean(reconstruction_loss(x_hat, x)) + beta * torch.mean(kl_divergence(mu, logvar))\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
