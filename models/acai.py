"""`acai`: Adversarially Constrained Autoencoder Interpolation.

Follows Berthelot, Raffel, Roy and Goodfellow, "Understanding and Improving Interpolation in
Autoencoders via an Adversarial Regularizer" (ICLR 2019, arXiv 1807.07543), as implemented in
the official TensorFlow code (github.com/brain-research/acai, `acai.py`):

- the latent is unnormalized and interpolated linearly (`normalized_latent = False`, lerp);
- per example, alpha ~ U(0, 1) folded to [0, 0.5] by alpha = 0.5 - |alpha - 0.5|; the partner of
  example i is example N-1-i (the batch reversed, `encode[::-1]`), and the mix is
  z_mix = alpha * z + (1 - alpha) * z_reversed;
- autoencoder loss  ||x - x_hat||^2 + lambda * ||C(decode(z_mix))||^2, lambda = 0.5 (`advweight`);
- critic loss  ||C(decode(z_mix)) - alpha||^2 + ||C(gamma * x + (1 - gamma) * x_hat)||^2,
  gamma = 0.2 (`reg`; the code writes it x_hat + gamma * (x - x_hat)); x_hat is a constant for
  the critic;
- Adam, lr 1e-4 for both networks (TF defaults betas (0.9, 0.999)), constant (no schedule):
  `adversarial = True`, so the suite's trainer leaves the lr alone;
- both updates are computed from the same forward pass at the same parameters and applied
  together (the official `tf.group(train_ae, train_d)`);
- trained on the raw images `batch.x`, as the official code does. (The AugIntAE paper trains its
  own AE/IntAE baselines on the augmented image C; that rule does not apply to ACAI.)

Logged: "recon" (the MSE), "reg" (the AE's critic term, before lambda), "critic" (critic loss).

Deviations from the official code:
- Networks: the suite's shared backbone (InfoGAN for 28x28, DCGAN otherwise) and its latent size
  (32 for 28x28, 512 otherwise) instead of ACAI's conv stacks with a spatial 4x4xD latent. The
  critic is the suite's encoder with one output (`make_encoder(shape, 1)`), as the AugIntAE
  paper builds every discriminator, with its batch-norm layers removed (`make_critic`): the
  official critic has no normalization layers, and in train mode batch norm before the last
  layer nearly fixes the mean output over a batch, whereas the critic must score a batch of
  mixes (mean target E[alpha] = 0.25) and a batch of blends (target 0) apart. The layers that
  the backbone builds without bias (because batch norm followed) stay without bias. The official
  critic is its encoder with `latent` output channels whose spatial map is averaged to one
  scalar; ours ends in the backbone's single-output layer.
- Pixel scale: the official code feeds images in [-1, 1]. Our images are in [0, 1]; the losses
  are computed on the [-1, 1] scale (2x - 1), i.e. the MSE is 4 x the [0, 1] MSE, so that
  lambda = 0.5 balances reconstruction against the critic term as published. The critic's
  targets (alpha, 0) do not depend on the pixel scale.
- Batch 64 on the paper budget (as the official default); the number of steps is the suite's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from models.ae import LinearLatentAutoencoder
from models.backbones import make_critic
from models.config import ModelConfig, hp
from models.optim import adam
from models.registry import register


@dataclass
class ACAIConfig(ModelConfig):
    latent_dim: Optional[int] = hp(None, min=1, help="latent size; none = 32 for 28x28, 512 otherwise")
    lr: float = hp(1e-4, min=0.0, help="Adam step size of the autoencoder and the critic (official FLAGS.lr)")
    beta1: float = hp(0.9, min=0.0, max=1.0, help="Adam beta1 (TensorFlow default)")
    beta2: float = hp(0.999, min=0.0, max=1.0, help="Adam beta2 (TensorFlow default)")
    lam: float = hp(0.5, min=0.0, help="lambda: weight of the critic term in the AE loss (official advweight)")
    gamma: float = hp(0.2, min=0.0, max=1.0, help="weight of x in the critic's regularizing blend (official reg)")


# --- the method, one function per equation ------------------------------------------------------
def fold_alpha(u: torch.Tensor) -> torch.Tensor:
    """alpha = 0.5 - |u - 0.5|: U(0, 1) folded onto [0, 0.5]."""
    return 0.5 - (u - 0.5).abs()


def mix_with_reversed(z: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """alpha * z + (1 - alpha) * z[::-1]: each example mixed with its partner in the reversed batch."""
    a = alpha.view(-1, *([1] * (z.dim() - 1)))
    return a * z + (1 - a) * z.flip(0)


def critic_blend(x: torch.Tensor, x_hat: torch.Tensor, gamma: float) -> torch.Tensor:
    """gamma * x + (1 - gamma) * x_hat: the critic's regularizing input (official x_hat + reg*(x - x_hat))."""
    return gamma * x + (1 - gamma) * x_hat


