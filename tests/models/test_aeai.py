"""AEAI (Oring et al. 2021): the smoothness JVP, the cycle term and the grid against closed forms."""

import math
import subprocess
import sys

import torch
from torch import nn

from models.aeai import AEAI, AEAIConfig, cycle_loss, decode_with_velocity, latent_grid, smoothness_loss
from models.backbones import make_decoder
from models.base import TrainBatch
from models.latent import lerp


def _small_decoder(dtype=torch.float64):
    torch.manual_seed(0)
    dec = make_decoder((1, 28, 28), 8).to(dtype)
    # Non-trivial running statistics, so that eval mode is not the identity normalization.
    with torch.no_grad():
        for m in dec.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return dec.eval()


def _pairs(dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 8, generator=g, dtype=dtype), torch.randn(3, 8, generator=g, dtype=dtype)


def test_latent_grid_points_and_direction():
    z_i, z_j = _pairs()
    points, direction = latent_grid(z_i, z_j, 4)
    assert points.shape == direction.shape == (15, 8)
    for n in range(5):
        assert torch.allclose(points[3 * n : 3 * n + 3], lerp(z_i, z_j, n / 4))
        assert torch.allclose(direction[3 * n : 3 * n + 3], z_j - z_i)


def test_smoothness_matches_central_finite_differences():
    dec = _small_decoder()
    z_i, z_j = _pairs()
    m, h = 4, 1e-7  # float64: rounding ~1e-9, and few ReLU kinks within +-h
    points, direction = latent_grid(z_i, z_j, m)
    with torch.no_grad():
        x_grid, velocity = decode_with_velocity(dec, points, direction)
        assert torch.allclose(x_grid, dec(points))
        alphas = torch.arange(m + 1, dtype=torch.float64).div(m).repeat_interleave(3)
        zi, zj = z_i.repeat(m + 1, 1), z_j.repeat(m + 1, 1)
        fd = (dec(lerp(zi, zj, alphas + h)) - dec(lerp(zi, zj, alphas - h))) / (2 * h)
    rel = (velocity - fd).norm() / fd.norm()
    assert rel < 1e-3, float(rel)
    loss, fd_loss = smoothness_loss(velocity), fd.pow(2).mean()
    assert abs(float(loss) - float(fd_loss)) / float(fd_loss) < 1e-3


def test_smoothness_is_not_the_gradient_of_the_summed_output():
    dec = _small_decoder()
    z_i, z_j = _pairs()
    points, direction = latent_grid(z_i, z_j, 4)
    with torch.no_grad():
        _, velocity = decode_with_velocity(dec, points, direction)
    # The wrong quantity: d/dalpha of the image's pixel sum (autograd of a summed output).
    alpha = torch.arange(5, dtype=torch.float64).div(4).repeat_interleave(3).requires_grad_(True)
    out = dec(lerp(z_i.repeat(5, 1), z_j.repeat(5, 1), alpha))
    (wrong,) = torch.autograd.grad(out.sum(), alpha)
    # It is the pixel sum of the per-pixel derivative, a different quantity from its squared norm.
    assert torch.allclose(wrong, velocity.flatten(1).sum(1), rtol=1e-6, atol=1e-9)
    wrong_loss = wrong.pow(2).mean() / out[0].numel()
    right_loss = smoothness_loss(velocity)
    assert abs(float(wrong_loss) - float(right_loss)) > 0.5 * float(right_loss)


def test_smoothness_is_differentiable_for_the_decoder_in_train_mode():
    torch.manual_seed(0)
    dec = make_decoder((1, 28, 28), 8).train()
    bns = [m for m in dec.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    stats = [(m.running_mean.clone(), int(m.num_batches_tracked)) for m in bns]
    z_i, z_j = (t.float().requires_grad_(True) for t in _pairs())
    points, direction = latent_grid(z_i, z_j, 3)
    _, velocity = decode_with_velocity(dec, points, direction)
    smoothness_loss(velocity).backward()
    weights = [p for n, p in dec.named_parameters() if n.endswith("weight")]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)
    assert z_i.grad is not None and z_i.grad.abs().sum() > 0  # the encoder is reached too
    # BatchNorm used batch statistics without touching its running statistics, flags restored.
    for m, (mean, count) in zip(bns, stats):
        assert torch.equal(m.running_mean, mean) and int(m.num_batches_tracked) == count
        assert m.track_running_stats


def test_linear_decoder_velocity_closed_form():
    lin = nn.Linear(8, 5).double()
    z_i, z_j = _pairs()
    points, direction = latent_grid(z_i, z_j, 2)
    _, velocity = decode_with_velocity(lin, points, direction)
    expected = ((z_j - z_i) @ lin.weight.T).repeat(3, 1)
    assert torch.allclose(velocity, expected)
    assert math.isclose(float(smoothness_loss(velocity).detach()), float(expected.detach().pow(2).mean()), rel_tol=1e-9)


def test_cycle_loss_zero_for_a_consistent_pair_and_relative_otherwise():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(20, 4, generator=g, dtype=torch.float64)  # decoder G(z) = W z (full column rank)
    pinv = torch.linalg.pinv(w)  # encoder E(x) = W^+ x, so E(G(z)) = z
    z = torch.randn(6, 4, generator=g, dtype=torch.float64)
    points, _ = latent_grid(z[:3], z[3:], 4)
    cycled = (points @ w.T) @ pinv.T
    assert float(cycle_loss(points, cycled, z)) < 1e-20
    # Hand-made: error ||(1, 0)||^2 = 1 over the spread of {(1, 1), (-1, -1)} = 2.
    value = cycle_loss(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2), torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
    assert math.isclose(float(value), 0.5, rel_tol=1e-6)
    # Invariant to the latent's scale and offset (the backbone decoder ignores both in train mode).
    shifted = cycle_loss(3 * points + 1, 3 * (cycled + 0.1) + 1, 3 * z + 1)
    assert math.isclose(float(shifted), float(cycle_loss(points, cycled + 0.1, z)), rel_tol=1e-9)


def test_train_step_logs_all_terms_and_latent_is_linear():
    torch.manual_seed(0)
    model = AEAI(AEAIConfig(grid_points=2, pairs_per_step=2), (1, 28, 28))
    model.optimizers = model.configure_optimizers()
    images = (torch.rand(6, 1, 28, 28) * 255).to(torch.uint8)
    before = [p.clone() for p in model.decoder.parameters()]
    losses = model.train_step(TrainBatch(images, generator=torch.Generator().manual_seed(1)), 0)
    assert set(losses) == {"recon", "adv", "cycle", "smooth", "d_loss"}
    assert all(torch.isfinite(v) and v.dim() == 0 and not v.requires_grad for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.decoder.parameters()))
    model.eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        z = model.encode(x)
        assert torch.allclose(z, model.encoder(x))
        assert torch.allclose(model.interpolate(z[:2], z[2:], 0.25), 0.75 * z[:2] + 0.25 * z[2:], atol=1e-5)


def test_first_velocity_call_prints_no_torch_deprecation_warning():
    # torch registers its JVP decompositions with the deprecated torch.jit.script on the first
    # jvp of a process; a fresh interpreter is the only place that first call happens.
    script = (
        "import torch\n"
        "from models.aeai import decode_with_velocity\n"
        "decode_with_velocity(torch.nn.Linear(3, 2), torch.ones(4, 3), torch.ones(4, 3))\n"
    )
    done = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
