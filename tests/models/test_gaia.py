"""GAIA (Sainburg et al. 2018): the pieces of the official formulation against closed forms."""

import math

import torch

from models.base import TrainBatch
from models.gaia import (
    GAIA,
    GAIAConfig,
    balance,
    distance_loss,
    interpolate_halves,
    objectives,
    pairwise_sq_dist,
    sample_alphas,
)


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_pairwise_sq_dist_is_mean_squared_difference():
    a = torch.tensor([[0.0, 0.0], [1.0, 3.0], [2.0, -1.0]])
    expected = torch.tensor([[0.0, 5.0, 2.5], [5.0, 0.0, 8.5], [2.5, 8.5, 0.0]])
    assert torch.allclose(pairwise_sq_dist(a), expected, atol=1e-6)


def test_distance_loss_closed_form_on_three_points():
    # Pixels on a line at 0, 1, 3; latents at 0, 1, 2 (one feature each).
    x = torch.tensor([[0.0], [1.0], [3.0]])
    z = torch.tensor([[0.0], [1.0], [2.0]])
    dx = [[0, 1, 9], [1, 0, 4], [9, 4, 0]]  # squared distances; means over all 9 entries
    dz = [[0, 1, 4], [1, 0, 1], [4, 1, 0]]
    mx, mz = sum(map(sum, dx)) / 9, sum(map(sum, dz)) / 9
    expected = sum((math.log1p(dx[i][j] / mx) - math.log1p(dz[i][j] / mz)) ** 2 for i in range(3) for j in range(3)) / 9
    assert math.isclose(float(distance_loss(x, z)), expected, rel_tol=1e-5)


def test_distance_loss_zero_iff_latent_distances_proportional():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 6, 6, generator=g)
    q, _ = torch.linalg.qr(torch.randn(36, 36, generator=g, dtype=torch.float64))
    # An isometry of the pixels scaled by 7 and shifted: every pairwise distance times 7.
    z = (7.0 * x.flatten(1).double() @ q[:, :36] + 3.0).float()
    assert float(distance_loss(x, z)) < 1e-8
    # Dropping coordinates keeps squared distances proportional only by accident: positive here.
    assert float(distance_loss(x, z[:, :3])) > 1e-3
    assert float(distance_loss(x, torch.randn(8, 5, generator=g))) > 1e-3


def test_sigmoid_balance_factor():
    real, fake = torch.tensor(0.30), torch.tensor(0.25)
    assert math.isclose(float(balance(real, fake, 20.0)), _sigmoid(1.0), rel_tol=1e-6)  # D's share
    assert math.isclose(float(balance(fake, real, 20.0)), 1 - _sigmoid(1.0), rel_tol=1e-6)
    assert float(balance(real, real, 20.0)) == 0.5


def test_objectives_follow_the_official_formulas():
    c = GAIAConfig(latent_weight=2.0, recon_weight=0.0)  # recon_weight 0: the official objective
    real, fake_rec, fake_int, latent, recon = (torch.tensor(v) for v in (0.20, 0.30, 0.36, 0.01, 0.4))
    loss_d, loss_g, d_share = objectives(real, fake_rec, fake_int, latent, recon, c)
    fake = (0.30 + 0.36) / 2
    p_fake = min(_sigmoid(20 * (0.5 * 0.36 - 0.20)), 0.9)
    p_int = _sigmoid(20 * (0.36 - 0.30))
    official_g = p_int * 0.36 + (1 - p_int) * 0.30 + 2.0 * 0.01
    assert math.isclose(float(loss_d), 0.20 - p_fake * fake, rel_tol=1e-5)
    assert math.isclose(float(loss_g), official_g, rel_tol=1e-5)
    assert math.isclose(float(d_share), _sigmoid(20 * (0.20 - fake)), rel_tol=1e-5)
    # The optional direct reconstruction term (off by default) adds to L_G only.
    assert GAIAConfig().recon_weight == 0.0
    loss_d2, loss_g2, _ = objectives(real, fake_rec, fake_int, latent, recon, GAIAConfig(latent_weight=2.0, recon_weight=1.0))
    assert math.isclose(float(loss_g2), official_g + 0.4, rel_tol=1e-5) and float(loss_d2) == float(loss_d)
    # D's fake proportion is capped at 0.9, and the official losses are clipped to [-1, 1].
    loss_d, _, _ = objectives(torch.tensor(0.0), torch.tensor(0.9), torch.tensor(0.9), latent, recon, c)
    assert math.isclose(float(loss_d), -0.9 * 0.9, rel_tol=1e-5)
    _, loss_g, _ = objectives(real, fake_rec, fake_int, torch.tensor(5.0), recon, c)
    assert float(loss_g) == 1.0


def test_alpha_distribution_is_unclipped_normal():
    g = torch.Generator().manual_seed(0)
    a = sample_alphas(200_000, 0.5, 0.25, g)
    assert abs(float(a.mean()) - 0.5) < 0.003
    assert abs(float(a.std()) - 0.25) < 0.003  # 0.25 is the standard deviation
    outside = float(((a < 0) | (a > 1)).float().mean())
    assert 0.040 < outside < 0.051  # P(|N(0,1)| > 2) = 4.55%: extrapolation is kept


def test_interpolate_halves_pairs_as_the_official_get_midpoints():
    z = torch.tensor([[0.0], [1.0], [10.0], [20.0]])
    a1, a2 = torch.tensor([0.25, 2.0]), torch.tensor([0.5, -1.0])
    out = interpolate_halves(z, a1, a2)
    # a * first + (1 - a) * second; the second group uses the first half reversed ([1, 0]).
    expected = torch.tensor([[0.25 * 0 + 0.75 * 10], [2.0 * 1 - 1.0 * 20], [0.5 * 1 + 0.5 * 10], [-1.0 * 0 + 2.0 * 20]])
    assert torch.allclose(out, expected)


def test_train_step_sets_balanced_learning_rates_and_linear_latent():
    torch.manual_seed(0)
    model = GAIA(GAIAConfig(), (1, 28, 28))
    model.optimizers = model.configure_optimizers()
    images = (torch.rand(6, 1, 28, 28) * 255).to(torch.uint8)
    losses = model.train_step(TrainBatch(images, generator=torch.Generator().manual_seed(1)), 0)
    assert set(losses) == {"recon", "d_real", "d_fake", "latent", "g_lr_scale", "d_lr_scale"}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    d_share = _sigmoid(20 * (float(losses["d_real"]) - float(losses["d_fake"])))
    assert math.isclose(float(losses["d_lr_scale"]), d_share, rel_tol=1e-4)
    assert math.isclose(float(losses["g_lr_scale"]), 1 - d_share, rel_tol=1e-4)
    assert math.isclose(float(model.optimizers["d"].param_groups[0]["lr"]), 1e-4 * d_share, rel_tol=1e-4)
    assert math.isclose(float(model.optimizers["g"].param_groups[0]["lr"]), 1e-4 * (1 - d_share), rel_tol=1e-4)
    # Unnormalized latent, linear interpolation.
    model.eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        z = model.encode(x)
        assert torch.allclose(z, model.encoder(x))
        assert not torch.allclose(z.norm(dim=1), torch.ones(4), atol=1e-3)
        assert torch.allclose(model.interpolate(z[:2], z[2:], 1.5), -0.5 * z[:2] + 1.5 * z[2:], atol=1e-5)
