"""GAN inversion: latent refinement (lowers the L1 error, recovers a known latent, stays on the
sphere, is independent of batching, leaves the decoder's gradients alone), the oracle encoder's
determinism, and the inversion network's regression and lr schedule."""

import pytest
import torch
from torch import nn

from models.backbones import make_decoder
from models.base import BenchModel
from models.inversion import (
    InversionNetwork,
    eval_mode,
    inversion_loss,
    inversion_lr,
    oracle_encode,
    refine_latents,
    refinement_loss,
)
from models.latent import normalize

DIM = 6


def tiny_decoder(seed: int = 0) -> nn.Module:
    """A fixed random decoder from DIM latents to 1x8x8 images in [0, 1], with weights large
    enough that different latents give clearly different images."""
    torch.manual_seed(seed)
    first, second = nn.Linear(DIM, 64), nn.Linear(64, 64)
    with torch.no_grad():
        first.weight.normal_(0, 2.0), first.bias.zero_(), second.weight.normal_(0, 3.0 / 8), second.bias.zero_()
    return nn.Sequential(first, nn.Tanh(), second, nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8))).eval()


def per_image_l1(decode, x, z):
    return (decode(z) - x).abs().flatten(1).mean(1)


def sphere(n, seed):
    return normalize(torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed)))


def test_refinement_loss_sums_per_image_mean_l1():
    dec = tiny_decoder()
    z, x = sphere(3, 0), torch.rand(3, 1, 8, 8)
    expected = sum((dec(z[i : i + 1]) - x[i : i + 1]).abs().mean() for i in range(3))
    assert refinement_loss(dec, x, z).item() == pytest.approx(expected.item(), rel=1e-6)


def test_refinement_lowers_the_l1_error_of_its_start():
    dec = tiny_decoder()
    x = dec(sphere(8, 1)).detach()
    z0 = sphere(8, 2)
    z = refine_latents(dec, x, z0, steps=40, lr=0.05, normalized=True)
    before, after = per_image_l1(dec, x, z0), per_image_l1(dec, x, z)
    assert after.sum() < 0.8 * before.sum()
    assert (after < before).all(), (before, after)


def test_refinement_from_a_perturbed_start_recovers_a_known_latent():
    dec = tiny_decoder()
    z_true = sphere(4, 3)
    x = dec(z_true).detach()
    z0 = normalize(z_true + 0.4 * torch.randn(4, DIM, generator=torch.Generator().manual_seed(4)))
    z = refine_latents(dec, x, z0, steps=300, lr=0.05, normalized=True)
    assert (per_image_l1(dec, x, z) < 0.1 * per_image_l1(dec, x, z0)).all()
    cos = (z * z_true).sum(1)
    assert (cos > 0.999).all() and ((z0 * z_true).sum(1) < 0.97).all(), cos


def test_normalized_refinement_stays_on_the_unit_sphere():
    dec = tiny_decoder()
    x = torch.rand(5, 1, 8, 8)
    z0 = 3.0 * sphere(5, 5)  # even a start off the sphere is projected
    z = refine_latents(dec, x, z0, steps=10, lr=0.5, normalized=True)
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)
    free = refine_latents(dec, x, sphere(5, 5), steps=10, lr=0.5, normalized=False)
    assert (free.norm(dim=1) - 1).abs().max() > 1e-3  # without projection the norm drifts


def test_batch_and_one_at_a_time_give_the_same_latents():
    dec = tiny_decoder()
    x, z0 = torch.rand(5, 1, 8, 8), sphere(5, 6)
    batch = refine_latents(dec, x, z0, steps=15, lr=0.1, normalized=True)
    single = torch.cat([refine_latents(dec, x[i : i + 1], z0[i : i + 1], steps=15, lr=0.1, normalized=True) for i in range(5)])
    chunked = refine_latents(dec, x, z0, steps=15, lr=0.1, normalized=True, chunk_size=2)
    assert torch.allclose(batch, single, atol=1e-5)
    assert torch.allclose(batch, chunked, atol=1e-5)
    assert (batch - normalize(z0)).abs().max() > 1e-3


def test_refinement_works_under_no_grad_and_leaves_decoder_grads_alone():
    dec = tiny_decoder()
    x, z0 = torch.rand(3, 1, 8, 8), sphere(3, 7)
    with torch.no_grad():
        z = refine_latents(dec, x, z0, steps=5, lr=0.1, normalized=True)
    assert not z.requires_grad
    assert (z - z0).abs().max() > 1e-4
    assert all(p.grad is None for p in dec.parameters())


class TinyModel(BenchModel):
    def __init__(self, normalized: bool):
        super().__init__(None, (1, 8, 8))
        self.latent_dim = DIM
        self.normalized_latent = normalized
        self.decoder = tiny_decoder()

    def decode(self, z):
        return self.decoder(z)


