"""GAN inversion (AugIntAE paper, appendix A.2), usable by any model that decodes latents.

Two stages, as the paper inverts its WGAN-GP:

1. An inversion network (the suite's encoder architecture, `make_encoder(shape, latent_dim)`)
   is trained on generator samples to regress their latent with a squared error: SGD, lr 1e-4,
   momentum 0.1, `iterations` updates (paper: 6,400) with the lr divided by 10 after every fifth
   of them (paper: every 1,280). `InversionNetwork.train_step` is one such update.
2. Each image's latent is then refined directly (`refine_latents`): plain SGD (paper: 1,000
   steps, lr 0.01, no momentum) on an L1 pixel loss.

The paper's "oracle encoder" is stage 2 alone from a random start (`oracle_encode`): it shows
what the decoder can represent at all, whatever the encoder.

Choices the paper leaves open (documented deviations):
- Loss reductions. The refinement loss is the sum over images of each image's mean absolute
  pixel error, so each latent's update is the same whether it is refined alone or in a batch.
  The inversion network's loss is each sample's squared error summed over latent dimensions,
  averaged over the batch (batch-size independent). With torch's default element-mean MSE the
  gradients shrink by the latent size and SGD at lr 1e-4 barely moves the network in 6,400
  iterations. The logged "inversion_mse" is the element-mean MSE (the loss / latent size).
- The network regresses the latent as drawn (on the unit sphere for normalized latents); its
  output is projected onto the sphere before refinement, and refinement projects after every
  step, so the decoder only ever sees latents from its prior's support.
- The generator is run in eval mode (batch norm from running statistics) while the inversion
  network trains, so that the network learns the generator that evaluation decodes with and the
  inversion phase leaves the generator's state untouched.
- Inversion batch size: the training budget's batch size (the paper does not say).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Optional

import torch
from torch import nn

from models.backbones import make_encoder
from models.latent import normalize

PAPER_REFINE_STEPS = 1000  # encode's refinement steps until configure_evaluation sets the budget's
LR_DROPS = 5  # the lr is divided by 10 after every 1/5 of the iterations (6400 / 1280)


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """Run `module` in eval mode inside the block and restore its training flags afterwards."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, flag in flags:
            m.training = flag


