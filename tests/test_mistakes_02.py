"""Catalogued mistakes in 02_encoder, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives written
differently get full marks."""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "02_encoder"
# One mistake costs one exercise: the Encoder's check counts parameters itself, not with the student's
# count_parameters (2.2), so the k-th mistake of every exercise can share a submission ("by_exercise").
TESTS = ["test_conv2d_output_size", "test_count_parameters", "test_encoder"]  # notebook order
FULL_MARKS = 2 + 1 + 4


# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "padding_added_once": Mistake(
        cell="conv2d_output_size",
        edit=[("2 * padding", "padding")],
        test="test_conv2d_output_size",
        message="BOTH sides"),
    "true_division": Mistake(
        cell="conv2d_output_size",
        edit=[("// stride", "/ stride")],
        test="test_conv2d_output_size",
        message="floor division"),
    "no_plus_one": Mistake(
        cell="conv2d_output_size",
        edit=[("// stride + 1", "// stride")],
        test="test_conv2d_output_size",
        message="+ 1"),
    "rounds_up": Mistake(
        cell="conv2d_output_size",
        edit=[("(size + 2 * padding - kernel_size) // stride + 1",
                                          "-(-(size + 2 * padding - kernel_size) // stride) + 1")],
        test="test_conv2d_output_size",
        message="round down"),
    "counts_parameter_tensors": Mistake(
        cell="count_parameters",
        edit=[("sum(p.numel() for p in model.parameters() if p.requires_grad)",
                                                       "len(list(model.parameters()))")],
        test="test_count_parameters",
        message="parameter TENSORS"),
    "counts_frozen_parameters": Mistake(
        cell="count_parameters",
        edit=[(" if p.requires_grad", "")],
        test="test_count_parameters",
        message="trainable"),
    "encoder_padding_0": Mistake(
        cell="encoder",
        edit=[("nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1)",
                                       "nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=0)")],
        test="test_encoder",
        message="padding=1"),
    "flatten_merges_batch": Mistake(
        cell="encoder",
        edit=[("torch.flatten(h, start_dim=1)", "torch.flatten(h)")],
        test="test_encoder",
        message="start_dim=1"),
    "latent_dim_hard_coded": Mistake(
        cell="encoder",
        edit=[("nn.Linear(64 * 7 * 7, latent_dim)", "nn.Linear(64 * 7 * 7, 2)")],
        test="test_encoder",
        message="use latent_dim"),
    "no_relu": Mistake(cell="encoder", edit=[("            nn.ReLU(),\n", "")], test="test_encoder", message="ReLU after each convolution"),
    "one_head_for_both": Mistake(
        cell="encoder",
        edit=[("return self.fc_mu(h), self.fc_logvar(h)", "return self.fc_mu(h), self.fc_mu(h)")],
        test="test_encoder",
        message="separate heads"),
    "relu_on_heads": Mistake(
        cell="encoder",
        edit=[("return self.fc_mu(h), self.fc_logvar(h)",
                                   "return F.relu(self.fc_mu(h)), F.relu(self.fc_logvar(h))")],
        test="test_encoder",
        message="no activation after the linear heads"),
    "wrong_channels": Mistake(
        cell="encoder",
        edit=[("nn.Conv2d(32, 64,", "nn.Conv2d(32, 32,"), ("64 * 7 * 7", "32 * 7 * 7")],
        test="test_encoder",
        message="channels 1 -> 32 -> 64"),
}

CORRECT = {
    # floor from math, a loop over parameters, layers as attributes, F.relu, view, one linear layer split in two
    "attributes_and_one_split_head": {
        "conv2d_output_size": (
            "import math\n\n"
            "def conv2d_output_size(size, kernel_size, stride=1, padding=0):\n"
            "    return int(math.floor((size + 2 * padding - kernel_size) / stride)) + 1\n"),
        "count_parameters": (
            "def count_parameters(model):\n"
            "    total = 0\n"
            "    for name, param in model.named_parameters():\n"
            "        if param.requires_grad:\n"
            "            total += param.numel()\n"
            "    return total\n"),
        "encoder": (
            "class Encoder(nn.Module):\n"
            "    def __init__(self, latent_dim=2):\n"
            "        super().__init__()\n"
            "        self.latent_dim = latent_dim\n"
            "        self.conv1 = nn.Conv2d(1, 32, 4, 2, 1)\n"
            "        self.conv2 = nn.Conv2d(32, 64, 4, 2, 1)\n"
            "        self.head = nn.Linear(3136, 2 * latent_dim)  # mu and logvar side by side\n"
            "\n"
            "    def forward(self, x):\n"
            "        h = F.relu(self.conv1(x))\n"
            "        h = F.relu(self.conv2(h))\n"
            "        h = h.view(h.size(0), -1)\n"
            "        mu, logvar = self.head(h).chunk(2, dim=1)\n"
            "        return mu, logvar\n"),
    },
    # one nn.Sequential holding everything up to the flattened features, nn.Flatten, a list of heads
    "sequential_with_flatten": {
        "encoder": (
            "class Encoder(nn.Module):\n"
            "    def __init__(self, latent_dim=2):\n"
            "        super().__init__()\n"
            "        self.features = nn.Sequential(\n"
            "            nn.Conv2d(1, 32, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)), nn.ReLU(inplace=True),\n"
            "            nn.Conv2d(32, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)), nn.ReLU(inplace=True),\n"
            "            nn.Flatten())\n"
            "        self.heads = nn.ModuleList([nn.Linear(3136, latent_dim) for _ in range(2)])\n"
            "\n"
            "    def forward(self, x):\n"
            "        h = self.features(x)\n"
            "        return tuple(head(h) for head in self.heads)\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
