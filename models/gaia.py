"""`gaia`: Generative Adversarial Interpolative Autoencoding (Sainburg, Thielk and Gentner, 2018).

Follows the authors' public code (github.com/timsainb/GAIA, `network.py`, driven by the notebook
"GAIA simple example.ipynb"). GAIA is a BEGAN-like pair of autoencoders:

- the generator G is an autoencoder E/G that reconstructs x (x_hat = G(E(x))) and decodes
  interpolations of its latents (x_int);
- the discriminator D is itself an autoencoder; it should reconstruct real images well and
  generated ones badly.

Interpolation (official `get_midpoints`): the batch is split in halves; with a1, a2 ~ N(0.5, 0.25)
per pair (0.25 is the standard deviation: `tf.random_normal(mean=0.5, stddev=0.25)`), NOT clipped,
so about 5% of the interpolants extrapolate beyond the endpoints. The first half of the
interpolants mixes first-half latent i with second-half latent i, the second half mixes the
reversed first half with the second half (two interpolants per second-half image):
    z_int = a * z_first + (1 - a) * z_second   (linear, unnormalized latent).

Losses, all mean absolute errors (L1), exactly as in `network.py` (`GAIA_initialization`):
    real      = |x     - D(x)|                 (x_real_recon_loss)
    fake_rec  = |x     - D(x_hat)|             (x_fake_from_real_recon_loss: the target is x)
    fake_int  = |x_int - D(x_int)|             (x_fake_from_sample_recon_loss)
    fake      = (fake_rec + fake_int) / 2
    latent    = mean_{a,b} (log(1 + dx_ab / mean dx) - log(1 + dz_ab / mean dz))^2
                with dx, dz the mean squared pairwise differences of the pixels and of the latents
                of the real batch (`distance_loss`; the means run over the full n x n matrix,
                diagonal included, as in the code)
    p_fake    = clip(sigmoid(slope * (sigma * fake_int - real)), 0, 0.9),  sigma = 0.5
    L_D       = clip(real - p_fake * fake, -1, 1)
    p_int     = sigmoid(slope * (fake_int - fake_rec))
    L_G       = clip(p_int * fake_int + (1 - p_int) * fake_rec + latent_weight * latent, -1, 1)
The proportions p_fake and p_int are not detached (the TF graph differentiates through them too).
The suite offers one optional term in L_G: L_G += recon_weight * |x - x_hat|; the default
recon_weight = 0 is the official objective. |x - x_hat| is logged as "recon" either way.

Learning-rate balancing (official): with s = sigmoid(slope * (real - fake)), slope = 20,
    lr_D = s * lr,   lr_G = (1 - s) * lr,
recomputed every step from the same forward pass; the trainer keeps `lr` constant
(`adversarial = True`) and `train_step` writes both optimizers' lr (as tensors, no host sync).
Both optimizers step simultaneously on gradients from one forward pass, as the TF code applies
`train_D` and `train_G` together.

Hyperparameter sources: lr 1e-4 (`lr_max` in the notebook), slope 20, sigma 0.5, the 0.9 cap and
N(0.5, 0.25): `network.py`. Adam betas (0.9, 0.999): TF defaults, as `network.py` sets none.

Deviations:
- Optional, off by default: a direct reconstruction term recon_weight * |x - G(E(x))| in L_G.
  The official generator has no pixel loss: it learns to reconstruct only through D
  (fake_rec = |x - D(x_hat)| targets x), which needs D to be a good autoencoder first, so its
  reconstruction falls slowly early on (13-15% in the suite's 30-step test on lines, against
  68% with recon_weight=1). The leaderboard uses the official objective.
- Networks: the suite's shared backbone (InfoGAN for 28x28, DCGAN otherwise) for both the
  generator and the discriminator autoencoder, with the same latent size, instead of the
  official MUNIT-style residual encoder/decoder with a style path; the official discriminator has
  half the generator's channels, the suite's backbones have fixed widths, so D has the same
  widths as G. BatchNorm (the backbone's) replaces the official instance/layer norms; D sees
  the real, reconstructed and interpolated batches in three separate calls.
- Adam epsilon: `network.py` defaults to `adam_eps=1.0` (the value the CelebA notebook passes
  was not recovered). With gradients far below 1 that turns Adam into momentum SGD with steps
  of about lr * gradient; the suite uses 1e-8, the TF and PyTorch default (`adam_eps` to change).
- latent_weight: fed at run time in the official code (value not recovered from the notebook);
  1.0 here, the value the author's GAIA training script in his avgn project passes
  (`latent_loss_weights = 1.0`).
- Batch size: the notebook uses 8 (128x128 CelebA); the suite's budgets use 64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from models.ae import LinearLatentAutoencoder
from models.backbones import make_decoder, make_encoder
from models.config import ModelConfig, hp
from models.latent import lerp
from models.optim import adam
from models.registry import register


@dataclass
class GAIAConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-4, min=0.0, help="base Adam step size, scaled per step by the sigmoid balance")
    beta1: float = hp(0.9, min=0.0, max=1.0)
    beta2: float = hp(0.999, min=0.0, max=1.0)
    adam_eps: float = hp(1e-8, min=0.0, help="Adam epsilon (official TF code: 1.0, see the docstring)")
    balance_slope: float = hp(20.0, min=0.0, help="slope of the sigmoids that balance D and G")
    sigma: float = hp(0.5, min=0.0, help="weight of fake_int against real in D's fake proportion")
    max_fake_proportion: float = hp(0.9, min=0.0, max=1.0, help="cap on D's fake proportion")
    latent_weight: float = hp(1.0, min=0.0, help="weight of the pairwise-distance latent loss")
    recon_weight: float = hp(0.0, min=0.0, help="weight of an optional direct |x - G(E(x))| term in L_G (official code: 0)")
    alpha_mean: float = hp(0.5, help="mean of the interpolation coefficient")
    alpha_std: float = hp(0.25, min=0.0, help="standard deviation of the interpolation coefficient")


# --- the paper's pieces, as functions the tests check ---------------------------------------------
def pairwise_sq_dist(a: torch.Tensor) -> torch.Tensor:
    """(n, n) mean squared difference between the rows of `a` (official `squared_dist`)."""
    a = a.flatten(1).float()
    sq = a.pow(2).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * a @ a.T
    return d.clamp_min(0.0) / a.shape[1]


def distance_loss(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """mean((log(1 + dx/mean dx) - log(1 + dz/mean dz))^2): 0 iff dz is proportional to dx."""
    dx, dz = pairwise_sq_dist(x), pairwise_sq_dist(z)
    dx = dx / dx.mean().clamp_min(1e-12)
    dz = dz / dz.mean().clamp_min(1e-12)
    return (torch.log1p(dx) - torch.log1p(dz)).pow(2).mean()


def balance(real: torch.Tensor, fake: torch.Tensor, slope: float) -> torch.Tensor:
    """D's share of the learning rate, sigmoid(slope * (real - fake)); G gets 1 minus it."""
    return torch.sigmoid(slope * (real.float() - fake.float()))


