"""`ae`: the plain autoencoder of the AugIntAE paper's generalization study (Table 1).

Follows Wertheimer et al., "Augmentation-Interpolative Autoencoders for Unsupervised Few-shot
Image Generation" (seed 001, section 3 and appendix A.1): the shared backbone (InfoGAN for
28x28 characters, DCGAN otherwise), L2-normalized latent, L1 reconstruction, Adam lr 1e-3
divided by 10 at 35% and 70% of training (epochs 35 and 70 of 100 at the paper budget).

Training images. Table 1 measures how well an AE "trained on highly constrained data" (MNIST's
ten digits) reconstructs other domains, so `ae` trains on the raw training images. Appendix
A.1's rule "we use the alpha-weighted interpolated image as the training image ... This only
applies to AE and IntAE models" is about the Table 2 baselines, which the suite registers as
`ae-gan` and `intae` (both train on C); `train_on=C` trains this model on C as well.

Revisions: 1 trained on the augmented image C by default; 2 trains on the raw images (Table 1).

Deviations: none in the method. The paper's Table 2 "AE" column adds an auxiliary LSGAN loss;
that model is `ae-gan`. The paper gives no batch size; the budgets use 64 (as ACAI and AMR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from models.backbones import default_latent_dim, make_decoder, make_encoder
from models.base import BenchModel
from models.config import ModelConfig, hp
from models.latent import normalize
from models.optim import adam
from models.registry import register


@dataclass
class AEConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-3, min=0.0, help="Adam step size")
    beta1: float = hp(0.9, min=0.0, max=1.0)
    beta2: float = hp(0.999, min=0.0, max=1.0)
    train_on: str = hp("x", choices=("C", "x"), help="x: raw image (paper Table 1); C: the alpha-mixed augmented image (the Table 2 baselines' rule)")


class Autoencoder(BenchModel):
    """Encoder + decoder on the unit sphere; the base for the interpolative models."""

    Config = AEConfig

    def __init__(self, config: AEConfig, image_shape):
        super().__init__(config, image_shape)
        # a subclass's config may leave latent_dim out: the paper's default then
        self.latent_dim = getattr(config, "latent_dim", None) or default_latent_dim(image_shape)
        self.encoder = make_encoder(image_shape, self.latent_dim)
        self.decoder = make_decoder(image_shape, self.latent_dim)

    def encode(self, x):
        return normalize(self.encoder(x))

    def decode(self, z):
        return self.decoder(z)

    def autoencoder_parameters(self) -> list:
        return [*self.encoder.parameters(), *self.decoder.parameters()]


class LinearLatentAutoencoder(Autoencoder):
    """The shared backbone with an unnormalized latent and linear interpolation, as ACAI, AMR,
    GAIA and AEAI interpolate (the AugIntAE family normalizes and uses SLERP)."""

    normalized_latent = False

    def encode(self, x):
        return self.encoder(x)


@register(
    "ae",
    family="autoencoder",
    description="Plain autoencoder: L1 reconstruction on the unit sphere, no interpolation training.",
    paper="Wertheimer et al., AugIntAE (baseline AE, Table 1)",
)
class AE(Autoencoder):
    uses_augmentation = True  # only with train_on=C (the triplet is built on first use)
    revision = 2

    def configure_optimizers(self):
        c = self.config
        return {"ae": adam(self.parameters(), c.lr, (c.beta1, c.beta2))}

    def train_step(self, batch, step):
        target = batch.triplet()[2] if self.config.train_on == "C" else batch.x
        loss = (self.reconstruct(target) - target).abs().mean()
        opt = self.optimizers["ae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"recon": loss.detach()}
