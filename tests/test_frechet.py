"""Unit tests of the reference code exported from 09_vq_vae and 10_evaluating_samples (fast, no notebook runs).

frechet_distance must agree with the formula computed through scipy's general matrix square root
(scipy.linalg.sqrtm; scipy is a dev dependency only: the notebooks use torch alone).
"""
import math

import numpy as np
import pytest
import torch

from vaecourse.reference.evaluating_samples import (DigitClassifier, feature_statistics, frechet_distance,
                                                    sample_class_histogram)
from vaecourse.reference.vq_vae import VQVAE, VectorQuantizer, codebook_perplexity, quantize

scipy_linalg = pytest.importorskip("scipy.linalg")


def scipy_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """The FID formula as pytorch-fid writes it: Tr(S1 + S2 - 2 sqrtm(S1 S2)), sqrtm from scipy."""
    covmean = scipy_linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def random_covariance(rng, dim, samples):
    x = rng.standard_normal((samples, dim)) @ rng.standard_normal((dim, dim))
    return np.atleast_2d(np.cov(x, rowvar=False))


@pytest.mark.parametrize("dim", [1, 2, 5, 16, 32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_agrees_with_scipy_sqrtm(dim, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    sigma1, sigma2 = random_covariance(rng, dim, 4 * dim + 10), random_covariance(rng, dim, 4 * dim + 10)
    expected = scipy_frechet(mu1, sigma1, mu2, sigma2)
    got = frechet_distance(torch.from_numpy(mu1), torch.from_numpy(sigma1), torch.from_numpy(mu2), torch.from_numpy(sigma2))
    assert isinstance(got, float)
    assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected)), (got, expected)


def test_frechet_distance_properties():
    rng = np.random.default_rng(5)
    mu, sigma = torch.from_numpy(rng.standard_normal(8)), torch.from_numpy(random_covariance(rng, 8, 50))
    mu2, sigma2 = torch.from_numpy(rng.standard_normal(8)), torch.from_numpy(random_covariance(rng, 8, 50))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8
    assert frechet_distance(mu, sigma, mu2, sigma2) > 0
    assert abs(frechet_distance(mu, sigma, mu2, sigma2) - frechet_distance(mu2, sigma2, mu, sigma)) < 1e-8
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
    assert abs(frechet_distance(torch.tensor([0.0]), torch.tensor([[4.0]]), torch.tensor([3.0]), torch.tensor([[1.0]])) - 10) < 1e-9
    # a shift of the means adds its squared length
    shift = torch.full((8,), 0.5, dtype=torch.float64)
    assert abs(frechet_distance(mu, sigma, mu + shift, sigma) - 8 * 0.25) < 1e-8


def test_frechet_distance_singular_and_float32():
    rng = np.random.default_rng(7)
    points = rng.standard_normal((3, 10))  # fewer samples than features: rank 2
    singular = torch.from_numpy(np.cov(points, rowvar=False))
    assert math.isfinite(frechet_distance(torch.zeros(10), singular, torch.zeros(10), singular))
    assert abs(frechet_distance(torch.zeros(10), singular, torch.zeros(10), singular)) < 1e-5
    other = torch.from_numpy(np.cov(rng.standard_normal((4, 10)), rowvar=False))
    expected = scipy_frechet(np.zeros(10), singular.numpy(), np.zeros(10), other.numpy())
    assert abs(frechet_distance(torch.zeros(10), singular, torch.zeros(10), other) - expected) < 1e-6
    big1 = torch.tensor([[20000.0, 19000.0], [19000.0, 20000.0]])  # float32 in, float64 inside
    big2 = torch.tensor([[20000.0, 19000.0], [19000.0, 21000.0]])
    expected = scipy_frechet(np.zeros(2), big1.double().numpy(), np.zeros(2), big2.double().numpy())
    assert abs(frechet_distance(torch.zeros(2), big1, torch.zeros(2), big2) - expected) < 1e-6


def test_feature_statistics_match_numpy():
    torch.manual_seed(0)
    classifier = DigitClassifier()
    images = torch.rand(40, 1, 28, 28)
    mean, cov = feature_statistics(classifier, images, batch_size=16)
    with torch.no_grad():
        features = classifier.features(images).double().numpy()
    assert mean.dtype == cov.dtype == torch.float64
    np.testing.assert_allclose(mean.numpy(), features.mean(0), atol=1e-6)
    np.testing.assert_allclose(cov.numpy(), np.cov(features, rowvar=False), atol=1e-6)


def test_sample_class_histogram_fractions_in_eval_mode():
    torch.manual_seed(1)
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.9), torch.nn.Linear(784, 10))
    classifier.train()
    images = torch.rand(1200, 1, 28, 28)  # more than one internal batch
    hist = sample_class_histogram(classifier, images)
    with torch.no_grad():
        classifier.eval()
        expected = torch.bincount(classifier(images).argmax(1), minlength=10).float() / 1200
    assert hist.shape == (10,)
    assert abs(hist.sum().item() - 1) < 1e-6
    assert torch.allclose(hist, expected)


