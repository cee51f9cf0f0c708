"""The shared encoder/decoder backbones of the AugIntAE paper (appendix A.1).

- 28x28 handwritten characters: the InfoGAN MNIST networks (two stride-2 4x4 convolutions and
  two fully connected layers each way), latent 32.
- 32x32 and larger power-of-two images: DCGAN-style stacks of stride-2 4x4 convolutions with
  batch norm, widths doubling to 512 (64x64: 64-128-256-512; 128x128 adds the paper's extra
  half-width layer, 32-...-512; 32x32: 128-256-512), latent 512.
Discriminators and critics reuse the encoder with `out_dim=1`, as the paper does.

Encoders take images in [0, 1] and centre them to [-1, 1] internally; decoders end in a sigmoid
so that every model speaks [0, 1] at its interface.
"""

from __future__ import annotations

import math

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from bench.errors import BenchError


def default_latent_dim(image_shape) -> int:
    return 32 if tuple(image_shape[1:]) == (28, 28) else 512


class _Centre(nn.Module):
    def forward(self, x):
        return x * 2.0 - 1.0


class InfoGANEncoder(nn.Sequential):
    def __init__(self, in_channels: int, out_dim: int):
        super().__init__(
            _Centre(),
            nn.Conv2d(in_channels, 64, 4, 2, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Linear(1024, out_dim),
        )


class InfoGANDecoder(nn.Sequential):
    def __init__(self, latent_dim: int, out_channels: int):
        super().__init__(
            nn.Linear(latent_dim, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.ReLU(inplace=True),
            nn.Linear(1024, 128 * 7 * 7, bias=False),
            nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, out_channels, 4, 2, 1),
            nn.Sigmoid(),
        )


def dcgan_widths(size: int) -> list:
    """Channel widths of the stride-2 stack that takes `size` down to 4x4, ending at 512."""
    n = int(math.log2(size)) - 2
    return [512 // 2 ** (n - 1 - i) for i in range(n)]


class DCGANEncoder(nn.Sequential):
    def __init__(self, in_channels: int, size: int, out_dim: int):
        layers = [_Centre()]
        prev = in_channels
        for i, width in enumerate(dcgan_widths(size)):
            layers.append(nn.Conv2d(prev, width, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            prev = width
        layers += [nn.Conv2d(prev, out_dim, 4, 1, 0), nn.Flatten()]
        super().__init__(*layers)


class DCGANDecoder(nn.Sequential):
    def __init__(self, latent_dim: int, out_channels: int, size: int):
        widths = list(reversed(dcgan_widths(size)))
        layers = [
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        for prev, width in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(prev, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(widths[-1], out_channels, 4, 2, 1), nn.Sigmoid()]
        super().__init__(*layers)


def _check_shape(image_shape) -> tuple:
    c, h, w = image_shape
    if h != w or (h != 28 and (h < 32 or h & (h - 1))):
        raise BenchError(
            f"No backbone for {c}x{h}x{w} images: the suite's backbones take 28x28 characters "
            "(InfoGAN) or square power-of-two sizes from 32 up (DCGAN)."
        )
    return c, h


def make_encoder(image_shape, out_dim: int) -> nn.Module:
    """The paper's encoder for this image shape; `out_dim=1` gives a discriminator/critic."""
    c, size = _check_shape(image_shape)
    return InfoGANEncoder(c, out_dim) if size == 28 else DCGANEncoder(c, size, out_dim)


def make_critic(image_shape, norm: str = "none", spectral: bool = False) -> nn.Module:
    """The encoder architecture with one output and no batch norm: a critic or discriminator.

    Batch norm would pin the mean output over a batch, while critics score real images, fakes and
    mixes in separate batches whose means must follow their own targets. `norm="layer"` puts
    per-image normalization in its place (GroupNorm(1, C) / LayerNorm; WGAN-GP's option), and
    `spectral=True` puts spectral norm on every convolution and linear layer (AMR's official
    discriminator). Used by ACAI, AMR and WGAN-GP."""
    if norm not in ("none", "layer"):
        raise ValueError(f"critic norm {norm!r}: 'none' or 'layer'")
    critic = make_encoder(image_shape, 1)
    for name, layer in list(critic.named_children()):
        if isinstance(layer, nn.BatchNorm2d):
            setattr(critic, name, nn.GroupNorm(1, layer.num_features) if norm == "layer" else nn.Identity())
        elif isinstance(layer, nn.BatchNorm1d):
            setattr(critic, name, nn.LayerNorm(layer.num_features) if norm == "layer" else nn.Identity())
        elif spectral and isinstance(layer, (nn.Conv2d, nn.Linear)):
            spectral_norm(layer)
    return critic


def make_decoder(image_shape, latent_dim: int) -> nn.Module:
    c, size = _check_shape(image_shape)
    return InfoGANDecoder(latent_dim, c) if size == 28 else DCGANDecoder(latent_dim, c, size)
