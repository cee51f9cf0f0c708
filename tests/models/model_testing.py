"""Helpers for model tests: train a registered model for a few steps on a synthetic domain."""

from __future__ import annotations

import torch

from bench.budgets import TrainingSchedule
from bench.data.synthetic import load_synthetic
from bench.trainer import Trainer


def lines_images(n: int = 256) -> torch.Tensor:
    return load_synthetic("lines", max_train=n, max_test=1).train.images


def train_briefly(model, images: torch.Tensor, steps: int = 40, batch_size: int = 16, log_every: int = 5, tmp_path=None, seed: int = 0, inversion_iterations: int = 0):
    """Run the shared trainer for `steps` updates (times the model's steps_multiplier, plus
    `inversion_iterations` for GANs); returns the logged loss history."""
    schedule = TrainingSchedule(
        batch_size=batch_size, steps=steps, log_every=log_every, checkpoint_every=10**9,
        checkpoint_seconds=1e9, inversion_iterations=inversion_iterations,
    )
    path = (tmp_path or _tmp()) / "ckpt.pt"
    result = Trainer(model, images, schedule, torch.device("cpu"), path, seed=seed, config_hash="test", progress=False).fit()
    return [h["losses"] for h in result.history]


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="model-test-"))
