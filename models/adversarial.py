"""The auxiliary LSGAN of the AugIntAE paper, shared by `augintae*`, `ae-gan` and `intae`.

Wertheimer et al., "Augmentation-Interpolative Autoencoders for Unsupervised Few-shot Image
Generation" (seed 001), section 4 and appendix A.1 "GAN training":

- LSGAN (Mao et al. 2017) with targets a = -1 for fake and b = 1 for real: the discriminator
  minimizes mean (D(real) - 1)^2 + mean (D(fake) + 1)^2, the generator mean (D(fake) - 1)^2
  (c = b = 1: the generator asks for its images to be scored as real). Why this coding: k (below)
  rises only while the discriminator separates real from fake by MORE than 1 on average, and the
  paper says that once the discriminator has caught up, "k increases back to 1". With 0/1
  targets the margin mean D(real) - mean D(fake) cannot usefully exceed 1 (a perfect
  discriminator reaches exactly 1), so k could only fall: in the suite's first paper-length runs
  k reached 0 within 1,400-2,400 of 24,100 updates and never came back, leaving plain
  autoencoders. With -1/1 targets a winning discriminator separates by up to 2 (k rises at up to
  0.001 per update) and a fooled one by about 0 (k falls), as the paper describes. The
  generator's target c = 1 (rather than Mao et al.'s c = 0 of their Pearson chi^2 setting)
  keeps that reading: a generator that "wins" drives D(fake) towards D(real) and so the margin
  towards 0, which is when the paper lowers k; with c = 0 a winning generator would hold the
  margin at 1, where k stops moving.
- The discriminator is the encoder architecture with one output (`make_encoder(shape, 1)`).
- L_AE = L_recon + k * gamma * L_adv, gamma = ||grad L_recon|| / ||grad L_adv|| per image (eq. 2-3).
  "Per image" is read as: both gradients are taken with respect to each decoded image x_hat_i,
  and image i's adversarial gradient is scaled to the norm of its own reconstruction gradient
  (times k). gamma is a constant (no gradient flows through it). `rescaled_backward` does this
  with two `torch.autograd.grad` calls on x_hat and a single backward pass through the
  autoencoder with the combined image gradient g_rec + k * gamma_i * g_adv.
- k_0 = 1 and, after each update, k <- clip(k - 0.001 * (1 - (mean D(real) - mean D(fake))), 0, 1)
  (eq. 4-6): k shrinks while the discriminator separates real from fake by less than 1 and grows
  back while it separates them by more than 1.
  `BalanceFactor` keeps k in a buffer, so it is checkpointed with the model.

No public implementation of the paper was found; the update order (discriminator step first,
then the autoencoder step against the updated discriminator, then the k update from the
discriminator step's scores) is the suite's choice (the usual DCGAN/LSGAN order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from models.ae import Autoencoder
from models.backbones import make_encoder
from models.config import ModelConfig, hp
from models.optim import adam


# --- LSGAN losses ------------------------------------------------------------------------------
REAL_TARGET = 1.0  # b
FAKE_TARGET = -1.0  # a
GENERATOR_TARGET = REAL_TARGET  # c (see the module docstring)


def lsgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss: mean (D(real) - b)^2 + mean (D(fake) - a)^2, b = 1, a = -1 (float32)."""
    return (d_real.float() - REAL_TARGET).pow(2).mean() + (d_fake.float() - FAKE_TARGET).pow(2).mean()


def lsgan_g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Generator loss: mean (D(fake) - c)^2, c = 1 (computed in float32)."""
    return (d_fake.float() - GENERATOR_TARGET).pow(2).mean()


# --- the dynamic balance factor k -------------------------------------------------------------
class BalanceFactor(nn.Module):
    """k of appendix A.1: k_0 = 1; k <- clip(k - rate * (1 - (mean D(real) - mean D(fake))), 0, 1)."""

    def __init__(self, rate: float = 1e-3, initial: float = 1.0):
        super().__init__()
        self.rate = rate
        self.register_buffer("k", torch.tensor(float(initial)))

    @torch.no_grad()
    def update(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple:
        """One step of k from the scores; returns (mean D(real), mean D(fake)), float32, which
        the step also logs (computed once)."""
        real, fake = d_real.float().mean(), d_fake.float().mean()
        self.k.copy_((self.k - self.rate * (1 - (real - fake))).clamp(0.0, 1.0))
        return real, fake


# --- per-image gradient rescaling ---------------------------------------------------------------
def per_image_norm(g: torch.Tensor) -> torch.Tensor:
    """L2 norm of each image's gradient, in float32: shape (N,)."""
    return g.float().flatten(1).norm(dim=1)


