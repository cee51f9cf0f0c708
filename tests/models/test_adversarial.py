"""The shared LSGAN machinery of the AugIntAE paper (appendix A.1): losses, k, per-image rescaling."""

import pytest
import torch
from torch import nn

from models.adversarial import BalanceFactor, lsgan_d_loss, lsgan_g_loss, rescale_adversarial, rescaled_backward


def test_lsgan_losses_on_constructed_outputs():
    d_real = torch.tensor([[1.0], [0.0], [2.0]])  # (D-1)^2: 0, 1, 1 -> mean 2/3
    d_fake = torch.tensor([[0.0], [1.0]])  # (D+1)^2: 1, 4 -> mean 5/2
    assert lsgan_d_loss(d_real, d_fake).item() == pytest.approx(2 / 3 + 5 / 2)
    assert lsgan_g_loss(torch.tensor([[0.0], [1.0], [3.0]])).item() == pytest.approx((1 + 0 + 4) / 3)
    # bf16 discriminator outputs are scored in float32
    assert lsgan_g_loss(torch.tensor([[0.0]], dtype=torch.bfloat16)).dtype == torch.float32


def test_balance_factor_hand_computed_steps_and_clipping():
    bal = BalanceFactor(rate=1e-3)
    assert bal.k.item() == 1.0  # k_0 = 1
    # margin = mean D(real) - mean D(fake) = 0.8 - 0.3 = 0.5: k = 1 - 0.001 * (1 - 0.5)
    bal.update(torch.tensor([0.6, 1.0]), torch.tensor([0.3, 0.3]))
    assert bal.k.item() == pytest.approx(0.9995)
    # margin = 0.1: k = 0.9995 - 0.001 * 0.9 = 0.9986
    bal.update(torch.tensor([0.1]), torch.tensor([0.0, 0.0]))
    assert bal.k.item() == pytest.approx(0.9986)
    # margin = 3: k = 0.9986 + 0.002 = 1.0006 -> clipped to 1
    bal.update(torch.tensor([3.0]), torch.tensor([0.0]))
    assert bal.k.item() == 1.0
    # a large step reaches the lower clip: 1 - 0.6 * (1 - (-1)) = -0.2 -> 0; then 0 - 0.6 * 1 -> 0
    fast = BalanceFactor(rate=0.6)
    fast.update(torch.tensor([0.0]), torch.tensor([1.0]))
    assert fast.k.item() == 0.0
    fast.update(torch.tensor([0.5]), torch.tensor([0.5]))
    assert fast.k.item() == 0.0
    # margin 2 from 0: 0 + 0.6 = 0.6
    fast.update(torch.tensor([2.0]), torch.tensor([0.0]))
    assert fast.k.item() == pytest.approx(0.6)
    # k is a buffer: it travels with the state dict (checkpoints)
    restored = BalanceFactor(rate=0.6)
    restored.load_state_dict(fast.state_dict())
    assert restored.k.item() == pytest.approx(0.6)


def _setup():
    """A one-layer linear decoder x_hat_i = W z_i and a linear discriminator D(x) = w . x."""
    torch.manual_seed(0)
    d, p = 3, 5
    decoder = nn.Linear(d, p, bias=False)
    disc = nn.Linear(p, 1, bias=False)
    z = torch.randn(2, d)
    z[1] *= 10.0  # two images of very different scales
    target = torch.randn(2, p)
    return decoder, disc, z, target


def _losses(x_hat, disc, target):
    n = x_hat.shape[0]
    recon = 0.5 * (x_hat - target).pow(2).sum() / n  # grad wrt x_hat_i: (x_hat_i - t_i) / n
    d_out = disc(x_hat)
    adv = (d_out - 1).pow(2).mean()  # grad wrt x_hat_i: 2 (D_i - 1) w / n
    return recon, adv, d_out


@pytest.mark.parametrize("k", [1.0, 0.3])
def test_per_image_rescaling_matches_hand_computed_parameter_gradient(k):
    decoder, disc, z, target = _setup()
    x_hat = decoder(z)
    recon, adv, d_out = _losses(x_hat, disc, target)
    rescaled_backward(x_hat, recon, adv, torch.tensor(k))
    assert disc.weight.grad is None  # the discriminator gets nothing from the autoencoder step

    # by hand
    n = 2
    with torch.no_grad():
        xh = z @ decoder.weight.T
        g_rec = (xh - target) / n
        g_adv = 2 * (d_out - 1) * disc.weight / n  # (2, p)
        rec_parts = [torch.outer(g_rec[i], z[i]) for i in range(n)]  # per-image parameter gradients
        adv_parts = [k * g_rec[i].norm() / g_adv[i].norm() * torch.outer(g_adv[i], z[i]) for i in range(n)]
    expected = sum(rec_parts) + sum(adv_parts)
    assert torch.allclose(decoder.weight.grad, expected, atol=1e-5, rtol=1e-5)
    for i in range(n):  # each image's adversarial parameter gradient has k times its reconstruction norm
        assert adv_parts[i].norm().item() == pytest.approx(k * rec_parts[i].norm().item(), rel=1e-5)

    # a batch-level gamma would not pass: the two images' ratios differ
    gamma_batch = g_rec.norm() / g_adv.norm()
    ratios = [(k * gamma_batch * torch.outer(g_adv[i], z[i])).norm() / rec_parts[i].norm() for i in range(n)]
    assert abs(ratios[0] - ratios[1]) > 0.1


