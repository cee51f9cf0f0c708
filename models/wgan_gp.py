"""`wgan-gp` and `wgan-gp-oracle`: the GAN baselines of the AugIntAE paper (Table 2, Fig. 2).

Follows Wertheimer et al. (AugIntAE, seed 001), appendix A.1-A.2, with the WGAN-GP objective of
Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (Algorithm 1):

- generator: the suite's shared decoder (`make_decoder`), latent size as the autoencoders (32 for
  28x28, 512 otherwise); noise is N(0, I) projected onto the unit sphere ("L2-normalized noise
  samples"), so `normalized_latent = True` and interpolation is SLERP;
- critic: the encoder architecture with one output, without batch norm (`make_critic`);
- critic loss mean D(fake) - mean D(real) + lambda * mean (||grad D(x_interp)||_2 - 1)^2 with
  lambda = 10 and x_interp = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per image; generator
  loss -mean D(fake) on fresh noise;
- 5 critic updates per generator update: every `train_step` is one critic update on its batch,
  and after every 5th (steps 4, 9, ...) the generator takes one step;
- twice as long as the other models (`steps_multiplier = 2`), constant lr (`adversarial`);
- GAN inversion (appendix A.2, `models.inversion`): after the main schedule, the trainer runs
  the budget's `inversion_iterations` more steps that train the inversion network only (logged as
  "inversion_mse"); `encode` = inversion network, then `refine_steps` per-image SGD steps on
  an L1 pixel loss (lr 0.01). `configure_evaluation` takes `refine_steps` from the budget
  unless the hyperparameter is set; until then it is the paper's 1,000.

`wgan-gp-oracle` is the same model trained on the novel domain's training split
(`trains_on = "novel"`): the paper's upper-bound column "WGAN-GP (test)".

Choices and deviations:
- Optimizer: Adam lr 1e-4, betas (0, 0.9) for both networks, the WGAN-GP paper's defaults
  (Algorithm 1), which its authors tuned for 5 critic steps per generator step. The AugIntAE
  paper says only that networks trained on real images use Adam 1e-3; it gives no WGAN-GP
  specific settings. `--set wgan-gp.lr=0.001 --set wgan-gp.beta1=0.9 --set wgan-gp.beta2=0.999`
  is that literal reading.
- Critic normalization: none by default, as the official WGAN-GP MNIST critic; the backbone's
  batch norm layers are removed because the gradient penalty is per image and batch norm mixes
  images. `critic_norm=layer` puts layer norm in their place (GroupNorm with one group over
  (C, H, W) for convolutions, LayerNorm for linear layers), the WGAN-GP paper's suggested
  replacement. Layers the backbone builds without bias (because batch norm followed) stay
  without bias.
- Inversion: the loss reductions, the generator's eval mode and the batch size are choices
  documented in `models.inversion`.
- The paper rescales "all adversarial gradients" to the reconstruction gradient's magnitude; a
  pure GAN has no reconstruction loss, so nothing is rescaled.
- Logged: "critic_loss" (with the penalty), "gp" (lambda * penalty), "wasserstein" (mean D(real)
  - mean D(fake)), "g_loss" (the latest generator loss; 0 before the first generator step and
  for up to four steps after a resume); in the inversion phase only "inversion_mse".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from models.backbones import default_latent_dim, make_critic, make_decoder
from models.base import BenchModel
from models.config import ModelConfig, hp
from models.inversion import PAPER_REFINE_STEPS, InversionNetwork, eval_mode, inversion_lr_stage, refine_latents
from models.latent import normalize
from models.optim import adam
from models.registry import register


@dataclass
class WGANGPConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="noise size; none = 32 for 28x28, 512 otherwise (as the AEs)")
    lr: float = hp(1e-4, min=0.0, help="Adam step size of critic and generator (WGAN-GP Algorithm 1; AugIntAE's generic value is 1e-3)")
    beta1: float = hp(0.0, min=0.0, max=1.0, help="Adam beta1 (WGAN-GP Algorithm 1)")
    beta2: float = hp(0.9, min=0.0, max=1.0, help="Adam beta2 (WGAN-GP Algorithm 1)")
    gp_lambda: float = hp(10.0, min=0.0, help="gradient penalty weight lambda (WGAN-GP)")
    n_critic: int = hp(5, min=1, help="critic updates per generator update (AugIntAE A.1, WGAN-GP)")
    critic_norm: str = hp("none", choices=("none", "layer"), help="critic normalization in place of batch norm")
    inv_lr: float = hp(1e-4, min=0.0, help="SGD step size of the inversion network (AugIntAE A.2)")
    inv_momentum: float = hp(0.1, min=0.0, max=1.0, help="SGD momentum of the inversion network (AugIntAE A.2)")
    refine_steps: Optional[int] = hp(None, min=0, help="per-image latent refinement steps; none = the budget's (paper 1000)")
    refine_lr: float = hp(0.01, min=0.0, help="SGD step size of the latent refinement (AugIntAE A.2)")


# --- the method -----------------------------------------------------------------------------------
def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator=None, lam: float = 10.0) -> torch.Tensor:
    """lam * mean over images of (||grad_x D(x)||_2 - 1)^2 at x = eps * real + (1 - eps) * fake,
    eps ~ U(0, 1) per image (Gulrajani et al. 2017). Differentiable w.r.t. the critic."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator, device=real.device, dtype=real.dtype)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).float().sum(), x, create_graph=True)
    norm = (grad.float().flatten(1).pow(2).sum(1) + 1e-12).sqrt()
    return lam * (norm - 1).pow(2).mean()


