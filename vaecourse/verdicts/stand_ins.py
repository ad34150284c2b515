"""What the grader hands to a student's code in place of the course's: models and a reparameterize.

A probe that needs an earlier exercise (03's ConvVAE needs an Encoder, a Decoder and reparameterize;
05's loops a VAE to train and evaluate; 06's encode_dataset a VAE to encode with; 08's iwae_bound a VAE
whose log p(x) is known) gets these
stand-ins instead of the course's answers: they have the interface of the course's parts and none of
their code (linear maps, no convolution; a reparameterize that does not sample), so nothing the kernel
receives answers an exercise (tests/test_verdicts_kernel_sources.py holds every probe to that).

They are not secret: `kernel_source(...)` sends their source to the student's kernel as it is, and
the grader imports the same objects from here for its own reference values, so both sides run the same
code. Nothing here imports the course package (the sandboxed kernel does not see it), and nothing here
is for the student to read (no catalog translates this module): a verdict's words live in its own module.
"""
import inspect

import torch
from torch import nn

PIXELS = 28 * 28


# ---------------------------------------------------------------- 03 and 06: the ConvVAE's parts

class StandInEncoder(nn.Module):
    """The Encoder's interface: x (B, 1, 28, 28) -> (mu, logvar), each (B, latent_dim); two linear maps
    of the pixels."""

    def __init__(self, latent_dim=2):
        super().__init__()
        self.mu_head = nn.Linear(PIXELS, latent_dim)
        self.logvar_head = nn.Linear(PIXELS, latent_dim)

    def forward(self, x):
        pixels = x.reshape(x.shape[0], PIXELS)  # (B, 1, 28, 28) -> (B, 784)
        return self.mu_head(pixels), self.logvar_head(pixels)


class StandInDecoder(nn.Module):
    """The Decoder's interface: z (B, latent_dim) -> x_hat (B, 1, 28, 28) in (0, 1); one linear map."""

    def __init__(self, latent_dim=2):
        super().__init__()
        self.pixel_logits = nn.Linear(latent_dim, PIXELS)

    def forward(self, z):
        return torch.sigmoid(self.pixel_logits(z)).reshape(z.shape[0], 1, 28, 28)


def stand_in_reparameterize(mu, logvar):
    """reparameterize's interface, deliberately not a sample: the same z on every call, so the grader
    knows it exactly, between 0 and 1 above mu (never mu itself), with a gradient for mu and for logvar."""
    return mu + torch.sigmoid(logvar)


class StandInVAE(nn.Module):
    """The ConvVAE's interface: model.encoder, model.decoder, model(x) -> (x_hat, mu, logvar)."""

    def __init__(self, latent_dim=2):
        super().__init__()
        self.encoder = StandInEncoder(latent_dim)
        self.decoder = StandInDecoder(latent_dim)

    def forward(self, x):
        codes = self.encoder(x)  # (mu, logvar)
        return (self.decoder(stand_in_reparameterize(*codes)), *codes)


# ---------------------------------------------------------------- 05: a VAE to train and evaluate

class TrainingEncoder(nn.Module):
    """The Encoder's interface: x (B, 1, 28, 28) -> (mu, logvar), each (B, latent_dim); one tanh layer."""

    def __init__(self, latent_dim=3, hidden=16):
        super().__init__()
        self.hidden = nn.Linear(PIXELS, hidden)
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x):
        h = torch.tanh(self.hidden(x.flatten(1)))  # (B, 1, 28, 28) -> (B, 784) -> (B, hidden)
        return self.to_mu(h), self.to_logvar(h)


class TrainingVAE(nn.Module):
    """A VAE to train: model(x) -> (x_hat, mu, logvar), z drawn at every call with the standard deviation
    exp(logvar / 2) and torch.randn_like, as the notebooks' own reparameterize (in 05's course helpers) draws
    it, so that a loop that draws z itself with that function gets the grader's values too."""

    def __init__(self, latent_dim=3):
        super().__init__()
        self.encoder = TrainingEncoder(latent_dim)
        self.decoder = StandInDecoder(latent_dim)

    def forward(self, x):
        codes = self.encoder(x)  # (mu, logvar)
        noise = torch.randn_like(codes[0])  # one draw per call, as the course's ConvVAE draws it
        return (self.decoder(codes[0] + noise * torch.exp(codes[1] / 2)), *codes)


TRAINING_STATE = "state."  # 05's inputs that hold the model's weights are named state.<parameter name>