# --- stage 2: per-image latent refinement -------------------------------------------------------
def refinement_loss(decode: Callable, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Sum over images of each image's mean absolute pixel error |decode(z_i) - x_i| (float32).

    Summing (not averaging) over images keeps each latent's gradient independent of how many
    images share the batch; averaging over pixels keeps the lr of the paper (0.01) meaningful
    across image sizes."""
    return (decode(z).float() - x.float()).abs().flatten(1).mean(1).sum()


def refine_latents(
    decode: Callable,
    x: torch.Tensor,
    z_init: torch.Tensor,
    steps: int,
    lr: float = 0.01,
    normalized: bool = True,
    chunk_size: int = 256,
    graph_class=None,
) -> torch.Tensor:
    """Refine latents z_init so that decode(z) matches x: `steps` plain SGD steps (no momentum)
    of size `lr` on `refinement_loss` (sum over images of per-image mean L1).

    `normalized`: project z onto the unit sphere before the first step and after every step.
    Works under an outer `torch.no_grad()`; only z is differentiated (`torch.autograd.grad`), so
    the decoder's parameters accumulate no gradients. Images are processed `chunk_size` at a time;
    with a decoder in eval mode the result does not depend on the chunking (each image's update
    sees only its own error). On CUDA the step is captured as a graph after two eager steps and
    replayed (`LatentRefiner`; `graph_class` replaces the CUDA graph in tests). Returns detached
    float32 latents.
    """
    if x.shape[0] != z_init.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {z_init.shape[0]} latents")
    out, refiner = [], None
    for i in range(0, x.shape[0], chunk_size):
        xi = x[i : i + chunk_size].detach()
        z = z_init[i : i + chunk_size].detach().float().clone()
        if normalized:
            z = normalize(z)
        if refiner is None or refiner.z.shape != z.shape:
            refiner = LatentRefiner(decode, xi, z, lr, normalized, graph_class)
        else:
            refiner.load(xi, z)
        out.append(refiner.run(steps))
    return torch.cat(out) if out else z_init.detach().float().clone()


class LatentRefiner:
    """`refine_latents`' SGD step on static buffers (the chunk's images and latents), so that
    on CUDA it is captured once as a graph and replayed (1,000 steps per chunk at the paper's
    budget: one launch each instead of hundreds). Chunks of one shape reuse the graph. The step
    is the eager formula operation for operation; eager runs (the CPU) take the same path."""

    WARMUP = 2  # eager steps before capture

    def __init__(self, decode: Callable, x: torch.Tensor, z: torch.Tensor, lr: float, normalized: bool, graph_class=None):
        from bench.graphs import CudaStepGraph

        self.decode, self.lr, self.normalized = decode, lr, normalized
        self.x, self.z = x.clone(), z.clone()
        self.graph_class = graph_class or (CudaStepGraph if x.device.type == "cuda" else None)
        self.graph, self.eager_steps = None, 0
        # on CUDA: warm-up, capture and replays on a side stream (PyTorch's rule for capture)
        self.stream = torch.cuda.Stream(x.device) if x.device.type == "cuda" else None

    def load(self, x: torch.Tensor, z: torch.Tensor) -> None:
        self.x.copy_(x)
        self.z.copy_(z)

    def step(self) -> dict:
        with torch.enable_grad():
            z = self.z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(refinement_loss(self.decode, self.x, z), z)
        new = self.z - self.lr * grad
        self.z.copy_(normalize(new) if self.normalized else new)
        return {}

    def run(self, steps: int) -> torch.Tensor:
        """`steps` refinement steps of the loaded chunk; its latents (made on the caller's stream)."""
        if self.stream is None:
            self._run(steps)
        else:
            self.stream.wait_stream(torch.cuda.current_stream(self.stream.device))
            with torch.cuda.stream(self.stream):
                self._run(steps)
            torch.cuda.current_stream(self.stream.device).wait_stream(self.stream)
        return self.z.detach().clone()

    def _run(self, steps: int) -> None:
        for _ in range(steps):
            if self.graph is not None:
                self.graph.replay()
            elif self.graph_class is None or self.eager_steps < self.WARMUP:
                self.step()
                self.eager_steps += 1
            else:
                self.graph = self.graph_class(self.step, None, self.stream)
                self.graph.replay()


def oracle_encode(model, x: torch.Tensor, steps: int, generator: Optional[torch.Generator] = None, lr: float = 0.01) -> torch.Tensor:
    """The paper's oracle encoder: latents optimised from scratch for each image.

    Starts from `model.prior_latents(n, generator)` (N(0, I), on the unit sphere for normalized
    latents) and runs `refine_latents` with the model's decoder; no encoder is involved."""
    z0 = model.prior_latents(x.shape[0], generator)
    return refine_latents(model.decode, x, z0, steps, lr=lr, normalized=model.normalized_latent)


# --- stage 1: the inversion network --------------------------------------------------------------
def inversion_lr_stage(step: int, iterations: int) -> int:
    """How many times the lr has been divided by 10 at `step` of `iterations`."""
    return step // max(1, iterations // LR_DROPS)


def inversion_lr(base_lr: float, step: int, iterations: int) -> float:
    """base_lr / 10 after every fifth of `iterations` (paper: 1e-4, / 10 every 1,280 of 6,400)."""
    return base_lr * 0.1 ** inversion_lr_stage(step, iterations)


def inversion_loss(z_pred: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Squared error summed over latent dimensions, averaged over samples (float32)."""
    return (z_pred.float() - z.float()).pow(2).flatten(1).sum(1).mean()


class InversionNetwork(nn.Module):
    """The encoder architecture trained to map generator samples back to their latents."""

    def __init__(self, image_shape, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = make_encoder(image_shape, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def make_optimizer(self, lr: float = 1e-4, momentum: float = 0.1) -> torch.optim.SGD:
        """SGD with the paper's step size and momentum; the schedule is set by `train_step`."""
        return torch.optim.SGD(self.parameters(), lr=lr, momentum=momentum)

    def train_step(
        self,
        optimizer: torch.optim.Optimizer,
        decode: Callable,
        sample_latents: Callable,
        batch_size: int,
        step: int,
        iterations: int,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """One update at `step` (0-based, counted from the start of the inversion phase) of
        `iterations`: draw z = sample_latents(batch_size, generator), regress z from decode(z)
        (computed without gradients), with the lr schedule of `inversion_lr` relative to the
        optimizer's initial lr. Returns the element-mean MSE, detached (for logging).

        Pass the decoder as evaluation will use it (see `eval_mode`)."""
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # kept in the optimizer's state_dict
            group["lr"] = inversion_lr(group["initial_lr"], step, iterations)
        with torch.no_grad():
            z = sample_latents(batch_size, generator)
            images = decode(z).float()
        z_pred = self(images)
        loss = inversion_loss(z_pred, z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.parameters()))
        optimizer.step()
        return loss.detach() / z.flatten(1).shape[1]
