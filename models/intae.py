"""The AugIntAE paper's adversarial baselines: `ae-gan` (Table 2 "AE") and `intae` (Table 2 "IntAE").

Wertheimer et al., "Augmentation-Interpolative Autoencoders for Unsupervised Few-shot Image
Generation" (seed 001), section 4 "We use two baseline models" and appendix A.1. No public
implementation of the paper was found; written from the paper.

- `ae-gan`: "an AE trained without interpolation but with the auxiliary GAN loss": L1
  reconstruction of the training image plus the LSGAN loss on the reconstruction, with the
  per-image gradient rescaling and the balance factor k of appendix A.1 (`models/adversarial.py`).
- `intae`: "seed images are reconstructed while interpolations are trained via GAN. The GAN loss
  is also applied to the seed image reconstructions" (an LSGAN instance of Beckham et al. 2019 and
  of Berthelot et al. 2018 with discrete labels). Each seed is paired with the next image of the
  batch (the batch rolled by one), alpha ~ U(0, 1) per pair (from `batch.generator`), the latent
  interpolation is SLERP on the unit sphere, and reconstructions and interpolations are decoded
  in one pass. The discriminator sees real = the seeds, fake = reconstructions and
  interpolations; the generator's LSGAN loss applies to both.

Both train on the alpha-weighted augmented image C of the AugIntAE triplet, as the paper does for
its baselines ("we use the alpha-weighted interpolated image as the training image ... This only
applies to AE and IntAE models"). Hyperparameters as `augintae` (appendix A.1): Adam 1e-3 for
both networks, constant learning rate, k_0 = 1, k step 0.001, latent 32 (28x28) or 512.

Revisions (`models/adversarial.py`): 1 used LSGAN targets 0/1, with which the balance factor k
could only fall (it reached 0 early and switched the adversarial term off); 2 uses -1/1, so k
recovers as appendix A.1 describes. SLERP's gradient is finite at identical latents since the
same change (it gave NaN on torch <= 2.12, where the one-family ablations diverged); on later
torch the values are unchanged, so that alone is no new revision.

Deviations and readings:
- the shared suite backbones stand in for the paper's InfoGAN/DCGAN networks;
- rescaling in `intae`: the paper rescales "all adversarial gradients so that their magnitudes
  match those of the reconstruction loss gradient", per image. A decoded interpolation has no
  reconstruction loss of its own, so the suite scales each interpolation's adversarial gradient
  to the mean per-image reconstruction-gradient norm of the batch's seeds (times k); each
  reconstruction is scaled to its own reconstruction-gradient norm, as in `augintae`;
- the pairing (batch rolled by one), alpha ~ U(0, 1) and the one-pass decoding are the suite's
  choices (the paper gives none of them);
- the update order (discriminator, then autoencoder, then k) is the suite's choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.adversarial import LSGANAutoencoder, LSGANConfig
from models.latent import slerp
from models.registry import register

PAPER = "Wertheimer et al., AugIntAE (baseline {}, Table 2)"


@dataclass
class AEGANConfig(LSGANConfig):
    pass


@register(
    "ae-gan",
    family="autoencoder",
    description="Autoencoder with the auxiliary LSGAN loss on reconstructions (rescaled, balanced by k); no interpolation training.",
    paper=PAPER.format("AE"),
)
class AEGAN(LSGANAutoencoder):
    Config = AEGANConfig

    def train_step(self, batch, step):
        c = batch.triplet()[2]
        x_hat = self.reconstruct(c)
        recon = (x_hat - c).abs().mean()
        return self.adversarial_update(real=c, fake=x_hat, recon_loss=recon)


@dataclass
class IntAEConfig(LSGANConfig):
    pass


@register(
    "intae",
    family="interpolative",
    description="Interpolative AE: L1 on seeds, LSGAN on reconstructions and SLERP interpolations (rescaled, balanced by k).",
    paper=PAPER.format("IntAE") + "; LSGAN instance of Beckham et al. 2019 / Berthelot et al. 2018",
)
class IntAE(LSGANAutoencoder):
    Config = IntAEConfig

    def train_step(self, batch, step):
        c = batch.triplet()[2]
        n = c.shape[0]
        z = self.encode(c)
        alpha = torch.rand(n, generator=batch.generator, device=c.device)
        z_mix = slerp(z, z.roll(1, dims=0), alpha)
        x_hat = self.decode(torch.cat((z, z_mix)))  # rows :n reconstructions, n: interpolations
        recon = (x_hat[:n] - c).abs().mean()
        return self.adversarial_update(real=c, fake=x_hat, recon_loss=recon, n_seeds=n)
