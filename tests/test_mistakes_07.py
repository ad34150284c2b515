"""Catalogued mistakes in 07_ae_vs_vae_and_beta, each autograded with real nbgrader: each loses points
on the right test with a message naming the likely cause; correct alternatives get full marks.

One nbgrader run grades every submission. The four exercises are independent (each has its own test
cell and no later test uses an earlier exercise), so one submission carries one mistake of each exercise
(the k-th of each) and must lose points on exactly the tests of its mistakes.
"""
from catalogue import Catalogue, CatalogueTests

NB = "07_ae_vs_vae_and_beta"
TESTS = ["test_kl_per_dimension", "test_active_units", "test_linear_warmup", "test_cyclical_beta"]
FULL_MARKS = 2 + 2 + 2 + 2


POP_VAR = "mu.var(dim=0, unbiased=False)"
WARMUP = "return min(1.0, step / warmup_steps)"
CYCLE = "return min(1.0, tau / ratio)"

# name -> (grade_id of the solution, [(text in the master's solution, replacement)],
#          test that must lose points, words the visible check's message must contain)
MISTAKES = {
    "kl_summed_over_batch": ("kl_per_dimension", [("kl.mean(dim=0)", "kl.sum(dim=0)")],
                             "test_kl_per_dimension", "you SUM over the batch"),
    "kl_reduced_over_latent_dims": ("kl_per_dimension", [("kl.mean(dim=0)", "kl.mean(dim=1)")],
                                    "test_kl_per_dimension", "not over the latent dimensions"),
    "kl_missing_half": ("kl_per_dimension", [("0.5 * (mu.pow(2)", "(mu.pow(2)")],
                        "test_kl_per_dimension", "factor 1/2"),
    "kl_std_as_variance": ("kl_per_dimension", [("logvar.exp()", "(0.5 * logvar).exp()")],
                           "test_kl_per_dimension", "exp(logvar) is the variance"),
    "active_units_by_mean": ("active_units", [(POP_VAR, "mu.mean(dim=0).abs()")],
                             "test_active_units", "not the mean"),
    "active_units_by_std": ("active_units", [(POP_VAR, "mu.std(dim=0, unbiased=False)")],
                            "test_active_units", "not the standard deviation"),
    "active_units_unbiased_variance": ("active_units", [(POP_VAR, "mu.var(dim=0)")],
                                       "test_active_units", "POPULATION variance"),
    "active_units_not_strict": ("active_units", [("variance > threshold", "variance >= threshold")],
                                "test_active_units", "strict >"),
    "warmup_off_by_one": ("linear_warmup", [(WARMUP, "return min(1.0, (step + 1) / warmup_steps)")],
                          "test_linear_warmup", "off by one"),
    "warmup_not_clamped": ("linear_warmup", [(WARMUP, "return step / warmup_steps")],
                           "test_linear_warmup", "clamp the weight at 1"),
    "warmup_integer_division": ("linear_warmup", [(WARMUP, "return min(1.0, step // warmup_steps)")],
                                "test_linear_warmup", "integer division"),
    "warmup_zero_steps_divides": ("linear_warmup", [("    if warmup_steps <= 0:\n        return 1.0\n", "")],
                                  "test_linear_warmup", "means no warm-up"),
    "cyclical_not_resetting": ("cyclical_beta", [("tau = (step % cycle_length) / cycle_length", "tau = step / cycle_length")],
                               "test_cyclical_beta", "restart every cycle"),
    "cyclical_ignores_ratio": ("cyclical_beta", [(CYCLE, "return tau")], "test_cyclical_beta", "ratio is ignored"),
    "cyclical_not_clamped": ("cyclical_beta", [(CYCLE, "return tau / ratio")], "test_cyclical_beta", "clamp at 1"),
    "cyclical_one_based_steps": ("cyclical_beta", [("(step % cycle_length)", "((step - 1) % cycle_length)")],
                                 "test_cyclical_beta", "tau = (step % cycle_length) / cycle_length"),
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