def sample_alphas(n: int, mean: float, std: float, generator=None, device=None) -> torch.Tensor:
    """n interpolation coefficients ~ N(mean, std), unclipped (official `tf.random_normal`)."""
    return mean + std * torch.randn(n, generator=generator, device=device)


def interpolate_halves(z: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """Official `get_midpoints`: a1 * first + (1 - a1) * second, then with the first half reversed."""
    h = z.shape[0] // 2
    first, second = z[:h], z[h : 2 * h]
    return torch.cat([lerp(second, first, a1), lerp(second, first.flip(0), a2)])


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).abs().mean()


def objectives(real, fake_rec, fake_int, latent, recon, c: GAIAConfig):
    """(L_D, L_G, D's lr share) from the scalar losses, as in the official `network.py`, plus
    recon_weight * recon in L_G (outside the official clip)."""
    fake = (fake_rec + fake_int) / 2
    p_fake = torch.sigmoid(c.balance_slope * (c.sigma * fake_int - real)).clamp(0.0, c.max_fake_proportion)
    loss_d = (real - p_fake * fake).clamp(-1.0, 1.0)
    p_int = torch.sigmoid(c.balance_slope * (fake_int - fake_rec))
    loss_g = (p_int * fake_int + (1 - p_int) * fake_rec + c.latent_weight * latent).clamp(-1.0, 1.0)
    loss_g = loss_g + c.recon_weight * recon
    return loss_d, loss_g, balance(real, fake, c.balance_slope).detach()