def training_model(inputs: dict, mode: str) -> TrainingVAE:
    """A fresh TrainingVAE with the grader's weights from `inputs`, on the CPU, in mode "train" or "eval"."""
    model = TrainingVAE()
    model.load_state_dict({k[len("state."):]: v.float() for k, v in inputs.items() if k.startswith("state.")})
    model.train(mode == "train")
    return model


def training_batches(inputs: dict) -> list:
    """The grader's images as a list of (x, y) batches of the sizes it chose."""
    bounds = [0]
    for size in inputs["sizes"].tolist():
        bounds.append(bounds[-1] + size)
    return [(inputs["x"][a:b].float(), torch.zeros(b - a)) for a, b in zip(bounds[:-1], bounds[1:])]


def watch_forward_passes(model) -> list:
    """A list that gets (gradients on?, train mode?) at each forward pass of model's encoder."""
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append((torch.is_grad_enabled(), module.training)))
    return seen


def flat_weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# ---------------------------------------------------------------- 08: models for iwae_bound

class GraderLinearVAE(nn.Module):
    """A small VAE with the grader's weights: mu and logvar linear (tanh) in x, Bernoulli means sigmoid-linear in z."""

    def __init__(self, w_mu, b_mu, w_logvar, b_logvar, w_dec, b_dec):
        super().__init__()
        self.latent_dim = w_mu.shape[1]
        self.encoder = GraderLinearEncoder(w_mu, b_mu, w_logvar, b_logvar)
        self.decoder = GraderLinearDecoder(w_dec, b_dec)

    def forward(self, x):
        codes = self.encoder(x)  # (mu, logvar)
        return (self.decoder(codes[0]), *codes)


class GraderLinearEncoder(nn.Module):
    def __init__(self, w_mu, b_mu, w_logvar, b_logvar):
        super().__init__()
        self.w_mu, self.b_mu = nn.Parameter(w_mu.clone()), nn.Parameter(b_mu.clone())
        self.w_logvar, self.b_logvar = nn.Parameter(w_logvar.clone()), nn.Parameter(b_logvar.clone())

    def forward(self, x):
        h = x.flatten(1)  # (B, 784)
        return h @ self.w_mu + self.b_mu, torch.tanh(h @ self.w_logvar + self.b_logvar)


class GraderLinearDecoder(nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = nn.Parameter(w.clone()), nn.Parameter(b.clone())

    def forward(self, z):
        z = z.reshape(-1, self.w.shape[0])  # (N, latent_dim)
        return torch.sigmoid(z @ self.w + self.b).view(-1, 1, 28, 28)


class GraderFixedEncoder(nn.Module):
    """q(z|x) = N(mu, exp(logvar)) for every image, whatever it shows."""

    def __init__(self, mu, logvar):
        super().__init__()
        self.register_buffer("mu", mu.clone())
        self.register_buffer("logvar", logvar.clone())

    def forward(self, x):
        shape = (x.shape[0], len(self.mu))
        return self.mu.expand(shape), self.logvar.expand(shape)


class GraderGreyDecoder(nn.Module):
    """Ignores z: every pixel is 0.5, so log p(x|z) = -784 log 2 and log p(x) = -784 log 2 exactly."""

    def __init__(self, dtype):
        super().__init__()
        self.register_buffer("grey", torch.tensor(0.5, dtype=dtype))

    def forward(self, z):
        return self.grey.expand(z.reshape(-1, z.shape[-1]).shape[0], 1, 28, 28).clone()


class GraderStub(nn.Module):
    def __init__(self, mu, logvar):
        super().__init__()
        self.latent_dim = len(mu)
        self.encoder, self.decoder = GraderFixedEncoder(mu, logvar), GraderGreyDecoder(mu.dtype)


# ---------------------------------------------------------------- for the kernel

HEADER = f"import torch\nfrom torch import nn\n\nPIXELS = {PIXELS!r}\n"


def kernel_source(*objects) -> str:
    """What a probe's helpers hold: the imports and constants above, then each object's source as it is here."""
    return "\n\n".join([HEADER, *(inspect.getsource(obj) for obj in objects)])


# A verdict's helpers, by what its probe needs
CONV_VAE_PARTS = kernel_source(StandInEncoder, StandInDecoder, stand_in_reparameterize)
VAE = kernel_source(StandInEncoder, StandInDecoder, stand_in_reparameterize, StandInVAE)
TRAINING = kernel_source(StandInDecoder, TrainingEncoder, TrainingVAE, training_model, training_batches,
                         watch_forward_passes, flat_weights)
IWAE_MODELS = kernel_source(GraderLinearVAE, GraderLinearEncoder, GraderLinearDecoder, GraderFixedEncoder,
                            GraderGreyDecoder, GraderStub)
