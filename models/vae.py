"""`vae`: the variational autoencoder baseline of the AugIntAE paper (Fig. 2, Table 1 last row).

Follows Wertheimer et al. (AugIntAE, seed 001), appendix A.1, and Kingma & Welling 2013:

- the shared backbone (InfoGAN for 28x28, DCGAN otherwise), latent 32 / 512 as the AEs; the
  encoder has twice the outputs ("VAE encoders have output dimensionality twice the above, as
  they predict both a mean and variance"): the mean mu and the log-variance of a diagonal
  Gaussian posterior;
- loss per image: reconstruction + KL(q(z|x) || N(0, I)) in closed form (`gaussian_kl`),
  averaged over the batch. The reconstruction term is the Bernoulli negative log-likelihood
  (binary cross-entropy) summed over pixels, which matches the decoders' sigmoid outputs and
  makes the two terms the ELBO's; it is computed from the decoder's pre-sigmoid logits
  (`binary_cross_entropy_with_logits`) for numerical stability and bf16 autocast;
- the latent is sampled with the reparameterization trick, the noise drawn from
  `batch.generator` (exact resume);
- Adam lr 1e-3 (paper A.1) with the suite's schedule (lr / 10 at 35% and 70%): not adversarial;
- reconstructions and interpolations use the mean (paper Fig. 2: "VAE reconstructions use the
  mean embedding mu directly"), so `encode` returns mu; the latent is unnormalized and
  interpolated linearly (`normalized_latent = False`); `sample(n)` decodes N(0, I) draws.

Logged: "recon" (the summed BCE per image) and "kl" (per image).

Deviations / choices: the paper says the encoder predicts a "variance"; we predict its log (the
usual stable parameterization; an equivalent model). The paper names no likelihood; Bernoulli is
our choice (see above). Trained on the raw images (the paper trains only its AE/IntAE baselines
on augmented images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from models.backbones import default_latent_dim, make_decoder, make_encoder
from models.base import BenchModel
from models.config import ModelConfig, hp
from models.optim import adam
from models.registry import register


@dataclass
class VAEConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-3, min=0.0, help="Adam step size (paper A.1)")
    beta1: float = hp(0.9, min=0.0, max=1.0)
    beta2: float = hp(0.999, min=0.0, max=1.0)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row, in closed form:
    0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)."""
    mu, logvar = mu.float().flatten(1), logvar.float().flatten(1)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of x under Bernoulli(sigmoid(logits)), summed over pixels: per row."""
    return F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none").flatten(1).sum(1)


def decoder_logits(decoder: nn.Sequential, z: torch.Tensor) -> torch.Tensor:
    """The backbone decoder's output before its final sigmoid."""
    layers = list(decoder)
    if not isinstance(layers[-1], nn.Sigmoid):
        raise TypeError("the VAE needs a decoder that ends in a sigmoid")
    for layer in layers[:-1]:
        z = layer(z)
    return z


@register(
    "vae",
    family="generative",
    description="VAE on the shared backbone: Bernoulli likelihood + closed-form KL; reconstructs "
    "from the posterior mean, interpolates linearly.",
    paper="Kingma & Welling 2013; AugIntAE (Wertheimer et al.) Fig. 2 and Table 1",
)
class VAE(BenchModel):
    Config = VAEConfig
    generative = True
    normalized_latent = False

    def __init__(self, config: VAEConfig, image_shape):
        super().__init__(config, image_shape)
        self.latent_dim = config.latent_dim or default_latent_dim(image_shape)
        self.encoder = make_encoder(image_shape, 2 * self.latent_dim)
        self.decoder = make_decoder(image_shape, self.latent_dim)

    def posterior(self, x):
        """(mu, logvar) of q(z | x)."""
        return self.encoder(x).chunk(2, dim=1)

    def configure_optimizers(self):
        c = self.config
        return {"vae": adam(self.parameters(), c.lr, (c.beta1, c.beta2))}

    def train_step(self, batch, step):
        x = batch.x
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=batch.generator, device=mu.device, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        recon = bernoulli_nll(decoder_logits(self.decoder, z), x).mean()
        kl = gaussian_kl(mu, logvar).mean()
        opt = self.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        (recon + kl).backward()
        opt.step()
        return {"recon": recon.detach(), "kl": kl.detach()}

    def encode(self, x):
        return self.posterior(x)[0]

    def decode(self, z):
        return self.decoder(z)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.decode(self.prior_latents(n, generator))
