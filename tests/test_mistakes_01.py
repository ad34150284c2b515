"""Catalogued mistakes in 01_mnist, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives get full marks."""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "01_mnist"

# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "bincount_without_minlength": Mistake(
        cell="count_per_class",
        edit=("torch.bincount(labels.long().flatten(), minlength=10)", "torch.bincount(labels.long().flatten())"),
        test="test_count_per_class",
        message="minlength=10"),
    "float_counts": Mistake(
        cell="count_per_class",
        edit=("torch.bincount(labels.long().flatten(), minlength=10)", "torch.bincount(labels.long().flatten(), minlength=10).float()"),
        test="test_count_per_class",
        message="LongTensor"),
    "last_image_not_first": Mistake(
        cell="first_image_per_digit",
        edit=("if label not in found:", "if True:"),
        test="test_first_image_per_digit",
        message="FIRST image"),
    "digits_in_found_order": Mistake(
        cell="first_image_per_digit",
        edit=("torch.stack([found[d] for d in range(10)])", "torch.stack(list(found.values()))"),
        test="test_first_image_per_digit",
        message="digit order"),
    "mean_over_all_images": Mistake(
        cell="mean_image_per_digit",
        edit=("images[labels == d].float().mean(dim=0)", "images.float().mean(dim=0)"),
        test="test_mean_image_per_digit",
        message="only the images whose label is d"),
    "sum_not_mean": Mistake(
        cell="mean_image_per_digit",
        edit=("images[labels == d].float().mean(dim=0)", "images[labels == d].float().sum(dim=0)"),
        test="test_mean_image_per_digit",
        message="divide"),
}

CORRECT = {
    "loop_counts": {"count_per_class": (
        "def count_per_class(labels):\n"
        "    counts = torch.zeros(10, dtype=torch.long)\n"
        "    for label in labels.tolist():\n"
        "        counts[label] += 1\n"
        "    return counts\n")},
    "one_hot_means": {"mean_image_per_digit": (
        "def mean_image_per_digit(images, labels):\n"
        "    one_hot = torch.nn.functional.one_hot(labels, 10).float()  # (N, 10)\n"
        "    sums = torch.einsum('nk,nchw->kchw', one_hot, images.float())\n"
        "    return sums / one_hot.sum(0).view(10, 1, 1, 1)\n"),
        "first_image_per_digit": (
        "def first_image_per_digit(dataset):\n"
        "    rows = [None] * 10\n"
        "    i = 0\n"
        "    while any(r is None for r in rows):\n"
        "        x, y = dataset[i]\n"
        "        if rows[y] is None:\n"
        "            rows[y] = x\n"
        "        i += 1\n"
        "    return torch.stack(rows).float()\n")},
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=6, replace_count=1, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
