"""VAE: the closed-form KL against torch.distributions, the Bernoulli reconstruction term, a train
step whose loss and gradients match the ELBO written out by hand (with the reparameterization
noise from the batch generator), encode = posterior mean, and sampling."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from models import registry
from models.base import TrainBatch
from models.vae import VAE, bernoulli_nll, decoder_logits, gaussian_kl

SHAPE = (1, 28, 28)


def model(**overrides):
    torch.manual_seed(0)
    return VAE(VAE.Config(**overrides), SHAPE)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_bernoulli_nll_is_bce_summed_over_pixels():
    g = torch.Generator().manual_seed(1)
    logits, x = torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    expected = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(bernoulli_nll(logits, x), expected, atol=1e-4)


def test_decoder_logits_are_the_decoder_before_its_sigmoid():
    m = model().eval()
    z = torch.randn(3, m.latent_dim)
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(decoder_logits(m.decoder, z)), m.decode(z), atol=1e-6)


class _Recorder:
    def __init__(self, params):
        self.params, self.grads = list(params), None

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads = [p.grad.clone() for p in self.params]


def test_train_step_minimizes_the_elbo_with_reparameterized_noise():
    m = model().train()
    reference = copy.deepcopy(m)
    m.optimizers = {"vae": _Recorder(m.parameters())}
    x = (torch.rand(4, *SHAPE, generator=torch.Generator().manual_seed(2)) * 255).round()
    logged = m.train_step(TrainBatch(x.to(torch.uint8), None, torch.Generator().manual_seed(3)), 0)

    xf = x / 255
    out = reference.encoder(xf)
    mu, logvar = out[:, :32], out[:, 32:]
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    probs = reference.decoder(mu + torch.exp(0.5 * logvar) * eps)
    recon = F.binary_cross_entropy(probs, xf, reduction="sum") / 4
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum() / 4
    assert logged["recon"].item() == pytest.approx(recon.item(), rel=1e-4)
    assert logged["kl"].item() == pytest.approx(kl.item(), rel=1e-4)
    expected = torch.autograd.grad(recon + kl, list(reference.parameters()))
    for got, want in zip(m.optimizers["vae"].grads, expected):
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-5)


def test_encode_is_the_posterior_mean_and_deterministic():
    m = model().eval()
    x = torch.rand(4, *SHAPE)
    with torch.no_grad():
        z1, z2 = m.encode(x), m.encode(x)
        mu, logvar = m.posterior(x)
    assert z1.shape == (4, 32) and torch.equal(z1, z2) and torch.equal(z1, mu)
    assert not torch.allclose(mu, logvar)


def test_sample_decodes_standard_normal_draws():
    m = model().eval()
    with torch.no_grad():
        a = m.sample(6, torch.Generator().manual_seed(0))
        b = m.sample(6, torch.Generator().manual_seed(0))
        c = m.sample(6, torch.Generator().manual_seed(1))
        z = torch.randn(6, 32, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(a, m.decode(z))  # unnormalized N(0, I) latents
    assert a.shape == (6, *SHAPE) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_registration():
    cls = registry.get("vae")
    assert cls is VAE and cls.generative and not cls.adversarial and not cls.normalized_latent
    assert VAE.Config().lr == 1e-3
    assert VAE(VAE.Config(), (1, 32, 32)).encoder(torch.rand(2, 1, 32, 32)).shape == (2, 1024)
