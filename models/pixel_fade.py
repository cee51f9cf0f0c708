"""`pixel-fade`: interpolation in pixel space, the trivial reference of the AugIntAE paper's
figures (row "pixel fade"). No training: the latent is the image itself, decoding is the
identity and interpolation is linear, so reconstruction is exact and interpolants are
cross-fades. Every interpolation metric should rank trained models against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.base import BenchModel
from models.config import ModelConfig
from models.registry import register


@dataclass
class PixelFadeConfig(ModelConfig):
    pass


@register(
    "pixel-fade",
    family="reference",
    description="No training: linear cross-fade between the two images in pixel space.",
    paper="Wertheimer et al., AugIntAE (pixel-fade rows of Figures 5 and 8-12)",
)
class PixelFade(BenchModel):
    Config = PixelFadeConfig
    trainable = False
    normalized_latent = False

    def __init__(self, config, image_shape):
        super().__init__(config, image_shape)
        # A buffer so the model has a device and moves with .to().
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def encode(self, x):
        return x.flatten(1).clone()

    def decode(self, z):
        return z.view(z.shape[0], *self.image_shape).clamp(0.0, 1.0)
