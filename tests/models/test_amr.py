"""AMR: discriminator labels (real 1, reconstruction 0, mix 0), generator targets, lambda
weighting, the mixers, the generator update interval, and a train step whose gradients match the
official losses written out by hand."""

import copy
import math

import pytest
import torch

from models.amr import AMR, bce, discriminator_loss, generator_losses, mix, mixing_weights
from models.base import TrainBatch

SHAPE = (1, 28, 28)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_bce_on_logits():
    # BCE(sigmoid(l), 1) = softplus(-l); BCE(sigmoid(l), 0) = softplus(l).
    logits = torch.tensor([2.0, -1.0])
    assert bce(logits, 1.0).item() == pytest.approx((softplus(-2.0) + softplus(1.0)) / 2)
    assert bce(logits, 0.0).item() == pytest.approx((softplus(2.0) + softplus(-1.0)) / 2)
    assert bce(torch.zeros(3), 1.0).item() == pytest.approx(math.log(2))


def test_discriminator_labels_real_one_recon_zero_mix_zero():
    d_real, d_recon, d_mix = torch.tensor([2.0]), torch.tensor([-1.0]), torch.tensor([0.5])
    expected = softplus(-2.0) + softplus(-1.0) + softplus(0.5)
    assert discriminator_loss(d_real, d_recon, d_mix).item() == pytest.approx(expected)
    # A discriminator sure of real = 1 and of both fakes = 0 has (almost) no loss; swapped, a large one.
    assert discriminator_loss(torch.tensor([20.0]), torch.tensor([-20.0]), torch.tensor([-20.0])).item() < 1e-6
    assert discriminator_loss(torch.tensor([-20.0]), torch.tensor([20.0]), torch.tensor([20.0])).item() > 59


def test_generator_targets_real_for_recon_and_mix_and_l1_on_official_scale():
    x = torch.tensor([[0.0, 1.0]])
    x_hat = torch.tensor([[0.25, 0.5]])
    recon, adv = generator_losses(x, x_hat, torch.tensor([2.0]), torch.tensor([-1.0]))
    # On [-1, 1]: |(-0.5) - (-1)| = 0.5, |0 - 1| = 1 -> 0.75 (2 x the [0, 1] L1 of 0.375).
    assert recon.item() == pytest.approx(0.75)
    assert adv.item() == pytest.approx(softplus(-2.0) + softplus(1.0))


def test_mix_with_permutation_and_per_example_alpha():
    z = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    perm = torch.tensor([2, 0, 1])
    w = torch.tensor([[0.1], [0.5], [1.0]])
    expected = torch.tensor([[0.1 * 1 + 0.9 * 3, 0.1 * 10 + 0.9 * 30], [1.5, 15.0], [3.0, 30.0]])
    assert torch.allclose(mix(z, w, perm), expected)


def test_mixers():
    z = torch.zeros(4000, 32)
    w = mixing_weights("mixup", z, torch.Generator().manual_seed(0))
    assert w.shape == (4000, 1) and w.min() >= 0 and w.max() <= 1
    assert abs(w.mean().item() - 0.5) < 0.03  # U(0, 1)
    # "bernoulli" (official fm2): one p ~ U(0, 1) per batch, then m ~ Bern(p) per example and unit.
    z = torch.zeros(64, 2048)
    batch_density = []
    for seed in range(10):
        m = mixing_weights("bernoulli", z, torch.Generator().manual_seed(seed))
        assert m.shape == z.shape and set(m.unique().tolist()) <= {0.0, 1.0}
        assert (m.mean(1) - m.mean()).abs().max() < 0.06  # the same p for every example
        batch_density.append(m.mean().item())
    assert torch.tensor(batch_density).std() > 0.1  # p varies from batch to batch


class _Recorder:
    """Stands in for an optimizer: records the gradients it is asked to apply."""

    def __init__(self, params):
        self.params, self.grads, self.steps = list(params), None, 0

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        self.steps += 1
        self.grads = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in self.params]


def _softplus(t):
    return torch.nn.functional.softplus(t)


def _hand_written_losses(model, x, seed, lam):
    """The official AMR losses (BCE on sigmoid outputs, as softplus of the logits)."""
    g = torch.Generator().manual_seed(seed)
    z = model.encoder(x)
    x_hat = model.decoder(z)
    perm = torch.randperm(x.shape[0], generator=g)
    alpha = torch.rand(x.shape[0], generator=g)[:, None]
    x_mix = model.decoder(alpha * z + (1 - alpha) * z[perm])
    d = model.discriminator
    recon = (2 * x_hat - 2 * x).abs().mean()
    gen = lam * recon + _softplus(-d(x_hat)).mean() + _softplus(-d(x_mix)).mean()
    disc = _softplus(-d(x)).mean() + _softplus(d(x_hat.detach())).mean() + _softplus(d(x_mix.detach())).mean()
    return recon, gen, disc


@pytest.mark.parametrize("lam", [10.0, 1.0])
def test_train_step_gradients_match_the_official_losses(lam):
    torch.manual_seed(0)
    model = AMR(AMR.Config(lam=lam), SHAPE).train()
    reference = copy.deepcopy(model)
    x = (torch.rand(6, *SHAPE) * 255).round()
    g_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    model.optimizers = {"g": _Recorder(g_params), "d": _Recorder(model.discriminator.parameters())}

    logged = model.train_step(TrainBatch(x.to(torch.uint8), None, torch.Generator().manual_seed(3)), 0)

    recon, gen, disc = _hand_written_losses(reference, x / 255, 3, lam)
    assert logged["recon"].item() == pytest.approx(recon.item(), rel=1e-5)
    assert logged["d_loss"].item() == pytest.approx(disc.item(), rel=1e-5)
    ref_g = [*reference.encoder.parameters(), *reference.decoder.parameters()]
    expected_g = torch.autograd.grad(gen, ref_g, retain_graph=True)
    expected_d = torch.autograd.grad(disc, list(reference.discriminator.parameters()))
    for got, want in zip(model.optimizers["g"].grads, expected_g):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)
    # The discriminator is trained by its own loss only (the generator's terms do not leak into it).
    for got, want in zip(model.optimizers["d"].grads, expected_d):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)


def test_generator_updates_every_g_every_steps_discriminator_every_step():
    torch.manual_seed(0)
    model = AMR(AMR.Config(g_every=3), SHAPE).train()
    g_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    model.optimizers = {"g": _Recorder(g_params), "d": _Recorder(model.discriminator.parameters())}
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(4, *SHAPE) * 255).to(torch.uint8)
    for step in range(7):
        model.train_step(TrainBatch(images, None, gen), step)
    assert model.optimizers["g"].steps == 3  # steps 0, 3, 6
    assert model.optimizers["d"].steps == 7
