"""Catalogued mistakes in 07_ae_vs_vae_and_beta, each autograded with real nbgrader: each loses points
on the right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission. The four exercises are independent (each has its own test
cell and no later test uses an earlier exercise), so one submission carries one mistake of each exercise
(the k-th of each) and must lose points on exactly the tests of its mistakes.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "07_ae_vs_vae_and_beta"
TESTS = ["test_kl_per_dimension", "test_active_units", "test_linear_warmup", "test_cyclical_beta"]
FULL_MARKS = 2 + 2 + 2 + 2


POP_VAR = "mu.var(dim=0, unbiased=False)"
WARMUP = "return min(1.0, step / warmup_steps)"
CYCLE = "return min(1.0, tau / ratio)"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "kl_summed_over_batch": Mistake(
        cell="kl_per_dimension",
        edit=[("kl.mean(dim=0)", "kl.sum(dim=0)")],
        test="test_kl_per_dimension",
        message="you SUM over the batch"),
    "kl_reduced_over_latent_dims": Mistake(
        cell="kl_per_dimension",
        edit=[("kl.mean(dim=0)", "kl.mean(dim=1)")],
        test="test_kl_per_dimension",
        message="not over the latent dimensions"),
    "kl_missing_half": Mistake(
        cell="kl_per_dimension",
        edit=[("0.5 * (mu.pow(2)", "(mu.pow(2)")],
        test="test_kl_per_dimension",
        message="factor 1/2"),
    "kl_std_as_variance": Mistake(
        cell="kl_per_dimension",
        edit=[("logvar.exp()", "(0.5 * logvar).exp()")],
        test="test_kl_per_dimension",
        message="exp(logvar) is the variance"),
    "active_units_by_mean": Mistake(
        cell="active_units",
        edit=[(POP_VAR, "mu.mean(dim=0).abs()")],
        test="test_active_units",
        message="not the mean"),
    "active_units_by_std": Mistake(
        cell="active_units",
        edit=[(POP_VAR, "mu.std(dim=0, unbiased=False)")],
        test="test_active_units",
        message="not the standard deviation"),
    "active_units_unbiased_variance": Mistake(
        cell="active_units",
        edit=[(POP_VAR, "mu.var(dim=0)")],
        test="test_active_units",
        message="POPULATION variance"),
    "active_units_not_strict": Mistake(
        cell="active_units",
        edit=[("variance > threshold", "variance >= threshold")],
        test="test_active_units",
        message="strict >"),
    "warmup_off_by_one": Mistake(
        cell="linear_warmup",
        edit=[(WARMUP, "return min(1.0, (step + 1) / warmup_steps)")],
        test="test_linear_warmup",
        message="off by one"),
    "warmup_not_clamped": Mistake(
        cell="linear_warmup",
        edit=[(WARMUP, "return step / warmup_steps")],
        test="test_linear_warmup",
        message="clamp the weight at 1"),
    "warmup_integer_division": Mistake(
        cell="linear_warmup",
        edit=[(WARMUP, "return min(1.0, step // warmup_steps)")],
        test="test_linear_warmup",
        message="integer division"),
    "warmup_zero_steps_divides": Mistake(
        cell="linear_warmup",
        edit=[("    if warmup_steps <= 0:\n        return 1.0\n", "")],
        test="test_linear_warmup",
        message="means no warm-up"),
    "cyclical_not_resetting": Mistake(
        cell="cyclical_beta",
        edit=[("tau = (step % cycle_length) / cycle_length", "tau = step / cycle_length")],
        test="test_cyclical_beta",
        message="restart every cycle"),
    "cyclical_ignores_ratio": Mistake(cell="cyclical_beta", edit=[(CYCLE, "return tau")], test="test_cyclical_beta", message="ratio is ignored"),
    "cyclical_not_clamped": Mistake(cell="cyclical_beta", edit=[(CYCLE, "return tau / ratio")], test="test_cyclical_beta", message="clamp at 1"),
    "cyclical_one_based_steps": Mistake(
        cell="cyclical_beta",
        edit=[("(step % cycle_length)", "((step - 1) % cycle_length)")],
        test="test_cyclical_beta",
        message="tau = (step % cycle_length) / cycle_length"),
}

CORRECT = {
    # the KL via torch.distributions, an explicit population variance, a branchy warm-up and Fu et al.'s
    # piecewise definition written out
    "written_out": {
        "kl_per_dimension": (
            "def kl_per_dimension(mu, logvar):\n"
            "    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))\n"
            "    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))\n"
            "    return torch.distributions.kl_divergence(q, p).sum(dim=0) / mu.shape[0]\n"),
        "active_units": (
            "def active_units(mu, threshold=0.01):\n"
            "    centred = mu - mu.mean(dim=0, keepdim=True)\n"
            "    variance = (centred ** 2).mean(dim=0)\n"
            "    return sum(1 for v in variance.tolist() if v > threshold)\n"),
        "linear_warmup": (
            "def linear_warmup(step, warmup_steps):\n"
            "    if warmup_steps == 0 or step >= warmup_steps:\n"
            "        return 1.0\n"
            "    return float(step) / float(warmup_steps)\n"),
        "cyclical_beta": (
            "def cyclical_beta(step, cycle_length, ratio=0.5):\n"
            "    tau = (step % cycle_length) / cycle_length\n"
            "    if tau <= ratio:\n"
            "        return tau / ratio\n"
            "    return 1.0\n"),
    },
    # torch.var with correction=0, counting with a tensor and .item(), linear_warmup through max/min,
    # the cyclical schedule as a warm-up of the position within the cycle
    "reusing_pieces": {
        "kl_per_dimension": (
            "def kl_per_dimension(mu, logvar):\n"
            "    return torch.mean(-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)), dim=0)\n"),
        "active_units": (
            "def active_units(mu, threshold=0.01):\n"
            "    return torch.count_nonzero(torch.var(mu, dim=0, correction=0) > threshold).item()\n"),
        "linear_warmup": (
            "def linear_warmup(step, warmup_steps):\n"
            "    return 1.0 if warmup_steps <= 0 else max(0.0, min(1.0, step / warmup_steps))\n"),
        "cyclical_beta": (
            "def cyclical_beta(step, cycle_length, ratio=0.5):\n"
            "    return linear_warmup(step % cycle_length, ratio * cycle_length)\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
