"""Unit tests of the reference code exported from notebooks 07 and 08: the per-dimension KL, active
units, KL warm-up schedules, the Gaussian NLL, the continuous Bernoulli normaliser and the IWAE bound.

The IWAE tests use a ConvVAE trained briefly on the offline MNIST set: with k = 1 the bound is the
one-sample ELBO at the same z (same seed), and on a trained model it rises with k.
"""
import math

import pytest
import torch

from vaecourse.reference.ae_vs_vae_and_beta import (Autoencoder, active_units, cyclical_beta, kl_per_dimension,
                                                    linear_warmup, train_steps)
from vaecourse.reference.decoder import ConvVAE
from vaecourse.reference.elbo import kl_divergence, reconstruction_loss
from vaecourse.reference.likelihoods_and_bounds import (MLPVAE, continuous_bernoulli_log_norm, gaussian_nll,
                                                        iwae_bound)


# ---------------------------------------------------------------- notebook 07

def test_kl_per_dimension_is_the_batch_mean_of_the_per_entry_kl():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(9, 4, generator=g, dtype=torch.float64), torch.randn(9, 4, generator=g, dtype=torch.float64)
    got = kl_per_dimension(mu, logvar)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean(dim=0)
    assert got.shape == (4,) and got.dtype == torch.float64
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.sum(), kl_divergence(mu, logvar).mean())  # sums to the KL per image
    assert torch.equal(kl_per_dimension(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(2))


def test_active_units_uses_the_population_variance_and_a_strict_threshold():
    column = torch.tensor([[0.5], [-0.5], [0.5], [-0.5]])  # population variance exactly 0.25, sample variance 1/3
    assert active_units(column, threshold=0.3) == 0  # the unbiased variance (1/3) would count it
    assert active_units(column, threshold=0.25) == 0  # equal to the threshold: not active
    assert active_units(column, threshold=0.2499) == 1  # just above: active
    mu = torch.tensor([[0.5, 3.0, 0.2, 0.07]]).repeat(4, 1) * torch.tensor([[1.0], [-1.0], [1.0], [-1.0]])
    mu[:, 1] = 3.0  # constant: large mean, no variance
    result = active_units(mu)  # variances 0.25, 0, 0.04, 0.0049 against 0.01
    assert result == 2 and isinstance(result, int)


def test_linear_warmup():
    assert [linear_warmup(s, 10) for s in (0, 5, 10, 11, 100)] == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert linear_warmup(0, 0) == 1.0 and linear_warmup(7, 0) == 1.0  # warmup_steps = 0: no warm-up
    assert all(isinstance(linear_warmup(s, 4), float) for s in range(8))


def test_cyclical_beta_follows_fu_et_al():
    assert [cyclical_beta(s, 10) for s in range(12)] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.2])
    assert [cyclical_beta(s, 4, ratio=1.0) for s in range(5)] == pytest.approx([0.0, 0.25, 0.5, 0.75, 0.0])
    for step in range(60):  # the same inside every cycle
        assert cyclical_beta(step, 7, ratio=0.3) == cyclical_beta(step % 7, 7, ratio=0.3)


def test_autoencoder_decodes_the_mean():
    torch.manual_seed(0)
    ae = Autoencoder(latent_dim=3)
    x = torch.rand(2, 1, 28, 28)
    x_hat, mu, logvar = ae(x)
    assert x_hat.shape == (2, 1, 28, 28) and mu.shape == logvar.shape == (2, 3)
    torch.testing.assert_close(x_hat, ae.decoder(ae.encoder(x)[0]))  # no noise
    torch.testing.assert_close(ae(x)[0], x_hat)


# ---------------------------------------------------------------- notebook 08

@pytest.mark.parametrize("shape", [(), (1, 1, 28, 28), (3, 1, 28, 28)])
def test_gaussian_nll_matches_torch_distributions(shape):
    g = torch.Generator().manual_seed(1)
    x, x_hat = torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64), torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64)
    log_sigma = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 2
    expected = -torch.distributions.Normal(x_hat, log_sigma.exp()).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(gaussian_nll(x_hat, x, log_sigma), expected)


def test_gaussian_nll_includes_the_constant():
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(gaussian_nll(x, x, torch.tensor(0.0)), torch.full((2,), 784 * 0.5 * math.log(2 * math.pi)))


