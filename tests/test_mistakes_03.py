"""Catalogued mistakes in 03_decoder, each autograded with real nbgrader: each loses points on
the right test and its visible check names the likely cause; correct alternatives written
differently get full marks."""
from catalogue import Catalogue, CatalogueTests, Mistake

NB = "03_decoder"
# One mistake costs one exercise: ConvVAE's hidden tests put the course's Decoder and reparameterize in
# place of the student's while they judge it, so a mistake in 3.2 or 3.3 no longer costs test_conv_vae too.
# The k-th mistake of every exercise share a submission ("by_exercise"), and a submission must lose
# exactly the tests of its mistakes.
TESTS = ["test_conv_transpose2d_output_size", "test_decoder", "test_reparameterize", "test_conv_vae"]
FULL_MARKS = 1 + 3 + 3 + 3


# name -> the mistake (see catalogue.Mistake)
MISTAKES = {
    "forward_conv_formula": Mistake(
        cell="conv_transpose2d_output_size",
        edit=[("(size - 1) * stride - 2 * padding + kernel_size",
                                                               "(size + 2 * padding - kernel_size) // stride + 1")],
        test="test_conv_transpose2d_output_size",
        message="(forward) convolution"),
    "size_times_stride": Mistake(
        cell="conv_transpose2d_output_size",
        edit=[("(size - 1) * stride", "size * stride")],
        test="test_conv_transpose2d_output_size",
        message="size - 1 gaps"),
    "no_sigmoid": Mistake(cell="decoder", edit=[("            nn.Sigmoid(),\n", "")], test="test_decoder", message="end with a Sigmoid"),
    "channels_last_reshape": Mistake(
        cell="decoder",
        edit=[("h.view(-1, 64, 7, 7)", "h.view(-1, 7, 7, 64)")],
        test="test_decoder",
        message="(B, 64, 7, 7): channels first"),
    "latent_dim_hard_coded": Mistake(
        cell="decoder",
        edit=[("nn.Linear(latent_dim, 64 * 7 * 7)", "nn.Linear(2, 64 * 7 * 7)")],
        test="test_decoder",
        message="use latent_dim"),
    "deconv_padding_0": Mistake(
        cell="decoder",
        edit=[("nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)",
                                      "nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=0)")],
        test="test_decoder",
        message="padding=1"),
    "missing_half": Mistake(
        cell="reparameterize",
        edit=[("torch.exp(0.5 * logvar)", "torch.exp(logvar)")],
        test="test_reparameterize",
        message="the 0.5 is missing"),
    "logvar_used_as_std": Mistake(
        cell="reparameterize",
        edit=[("std = torch.exp(0.5 * logvar)", "std = logvar")],
        test="test_reparameterize",
        message="logvar is a logarithm"),
    "torch_normal_blocks_gradients": Mistake(
        cell="reparameterize",
        edit=[("return mu + std * eps", "return torch.normal(mu, std)")],
        test="test_reparameterize",
        message="torch.normal(mu, std)"),
    "sample_blocks_gradients": Mistake(
        cell="reparameterize",
        edit=[("return mu + std * eps",
                                                    "return torch.distributions.Normal(mu, std).sample()")],
        test="test_reparameterize",
        message=".sample()"),
    "std_detached": Mistake(
        cell="reparameterize",
        edit=[("return mu + std * eps", "return mu + std.detach() * eps")],
        test="test_reparameterize",
        message="do not detach std"),
    "uniform_noise": Mistake(
        cell="reparameterize",
        edit=[("torch.randn_like(mu)", "torch.rand_like(mu)")],
        test="test_reparameterize",
        message="not the uniform torch.rand_like"),
    "float32_noise": Mistake(
        cell="reparameterize",
        edit=[("torch.randn_like(mu)", "torch.randn(mu.shape)")],
        test="test_reparameterize",
        message="torch.randn_like(mu), not torch.randn(mu.shape)"),
    "decodes_mu_not_a_sample": Mistake(
        cell="conv_vae",
        edit=[("x_hat = self.decoder(z)", "x_hat = self.decoder(mu)")],
        test="test_conv_vae",
        message="decode a sample"),
    "z_detached": Mistake(
        cell="conv_vae",
        edit=[("z = reparameterize(mu, logvar)", "z = reparameterize(mu, logvar).detach()")],
        test="test_conv_vae",
        message="do not detach z"),
    "outputs_in_wrong_order": Mistake(
        cell="conv_vae",
        edit=[("return x_hat, mu, logvar", "return mu, logvar, x_hat")],
        test="test_conv_vae",
        message="in that order"),
}

CORRECT = {
    # layers as attributes, nn.Unflatten, torch.sigmoid and F.relu in forward; rsample; the trick inline in forward
    "attributes_rsample_inline": {
        "decoder": (
            "class Decoder(nn.Module):\n"
            "    def __init__(self, latent_dim=2):\n"
            "        super().__init__()\n"
            "        self.fc = nn.Linear(latent_dim, 3136)\n"
            "        self.unflatten = nn.Unflatten(1, (64, 7, 7))\n"
            "        self.up1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)\n"
            "        self.up2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)\n"
            "\n"
            "    def forward(self, z):\n"
            "        h = self.unflatten(self.fc(z))\n"
            "        return torch.sigmoid(self.up2(F.relu(self.up1(h))))\n"),
        "reparameterize": (
            "def reparameterize(mu, logvar):\n"
            "    return torch.distributions.Normal(mu, torch.exp(logvar / 2)).rsample()\n"),
        "conv_vae": (
            "class ConvVAE(nn.Module):\n"
            "    def __init__(self, latent_dim=2):\n"
            "        super().__init__()\n"
            "        self.encoder, self.decoder = Encoder(latent_dim), Decoder(latent_dim)\n"
            "\n"
            "    def forward(self, x):\n"
            "        mu, logvar = self.encoder(x)\n"
            "        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)\n"
            "        return self.decoder(z), mu, logvar\n"),
    },
    # pytorch/examples style: in-place ops on a fresh normal_ tensor; a decoder in one nn.Sequential
    "in_place_noise_one_sequential": {
        "conv_transpose2d_output_size": (
            "def conv_transpose2d_output_size(size, kernel_size, stride=1, padding=0):\n"
            "    return int(stride * (size - 1) + kernel_size - 2 * padding)\n"),
        "decoder": (
            "class Decoder(nn.Module):\n"
            "    def __init__(self, latent_dim=2):\n"
            "        super().__init__()\n"
            "        self.net = nn.Sequential(\n"
            "            nn.Linear(latent_dim, 64 * 7 * 7), nn.Unflatten(-1, (64, 7, 7)),\n"
            "            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),\n"
            "            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Sigmoid())\n"
            "\n"
            "    def forward(self, z):\n"
            "        return self.net(z)\n"),
        "reparameterize": (
            "def reparameterize(mu, logvar):\n"
            "    std = logvar.mul(0.5).exp_()\n"
            "    eps = torch.empty_like(std).normal_()\n"
            "    return eps.mul(std).add_(mu)\n"),
    },
}

CATALOGUE = Catalogue(NB, MISTAKES, CORRECT, full_marks=FULL_MARKS, tests=TESTS, grouping="by_exercise")


class TestCatalogue(CatalogueTests):
    catalogue = CATALOGUE