@pytest.mark.parametrize("normalized", [True, False])
def test_oracle_encode_is_deterministic_given_a_generator_and_fits_the_images(normalized):
    model = TinyModel(normalized)
    x = model.decode(sphere(4, 8)).detach()
    run = lambda seed: oracle_encode(model, x, steps=30, generator=torch.Generator().manual_seed(seed), lr=0.1)
    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    start = model.prior_latents(4, torch.Generator().manual_seed(0))
    assert per_image_l1(model.decode, x, a).sum() < per_image_l1(model.decode, x, start).sum()
    if normalized:
        assert torch.allclose(a.norm(dim=1), torch.ones(4), atol=1e-5)


def test_inversion_lr_schedule_is_the_papers():
    # 6,400 iterations, lr / 10 after every 1,280.
    assert inversion_lr(1e-4, 0, 6400) == pytest.approx(1e-4)
    assert inversion_lr(1e-4, 1279, 6400) == pytest.approx(1e-4)
    assert inversion_lr(1e-4, 1280, 6400) == pytest.approx(1e-5)
    assert inversion_lr(1e-4, 6399, 6400) == pytest.approx(1e-8)
    assert inversion_lr(1.0, 7, 10) == pytest.approx(1e-3)  # period 2


def test_inversion_loss_sums_latent_dims_and_averages_images():
    z = torch.zeros(2, 3)
    pred = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    assert inversion_loss(pred, z).item() == pytest.approx((2.0 + 4.0) / 2)


def test_inversion_network_learns_to_regress_generator_latents():
    torch.manual_seed(0)
    shape, dim = (1, 28, 28), 8
    decoder = make_decoder(shape, dim)
    with torch.no_grad():  # give batch norm running statistics, then freeze it in eval mode
        decoder(normalize(torch.randn(64, dim)))
    net = InversionNetwork(shape, dim)
    opt = net.make_optimizer()  # the paper's SGD: lr 1e-4, momentum 0.1
    sampler = lambda n, g: normalize(torch.randn(n, dim, generator=g))
    z_held = sampler(64, torch.Generator().manual_seed(99))
    with torch.no_grad():
        x_held = decoder.eval()(z_held)
    decoder.train()

    def held_out_mse():
        with torch.no_grad():
            return (net(x_held) - z_held).pow(2).mean().item()

    before_mse = held_out_mse()
    before = [t.detach().clone() for t in decoder.state_dict().values()]
    gen = torch.Generator().manual_seed(0)
    with eval_mode(decoder):
        logged = [net.train_step(opt, decoder, sampler, 16, s, 40, gen) for s in range(8)]  # no lr drop yet
    assert decoder.training  # eval_mode restores the flag
    assert held_out_mse() < 0.85 * before_mse
    assert all(v.shape == () and not v.requires_grad for v in logged)
    # the generator is untouched: weights, batch-norm statistics, gradients
    assert all(torch.equal(a, b) for a, b in zip(before, decoder.state_dict().values()))
    assert all(p.grad is None for p in decoder.parameters())
    # the schedule is relative to the optimizer's initial lr: step 16 of 40 is after two drops
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)
    with eval_mode(decoder):
        net.train_step(opt, decoder, sampler, 4, 16, 40, gen)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-6)
    assert opt.state_dict()["param_groups"][0]["initial_lr"] == pytest.approx(1e-4)


def _eager_refinement(decode, x, z, steps, lr, normalized):
    """The refinement written as the plain loop (before it ran on static buffers)."""
    z = normalize(z.float().clone()) if normalized else z.float().clone()
    for _ in range(steps):
        z.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(refinement_loss(decode, x, z), z)
        z = z.detach() - lr * grad
        if normalized:
            z = normalize(z)
    return z.detach()


@pytest.mark.parametrize("normalized", [True, False])
def test_replayed_refinement_steps_give_the_plain_loops_latents_bit_for_bit(normalized):
    from bench.graphs import ReplayedClosure

    class Counting(ReplayedClosure):
        made = 0

        def __init__(self, *args):
            super().__init__(*args)
            Counting.made += 1

    dec = tiny_decoder()
    x, z0 = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(2)), sphere(5, 3)
    with torch.no_grad():
        replayed = refine_latents(dec, x, z0, steps=7, lr=0.1, normalized=normalized, chunk_size=2, graph_class=Counting)
    expected = torch.cat([_eager_refinement(dec, x[i : i + 2], z0[i : i + 2], 7, 0.1, normalized) for i in (0, 2, 4)])
    assert torch.equal(replayed, expected)
    assert Counting.made == 2  # chunks of 2, 2 and 1 images: one graph per shape
