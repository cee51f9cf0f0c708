"""`amr`: Adversarial Mixup Resynthesis.

Follows Beckham, Honari, Verma, Lamb, Ghadiri, Hjelm, Bengio and Pal, "On Adversarial Mixup
Resynthesis" (NeurIPS 2019), as implemented in the official PyTorch code
(github.com/christopher-beckham/amr: `models/swapgan.py` train_on_instance, `models/twogan.py`
samplers) with the settings of its MNIST scripts (`exps/mnist/mixup_lamb10.sh`):

- the latent is unnormalized and interpolated linearly (`normalized_latent = False`, lerp);
- mixing ("mixup"): per example alpha ~ U(0, 1); the partner is a random permutation of the batch
  (`torch.randperm`, as the official code; drawn from `batch.generator`), and
  z_mix = alpha * z + (1 - alpha) * z[perm]. Optional mixer "bernoulli" (the official `fm2`,
  used by the Bernoulli-mixup scripts): one p ~ U(0, 1) per batch and a mask m ~ Bern(p) per
  example and latent unit, z_mix = m * z + (1 - m) * z[perm];
- generator (encoder + decoder) loss: lambda * L1(x, x_hat) + BCE(D(x_hat), real)
  + BCE(D(decode(z_mix)), real), lambda = 10 (the consistency term has weight beta = 0 in the
  scripts, so it is left out);
- discriminator loss: BCE(D(x), 1) + BCE(D(x_hat), 0) + BCE(D(decode(z_mix)), 0) on the
  generator's outputs of this step, detached;
- the generator updates first, the discriminator second (its inputs computed before the generator
  step, as in the official code); the generator is updated every `g_every` steps (the official
  launcher's `update_g_every`, default 5, which the MNIST scripts do not override), the
  discriminator every step;
- Adam lr 1e-4, betas (0.5, 0.99), weight decay 1e-5 (coupled L2, torch Adam's) for both
  networks, constant lr: `adversarial = True`, so the suite's trainer leaves the lr alone;
- trained on the raw images `batch.x`, as the official code does.

Logged: "recon" (the L1), "adv" (the generator's two BCE terms, before lambda), "d_loss" (the
discriminator's three BCE terms, summed).

Deviations from the official code:
- Networks: the suite's shared backbone (InfoGAN for 28x28, DCGAN otherwise) and its latent size
  (32 for 28x28, 512 otherwise) instead of the ACAI-style networks of the MNIST scripts
  (`arch_acai_kyle.py`, spatial 4x4x2 latent). The discriminator is the suite's encoder with one
  output, read as a logit with BCE-with-logits (the official discriminator ends in a sigmoid
  followed by BCELoss: the same loss, computed stably), normalized as the official one
  (`arch_kyle.Discriminator`, `spec_norm=True`, no normalization layers): spectral norm on every
  convolution and linear layer, batch norm removed (`models.backbones.make_critic(shape, spectral=True)`). Layers the backbone
  builds without bias (because batch norm followed) stay without bias. The official
  discriminator averages a 4x4x2 output map to one logit; ours ends in the backbone's
  single-output layer. With the backbone's batch norm kept, the reconstruction loss stalls on
  the lines domain (real and fake batches are scored separately, and batch norm nearly fixes
  each batch's mean logit).
- Pixel scale: the official code feeds images normalized to [-1, 1]. Our images are in [0, 1];
  the L1 is computed on the [-1, 1] scale (2x - 1), i.e. 2 x the [0, 1] L1, so that lambda = 10
  balances reconstruction against the adversarial terms as published.
- The Bernoulli mask is drawn per latent unit of our flat latent (officially per channel of the
  spatial latent). The Dirichlet k-way mixing (`kgan`) is not implemented.
- Batch 64 on the paper budget (as the scripts); the number of steps is the suite's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

from models.ae import LinearLatentAutoencoder
from models.backbones import make_critic
from models.config import ModelConfig, hp
from models.optim import adam
from models.registry import register


@dataclass
class AMRConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-4, min=0.0, help="Adam step size of the generator and the discriminator")
    beta1: float = hp(0.5, min=0.0, max=1.0, help="Adam beta1 (MNIST scripts)")
    beta2: float = hp(0.99, min=0.0, max=1.0, help="Adam beta2 (MNIST scripts)")
    weight_decay: float = hp(1e-5, min=0.0, help="Adam L2 weight decay of both networks (MNIST scripts)")
    lam: float = hp(10.0, min=0.0, help="lambda: weight of the L1 reconstruction (official lamb)")
    g_every: int = hp(5, min=1, help="update the generator every this many steps (official update_g_every)")
    mixer: str = hp("mixup", choices=("mixup", "bernoulli"), help="mixup: alpha ~ U(0,1) per example; bernoulli: official fm2 mask")


# --- the method, one function per equation ------------------------------------------------------
def mixing_weights(mixer: str, z: torch.Tensor, generator=None) -> torch.Tensor:
    """Weights of z in the mix, broadcastable to z: one alpha ~ U(0, 1) per example ("mixup"), or a
    mask m ~ Bern(p) per example and unit with one p ~ U(0, 1) per batch ("bernoulli")."""
    n = z.shape[0]
    if mixer == "mixup":
        return torch.rand(n, generator=generator, device=z.device).view(n, *([1] * (z.dim() - 1)))
    p = torch.rand((), generator=generator, device=z.device)
    return torch.bernoulli(p.expand(z.shape).float(), generator=generator)


def mix(z: torch.Tensor, weights: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """weights * z + (1 - weights) * z[perm]."""
    return weights * z + (1 - weights) * z[perm]


def centred(x: torch.Tensor) -> torch.Tensor:
    """Images on the official [-1, 1] scale, in float32."""
    return x.float() * 2.0 - 1.0


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy of D's logits against a constant label (1 real, 0 fake)."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def generator_losses(x, x_hat, d_recon, d_mix):
    """(recon, adv): L1 on the [-1, 1] scale and BCE(D(x_hat) -> 1) + BCE(D(x_mix) -> 1)."""
    recon = (centred(x_hat) - centred(x)).abs().mean()
    adv = bce(d_recon, 1.0) + bce(d_mix, 1.0)
    return recon, adv


def discriminator_loss(d_real, d_recon, d_mix):
    """BCE(D(x) -> 1) + BCE(D(x_hat) -> 0) + BCE(D(x_mix) -> 0)."""
    return bce(d_real, 1.0) + bce(d_recon, 0.0) + bce(d_mix, 0.0)


@register(
    "amr",
    family="interpolative",
    description="AMR: a GAN discriminator judges reconstructions and decoded latent mixes as fake.",
    paper="Beckham et al. 2019, Adversarial Mixup Resynthesis (official PyTorch code christopher-beckham/amr)",
)
class AMR(LinearLatentAutoencoder):
    Config = AMRConfig
    adversarial = True  # constant lr, as in the official code

    def __init__(self, config: AMRConfig, image_shape):
        super().__init__(config, image_shape)
        self.discriminator = make_critic(image_shape, spectral=True)  # the official discriminator: spectral norm, no batch norm

    def configure_optimizers(self):
        c = self.config
        return {
            "g": adam(self.autoencoder_parameters(), c.lr, (c.beta1, c.beta2), weight_decay=c.weight_decay),
            "d": adam(self.discriminator.parameters(), c.lr, (c.beta1, c.beta2), weight_decay=c.weight_decay),
        }

    def step_phase(self, step: int) -> bool:
        """Whether the autoencoder updates at `step` (every `g_every`-th step, as officially)."""
        return step % self.config.g_every == 0

    def train_step(self, batch, step):
        c = self.config
        x = batch.x
        z = self.encode(x)
        x_hat = self.decode(z)
        perm = torch.randperm(x.shape[0], generator=batch.generator, device=x.device)
        x_mix = self.decode(mix(z, mixing_weights(c.mixer, z, batch.generator), perm))

        # Generator: reconstruct, and make reconstructions and mixes look real.
        recon, adv = generator_losses(x, x_hat, self.discriminator(x_hat), self.discriminator(x_mix))
        if self.step_phase(step):
            opt_g = self.optimizers["g"]
            opt_g.zero_grad(set_to_none=True)
            (c.lam * recon + adv).backward(inputs=self.autoencoder_parameters())
            opt_g.step()

        # Discriminator: real -> 1, reconstruction -> 0, mix -> 0.
        d = self.discriminator
        d_loss = discriminator_loss(d(x), d(x_hat.detach()), d(x_mix.detach()))
        opt_d = self.optimizers["d"]
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward(inputs=list(d.parameters()))
        opt_d.step()
        return {"recon": recon.detach(), "adv": adv.detach(), "d_loss": d_loss.detach()}
