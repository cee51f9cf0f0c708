"""`aeai`: Autoencoder Adversarial Interpolation (Oring, Yakhini and Hel-Or, ICML 2021,
"Autoencoder Image Interpolation by Shaping the Latent Space"; seed 003).

No public training code was found; this follows the paper's method section. For pairs
(x_i, x_j) with latents z = E(x) (unnormalized), the latent path is linear,
    z(alpha) = (1 - alpha) z_i + alpha z_j,   x_hat(alpha) = G(z(alpha)),
sampled on the grid alpha = n/M, n = 0..M, and the autoencoder minimizes
    L = L_R + lambda_A L_A + lambda_C L_C + lambda_S L_S
- L_R: reconstruction of both endpoints, mean squared error (the paper leaves the loss open; MSE
  matches the squared norms of the other terms and the paper's MSE evaluation);
- L_A = mean_n -log D(x_hat(n/M)): non-saturating GAN loss on the decoded grid; the discriminator
  (the encoder architecture with one logit) is trained with BCE, real images -> 1 and decoded
  grid points -> 0;
- L_C = mean_n ||z(n/M) - E(G(z(n/M)))||^2 / mean_k ||z_k - mean z||^2: cycle consistency,
  relative to the batch's latent spread (see the deviations);
- L_S = mean_n mean_pixels (d x_hat / d alpha)^2 at alpha = n/M. The derivative is the
  Jacobian-vector product of the decoder at z(n/M) along z_j - z_i, computed with
  torch.func.jvp (forward mode), whose output stays differentiable for loss.backward() with
  respect to the decoder's parameters and, through the point and the direction, the encoder's.
  It is not the autograd gradient of the summed output (x_hat.sum() differentiated by alpha
  gives the pixel sum of this derivative, one number per image), which a known third-party
  version uses.
The paper sums its terms over the two endpoints and the M + 1 grid points; here each term is a
mean, so the paper's (lambda_A, lambda_C, lambda_S) correspond to these values times 2 / (M + 1).

Pairs: the partner of image i is image n-1-i (the batch reversed); the n // 2 distinct pairs are
subsampled to `pairs_per_step` each step (drawn from `batch.generator`), since every pair costs
M + 1 decoder passes with their JVPs, M + 1 encoder passes and M + 1 discriminator passes. L_R
covers the whole batch (every image is an endpoint).

BatchNorm and torch.func: in train mode BatchNorm updates its running statistics in place,
which torch.func transforms refuse (they may not mutate captured tensors). The JVP pass
therefore runs with the decoder's BatchNorm layers set to batch statistics without tracking
(`track_running_stats` off for the call): the grid is normalized with its own batch statistics,
exactly as in train mode, but leaves the running statistics to the reconstruction pass on the
real latents. The JVP then differentiates the train-mode function, batch statistics included,
the function the train-mode losses optimize; in eval mode (fixed statistics) it is the exact
per-image derivative (the tests check it against central finite differences).

Hyperparameters (none are published; chosen and documented here):
- M = 8 (9 grid points; the paper's figures evaluate 17 values, 0..1 in steps of 1/16, and
  `grid_points=16` trains on those) and `pairs_per_step` = 4, to keep the cost of a step bounded:
  at batch 64 a step costs about 3x an AE step (the JVP pass costs about 3x a plain decoder
  forward and backward).
- lambda_S = 0.01: the minimum of L_S over paths with fixed endpoints is the squared distance of
  the two reconstructions, so L_S also pulls the reconstructions together; for a straight path
  with MSE reconstruction the endpoints' distance shrinks by 1 / (1 + 2 lambda_S) (2%).
- lambda_A = 0.01: per image, the gradient of -log D with respect to the pixels is of order
  0.1 to 1, while that of the mean squared error is 2 sqrt(MSE / pixels), about 6e-3 at MSE 0.01
  on 32x32 images; much larger weights let the adversarial term overwhelm the reconstruction
  (the imbalance the AugIntAE paper corrects by rescaling adversarial gradients).
- lambda_C = 0.1: the relative cycle error of random networks is 1 to 2, so the weighted term
  starts at L_R's scale; in the 30-step smoke test on the lines domain it fell to 0.1-0.2
  while L_R fell by 90%.
- Adam lr 1e-4, betas (0.5, 0.99) for both networks: AMR's settings (Beckham et al. 2019, the
  closest published adversarial interpolation autoencoder with a BCE discriminator, one of the
  paper's baselines); constant (`adversarial = True`).

Deviations:
- Networks: the suite's shared backbone (InfoGAN / DCGAN) for the encoder, the decoder and the
  discriminator (`make_encoder(shape, 1)`); the paper's architecture is not published.
- L_C is divided by the batch's latent spread: the backbone's decoders start with a bias-free
  linear/convolutional layer followed by BatchNorm, so in train mode they ignore the latent's
  scale and offset, and the raw ||z - E(G(z))||^2 could be driven to zero by shrinking the
  encoder's output without making the mapping any more consistent. The relative error is
  invariant to both, and zero exactly when the raw one is.
- Terms are means, not sums (see above); grid and pair subsampling as described.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import jvp

from models.ae import LinearLatentAutoencoder
from models.backbones import make_encoder
from models.config import ModelConfig, hp
from models.optim import adam
from models.registry import register


@dataclass
class AEAIConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-4, min=0.0, help="Adam step size (autoencoder and discriminator)")
    beta1: float = hp(0.5, min=0.0, max=1.0)
    beta2: float = hp(0.99, min=0.0, max=1.0)
    grid_points: int = hp(8, min=1, help="M: the grid alpha = n/M, n = 0..M")
    pairs_per_step: int = hp(4, min=1, help="pairs (x_i, x_reversed_i) regularized per step")
    lambda_adv: float = hp(0.01, min=0.0, help="lambda_A, weight of the non-saturating GAN loss")
    lambda_cycle: float = hp(0.1, min=0.0, help="lambda_C, weight of the latent cycle loss")
    lambda_smooth: float = hp(0.01, min=0.0, help="lambda_S, weight of the smoothness loss")


# --- the paper's pieces, as functions the tests check ---------------------------------------------
def latent_grid(z_i: torch.Tensor, z_j: torch.Tensor, m: int):
    """Points z(n/M) = (1 - n/M) z_i + (n/M) z_j, n = 0..M, and the direction dz/dalpha = z_j - z_i,
    both flattened to ((M + 1) * pairs, d), grid-point-major."""
    alpha = torch.arange(m + 1, device=z_i.device, dtype=z_i.dtype).div_(m).view(-1, *([1] * z_i.dim()))
    points = (1 - alpha) * z_i + alpha * z_j
    direction = (z_j - z_i).expand_as(points)
    return points.flatten(0, 1), direction.flatten(0, 1)


@contextlib.contextmanager
def batch_stats_without_tracking(module: nn.Module):
    """Train-mode BatchNorm layers normalize with batch statistics but leave their running
    statistics untouched (torch.func transforms reject the in-place update)."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    saved = [m.track_running_stats for m in layers]
    for m in layers:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, flag in zip(layers, saved):
            m.track_running_stats = flag


