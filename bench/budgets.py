"""Budgets: how long every model trains (`TrainingSchedule`) and how the metrics measure
(`EvaluationProtocol`); a `Budget` names one of each.

- `smoke`: the whole pipeline in seconds on a CPU (tests, CI); numbers are not meaningful.
- `quick`: a few minutes per model on a 2-core CPU; numbers already separate the models.
- `paper`: the AugIntAE protocol: 100 passes over the training split; non-adversarial models
  divide the lr by 10 at epochs 35 and 70 (here: at 35% and 70% of the steps, which is the same).
Runs of different budgets never share a leaderboard row (the budget is part of the row key).

The trainer reads the schedule, the metrics read the protocol (`MetricContext.evaluation`), and
models are handed only the numbers they use (`BenchModel.plan_training`, `configure_evaluation`).
A run records its budget flat, as one dict of both parts (`Budget.to_dict`, `budget_from_record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Optional

from bench.errors import BenchError

LR_MILESTONES = (0.35, 0.70)
LR_DROP = 0.1


@dataclass(frozen=True)
class TrainingSchedule:
    """How a model trains: batches, updates, the training images, logging and checkpoints."""

    batch_size: int
    epochs: Optional[float] = None  # passes over the training split ...
    steps: Optional[int] = None  # ... or a fixed number of updates
    max_train: Optional[int] = None  # cap on training images (None: the whole split)
    log_every: int = 50  # steps between reading losses on the host (no per-step sync)
    checkpoint_every: int = 1000  # steps between checkpoints ...
    checkpoint_seconds: float = 120.0  # ... or this much wall time, whichever comes first
    # (batch_size, steps) for images larger than 28x28: the DCGAN backbones cost ~8x the InfoGAN
    # ones per image, so CPU budgets shrink there to stay within minutes per model.
    large_images: Optional[tuple] = None
    # GAN inversion (paper appendix A.2): updates of the inversion network after the GAN's own
    # schedule (paper 6,400, lr / 10 every fifth).
    inversion_iterations: int = 6400

    def for_images(self, image_shape) -> "TrainingSchedule":
        """This schedule as it applies to images of `image_shape`."""
        if self.large_images is None or tuple(image_shape[1:]) == (28, 28):
            return replace(self, large_images=None)
        batch_size, steps = self.large_images
        return replace(self, batch_size=batch_size, steps=steps, large_images=None)

    def total_steps(self, n_train: int, multiplier: float = 1.0) -> int:
        if self.steps is not None:
            base = self.steps
        else:
            base = math.ceil(self.epochs * max(1, n_train // self.batch_size))
        return max(1, int(round(base * multiplier)))

    def lr_factor(self, step: int, total: int) -> float:
        """Learning-rate multiplier for non-adversarial models at `step` of `total`."""
        drops = sum(step >= int(m * total) for m in LR_MILESTONES)
        return LR_DROP**drops


@dataclass(frozen=True)
class EvaluationProtocol:
    """How the metrics measure: test images and sample sizes (the paper's protocol at `paper`;
    smaller budgets say so in each metric's recorded protocol)."""

    eval_images: Optional[int] = None  # cap on test images per domain for the metrics
    fid_images: int = 5000  # generated images per FID / misclassification score (paper: 5,000)
    noise_trials: int = 1000  # noise images per frequency (paper appendix A.4: 1,000 trials)
    path_pairs: int = 500  # novel-domain pairs for admissibility and ground-truth path scores
    classifier_steps: int = 2000  # updates of the pair's domain classifier (cached per pair)
    refine_steps: int = 1000  # GAN inversion: per-image latent refinement steps (paper 1,000)


# The order of a recorded budget's keys (config.json), as runs have always written them.
RECORD_ORDER = (
    "batch_size", "epochs", "steps", "max_train", "eval_images", "log_every", "checkpoint_every",
    "checkpoint_seconds", "large_images", "fid_images", "noise_trials", "path_pairs",
    "classifier_steps", "inversion_iterations", "refine_steps",
)
_TRAINING = {f.name for f in fields(TrainingSchedule)}
_EVALUATION = {f.name for f in fields(EvaluationProtocol)}


@dataclass(frozen=True)
class Budget:
    name: str
    description: str
    training: TrainingSchedule
    evaluation: EvaluationProtocol

    @classmethod
    def of(cls, name: str, description: str, **settings) -> "Budget":
        """A budget from flat settings (each a field of the schedule or of the protocol)."""
        return cls(name, description, *_split(settings, TrainingSchedule, EvaluationProtocol))

    def with_settings(self, **settings) -> "Budget":
        """This budget with some flat settings changed."""
        training, evaluation = _split(settings)
        return replace(self, training=replace(self.training, **training), evaluation=replace(self.evaluation, **evaluation))

    def for_images(self, image_shape) -> "Budget":
        """This budget as it applies to images of `image_shape` (what a run records)."""
        return replace(self, training=self.training.for_images(image_shape))

    @property
    def caps_a_split(self) -> bool:
        """Whether the metrics or the training see a subset of a split (then it is drawn, and
        the record says by which rule)."""
        return self.evaluation.eval_images is not None or self.training.max_train is not None

    def to_dict(self) -> dict:
        """The flat record of config.json."""
        values = {f.name: getattr(self.training, f.name) for f in fields(TrainingSchedule)}
        values.update({f.name: getattr(self.evaluation, f.name) for f in fields(EvaluationProtocol)})
        return {"name": self.name, "description": self.description, **{k: values[k] for k in RECORD_ORDER}}


def _split(settings: dict, training_type=dict, evaluation_type=dict):
    unknown = sorted(set(settings) - _TRAINING - _EVALUATION)
    if unknown:
        raise TypeError(f"unknown budget settings {unknown}; known: {sorted(_TRAINING | _EVALUATION)}")
    training = training_type(**{k: v for k, v in settings.items() if k in _TRAINING})
    evaluation = evaluation_type(**{k: v for k, v in settings.items() if k in _EVALUATION})
    return training, evaluation


BUDGETS = {
    "smoke": Budget.of(
        "smoke",
        "seconds on a CPU: 20 updates of 16 images (12 of 8 for larger images) from 512, metrics on 128 test images, FID on 32 generated images (for tests; not meaningful)",
        batch_size=16,
        steps=20,
        large_images=(8, 12),
        max_train=512,
        eval_images=128,
        log_every=5,
        checkpoint_every=5,
        fid_images=32,
        noise_trials=8,
        path_pairs=8,
        classifier_steps=20,
        inversion_iterations=10,
        refine_steps=10,
    ),
    "quick": Budget.of(
        "quick",
        "minutes per model on a 2-core CPU: 1000 updates of 64 images (28x28) or 500 of 32 (larger images), metrics on 2000 test images, FID on 1000 generated images, 100 noise trials and 100 interpolation pairs, GAN inversion with 640 network iterations and 200 refinement steps",
        batch_size=64,
        steps=1000,
        large_images=(32, 500),
        eval_images=2000,
        log_every=50,
        checkpoint_every=500,
        fid_images=1000,
        noise_trials=100,
        path_pairs=100,
        classifier_steps=500,
        inversion_iterations=640,
        refine_steps=200,
    ),
    "paper": Budget.of(
        "paper",
        "the AugIntAE protocol: 100 epochs of batch 64, lr / 10 at epochs 35 and 70, full test splits, FID on 5000 images, 1000 noise trials, GAN inversion 6400 + 1000 refinement steps",
        batch_size=64,
        epochs=100,
        log_every=200,
        checkpoint_every=5000,
    ),
}


def get_budget(name: Optional[str], cuda_available: bool) -> Budget:
    """The named budget; None picks `paper` on CUDA and `quick` elsewhere."""
    if name is None:
        name = "paper" if cuda_available else "quick"
    try:
        return BUDGETS[name]
    except KeyError:
        raise BenchError(f"Unknown budget {name!r}. Valid budgets: {', '.join(BUDGETS)}.") from None


def budget_from_record(record: dict) -> Budget:
    """The budget a finished run used, from its config.json. Fields a newer suite added take the
    named budget's current values (an old `smoke` run is not scored with paper-sized samples)."""
    recorded = record.get("budget")
    if not isinstance(recorded, dict) or recorded.get("name") not in BUDGETS:
        raise BenchError(f"The run record has no known budget (found {recorded!r}); valid budgets: {', '.join(BUDGETS)}.")
    base = BUDGETS[recorded["name"]].for_images(record["image_shape"])
    known = _TRAINING | _EVALUATION
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in recorded.items() if k in known}
    return replace(base.with_settings(**values), description=recorded.get("description", base.description))
