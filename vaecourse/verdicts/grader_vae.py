"""The model the grader hands to 05's loops, and the kernel-side helpers that build it.

train_one_epoch and evaluate are judged on a model the grader chooses: this small MLP VAE with
the ConvVAE's interface (`model(x) -> (x_hat, mu, logvar)`, `model.encoder`, `model.decoder`). It
is not the answer to any exercise (02 and 03 ask for convolutions) and it is not secret: its source
is sent to the student's kernel as it is (`KERNEL_SOURCE`), and the grader's replay in
vaecourse/verdicts/training.py imports the same classes, so both sides run the same code. Nothing
here imports the course package: the sandboxed kernel does not see it.
"""
import inspect

import torch
from torch import nn

LATENT_DIM = 3
HIDDEN = 16
PIXELS = 28 * 28


class GraderEncoder(nn.Module):
    def __init__(self, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.hidden = nn.Linear(PIXELS, HIDDEN)
        self.to_mu = nn.Linear(HIDDEN, latent_dim)
        self.to_logvar = nn.Linear(HIDDEN, latent_dim)

    def forward(self, x):
        h = torch.tanh(self.hidden(x.flatten(1)))  # (B, 1, 28, 28) -> (B, 784) -> (B, HIDDEN)
        return self.to_mu(h), self.to_logvar(h)  # (B, latent_dim) each


class GraderDecoder(nn.Module):
    def __init__(self, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.fc = nn.Linear(latent_dim, PIXELS)

    def forward(self, z):
        return torch.sigmoid(self.fc(z)).view(-1, 1, 28, 28)  # (B, latent_dim) -> (B, 1, 28, 28) in (0, 1)


class GraderVAE(nn.Module):
    """model(x) -> (x_hat, mu, logvar), z drawn with torch.randn_like as the course's ConvVAE draws it."""

    def __init__(self, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.encoder = GraderEncoder(latent_dim)
        self.decoder = GraderDecoder(latent_dim)

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # the formula the notebooks teach (02, 03)
        return self.decoder(z), mu, logvar


STATE = "state."  # the inputs holding the model's weights are named state.<parameter name>


def grader_model(inputs: dict, mode: str) -> GraderVAE:
    """A fresh GraderVAE with the grader's weights from `inputs`, on the CPU, in mode "train" or "eval"."""
    model = GraderVAE()
    model.load_state_dict({k[len(STATE):]: v.float() for k, v in inputs.items() if k.startswith(STATE)})
    model.train(mode == "train")
    return model


def grader_batches(inputs: dict) -> list:
    """The grader's images as a list of (x, y) batches of the sizes it chose."""
    bounds = [0]
    for size in inputs["sizes"].tolist():
        bounds.append(bounds[-1] + size)
    return [(inputs["x"][a:b].float(), torch.zeros(b - a)) for a, b in zip(bounds[:-1], bounds[1:])]


def watch(model) -> list:
    """A list that gets (gradients on?, train mode?) at each forward pass of model's encoder."""
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append((torch.is_grad_enabled(), module.training)))
    return seen


def flat_weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# What the probe of 05 runs before its own code: this module's classes and helpers, as they are here.
KERNEL_SOURCE = "\n\n".join(
    ["import torch\nfrom torch import nn", f"LATENT_DIM = {LATENT_DIM!r}\nHIDDEN = {HIDDEN!r}\nPIXELS = {PIXELS!r}\n"
     f"STATE = {STATE!r}"]
    + [inspect.getsource(obj) for obj in (GraderEncoder, GraderDecoder, GraderVAE, grader_model, grader_batches,
                                          watch, flat_weights)])
