"""ACAI: alpha folding, reversed-batch partners, the critic's targets and blend, lambda weighting,
and a train step whose gradients match the paper's losses written out by hand."""

import copy

import pytest
import torch

from models.acai import ACAI, critic_blend, critic_loss, ae_losses, fold_alpha, mix_with_reversed
from models.base import TrainBatch

SHAPE = (1, 28, 28)


def test_alpha_fold_maps_above_half_to_one_minus_alpha():
    u = torch.tensor([0.0, 0.2, 0.5, 0.7, 0.9, 1.0])
    assert torch.allclose(fold_alpha(u), torch.tensor([0.0, 0.2, 0.5, 0.3, 0.1, 0.0]))
    many = fold_alpha(torch.rand(10_000, generator=torch.Generator().manual_seed(0)))
    assert many.min() >= 0 and many.max() <= 0.5
    assert many.max() > 0.49 and many.min() < 0.01  # the whole of [0, 0.5] is reached


def test_mix_partners_are_the_reversed_batch_with_alpha_on_z():
    z = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    alpha = torch.tensor([0.1, 0.2, 0.3])
    # Example i mixes with example N-1-i: alpha_i * z_i + (1 - alpha_i) * z_{N-1-i}.
    expected = torch.tensor([[0.1 * 1 + 0.9 * 3, 0.1 * 10 + 0.9 * 30], [2.0, 20.0], [0.3 * 3 + 0.7 * 1, 0.3 * 30 + 0.7 * 10]])
    assert torch.allclose(mix_with_reversed(z, alpha), expected)


def test_critic_blend_puts_gamma_on_x():
    x, x_hat = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    assert torch.allclose(critic_blend(x, x_hat, 0.2), torch.full_like(x, 0.2))
    assert torch.allclose(critic_blend(x_hat, x, 0.2), torch.full_like(x, 0.8))


def test_critic_targets_alpha_on_mixes_and_zero_on_blend():
    c_mix = torch.tensor([0.3, 0.1])
    alpha = torch.tensor([0.5, 0.1])
    c_blend = torch.tensor([1.0, 3.0])
    # mean((0.3-0.5)^2, (0.1-0.1)^2) + mean(1^2, 3^2)
    assert critic_loss(c_mix, alpha, c_blend).item() == pytest.approx(0.02 + 5.0)
    # A perfect critic: predicts alpha on mixes and 0 on the blend.
    assert critic_loss(alpha, alpha, torch.zeros(2)).item() == 0.0


def test_ae_losses_mse_on_official_scale_and_critic_term():
    x = torch.tensor([[0.0, 1.0]])
    x_hat = torch.tensor([[0.5, 0.5]])
    recon, reg = ae_losses(x, x_hat, torch.tensor([1.0, -2.0]))
    # On [-1, 1]: x = (-1, 1), x_hat = (0, 0): MSE = 1 (4 x the [0, 1] MSE of 0.25).
    assert recon.item() == pytest.approx(1.0)
    assert reg.item() == pytest.approx((1.0 + 4.0) / 2)


def test_latent_is_unnormalized_and_interpolation_linear():
    model = ACAI(ACAI.Config(), SHAPE).eval()
    assert not model.normalized_latent and model.adversarial and not model.uses_augmentation
    a, b = torch.randn(3, 32), torch.randn(3, 32)
    assert torch.allclose(model.interpolate(a, b, 0.25), 0.75 * a + 0.25 * b)
    with torch.no_grad():
        z = model.encode(torch.rand(3, *SHAPE))
    assert not torch.allclose(z.norm(dim=1), torch.ones(3))


class _Recorder:
    """Stands in for an optimizer: records the gradients it is asked to apply."""

    def __init__(self, params):
        self.params, self.grads = list(params), None

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in self.params]


def _hand_written_losses(model, x, seed, lam, gamma):
    """The official ACAI losses, written out without the module's helpers."""
    g = torch.Generator().manual_seed(seed)
    z = model.encoder(x)
    x_hat = model.decoder(z)
    u = torch.rand(x.shape[0], generator=g)
    alpha = torch.where(u > 0.5, 1 - u, u)
    z_mix = alpha[:, None] * z + (1 - alpha[:, None]) * torch.stack([z[i] for i in reversed(range(len(z)))])
    c_mix = model.critic(model.decoder(z_mix)).view(-1)
    c_blend = model.critic(gamma * x + (1 - gamma) * x_hat.detach()).view(-1)
    recon = ((2 * x_hat - 1) - (2 * x - 1)).pow(2).mean()
    ae = recon + lam * c_mix.pow(2).mean()
    critic = ((c_mix - alpha) ** 2).mean() + (c_blend**2).mean()
    return recon, ae, critic


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_train_step_gradients_match_the_paper_losses(lam):
    torch.manual_seed(0)
    model = ACAI(ACAI.Config(lam=lam), SHAPE).train()
    reference = copy.deepcopy(model)
    x = torch.rand(6, *SHAPE)
    ae_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    model.optimizers = {"ae": _Recorder(ae_params), "critic": _Recorder(model.critic.parameters())}

    logged = model.train_step(TrainBatch((x * 255).round().to(torch.uint8), None, torch.Generator().manual_seed(7)), 0)

    x_q = (x * 255).round() / 255
    recon, ae, critic = _hand_written_losses(reference, x_q, 7, lam, 0.2)
    assert logged["recon"].item() == pytest.approx(recon.item(), rel=1e-5)
    assert logged["critic"].item() == pytest.approx(critic.item(), rel=1e-5)
    ref_ae = [*reference.encoder.parameters(), *reference.decoder.parameters()]
    expected_ae = torch.autograd.grad(ae, ref_ae, retain_graph=True)
    expected_critic = torch.autograd.grad(critic, list(reference.critic.parameters()))
    for got, want in zip(model.optimizers["ae"].grads, expected_ae):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)
    # The critic is trained by its own loss only (the AE's critic term does not leak into it).
    for got, want in zip(model.optimizers["critic"].grads, expected_critic):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)