def centred(x: torch.Tensor) -> torch.Tensor:
    """Images on the official [-1, 1] scale, in float32."""
    return x.float() * 2.0 - 1.0


def ae_losses(x: torch.Tensor, x_hat: torch.Tensor, critic_mix: torch.Tensor):
    """(recon, reg): the MSE on the [-1, 1] scale and mean(C(decode(z_mix))^2)."""
    recon = (centred(x_hat) - centred(x)).pow(2).mean()
    reg = critic_mix.float().pow(2).mean()
    return recon, reg


def critic_loss(critic_mix: torch.Tensor, alpha: torch.Tensor, critic_on_blend: torch.Tensor) -> torch.Tensor:
    """mean((C(decode(z_mix)) - alpha)^2) + mean(C(gamma x + (1 - gamma) x_hat)^2)."""
    return (critic_mix.float() - alpha.float()).pow(2).mean() + critic_on_blend.float().pow(2).mean()


@register(
    "acai",
    family="interpolative",
    description="ACAI: a critic regresses the mixing coefficient of decoded latent mixes; the AE learns to fool it.",
    paper="Berthelot et al. 2018/ICLR 2019, ACAI (official TensorFlow code brain-research/acai)",
)
class ACAI(LinearLatentAutoencoder):
    Config = ACAIConfig
    adversarial = True  # constant lr, as in the official code

    def __init__(self, config: ACAIConfig, image_shape):
        super().__init__(config, image_shape)
        self.critic = make_critic(image_shape)

    def configure_optimizers(self):
        c = self.config
        return {
            "ae": adam(self.autoencoder_parameters(), c.lr, (c.beta1, c.beta2)),
            "critic": adam(self.critic.parameters(), c.lr, (c.beta1, c.beta2)),
        }

    def train_step(self, batch, step):
        c = self.config
        x = batch.x
        z = self.encode(x)
        x_hat = self.decode(z)

        u = torch.rand(x.shape[0], generator=batch.generator, device=x.device)
        alpha = fold_alpha(u)
        x_mix = self.decode(mix_with_reversed(z, alpha))
        c_mix = self.critic(x_mix).view(-1)
        c_blend = self.critic(critic_blend(x, x_hat.detach(), c.gamma)).view(-1)

        recon, reg = ae_losses(x, x_hat, c_mix)
        loss_ae = recon + c.lam * reg
        loss_critic = critic_loss(c_mix, alpha, c_blend)

        # Both gradients at the same parameters, both steps applied together (tf.group).
        opt_ae, opt_critic = self.optimizers["ae"], self.optimizers["critic"]
        opt_ae.zero_grad(set_to_none=True)
        opt_critic.zero_grad(set_to_none=True)
        loss_ae.backward(inputs=self.autoencoder_parameters(), retain_graph=True)
        loss_critic.backward(inputs=list(self.critic.parameters()))
        opt_ae.step()
        opt_critic.step()
        return {"recon": recon.detach(), "reg": reg.detach(), "critic": loss_critic.detach()}
