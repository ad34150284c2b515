"""Catalogued mistakes in 08_likelihoods_and_bounds, each autograded with real nbgrader: each loses
points on the right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission. The three exercises are independent (each has its own test
cell; the training cells that use them are not graded), so one submission carries one mistake of each
exercise (the k-th of each) and must lose points on exactly the tests of its mistakes.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "08_likelihoods_and_bounds"
TESTS = ["test_gaussian_nll", "test_continuous_bernoulli_log_norm", "test_iwae_bound"]
FULL_MARKS = 3 + 3 + 4


PER_PIXEL = "0.5 * math.log(2 * math.pi) + log_sigma + 0.5 * ((x - x_hat) / log_sigma.exp()) ** 2"
RETURN_CB = "return torch.where(near, taylor, exact)"
LOG_MEAN_EXP = "torch.logsumexp(log_w, dim=0) - math.log(k)"
LOG_W = "log_w = log_px_z + log_pz - log_qz"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "nll_missing_constant": Mistake(
        cell="gaussian_nll",
        edit=[(PER_PIXEL, PER_PIXEL.replace("0.5 * math.log(2 * math.pi) + ", ""))],
        test="test_gaussian_nll",
        message="0.5 * log(2 * pi)"),
    "nll_sigma_for_log_sigma": Mistake(
        cell="gaussian_nll",
        edit=[(PER_PIXEL, "0.5 * math.log(2 * math.pi) + torch.log(log_sigma) "
                                                  "+ 0.5 * ((x - x_hat) / log_sigma) ** 2")],
        test="test_gaussian_nll",
        message="log_sigma is log(sigma), not sigma"),
    "nll_mean_over_pixels": Mistake(
        cell="gaussian_nll",
        edit=[(".sum(dim=(1, 2, 3))", ".mean(dim=(1, 2, 3))")],
        test="test_gaussian_nll",
        message="784x too small"),
    "nll_missing_half_on_error": Mistake(
        cell="gaussian_nll",
        edit=[("+ 0.5 * ((x - x_hat)", "+ ((x - x_hat)")],
        test="test_gaussian_nll",
        message="factor 1/2"),
    "nll_missing_log_sigma_term": Mistake(
        cell="gaussian_nll",
        edit=[("+ log_sigma + ", "+ ")],
        test="test_gaussian_nll",
        message="log sigma term is missing"),
    "log_norm_naive_nan_at_half": Mistake(
        cell="continuous_bernoulli_log_norm",
        edit=[(RETURN_CB, "return torch.log(2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam))")],
        test="test_continuous_bernoulli_log_norm",
        message="0/0 at lam = 0.5"),
    "log_norm_where_without_safe_input": Mistake(
        cell="continuous_bernoulli_log_norm",
        edit=[("safe = torch.where(near, torch.full_like(lam, 0.25), lam)", "safe = lam")],
        test="test_continuous_bernoulli_log_norm",
        message="BOTH branches"),
    "log_norm_taylor_only_at_half": Mistake(
        cell="continuous_bernoulli_log_norm",
        edit=[("near = (lam - 0.5).abs() < 0.01", "near = lam == 0.5")],
        test="test_continuous_bernoulli_log_norm",
        message="in the whole band"),
    "log_norm_taylor_everywhere": Mistake(
        cell="continuous_bernoulli_log_norm",
        edit=[(RETURN_CB, "return taylor")],
        test="test_continuous_bernoulli_log_norm",
        message="only near 0.5"),
    "log_norm_missing_factor_two": Mistake(
        cell="continuous_bernoulli_log_norm",
        edit=[("torch.log(2 * torch.atanh(u) / u)", "torch.log(torch.atanh(u) / u)"),
                                     ("taylor = math.log(2) + ", "taylor = ")],
        test="test_continuous_bernoulli_log_norm",
        message="factor 2 is missing"),
    "iwae_mean_of_log_weights": Mistake(
        cell="iwae_bound",
        edit=[(LOG_MEAN_EXP, "log_w.mean(dim=0)")],
        test="test_iwae_bound",
        message="averaging the log-weights"),
    "iwae_mean_of_elbos_with_analytic_kl": Mistake(
        cell="iwae_bound",
        edit=[(LOG_W, "log_w = log_px_z - kl_divergence(mu, logvar)"),
                                                           (LOG_MEAN_EXP, "log_w.mean(dim=0)")],
        test="test_iwae_bound",
        message="SAMPLED z"),
    "iwae_missing_log_k": Mistake(
        cell="iwae_bound",
        edit=[(LOG_MEAN_EXP, "torch.logsumexp(log_w, dim=0)")],
        test="test_iwae_bound",
        message="subtract log k"),
    "iwae_naive_log_mean_exp": Mistake(
        cell="iwae_bound",
        edit=[(LOG_MEAN_EXP, "torch.log(torch.exp(log_w).mean(dim=0))")],
        test="test_iwae_bound",
        message="torch.logsumexp"),
    "iwae_logvar_as_log_std_in_q": Mistake(
        cell="iwae_bound",
        edit=[("- 0.5 * logvar - 0.5 * math.log", "- logvar - 0.5 * math.log")],
        test="test_iwae_bound",
        message="std = exp(logvar / 2)"),
}

CORRECT = {
    # torch.distributions for the densities, artanh written as a log, samples via rsample
    "torch_distributions": {
        "gaussian_nll": (
            "def gaussian_nll(x_hat, x, log_sigma):\n"
            "    normal = torch.distributions.Normal(x_hat, torch.exp(log_sigma))\n"
            "    return -normal.log_prob(x).sum(dim=(1, 2, 3))\n"),
        "continuous_bernoulli_log_norm": (
            "def continuous_bernoulli_log_norm(lam):\n"
            "    near = torch.abs(lam - 0.5) < 0.01\n"
            "    safe = lam.masked_fill(near, 0.3)\n"
            "    u = 1 - 2 * safe\n"
            "    artanh = 0.5 * torch.log((1 + u) / (1 - u))\n"
            "    exact = math.log(2) + torch.log(artanh / u)\n"
            "    v = (lam - 0.5) ** 2\n"
            "    return torch.where(near, math.log(2) + 4 / 3 * v + 104 / 45 * v ** 2, exact)\n"),
        "iwae_bound": (
            "def iwae_bound(model, x, k):\n"
            "    mu, logvar = model.encoder(x)\n"
            "    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
            "    z = q.rsample((k,))  # (k, B, D)\n"
            "    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
            "    x_hat = model.decoder(z.flatten(0, 1)).view(k, *x.shape)\n"
            "    bernoulli = torch.distributions.Bernoulli(probs=x_hat, validate_args=False)\n"
            "    log_w = bernoulli.log_prob(x.unsqueeze(0)).sum(dim=(2, 3, 4)) + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)\n"
            "    return torch.logsumexp(log_w, dim=0) - math.log(k)\n"),
    },
    # sigma and variance by hand, torch's own form of log C with a narrower Taylor band, a loop over k
    # samples with reparameterize and a hand-written log-sum-exp
    "by_hand": {
        "gaussian_nll": (
            "def gaussian_nll(x_hat, x, log_sigma):\n"
            "    variance = torch.exp(2 * log_sigma)\n"
            "    nll = 0.5 * torch.log(2 * math.pi * variance) + (x - x_hat) ** 2 / (2 * variance)\n"
            "    return torch.flatten(nll + torch.zeros_like(x), start_dim=1).sum(dim=1)\n"),
        "continuous_bernoulli_log_norm": (
            "def continuous_bernoulli_log_norm(lam):\n"
            "    outside = (lam < 0.495) | (lam > 0.505)\n"
            "    p = torch.where(outside, lam, 0.1 * torch.ones_like(lam))\n"
            "    exact = torch.log(torch.abs(2.0 * torch.atanh(1.0 - 2.0 * p))) - torch.log(torch.abs(1.0 - 2.0 * p))\n"
            "    x = (lam - 0.5) ** 2\n"
            "    taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x\n"
            "    return torch.where(outside, exact, taylor)\n"),
        "iwae_bound": (
            "def iwae_bound(model, x, k):\n"
            "    mu, logvar = model.encoder(x)\n"
            "    log_ws = []\n"
            "    for _ in range(k):\n"
            "        z = reparameterize(mu, logvar)\n"
            "        log_px_z = -reconstruction_loss(model.decoder(z), x)\n"
            "        log_pz = -0.5 * (z ** 2).sum(dim=1)\n"
            "        log_qz = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar).sum(dim=1)\n"
            "        log_ws.append(log_px_z + log_pz - log_qz)\n"
            "    log_w = torch.stack(log_ws)  # (k, B)\n"
            "    top = log_w.max(dim=0).values\n"
            "    return top + torch.log(torch.exp(log_w - top).mean(dim=0))\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