def decode_with_velocity(decoder: nn.Module, points: torch.Tensor, direction: torch.Tensor):
    """(G(z), dG(z)/dalpha) with dG/dalpha = J_G(z) @ direction, a forward-mode JVP that stays
    differentiable for backward. The first call makes torch register its JVP decompositions
    through the deprecated torch.jit.script; that FutureWarning is torch's, not the user's, so
    it is kept out of `bench run` output."""
    with batch_stats_without_tracking(decoder), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        return jvp(decoder, (points,), (direction,))


def _f32(t: torch.Tensor) -> torch.Tensor:
    """At least float32 (bf16 autocast outputs are promoted; float64 stays)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def smoothness_loss(velocity: torch.Tensor) -> torch.Tensor:
    """Mean over grid points (and pairs) of the per-pixel squared norm of d x_hat / d alpha."""
    return _f32(velocity).pow(2).mean()


def cycle_loss(points: torch.Tensor, cycled: torch.Tensor, z_batch: torch.Tensor) -> torch.Tensor:
    """mean ||z - E(G(z))||^2 over the grid, relative to the mean squared spread of the batch latents."""
    err = (_f32(points) - _f32(cycled)).flatten(1).pow(2).sum(1).mean()
    zb = _f32(z_batch).flatten(1)
    spread = (zb - zb.mean(0, keepdim=True)).pow(2).sum(1).mean()
    return err / spread.clamp_min(1e-12)


@register(
    "aeai",
    family="interpolative",
    description="AEAI: reconstruction plus adversarial, cycle-consistency and smoothness (JVP) losses "
    "on a grid of linear latent interpolations.",
    paper="Oring, Yakhini and Hel-Or, ICML 2021, Autoencoder Image Interpolation by Shaping the Latent Space",
)
class AEAI(LinearLatentAutoencoder):
    Config = AEAIConfig
    adversarial = True

    def __init__(self, config: AEAIConfig, image_shape):
        super().__init__(config, image_shape)
        self.discriminator = make_encoder(image_shape, 1)

    def configure_optimizers(self):
        c = self.config
        return {"ae": adam(self.autoencoder_parameters(), c.lr, (c.beta1, c.beta2)),
                "d": adam(self.discriminator.parameters(), c.lr, (c.beta1, c.beta2))}

    def train_step(self, batch, step):
        c = self.config
        x = batch.x
        n = x.shape[0]
        z = self.encoder(x)
        recon = (self.decoder(z).float() - x.float()).pow(2).mean()

        # Pairs (i, n-1-i), subsampled; the grid and its velocities.
        pairs = min(c.pairs_per_step, n // 2)
        if pairs == 0:
            raise ValueError("aeai interpolates between pairs of images: it needs at least 2 images")
        i = torch.randperm(n // 2, generator=batch.generator, device=x.device)[:pairs]
        points, direction = latent_grid(z[i], z[n - 1 - i], c.grid_points)
        x_grid, velocity = decode_with_velocity(self.decoder, points, direction)

        adv = F.softplus(-self.discriminator(x_grid).float()).mean()  # -log D(x_hat)
        cycle = cycle_loss(points, self.encoder(x_grid), z)
        smooth = smoothness_loss(velocity)
        loss = recon + c.lambda_adv * adv + c.lambda_cycle * cycle + c.lambda_smooth * smooth
        ae_params = self.autoencoder_parameters()
        opt = self.optimizers["ae"]
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=ae_params)
        opt.step()

        # Discriminator: BCE, real -> 1, decoded grid points -> 0.
        fake = x_grid.detach()
        d_loss = F.softplus(-self.discriminator(x).float()).mean() + F.softplus(self.discriminator(fake).float()).mean()
        d_opt = self.optimizers["d"]
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        return {
            "recon": recon.detach(),
            "adv": adv.detach(),
            "cycle": cycle.detach(),
            "smooth": smooth.detach(),
            "d_loss": d_loss.detach(),
        }
