"""Catalogued mistakes in 10_evaluating_samples, each autograded with real nbgrader: each loses points on
the right test with a message naming the likely cause; correct alternatives written differently get full marks.

One nbgrader run grades every submission; the two exercises have independent tests, so a submission
carries one mistake in each.
"""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "10_evaluating_samples"
F, H = "test_frechet_distance", "test_sample_class_histogram"
TRACE = "trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "cross_term_not_doubled": Mistake(cell="frechet_distance", edit=[("- 2 * trace_sqrt", "- trace_sqrt")], loses={F}, test=F, message="TWICE"),
    "elementwise_sqrt": Mistake(
        cell="frechet_distance",
        edit=[(TRACE, "trace_sqrt = torch.trace(torch.sqrt(sigma1 @ sigma2))")],
        loses={F},
        test=F,
        message="not torch.sqrt of each entry"),
    "mean_distance_not_squared": Mistake(
        cell="frechet_distance",
        edit=[("((mu1 - mu2) ** 2).sum()", "(mu1 - mu2).norm()")],
        loses={F},
        test=F,
        message="SQUARED distance"),
    "product_of_roots": Mistake(
        cell="frechet_distance",
        edit=[(TRACE, "trace_sqrt = torch.trace(root1 @ sqrt_psd(sigma2))")],
        loses={F},
        test=F,
        message="commute"),
    "no_clamp": Mistake(cell="frechet_distance", edit=[(".clamp(min=0).sqrt()", ".sqrt()")], loses={F}, test=F, message="clamp the eigenvalues"),
    "float32_inside": Mistake(cell="frechet_distance", edit=[("torch.float64", "torch.float32")], loses={F}, test=F, message="float64"),
    "returns_a_tensor": Mistake(cell="frechet_distance", edit=[("return float(distance)", "return distance")], loses={F}, test=F, message="Python float"),
    "counts_not_fractions": Mistake(
        cell="sample_class_histogram",
        edit=[("return counts / counts.sum()", "return counts")],
        loses={H},
        test=H,
        message="divide the counts"),
    "left_in_training_mode": Mistake(
        cell="sample_class_histogram",
        edit=[("    classifier.eval()  # dropout and batch norm must act as at test time\n", "")],
        loses={H},
        test=H,
        message="training mode"),
    "bincount_without_minlength": Mistake(
        cell="sample_class_histogram",
        edit=[("torch.bincount(predictions, minlength=10)",
                                                               "torch.bincount(predictions)")],
        loses={H},
        test=H,
        message="minlength=10"),
    "soft_histogram": Mistake(
        cell="sample_class_histogram",
        edit=[(".argmax(dim=1).cpu()", ".softmax(dim=1).cpu()"),
                                                  ("counts = torch.bincount(predictions, minlength=10).float()",
                                                   "counts = predictions.sum(dim=0)")],
        loses={H},
        test=H,
        message="averaging the softmax"),
    "argmax_over_images": Mistake(cell="sample_class_histogram", edit=[(".argmax(dim=1)", ".argmax(dim=0)")], loses={H}, test=H, message="dim=1"),
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
