"""Catalogued mistakes in 04_elbo, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives written
differently get full marks."""
from catalogue import Catalogue, CatalogueTests

NB = "04_elbo"
# notebook order: vae_loss uses the two functions before it, so their mistakes may cost it too
TESTS = ["test_reconstruction_loss", "test_kl_divergence", "test_vae_loss"]
FULL_MARKS = 3 + 3 + 3


BCE = 'F.binary_cross_entropy(x_hat, x, reduction="none")'
PER_IMAGE = "reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar)"

# name -> (grade_id of the solution, [(text in the master's solution, replacement)],
#          test that must lose points, words the visible check's message must contain)
MISTAKES = {
    "bce_mean_over_pixels": ("reconstruction_loss", [("bce.sum(dim=(1, 2, 3))", "bce.mean(dim=(1, 2, 3))")],
                             "test_reconstruction_loss", "784x too small"),
    "bce_sum_over_batch": ("reconstruction_loss", [("bce.sum(dim=(1, 2, 3))", "bce.sum()")],
                           "test_reconstruction_loss", "not over the batch"),
    "bce_arguments_swapped": ("reconstruction_loss", [(BCE, 'F.binary_cross_entropy(x, x_hat, reduction="none")')],
                              "test_reconstruction_loss", "arguments are swapped"),
    "bce_with_logits_on_probabilities": ("reconstruction_loss", [(BCE, 'F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")')],
                                         "test_reconstruction_loss", "do not apply a sigmoid again"),
    "log_likelihood_not_its_negative": ("reconstruction_loss", [("return bce.sum(", "return -bce.sum(")],
                                        "test_reconstruction_loss", "NEGATIVE log-likelihood"),
    "kl_wrong_sign": ("kl_divergence", [("-0.5 * torch.sum(", "0.5 * torch.sum(")],
                      "test_kl_divergence", "KL is never negative"),
    "kl_missing_half": ("kl_divergence", [("-0.5 * torch.sum(", "-torch.sum(")],
                        "test_kl_divergence", "factor 1/2"),
    "logvar_as_log_std": ("kl_divergence", [("1 + logvar - mu.pow(2) - logvar.exp()",
                                             "1 + 2 * logvar - mu.pow(2) - (2 * logvar).exp()")],
                          "test_kl_divergence", "not log(sigma)"),
    "std_used_as_variance": ("kl_divergence", [("logvar.exp()", "(0.5 * logvar).exp()")],
                             "test_kl_divergence", "exp(logvar) is the variance"),
    "kl_sum_over_batch": ("kl_divergence", [(", dim=1)", ")")], "test_kl_divergence", "not over the batch"),
    "kl_mean_over_latent": ("kl_divergence", [("torch.sum(", "torch.mean(")], "test_kl_divergence", "do not average"),
    "loss_sum_over_batch": ("vae_loss", [("per_image.mean()", "per_image.sum()")], "test_vae_loss", "take the MEAN"),
    "beta_on_reconstruction": ("vae_loss", [(PER_IMAGE, "beta * reconstruction_loss(x_hat, x) + kl_divergence(mu, logvar)")],
                               "test_vae_loss", "KL term only"),
    "beta_ignored": ("vae_loss", [(PER_IMAGE, "reconstruction_loss(x_hat, x) + kl_divergence(mu, logvar)")],
                     "test_vae_loss", "beta is ignored"),
    "kl_subtracted": ("vae_loss", [(PER_IMAGE, "reconstruction_loss(x_hat, x) - beta * kl_divergence(mu, logvar)")],
                      "test_vae_loss", "ADDS the KL"),
}

CORRECT = {
    # the Bernoulli log-likelihood written out, the KL in the "1/2 (mu^2 + sigma^2 - 1 - log sigma^2)" form,
    # and the loss as sums divided by the batch size
    "hand_written_formulas": {
        "reconstruction_loss": (
            "def reconstruction_loss(x_hat, x):\n"
            "    log_lik = x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)\n"
            "    return -log_lik.flatten(start_dim=1).sum(dim=1)\n"),
        "kl_divergence": (
            "def kl_divergence(mu, logvar):\n"
            "    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar).sum(dim=-1)\n"),
        "vae_loss": (
            "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n"
            "    batch_size = x.shape[0]\n"
            "    rec = F.binary_cross_entropy(x_hat, x, reduction='sum')\n"
            "    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())\n"
            "    return (rec + beta * kl) / batch_size\n"),
    },
    # torch.distributions for both terms (Bernoulli without its {0, 1} support check: pixels are grey)
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
        "vae_loss": (
            "def vae_loss(x_hat, x, mu, logvar, beta=1.0):\n"
            "    return torch.mean(reconstruction_loss(x_hat, x)) + beta * torch.mean(kl_divergence(mu, logvar))\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, later_tests_may_fail=True)


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