def test_quantize_matches_brute_force_and_ties():
    g = torch.Generator().manual_seed(3)
    z_e = torch.randn(4, 6, 5, 3, generator=g, dtype=torch.float64)
    codebook = torch.randn(20, 6, generator=g, dtype=torch.float64)
    z_q, indices = quantize(z_e, codebook)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 6)
    expected = torch.cdist(flat, codebook).argmin(1).reshape(4, 5, 3)
    assert torch.equal(indices, expected)
    assert torch.equal(z_q, codebook[expected].permute(0, 3, 1, 2))
    _, tie = quantize(torch.zeros(1, 2, 1, 1), torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert tie.item() == 0


def test_vector_quantizer_straight_through_and_losses():
    torch.manual_seed(4)
    vq = VectorQuantizer(num_codes=8, code_dim=3, beta=0.25)
    z_e = torch.randn(2, 3, 4, 4, requires_grad=True)
    z_q_st, vq_loss, indices = vq(z_e)
    z_q = vq.codebook.detach()[indices].permute(0, 3, 1, 2)
    assert torch.allclose(z_q_st, z_q)
    mse = ((z_q - z_e.detach()) ** 2).mean()
    assert torch.allclose(vq_loss, 1.25 * mse)
    weights = torch.randn_like(z_e)
    grad_z, = torch.autograd.grad((z_q_st * weights).sum(), z_e, retain_graph=True)
    assert torch.allclose(grad_z, weights)  # straight through
    grad_z, grad_c = torch.autograd.grad(vq_loss, [z_e, vq.codebook])
    assert torch.allclose(grad_z, 0.25 * 2 * (z_e.detach() - z_q) / z_e.numel(), atol=1e-7)
    assert grad_c.abs().sum() > 0


def test_reset_dead_codes_moves_only_unused_codes_onto_encoder_outputs():
    torch.manual_seed(5)
    vq = VectorQuantizer(num_codes=10, code_dim=4)
    before = vq.codebook.detach().clone()
    z_e = torch.randn(3, 4, 2, 2)
    indices = torch.tensor([1, 1, 3, 7])
    assert vq.reset_dead_codes(z_e, indices) == 7
    after = vq.codebook.detach()
    assert torch.equal(after[[1, 3, 7]], before[[1, 3, 7]])
    rows = z_e.permute(0, 2, 3, 1).reshape(-1, 4)
    for k in (0, 2, 4, 5, 6, 8, 9):
        assert (after[k] - rows).abs().sum(1).min() < 1e-6


def test_codebook_perplexity_bounds():
    assert codebook_perplexity(torch.zeros(10, dtype=torch.long), 16) == pytest.approx(1.0)
    assert codebook_perplexity(torch.arange(16), 16) == pytest.approx(16.0)
    assert codebook_perplexity(torch.tensor([0, 0, 1, 2]), 5) == pytest.approx(2 ** 1.5)
    value = codebook_perplexity(torch.randint(0, 16, (2, 7, 7), generator=torch.Generator().manual_seed(0)), 16)
    assert 1.0 <= value <= 16.0


def test_vq_vae_shapes_and_decode_indices():
    torch.manual_seed(6)
    model = VQVAE(num_codes=16, code_dim=8)
    x = torch.rand(3, 1, 28, 28)
    x_hat, vq_loss, indices = model(x)
    assert x_hat.shape == x.shape and vq_loss.shape == () and indices.shape == (3, 7, 7)
    with torch.no_grad():
        assert torch.allclose(model.decode_indices(indices), x_hat, atol=1e-6)
