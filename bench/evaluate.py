"""Runs the metrics that apply to a trained model and records each with its protocol and time.

Each entry of `metrics.json["metrics"]` is {"value", "protocol", "seconds"}; leaderboards keep the
value under the metric's name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from metrics.reconstruction import PROTOCOL as RECON_PROTOCOL
from metrics.reconstruction import reconstruction_l2


@dataclass
class EvalContext:
    model: object
    pair: object
    train_domain: object
    novel_domain: object
    budget: object
    seed: int


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def evaluate(ctx: EvalContext) -> dict:
    """Compute every metric that applies to this run; returns {name: {value, protocol, seconds}}."""
    results = {}
    cap = ctx.budget.eval_images
    for key, domain in (("train", ctx.train_domain), ("novel", ctx.novel_domain)):
        images = domain.test.images[:cap] if cap else domain.test.images
        value, seconds = _timed(lambda: reconstruction_l2(ctx.model, images))
        results[f"recon_l2_{key}"] = {
            "value": value,
            "protocol": {
                "definition": RECON_PROTOCOL,
                "domain": domain.name,
                "split": "test",
                "images": int(images.shape[0]),
            },
            "seconds": round(seconds, 4),
        }
    return results


def headline_values(metrics: dict) -> dict:
    """{metric: value}, in name order (metrics.json is written with sorted keys too)."""
    return {name: metrics[name]["value"] for name in sorted(metrics)}


@torch.no_grad()
def interpolation_grid(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 9) -> torch.Tensor:
    """Rows of decoded interpolations from x_a to x_b (alpha 0..1), as (N*steps, C, H, W)."""
    z_a, z_b = model.encode(x_a), model.encode(x_b)
    rows = []
    for alpha in torch.linspace(0, 1, steps).tolist():
        rows.append(model.decode(model.interpolate(z_a, z_b, alpha)).float())
    return torch.stack(rows, dim=1).flatten(0, 1)