def critic_objective(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """mean D(fake) - mean D(real): the negative Wasserstein estimate the critic minimizes."""
    return d_fake.float().mean() - d_real.float().mean()


@register(
    "wgan-gp",
    family="generative",
    description="WGAN-GP on L2-normalized noise (5 critic steps per generator step, twice as long), "
    "inverted by a trained inversion network plus per-image latent refinement.",
    paper="Gulrajani et al. 2017, Improved Training of Wasserstein GANs; AugIntAE (Wertheimer et al.) Table 2 and A.2",
)
class WGANGP(BenchModel):
    Config = WGANGPConfig
    adversarial = True  # constant learning rate (AugIntAE A.1)
    generative = True
    normalized_latent = True
    steps_multiplier = 2.0  # "WGAN-GPs train for twice as long as other models"

    def __init__(self, config: WGANGPConfig, image_shape):
        super().__init__(config, image_shape)
        self.latent_dim = config.latent_dim or default_latent_dim(image_shape)
        self.generator = make_decoder(image_shape, self.latent_dim)
        self.critic = make_critic(image_shape, config.critic_norm)
        self.inversion = InversionNetwork(image_shape, self.latent_dim)
        self.register_buffer("_g_loss", torch.zeros(()), persistent=False)
        self.main_steps: Optional[int] = None
        self.inversion_iterations = 0
        self.refine_steps = config.refine_steps if config.refine_steps is not None else PAPER_REFINE_STEPS

    # --- training -------------------------------------------------------------------------------
    def plan_training(self, main_steps: int, inversion_iterations: int) -> None:
        super().plan_training(main_steps, inversion_iterations)
        self.inversion_iterations = inversion_iterations

    def extra_training_steps(self) -> int:
        return self.inversion_iterations

    def configure_optimizers(self):
        c = self.config
        return {
            "critic": adam(self.critic.parameters(), c.lr, (c.beta1, c.beta2)),
            "generator": adam(self.generator.parameters(), c.lr, (c.beta1, c.beta2)),
            "inversion": self.inversion.make_optimizer(c.inv_lr, c.inv_momentum),
        }

    def step_phase(self, step: int):
        if self.main_steps is not None and step >= self.main_steps:
            # the step's lr is a host number: each lr stage is its own phase (a captured step keeps it)
            return ("inversion", inversion_lr_stage(step - self.main_steps, self.inversion_iterations))
        return "critic and generator" if (step + 1) % self.config.n_critic == 0 else "critic"

    def train_step(self, batch, step):
        if self.main_steps is not None and step >= self.main_steps:
            return self.inversion_step(len(batch), step - self.main_steps, batch.generator)
        c = self.config
        g = batch.generator
        real = batch.x
        n = real.shape[0]

        # Critic: one update on this batch.
        with torch.no_grad():
            fake = self.generator(self.prior_latents(n, g))
        scores = self.critic(torch.cat([real, fake]))  # no batch norm: one pass scores each image alone
        d_real, d_fake = scores[:n], scores[n:]
        wasserstein_loss = critic_objective(d_real, d_fake)
        gp = gradient_penalty(self.critic, real, fake, g, c.gp_lambda)
        critic_loss = wasserstein_loss + gp
        opt_c = self.optimizers["critic"]
        opt_c.zero_grad(set_to_none=True)
        critic_loss.backward(inputs=list(self.critic.parameters()))
        opt_c.step()

        # Generator: one update after every n_critic critic updates, on fresh noise.
        if (step + 1) % c.n_critic == 0:
            g_loss = -self.critic(self.generator(self.prior_latents(n, g))).float().mean()
            opt_g = self.optimizers["generator"]
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward(inputs=list(self.generator.parameters()))
            opt_g.step()
            self._g_loss.copy_(g_loss.detach())
        return {
            "critic_loss": critic_loss.detach(),
            "gp": gp.detach(),
            "wasserstein": -wasserstein_loss.detach(),
            "g_loss": self._g_loss.clone(),
        }

    def inversion_step(self, batch_size: int, phase_step: int, generator=None) -> dict:
        """One update of the inversion network against the frozen generator (in eval mode)."""
        with eval_mode(self.generator):
            mse = self.inversion.train_step(
                self.optimizers["inversion"],
                self.generator,
                self.prior_latents,
                batch_size,
                phase_step,
                max(1, self.inversion_iterations),
                generator,
            )
        return {"inversion_mse": mse}

    # --- evaluation -----------------------------------------------------------------------------
    def configure_evaluation(self, refine_steps: int) -> None:
        c = self.config
        self.refine_steps = c.refine_steps if c.refine_steps is not None else refine_steps

    def encode(self, x):
        """Inversion network, projected onto the sphere, then `refine_steps` of L1 refinement."""
        z0 = normalize(self.inversion(x).float())
        return refine_latents(self.decode, x, z0, self.refine_steps, lr=self.config.refine_lr, normalized=True)

    def decode(self, z):
        return self.generator(z)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.decode(self.prior_latents(n, generator))


@register(
    "wgan-gp-oracle",
    family="generative",
    description="WGAN-GP trained on the NOVEL domain's training split: the upper-bound / oracle "
    "column \"WGAN-GP (test)\" of the paper's Table 2.",
    paper="Gulrajani et al. 2017; AugIntAE (Wertheimer et al.) Table 2, WGAN-GP (test)",
)
class WGANGPOracle(WGANGP):
    trains_on = "novel"