def test_rescale_combines_per_image_and_guards_zero_adversarial_gradient():
    g_rec = torch.tensor([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]])  # norms 5, 1, 1
    g_adv = torch.tensor([[0.0, 2.0], [10.0, 0.0], [0.0, 0.0]])  # third: zero adversarial gradient
    out = rescale_adversarial(g_rec, g_adv, 0.5)
    expected = torch.tensor([[3.0, 4.0 + 0.5 * 5.0], [0.5, 1.0], [1.0, 0.0]])
    assert torch.allclose(out, expected) and torch.isfinite(out).all()


def test_rescale_interpolations_to_the_mean_seed_norm():
    # two seeds (recon-gradient norms 5 and 1) and two interpolations (no recon gradient)
    g_rec = torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    g_adv = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 7.0], [-0.3, 0.4]])
    out = rescale_adversarial(g_rec, g_adv, 1.0, n_seeds=2)
    expected = torch.tensor([[3.0 + 5.0, 4.0], [0.0, 1.0 + 1.0], [0.0, 3.0], [-1.8, 2.4]])
    assert torch.allclose(out, expected)


def test_rescaled_backward_with_zero_adversarial_gradient_is_reconstruction_only():
    decoder, disc, z, target = _setup()
    x_hat = decoder(z)
    recon, adv, _ = _losses(x_hat, disc, target)
    rescaled_backward(x_hat, recon, 0.0 * adv, torch.tensor(1.0))
    grad = decoder.weight.grad.clone()
    decoder.zero_grad()
    x_hat = decoder(z)
    _losses(x_hat, disc, target)[0].backward()
    assert torch.allclose(grad, decoder.weight.grad)


def test_lsgan_targets_let_a_winning_discriminator_separate_by_more_than_one():
    # a = -1 for fake, b = 1 for real, generator target c = 1 (see models/adversarial.py)
    assert lsgan_d_loss(torch.tensor([[1.0]]), torch.tensor([[-1.0]])).item() == 0.0  # the perfect discriminator ...
    assert lsgan_d_loss(torch.tensor([[1.0]]), torch.tensor([[0.0]])).item() == pytest.approx(1.0)  # ... is not 0/1
    assert lsgan_g_loss(torch.tensor([[1.0]])).item() == 0.0  # the generator asks to be scored real


@pytest.mark.parametrize("name", ["ae-gan", "intae", "augintae"])
def test_k_climbs_back_to_one_when_the_discriminator_wins(name):
    """Appendix A.1: k falls while D separates real from fake by less than 1, 'allowing the
    discriminator to catch up until the margin of separation is greater than 1 again. At that
    point k increases back to 1'. With the autoencoder frozen (lr 0) the discriminator wins and
    must hold the margin above 1, so k climbs from 0.5 back to 1. The test runs k's step at 0.01
    (10x the paper's 0.001, so 150 updates take seconds): what 0/1 targets got wrong is the
    margin, which could not exceed 1, so k fell at any rate."""
    from model_testing import lines_images, train_briefly

    from models import registry
    from models.config import apply_overrides

    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(apply_overrides(cls.Config, {"lr": 0.0, "k_rate": 0.01}, model_name=name), (1, 28, 28))
    model.balance.k.fill_(0.5)
    images = lines_images(256)[:, :, 2:30, 2:30].contiguous()  # 28x28: the InfoGAN backbones
    history = train_briefly(model, images, steps=150, batch_size=8, log_every=10)
    ks = [round(float(h["k"]), 3) for h in history]
    margins = [float(h["d_real"] - h["d_fake"]) for h in history]
    assert model.balance.k.item() == 1.0, f"k over training: {ks}; margins {margins}"
    assert max(margins) > 1.5 and ks[3] > 0.5  # a real separation, and k rose early


def test_the_balance_update_returns_the_score_means_it_used():
    real, fake = BalanceFactor(rate=0.1).update(torch.tensor([0.6, 1.0], dtype=torch.bfloat16), torch.tensor([0.3, 0.5]))
    assert real.dtype == fake.dtype == torch.float32
    assert (real.item(), fake.item()) == (pytest.approx(0.8, abs=1e-2), pytest.approx(0.4))  # 0.6 in bf16: 0.6016
