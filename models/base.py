"""The model contract every registered model fills in.

A model is a torch module with a config dataclass of published defaults and:
- `encode(x)`, `decode(z)`, `interpolate(z_a, z_b, alpha)` (images are float in [0, 1],
  shape (N, C, H, W); alpha = 0 gives z_a, alpha = 1 gives z_b);
- `sample(n, generator)` where the model is generative;
- `configure_optimizers()` and `train_step(batch, step)`: the model owns its losses and its
  update order (critic steps, balancing, gradient rescaling); the trainer owns the loop, the
  device, precision, lr schedule, checkpoints and logging.
Metrics only ever call encode / decode / interpolate / sample.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from models.config import ModelConfig
from models.latent import lerp, slerp


class TrainBatch:
    """One training batch as the trainer hands it to a model.

    `x` is the batch in [0, 1]. `triplet()` returns the AugIntAE augmentation triplet
    (A, B, C, alpha) with C = T(x; alpha*rho1 + (1-alpha)*rho2), computed on first use, so
    models that do not need it pay nothing.
    """

    def __init__(self, images_uint8: torch.Tensor, augmenter=None, generator: Optional[torch.Generator] = None):
        self.x = images_uint8.div(255.0)  # to float in [0, 1] in one kernel
        self._augmenter = augmenter
        self._generator = generator
        self._triplet = None

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def generator(self) -> Optional[torch.Generator]:
        return self._generator

    def triplet(self):
        if self._triplet is None:
            if self._augmenter is None:
                raise RuntimeError("this batch was built without an augmentation engine")
            self._triplet = self._augmenter.triplets(self.x, self._generator)
        return self._triplet


class BenchModel(nn.Module):
    """Base class of registered models. Subclasses set `Config` and fill in the methods."""

    # Set by @register.
    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""

    Config: ClassVar[type] = ModelConfig
    trainable: ClassVar[bool] = True
    adversarial: ClassVar[bool] = False  # adversarial models keep a constant learning rate
    normalized_latent: ClassVar[bool] = True
    generative: ClassVar[bool] = False
    uses_augmentation: ClassVar[bool] = False
    augmentation_families: ClassVar[Optional[frozenset]] = None  # None: every family
    steps_multiplier: ClassVar[float] = 1.0  # WGAN-GP trains twice as long, as in the paper
    trains_on: ClassVar[str] = "train"  # "novel": trained on the novel domain's train split (oracle)
    # Bump whenever what the model trains or how it encodes, decodes, interpolates or samples
    # changes meaning (not for refactors that keep results): results of an older revision are
    # published apart from the current one's. Subclasses inherit it; say in the model's
    # docstring what each revision changed.
    revision: ClassVar[int] = 1

    def __init__(self, config: ModelConfig, image_shape: tuple):
        super().__init__()
        self.config = config
        self.image_shape = tuple(image_shape)
        self.optimizers: dict = {}

    # --- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict:
        """Build this model's optimizers (called by the trainer after moving to the device)."""
        return {}

    def plan_training(self, main_steps: int, inversion_iterations: int) -> None:
        """Told once, before `configure_optimizers`: how many main-schedule steps there are, and
        how many inversion-network updates the budget gives a GAN after them."""
        self.main_steps = main_steps

    def extra_training_steps(self) -> int:
        """Updates this model needs after its main schedule (a GAN's inversion network), as
        planned by `plan_training`; the trainer runs them as steps main_steps .. main_steps +
        extra - 1 of the same loop, so they are checkpointed and resumed like the rest."""
        return 0

    def configure_evaluation(self, refine_steps: int) -> None:
        """Called before metrics run with the budget's per-image refinement steps: models whose
        `encode` is an optimisation (GAN inversion) take them here."""

    def train_step(self, batch: TrainBatch, step: int) -> dict:
        """One update; returns detached scalar tensors to log (no .item(): no host sync).

        The reconstruction term is logged under the key "recon" (tests check that it falls).

        A step must be capturable as a CUDA graph (tests/models/test_graph_safe.py checks it on
        the CPU for every registered model):
        - no host syncs (`.item()`, `nonzero`, boolean masks, data-dependent shapes, `if tensor`);
        - Python branches only on host integers, and declared: steps with the same
          `step_phase(step)` launch the same operations on the same shapes and dtypes;
        - randomness only from `batch.generator` (or the global RNG, checkpointed too);
        - parameters and buffers updated in place, never replaced.
        Optimizer steps are the trainer's concern (capturable fused Adam on CUDA)."""
        raise NotImplementedError

    def step_phase(self, step: int):
        """The host-side key of the branches `train_step` takes at `step` (hashable): a model
        that updates one network every k-th step returns e.g. `step % k == 0`. Default: one phase."""
        return 0

    # --- the interface metrics use ------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def interpolate(self, z_a: torch.Tensor, z_b: torch.Tensor, alpha) -> torch.Tensor:
        return slerp(z_a, z_b, alpha) if self.normalized_latent else lerp(z_a, z_b, alpha)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def prior_latents(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n random latents from the model's prior: N(0, I), projected onto the unit sphere when
        latents are normalized. The oracle encoder starts its optimisation here."""
        dim = getattr(self, "latent_dim", None)
        if dim is None:
            raise NotImplementedError(f"{self.name} has no latent prior (no latent_dim)")
        z = torch.randn(n, dim, generator=generator, device=generator.device if generator is not None else "cpu")
        z = z.to(self.device)
        return torch.nn.functional.normalize(z, dim=1) if self.normalized_latent else z

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} is not a generative model")

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    # --- checkpointing ------------------------------------------------------------------------
    def training_state(self) -> dict:
        """Everything needed to resume: weights, buffers and optimizer states."""
        return {
            "model": self.state_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
        }

    def load_training_state(self, state: dict) -> None:
        self.load_state_dict(state["model"])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