@register(
    "gaia",
    family="interpolative",
    description="GAIA: an autoencoder trained against an autoencoding (BEGAN-style) discriminator on "
    "reconstructions and N(0.5, 0.25) latent interpolations, with a distance-preserving latent loss.",
    paper="Sainburg, Thielk and Gentner 2018, Generative adversarial interpolative autoencoding",
)
class GAIA(LinearLatentAutoencoder):
    Config = GAIAConfig
    adversarial = True

    def __init__(self, config: GAIAConfig, image_shape):
        super().__init__(config, image_shape)
        self.disc_encoder = make_encoder(image_shape, self.latent_dim)
        self.disc_decoder = make_decoder(image_shape, self.latent_dim)

    def discriminate(self, x):
        """D is an autoencoder: its output is its reconstruction of x."""
        return self.disc_decoder(self.disc_encoder(x))

    def generator_parameters(self):
        return self.autoencoder_parameters()

    def discriminator_parameters(self):
        return [*self.disc_encoder.parameters(), *self.disc_decoder.parameters()]

    def configure_optimizers(self):
        c = self.config
        return {
            "g": adam(self.generator_parameters(), c.lr, (c.beta1, c.beta2), eps=c.adam_eps),
            "d": adam(self.discriminator_parameters(), c.lr, (c.beta1, c.beta2), eps=c.adam_eps),
        }

    def train_step(self, batch, step):
        c = self.config
        x = batch.x
        h = x.shape[0] // 2
        if h == 0:
            raise ValueError("gaia interpolates between the two halves of a batch: it needs at least 2 images")
        z = self.encoder(x)
        x_rec = self.decoder(z)
        a = sample_alphas(2 * h, c.alpha_mean, c.alpha_std, batch.generator, x.device)
        x_int = self.decoder(interpolate_halves(z, a[:h], a[h:]))

        real = l1(x, self.discriminate(x))
        fake_rec = l1(x, self.discriminate(x_rec))
        fake_int = l1(x_int, self.discriminate(x_int))
        latent = distance_loss(x, z)
        recon = l1(x, x_rec)
        loss_d, loss_g, d_scale = objectives(real, fake_rec, fake_int, latent, recon, c)

        # Simultaneous updates from one forward pass, each network on its own loss.
        g_params, d_params = self.generator_parameters(), self.discriminator_parameters()
        g_grads = torch.autograd.grad(loss_g, g_params, retain_graph=True)
        d_grads = torch.autograd.grad(loss_d, d_params)
        for key, params, grads, scale in (("g", g_params, g_grads, 1 - d_scale), ("d", d_params, d_grads, d_scale)):
            opt = self.optimizers[key]
            for p, g in zip(params, grads):
                p.grad = g
            for group in opt.param_groups:
                group["lr"] = c.lr * scale  # a 0-dim tensor: no host sync
            opt.step()
            opt.zero_grad(set_to_none=True)
        return {
            "recon": recon.detach(),
            "d_real": real.detach(),
            "d_fake": ((fake_rec + fake_int) / 2).detach(),
            "latent": latent.detach(),
            "g_lr_scale": 1 - d_scale,
            "d_lr_scale": d_scale,
        }
