import math

import pytest
import torch

from bench.errors import BenchError
from models.backbones import dcgan_widths, make_decoder, make_encoder
from models.latent import normalize, slerp


def test_slerp_endpoints_unit_norm_and_constant_speed():
    g = torch.Generator().manual_seed(0)
    a = normalize(torch.randn(6, 32, generator=g))
    b = normalize(torch.randn(6, 32, generator=g))
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    alphas = torch.linspace(0, 1, 11)
    path = torch.stack([slerp(a, b, float(t)) for t in alphas])
    assert torch.allclose(path.norm(dim=-1), torch.ones(11, 6), atol=1e-5)
    # Equal angular steps along the great circle.
    steps = torch.arccos((path[1:] * path[:-1]).sum(-1).clamp(-1, 1))
    assert torch.allclose(steps, steps[:1].expand_as(steps), atol=1e-4)
    total = torch.arccos((a * b).sum(-1).clamp(-1, 1))
    assert torch.allclose(steps.sum(0), total, atol=1e-4)


def test_slerp_per_row_alpha_and_parallel_vectors():
    a = normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    b = normalize(torch.tensor([[0.0, 1.0], [1.0, 1e-9]]))
    out = slerp(a, b, torch.tensor([0.5, 0.5]))
    assert torch.allclose(out[0], torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]), atol=1e-6)
    assert torch.isfinite(out).all() and torch.allclose(out[1], torch.tensor([1.0, 0.0]), atol=1e-6)


@pytest.mark.parametrize("shape, latent", [((1, 28, 28), 32), ((1, 32, 32), 16), ((1, 64, 64), 8), ((3, 64, 64), 8), ((3, 128, 128), 8)])
def test_backbone_shapes(shape, latent):
    enc, dec = make_encoder(shape, latent).eval(), make_decoder(shape, latent).eval()
    x = torch.rand(2, *shape)
    z = enc(x)
    assert z.shape == (2, latent)
    y = dec(z)
    assert y.shape == (2, *shape) and 0 <= y.min() and y.max() <= 1
    assert make_encoder(shape, 1).eval()(x).shape == (2, 1)  # discriminator = encoder with one output


def test_dcgan_widths_follow_the_paper():
    assert dcgan_widths(64) == [64, 128, 256, 512]
    assert dcgan_widths(128) == [32, 64, 128, 256, 512]  # the extra half-width layer for CelebA


def test_unsupported_shape_is_a_clear_error():
    with pytest.raises(BenchError, match="No backbone for 1x48x48"):
        make_encoder((1, 48, 48), 8)


class _InclusiveClamp(torch.autograd.Function):
    """clamp as torch <= 2.12 differentiates it: gradient 1 on the bounds themselves."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        inside = torch.ones_like(x, dtype=torch.bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        return grad * inside, None, None


@pytest.fixture
def old_torch_clamp(monkeypatch):
    """Every Tensor.clamp / torch.clamp differentiates as on torch <= 2.12 (the H100's 2.11)."""
    original = torch.Tensor.clamp

    def clamp(x, min=None, max=None):
        if not torch.is_grad_enabled() or not x.requires_grad:
            return original(x, min, max)
        return _InclusiveClamp.apply(x, min, max)

    monkeypatch.setattr(torch.Tensor, "clamp", clamp)
    monkeypatch.setattr(torch, "clamp", clamp)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_slerp_gradient_is_finite_at_identical_and_antipodal_latents(dtype, old_torch_clamp):
    # One augmentation family makes A and B encode to the same latent often (the one-family
    # ablations diverged at step 3 on torch 2.11): arccos(clamp(cos)) gave 0 * inf = NaN there.
    torch.manual_seed(0)
    z = normalize(torch.randn(6, 32)).to(dtype).requires_grad_()
    partner = torch.cat((z[:2], -z[2:4], z[4:].flip(0)))  # identical, antipodal, ordinary rows
    out = slerp(z, partner, torch.tensor([0.0, 0.3, 0.3, 0.7, 0.5, 0.5]))
    (out.float() * torch.randn(out.shape)).sum().backward()
    assert torch.isfinite(out.float()).all()
    assert torch.isfinite(z.grad.float()).all()
    # identical latents: slerp returns the latent itself, and its gradient is the identity's
    assert torch.allclose(out[:2].float(), z[:2].float().detach(), atol=1e-2 if dtype == torch.bfloat16 else 1e-6)


def test_slerp_gradient_matches_the_arccos_formula_where_that_is_defined():
    torch.manual_seed(1)
    a = normalize(torch.randn(4, 16)).double().requires_grad_()
    b = normalize(torch.randn(4, 16)).double()
    t = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)[:, None]

    def reference(a):
        omega = torch.arccos((a * b).sum(1, keepdim=True) / a.norm(dim=1, keepdim=True))
        return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)

    (g_ref,) = torch.autograd.grad(reference(a).sum(), a)
    (g,) = torch.autograd.grad(slerp(a, b, t.squeeze(1)).sum(), a)
    assert torch.allclose(g.double(), g_ref, atol=1e-5)