def test_continuous_bernoulli_log_norm_at_and_near_one_half():
    lam = torch.tensor([0.5 - 1e-4, 0.5, 0.5 + 1e-4])
    got = continuous_bernoulli_log_norm(lam)
    v = (lam.double() - 0.5) ** 2
    torch.testing.assert_close(got.double(), math.log(2) + 4 / 3 * v + 104 / 45 * v ** 2, atol=1e-7, rtol=0)
    assert got[1].item() == pytest.approx(math.log(2), abs=1e-7)
    lam.requires_grad_(True)
    continuous_bernoulli_log_norm(lam).sum().backward()
    assert torch.isfinite(lam.grad).all()
    torch.testing.assert_close(lam.grad.double(), 8 / 3 * (lam.detach().double() - 0.5), atol=1e-6, rtol=1e-3)


def test_continuous_bernoulli_log_norm_matches_torch_distributions():
    lam = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)  # includes 0.5 and the Taylor band
    x = torch.tensor(0.25, dtype=torch.float64)
    cb = torch.distributions.ContinuousBernoulli(probs=lam, validate_args=False)
    expected = cb.log_prob(x) - (x * lam.log() + (1 - x) * (1 - lam).log())
    torch.testing.assert_close(continuous_bernoulli_log_norm(lam), expected, atol=1e-8, rtol=1e-8)


# ---------------------------------------------------------------- the IWAE bound on a trained model

@pytest.fixture(scope="module")
def trained(offline_data):
    """A ConvVAE trained for 80 steps of 64 offline digits (one thread: fast on a shared CPU), and 200 test digits."""
    from vaecourse.data import mnist_tensors

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x_train, _ = mnist_tensors(train=True, root=offline_data, limit=2000)
        x_test, _ = mnist_tensors(train=False, root=offline_data, limit=200)
        torch.manual_seed(0)
        model = ConvVAE(latent_dim=5)
        history = train_steps(model, x_train, 80, batch_size=64)
        yield model, x_test, history
    finally:
        torch.set_num_threads(threads)


def test_the_model_trained(trained):
    _, _, history = trained
    first = history["reconstruction"][0] + history["KL"][0]
    last = sum(r + k for r, k in zip(history["reconstruction"][-10:], history["KL"][-10:])) / 10
    assert last < first - 100, f"the negative ELBO should fall in 80 steps: {first:.1f} -> {last:.1f}"


def test_iwae_with_k_1_is_the_one_sample_elbo_on_the_same_seed(trained):
    model, x_test, _ = trained
    x = x_test[:50]
    with torch.no_grad():
        torch.manual_seed(123)
        got = iwae_bound(model, x, 1)
        torch.manual_seed(123)
        mu, logvar = model.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        prior = torch.distributions.Normal(0.0, 1.0)
        elbo = -reconstruction_loss(model.decoder(z), x) + (prior.log_prob(z) - q.log_prob(z)).sum(dim=1)
    assert got.shape == (50,)
    torch.testing.assert_close(got, elbo, atol=1e-3, rtol=1e-5)


def test_iwae_rises_with_k_on_a_trained_model(trained):
    model, x_test, _ = trained
    torch.manual_seed(7)
    with torch.no_grad():
        x_hat, mu, logvar = model(x_test)
        elbo = -(reconstruction_loss(x_hat, x_test) + kl_divergence(mu, logvar)).mean().item()  # analytic KL
        bounds = {k: iwae_bound(model, x_test, k).mean().item() for k in (1, 5, 50)}
    print(f"ELBO {elbo:.2f}, L_1 {bounds[1]:.2f}, L_5 {bounds[5]:.2f}, L_50 {bounds[50]:.2f} nats per image")
    assert abs(bounds[1] - elbo) < 1.5, "L_1 estimates the ELBO (KL sampled instead of analytic)"
    assert bounds[1] + 0.5 < bounds[5] < bounds[50] - 0.2, f"expected L_1 < L_5 < L_50, got {bounds}"
    assert bounds[50] < 0


def test_iwae_bound_is_stable_and_works_with_the_mlp_vae():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4, hidden=50)
    x = (torch.rand(3, 1, 28, 28) > 0.5).float()
    with torch.no_grad():
        bound = iwae_bound(model, x, 200)  # log-weights around -550 nats: exp would underflow, logsumexp does not
    assert bound.shape == (3,) and torch.isfinite(bound).all()
