"""Every random stream of the suite, derived in one place from (seed, purpose).

A run's seed (`--seeds`) decides all of its randomness; each use draws from its own stream, so
adding a metric or reordering the work never changes another stream's numbers. The streams:

| stream                                    | seeded with                              | used by |
|-------------------------------------------|------------------------------------------|---------|
| model initialisation (global torch RNG)   | `seed`                                   | runner  |
| a model's in-step draws (`batch.generator`, augmentations) | `seed`, on the data's device | trainer |
| the order of epoch e's batches            | `seed * 1_000_003 + e`                   | trainer |
| a metric's draws, named by purpose        | `derive(seed, purpose)`                  | MetricContext.generator |
| a run's sample grid                        | 0 (the same latents for every run)       | grids   |
| a capped test or training split            | `derive_fixed(f"{domain}:{split}:subset")`: not the run seed, every run and model scores the same images | bench.data |
| the pair's domain classifier, FID's reference images | fixed per metric (cached across runs) | metrics |

The three training streams keep the formulas published runs were trained with, so every
checked-in record reproduces (the global RNG is checkpointed with the trainer's generator, so a
resumed run continues the same streams). New uses take `generator(seed, purpose)`: a 48-bit
sha256 of "seed:purpose", independent of every other stream.
"""

from __future__ import annotations

import hashlib

from bench.lazy import lazy_module

torch = lazy_module("torch")  # imported on first use: bench.data reads subset seeds without torch

EPOCH_STRIDE = 1_000_003  # epoch orders: seed * EPOCH_STRIDE + epoch (fits 64 bits for seeds < 2**32)
SAMPLE_GRID_SEED = 0


def derive_fixed(purpose: str) -> int:
    """A 48-bit seed from a purpose alone (streams shared by every run)."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:6], "little")


def derive(seed: int, purpose: str) -> int:
    """A 48-bit seed for the stream `purpose` of run seed `seed`."""
    return derive_fixed(f"{seed}:{purpose}")


def seeded(seed: int, device=None) -> torch.Generator:
    """A torch.Generator on `device` (default CPU) seeded with `seed`."""
    return torch.Generator(device=torch.device(device) if device is not None else "cpu").manual_seed(int(seed))


def generator(seed: int, purpose: str, device=None) -> torch.Generator:
    """The generator of stream `purpose` of run seed `seed`."""
    return seeded(derive(seed, purpose), device)


def seed_model_init(seed: int) -> None:
    """Seed the global torch RNG, from which a model's modules draw their initial weights."""
    torch.manual_seed(int(seed))


def training_generator(seed: int, device) -> torch.Generator:
    """The trainer's generator for a model's in-step draws (on the data's device)."""
    return seeded(seed, device)


def epoch_order_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of epoch `epoch`'s batch order."""
    return seeded(seed * EPOCH_STRIDE + epoch)


def sample_grid_generator() -> torch.Generator:
    """The latents of a run's sample grid: the same for every run, so grids compare."""
    return seeded(SAMPLE_GRID_SEED)


def subset_seed(domain: str, split: str) -> int:
    """The fixed seed of a domain split's capped subset (the same for every run and model)."""
    return derive_fixed(f"{domain}:{split}:subset")