@torch.no_grad()
def rescale_adversarial(g_rec: torch.Tensor, g_adv: torch.Tensor, k, n_seeds: Optional[int] = None) -> torch.Tensor:
    """g_rec + k * gamma_i * g_adv with gamma_i = ||g_rec_i|| / ||g_adv_i|| (float32).

    n_seeds: only the first n_seeds images have a reconstruction loss; each later image (an
    interpolation) is scaled to the mean reconstruction-gradient norm of those instead of its
    own (zero) one. An image whose adversarial gradient is exactly zero gets gamma = 0.
    """
    target = per_image_norm(g_rec)
    if n_seeds is not None and n_seeds < target.shape[0]:
        target = torch.cat((target[:n_seeds], target[:n_seeds].mean().expand(target.shape[0] - n_seeds)))
    n_adv = per_image_norm(g_adv)
    nonzero = n_adv > 0
    gamma = torch.where(nonzero, target / torch.where(nonzero, n_adv, torch.ones_like(n_adv)), torch.zeros_like(n_adv))
    gamma = gamma.view(-1, *([1] * (g_adv.dim() - 1)))
    return g_rec.float() + k * gamma * g_adv.float()


def rescaled_backward(x_hat: torch.Tensor, recon_loss: torch.Tensor, adv_loss: torch.Tensor, k, n_seeds: Optional[int] = None) -> None:
    """Back-propagate L_recon + k * gamma * L_adv through the network that produced x_hat.

    Both gradients are taken with respect to the decoded images x_hat only (the discriminator's
    parameters receive nothing), combined per image by `rescale_adversarial`, and pushed through
    the autoencoder in one backward pass. `n_seeds`: see `rescale_adversarial` (used by `intae`,
    whose decoded interpolations have no reconstruction loss of their own).
    """
    g_rec, g_adv = (
        torch.autograd.grad(loss, x_hat, retain_graph=True, allow_unused=True)[0] for loss in (recon_loss, adv_loss)
    )
    g_rec = torch.zeros_like(x_hat) if g_rec is None else g_rec
    g_adv = torch.zeros_like(x_hat) if g_adv is None else g_adv
    x_hat.backward(rescale_adversarial(g_rec, g_adv, k, n_seeds).to(x_hat.dtype))


# --- the shared model base ----------------------------------------------------------------------
@dataclass
class LSGANConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise (paper A.1)")
    lr: float = hp(1e-3, min=0.0, help="Adam step size of the autoencoder (paper A.1), constant")
    d_lr: float = hp(1e-3, min=0.0, help="Adam step size of the LSGAN discriminator (paper A.1), constant")
    beta1: float = hp(0.9, min=0.0, max=1.0, help="Adam beta1 (paper: Adam, defaults)")
    beta2: float = hp(0.999, min=0.0, max=1.0, help="Adam beta2 (paper: Adam, defaults)")
    k_rate: float = hp(1e-3, min=0.0, max=1.0, help="step of the balance factor k (paper eq. 5)")


class LSGANAutoencoder(Autoencoder):
    """An `Autoencoder` with the paper's auxiliary LSGAN discriminator, k and gradient rescaling."""

    Config = LSGANConfig
    # 1: LSGAN targets 0/1 (k could only fall); 2: targets -1/1, so k recovers as in A.1.
    revision = 2
    adversarial = True
    uses_augmentation = True

    def __init__(self, config: LSGANConfig, image_shape):
        super().__init__(config, image_shape)
        self.discriminator = make_encoder(image_shape, 1)
        self.balance = BalanceFactor(config.k_rate)

    def configure_optimizers(self):
        c = self.config
        betas = (c.beta1, c.beta2)
        autoencoder = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return {"ae": adam(autoencoder, c.lr, betas), "d": adam(self.discriminator.parameters(), c.d_lr, betas)}

    def score(self, real, fake):
        """D(real), D(fake) from ONE forward pass over the concatenated batch.

        The discriminator is the encoder architecture, with batch norm: scored in separate
        batches, each batch's mean output would be pinned by its own normalization, so
        mean D(real) - mean D(fake) (which drives k) could not separate. One joint batch
        normalizes real and fake with shared statistics.
        """
        scores = self.discriminator(torch.cat([real, fake]))
        return scores[: real.shape[0]], scores[real.shape[0] :]

    def adversarial_update(self, real, fake, recon_loss, n_seeds=None) -> dict:
        """One discriminator step (real vs fake.detach()), then one autoencoder step on
        L_recon + k * gamma * L_adv(fake), then the k update. Returns the losses to log."""
        opt_d, opt_ae = self.optimizers["d"], self.optimizers["ae"]
        d_real, d_fake = self.score(real, fake.detach())
        d_loss = lsgan_d_loss(d_real, d_fake)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        adv = lsgan_g_loss(self.score(real, fake)[1])
        k = self.balance.k.clone()
        opt_ae.zero_grad(set_to_none=True)
        rescaled_backward(fake, recon_loss, adv, k, n_seeds)
        opt_ae.step()
        d_real_mean, d_fake_mean = self.balance.update(d_real.detach(), d_fake.detach())
        return {
            "recon": recon_loss.detach().float(),
            "adv": adv.detach(),
            "d_loss": d_loss.detach(),
            "k": k,
            "d_real": d_real_mean,
            "d_fake": d_fake_mean,
        }
