"""The AugIntAE paper's baselines `ae-gan` and `intae`: what the discriminator sees, the
interpolations, the rescaling they ask for, and finite losses."""

import math

import pytest
import torch

import models.adversarial as adversarial
from models import registry
from models.latent import normalize, slerp

SHAPE = (1, 28, 28)


class KnownTriplet:
    """A stand-in for TrainBatch whose triplet is fixed tensors (only C is used by these models)."""

    def __init__(self, c, seed=0):
        self.x = c
        self._t = (torch.zeros_like(c), torch.zeros_like(c), c, torch.full((c.shape[0],), 0.5))
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.x.shape[0]

    def triplet(self):
        return self._t


def _record(module, store):
    return module.register_forward_hook(lambda m, inp, out: store.append((inp[0].detach().clone(), out.detach().clone())))


def _step(name, n=4, seed=3, monkeypatch=None):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), SHAPE)
    model.optimizers = model.configure_optimizers()
    c = torch.rand(n, *SHAPE)
    enc, dec, disc, seeds = [], [], [], []
    _record(model.encoder, enc)
    _record(model.decoder, dec)
    _record(model.discriminator, disc)
    if monkeypatch is not None:
        original = adversarial.rescaled_backward

        def spy(x_hat, recon, adv, k, n_seeds=None):
            seeds.append(n_seeds)
            return original(x_hat, recon, adv, k, n_seeds)

        monkeypatch.setattr(adversarial, "rescaled_backward", spy)
    losses = model.train_step(KnownTriplet(c, seed), 0)
    return model, c, enc, dec, disc, seeds, losses


def test_intae_discriminator_sees_reconstructions_and_interpolations(monkeypatch):
    n, seed = 4, 3
    model, c, enc, dec, disc, seeds, losses = _step("intae", n, seed, monkeypatch)
    z = normalize(enc[0][1])
    assert torch.equal(enc[0][0], c)  # seeds are the augmented images C
    # the decoder gets the seeds' latents, then SLERP(seed, next seed in the rolled batch, alpha ~ U(0, 1))
    alpha = torch.rand(n, generator=torch.Generator().manual_seed(seed))
    z_dec, x_hat = dec[0]
    assert z_dec.shape[0] == 2 * n
    assert torch.allclose(z_dec[:n], z, atol=1e-6)
    assert torch.allclose(z_dec[n:], slerp(z, z.roll(1, dims=0), alpha), atol=1e-5)
    # discriminator: one joint batch [real = C; fake = all 2n decoded images], for its own step
    # (fake detached) and then for the generator's loss
    (joint_d, _), (joint_g, _) = disc
    for joint in (joint_d, joint_g):
        assert torch.equal(joint[:n], c) and torch.equal(joint[n:], x_hat)
    # only the n seeds have a reconstruction loss; interpolations are rescaled to their mean norm
    assert seeds == [n]
    assert losses["recon"].item() == pytest.approx((x_hat[:n] - c).abs().mean().item(), rel=1e-5)
    assert all(math.isfinite(v.item()) for v in losses.values())


def test_ae_gan_discriminator_sees_reconstructions_only(monkeypatch):
    model, c, enc, dec, disc, seeds, losses = _step("ae-gan", monkeypatch=monkeypatch)
    z_dec, x_hat = dec[0]
    assert len(dec) == 1 and torch.allclose(z_dec, normalize(enc[0][1]), atol=1e-6)
    (joint_d, _), (joint_g, _) = disc
    n = c.shape[0]
    for joint in (joint_d, joint_g):
        assert torch.equal(joint[:n], c) and torch.equal(joint[n:], x_hat)
    assert seeds == [None]  # every image is rescaled to its own reconstruction-gradient norm


@pytest.mark.parametrize("name", ["ae-gan", "intae"])
def test_finite_logged_losses_and_k(name):
    cls = registry.get(name)
    assert cls.adversarial and cls.uses_augmentation and cls.normalized_latent
    model, c, enc, dec, disc, _, losses = _step(name)
    assert set(losses) >= {"recon", "adv", "d_loss", "k"}
    assert all(math.isfinite(v.item()) for v in losses.values())
    assert losses["k"].item() == 1.0 and 0.0 <= model.balance.k.item() <= 1.0
    scores = disc[0][1]  # the discriminator step's joint scores: n real, then the fakes
    margin = scores[: c.shape[0]].mean() - scores[c.shape[0] :].mean()
    assert model.balance.k.item() == pytest.approx(min(1.0, 1 - 1e-3 * (1 - margin.item())))
    losses = model.train_step(KnownTriplet(c, 5), 1)  # a second step keeps going
    assert all(math.isfinite(v.item()) for v in losses.values())
