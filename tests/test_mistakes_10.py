"""Catalogued mistakes in 10_evaluating_samples, each autograded with real nbgrader: each loses points on
the right test with a message naming the likely cause; correct alternatives written differently get full marks.

One nbgrader run grades every submission; the two exercises have independent tests, so a submission
carries one mistake in each.
"""
from catalogue import Catalogue, CatalogueTests

NB = "10_evaluating_samples"
PREFIXES = ("CheckFailed: Exercise 10.", "AssertionError: Exercise 10.")
F, H = "test_frechet_distance", "test_sample_class_histogram"
TRACE = "trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()"

# name -> (grade_id, [(text in the master's solution, replacement)], tests that must lose points,
#          test whose message is checked, words the message must contain)
MISTAKES = {
    "cross_term_not_doubled": ("frechet_distance", [("- 2 * trace_sqrt", "- trace_sqrt")], {F}, F, "TWICE"),
    "elementwise_sqrt": ("frechet_distance", [(TRACE, "trace_sqrt = torch.trace(torch.sqrt(sigma1 @ sigma2))")],
                         {F}, F, "not torch.sqrt of each entry"),
    "mean_distance_not_squared": ("frechet_distance", [("((mu1 - mu2) ** 2).sum()", "(mu1 - mu2).norm()")],
                                  {F}, F, "SQUARED distance"),
    "product_of_roots": ("frechet_distance", [(TRACE, "trace_sqrt = torch.trace(root1 @ sqrt_psd(sigma2))")],
                         {F}, F, "commute"),
    "no_clamp": ("frechet_distance", [(".clamp(min=0).sqrt()", ".sqrt()")], {F}, F, "clamp the eigenvalues"),
    "float32_inside": ("frechet_distance", [("torch.float64", "torch.float32")], {F}, F, "float64"),
    "returns_a_tensor": ("frechet_distance", [("return float(distance)", "return distance")], {F}, F, "Python float"),
    "counts_not_fractions": ("sample_class_histogram", [("return counts / counts.sum()", "return counts")],
                             {H}, H, "divide the counts"),
    "left_in_training_mode": ("sample_class_histogram",
                              [("    classifier.eval()  # dropout and batch norm must act as at test time\n", "")],
                              {H}, H, "training mode"),
    "bincount_without_minlength": ("sample_class_histogram", [("torch.bincount(predictions, minlength=10)",
                                                               "torch.bincount(predictions)")], {H}, H, "minlength=10"),
    "soft_histogram": ("sample_class_histogram", [(".argmax(dim=1).cpu()", ".softmax(dim=1).cpu()"),
                                                  ("counts = torch.bincount(predictions, minlength=10).float()",
                                                   "counts = predictions.sum(dim=0)")], {H}, H, "averaging the softmax"),
    "argmax_over_images": ("sample_class_histogram", [(".argmax(dim=1)", ".argmax(dim=0)")], {H}, H, "dim=1"),
}

CORRECT = {
    # Eigenvalues of the non-symmetric product S1 S2 (real, >= 0 in exact arithmetic); one-hot mean histogram.
    "eigvals_of_product_one_hot": {
        "frechet_distance": (
            "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
            "    m1, m2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)\n"
            "    s1, s2 = torch.as_tensor(sigma1, dtype=torch.float64), torch.as_tensor(sigma2, dtype=torch.float64)\n"
            "    eig = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0)\n"
            "    return (m1 - m2).pow(2).sum().item() + (s1.trace() + s2.trace() - 2 * eig.sqrt().sum()).item()\n"),
        "sample_class_histogram": (
            "def sample_class_histogram(classifier, images):\n"
            "    classifier.eval()\n"
            "    with torch.inference_mode():\n"
            "        logits = classifier(images.to(next(classifier.parameters()).device))\n"
            "    return F.one_hot(logits.argmax(1), num_classes=10).float().mean(0).cpu()\n"),
    },
    # Nuclear norm of sqrt(S1) sqrt(S2) (its singular values sum to Tr((S1 S2)^1/2)); unique counts scattered.
    "nuclear_norm_unique": {
        "frechet_distance": (
            "import math\n\n\n"
            "def _root(a):\n"
            "    w, v = torch.linalg.eigh(a)\n"
            "    return v @ torch.diag(torch.sqrt(torch.clamp(w, min=0.0))) @ v.T\n\n\n"
            "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
            "    mu1, mu2, sigma1, sigma2 = [torch.tensor(t.tolist(), dtype=torch.double) for t in (mu1, mu2, sigma1, sigma2)]\n"
            "    nuclear = torch.linalg.svdvals(_root(sigma1) @ _root(sigma2)).sum()\n"
            "    d = torch.dot(mu1 - mu2, mu1 - mu2) + torch.trace(sigma1 + sigma2) - 2.0 * nuclear\n"
            "    return d.item()\n"),
        "sample_class_histogram": (
            "def sample_class_histogram(classifier, images):\n"
            "    was_training = classifier.training\n"
            "    classifier.train(False)\n"
            "    with torch.no_grad():\n"
            "        preds = classifier(images).argmax(dim=-1)\n"
            "    classifier.train(was_training)\n"
            "    digits, counts = torch.unique(preds, return_counts=True)\n"
            "    hist = torch.zeros(10)\n"
            "    hist[digits] = counts.float() / len(preds)\n"
            "    return hist\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=7, grouping="greedy", assertion_errors_count=True)


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
