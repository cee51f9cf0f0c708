"""The Augmentation-Interpolative AutoEncoder and its ablations.

Follows Wertheimer et al., "Augmentation-Interpolative Autoencoders for Unsupervised Few-shot
Image Generation" (seeds 001/002): section 3 (Equation 1, Fig. 4), section 4 (Fig. 7 ablation)
and appendix A.1. No public implementation of the paper was found; this is written from the
paper alone.

Method. For each training image x the augmentation engine (`bench/augment.py`) samples two
parameter sets rho1, rho2 and alpha (mean of two U(0, 1) draws) and returns
A = T(x; rho1), B = T(x; rho2), C = T(x; alpha*rho1 + (1-alpha)*rho2). C carries weight alpha on
A's parameters, and `slerp(z_a, z_b, t)` gives z_a at t = 0, so C's latent is
z = slerp(E(B), E(A), alpha). The model is trained to decode C from it:
L_recon = || C - G(z) ||_1 (mean over pixels), plus the auxiliary LSGAN loss on G(z)
(`models/adversarial.py`: discriminator = encoder architecture with one output, real images = the
augmented targets C, fakes = G(z); per-image gradient rescaling and the dynamic balance factor k).

Hyperparameters (appendix A.1): L2-normalized latent with SLERP, latent 32 for 28x28 characters
and 512 otherwise; Adam step size 1e-3 for the autoencoder and the discriminator (betas not
given: PyTorch's defaults); adversarial models keep a constant learning rate; k_0 = 1, k step
0.001. The paper gives no batch size; the suite's budgets use 64.

Deviations and readings:
- the shared suite backbones (`models/backbones.py`) stand in for the paper's InfoGAN/DCGAN nets;
- A and B are encoded in one pass (their batch-norm statistics are shared);
- the discriminator's real images are the targets C (the paper does not say whether real means
  x or C; C is the image the generator is asked to produce, so real and fake share the
  augmentation distribution);
- the paper's optional reconstruction loss on A and B ("did not noticeably affect performance")
  is not used;
- the update order (discriminator, then autoencoder, then k) is the suite's choice.

Revisions (`models/adversarial.py`): 1 used LSGAN targets 0/1, with which the balance factor k
could only fall (it reached 0 early and switched the adversarial term off); 2 uses -1/1, so k
recovers as appendix A.1 describes. SLERP's gradient is finite at identical latents since the
same change (it gave NaN on torch <= 2.12, where the one-family ablations diverged); on later
torch the values are unchanged, so that alone is no new revision.

Models: `augintae` (the paper's model), `augintae-noadv` (no adversarial term: a
non-adversarial model, so the trainer's lr schedule /10 at 35% and 70% applies), and the Fig. 7
ablation `augintae-rotate|translate|scale|shear`, each trained with one augmentation family only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from models.adversarial import LSGANAutoencoder, LSGANConfig
from models.ae import Autoencoder
from models.config import ModelConfig, hp
from models.latent import slerp
from models.optim import adam
from models.registry import register

PAPER = "Wertheimer et al., Augmentation-Interpolative Autoencoders (AugIntAE)"


def decode_interpolated_triplet(model: Autoencoder, batch):
    """(G(slerp(E(B), E(A), alpha)), C): the decoded latent interpolation and its target image."""
    a, b, c, alpha = batch.triplet()
    z_a, z_b = model.encode(torch.cat((a, b))).chunk(2)
    z = slerp(z_b, z_a, alpha)  # alpha = weight of A (rho1) in C, and slerp(., ., 0) is its first argument
    return model.decode(z), c


@dataclass
class AugIntAEConfig(LSGANConfig):
    pass


@register(
    "augintae",
    family="augintae",
    description="Decodes the alpha-mixed augmentation C from the SLERP of E(A), E(B); L1 + LSGAN (rescaled, balanced by k).",
    paper=PAPER,
)
class AugIntAE(LSGANAutoencoder):
    Config = AugIntAEConfig
    normalized_latent = True
    uses_augmentation = True

    def train_step(self, batch, step):
        x_hat, c = decode_interpolated_triplet(self, batch)
        recon = (x_hat - c).abs().mean()
        return self.adversarial_update(real=c, fake=x_hat, recon_loss=recon)


@dataclass
class AugIntAENoAdvConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise (paper A.1)")
    lr: float = hp(1e-3, min=0.0, help="Adam step size (paper A.1); the trainer divides it by 10 at 35% and 70%")
    beta1: float = hp(0.9, min=0.0, max=1.0, help="Adam beta1 (paper: Adam, defaults)")
    beta2: float = hp(0.999, min=0.0, max=1.0, help="Adam beta2 (paper: Adam, defaults)")


@register(
    "augintae-noadv",
    family="augintae",
    description="AugIntAE without the adversarial term: L1 on the decoded latent interpolation only.",
    paper=PAPER + " (Equation 1 alone)",
)
class AugIntAENoAdv(Autoencoder):
    Config = AugIntAENoAdvConfig
    normalized_latent = True
    uses_augmentation = True

    def configure_optimizers(self):
        c = self.config
        return {"ae": adam(self.parameters(), c.lr, (c.beta1, c.beta2))}

    def train_step(self, batch, step):
        x_hat, c = decode_interpolated_triplet(self, batch)
        recon = (x_hat - c).abs().mean()
        opt = self.optimizers["ae"]
        opt.zero_grad(set_to_none=True)
        recon.backward()
        opt.step()
        return {"recon": recon.detach().float()}


# --- Fig. 7 ablation: one augmentation family each (names as in bench.augment.FAMILIES) --------
ABLATION = PAPER + " (Fig. 7 ablation)"


@register("augintae-rotate", family="augintae", description="AugIntAE trained with rotations only.", paper=ABLATION)
class AugIntAERotate(AugIntAE):
    augmentation_families = frozenset({"rotate"})


@register("augintae-translate", family="augintae", description="AugIntAE trained with translations only.", paper=ABLATION)
class AugIntAETranslate(AugIntAE):
    augmentation_families = frozenset({"translate"})


@register("augintae-scale", family="augintae", description="AugIntAE trained with scaling only.", paper=ABLATION)
class AugIntAEScale(AugIntAE):
    augmentation_families = frozenset({"scale"})


@register("augintae-shear", family="augintae", description="AugIntAE trained with shear only.", paper=ABLATION)
class AugIntAEShear(AugIntAE):
    augmentation_families = frozenset({"shear"})
