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
