"""Noise-frequency curves: how well a model reconstructs uniform noise of each spatial frequency
(AugIntAE appendix A.4, Figure 1).

Protocol: for frequency f, draw uniform noise U(0, 1) on an f x f grid, independently per channel
and per trial, and upscale it to the image size; reconstruct it with decode(encode(.)) and take
the reconstruction L2 of `metrics.reconstruction` (255 * mean squared error on [0, 1] pixels). The
curve is that L2 against f, averaged over the budget's `noise_trials` trials per frequency (the paper:
1,000 trials), with the novel-domain test reconstruction error as the reference line (the
paper's dotted lines). A model with a learned image prior reconstructs novel images better than
noise of any frequency.

Choices the paper leaves open (documented deviations):
- Upscaling: the paper says only "sampling noise at small resolutions and scaling up the resulting
  map". We use nearest-neighbour upscaling (`torch.nn.functional.interpolate(mode="nearest")`):
  every pixel stays an exact U(0, 1) sample at every frequency, so the curve varies spatial
  structure only. Bilinear upscaling would also lower the per-pixel variance at intermediate
  frequencies (pixels between grid points are averages), confounding frequency with contrast.
  When f does not divide the image size the blocks differ by one pixel in width (torch's
  nearest rule, source index floor(i * f / size)).
- Frequencies: every f = 1..size for images up to 32 px; for larger images every f up to 16 and
  then a geometric spacing (ratio ~1.25) up to the image size (64 px: 23 frequencies), because
  64 DCGAN reconstructions x trials per frequency are costly on a CPU. The frequencies used are
  recorded in the protocol and the curve.
- Reference line: the novel-domain reconstruction L2 on the budget's test images (the same number
  as `recon_l2_novel`); it is read from ctx.shared("reconstruction:novel") when another metric has
  computed it, and stored there otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.grids import save_grid
from metrics.base import MetricValue, register_metric
from metrics.reconstruction import shared_recon_l2

UPSCALE_MODE = "nearest"
DENSE_UP_TO = 16
GEOMETRIC_RATIO = 1.25
BATCH = 256
GRID_FREQUENCIES = (1, 2, 4, 8, 16, 32, 64, 128)


def frequency_noise(n: int, f: int, shape, generator: torch.Generator, mode: str = UPSCALE_MODE) -> torch.Tensor:
    """n noise images (n, C, H, W) in [0, 1] of frequency f: U(0, 1) sampled on an f x f grid per
    channel (from `generator`, on its device) and upscaled to H x W with `mode`."""
    c, h, w = (int(s) for s in shape)
    if f < 1:
        raise ValueError(f"noise frequency must be >= 1, got {f}")
    device = generator.device if generator is not None else "cpu"
    low = torch.rand(n, c, f, f, generator=generator, device=device)
    if (f, f) == (h, w):
        return low
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(low, size=(h, w), mode=mode, **kwargs).clamp_(0.0, 1.0)


def frequency_schedule(size: int, dense_up_to: int = DENSE_UP_TO, ratio: float = GEOMETRIC_RATIO, all_up_to: int = 32) -> list:
    """The frequencies of the curve: 1..size when size <= all_up_to, else 1..dense_up_to and then
    round(dense_up_to * ratio**k) up to and including size."""
    if size <= all_up_to:
        return list(range(1, size + 1))
    freqs = list(range(1, dense_up_to + 1))
    k = 1
    while True:
        f = int(round(dense_up_to * ratio**k))
        if f >= size:
            break
        if f > freqs[-1]:
            freqs.append(f)
        k += 1
    return freqs + [size]


def _l2_per_image(ctx, x: torch.Tensor) -> torch.Tensor:
    """255 * mean squared reconstruction error per image, (N,)."""
    x_hat = ctx.reconstruct(x, batch_size=BATCH)
    return 255.0 * (x_hat - x).pow(2).flatten(1).mean(1)


@torch.no_grad()
def noise_curve(ctx, frequencies, trials: int, purpose: str = "noise-frequency") -> tuple:
    """(mean, std) lists of the per-trial reconstruction L2 at each frequency. Noise comes from
    ctx.generator(purpose), frequency by frequency in the given order."""
    shape = ctx.image_shape
    generator = ctx.generator(purpose)
    means, stds = [], []
    for f in frequencies:
        l2 = torch.cat(
            [
                _l2_per_image(ctx, frequency_noise(min(BATCH, trials - s), f, shape, generator).to(ctx.device))
                for s in range(0, trials, BATCH)
            ]
        )
        means.append(l2.mean().item())
        stds.append(l2.std(unbiased=False).item())
    return means, stds


def novel_reference(ctx) -> float:
    """Reconstruction L2 of the novel domain's test images (shared with other metrics)."""

    return shared_recon_l2(ctx, "novel")


@torch.no_grad()
def write_noise_grid(ctx, frequencies, path) -> None:
    """One row of noise inputs at a few frequencies and one row of their reconstructions."""
    top = max(frequencies)
    shown = sorted({min(frequencies, key=lambda f: abs(f - t)) for t in GRID_FREQUENCIES if t <= top} | {top})
    generator = ctx.generator("noise-frequency-grid")
    x = torch.cat([frequency_noise(1, f, ctx.image_shape, generator) for f in shown]).to(ctx.device)
    save_grid(torch.cat([x, ctx.reconstruct(x)]), path, nrow=len(shown), row_labels=["noise", "reconstructions"], column_labels=[f"f={f}" for f in shown])


@register_metric(
    "noise_frequency",
    "Reconstruction L2 of uniform noise vs spatial frequency (AugIntAE appendix A.4)",
    keys={
        "noise_l2_mean": (None, "noise recon L2, mean over f"),
        "noise_l2_min": (None, "noise recon L2, min over f"),
    },
)
def noise_frequency_metric(ctx) -> dict:
    """noise_l2_mean (mean of the curve over the frequencies used) and noise_l2_min (its lowest
    point); both carry the curve and the novel-domain reference in their details."""
    size = max(ctx.image_shape[1:])
    frequencies = frequency_schedule(size)
    trials = int(ctx.evaluation.noise_trials)
    means, stds = noise_curve(ctx, frequencies, trials)
    reference = novel_reference(ctx)
    if ctx.artifacts_dir is not None:
        write_noise_grid(ctx, frequencies, ctx.artifacts_dir / "noise_reconstructions.png")
    protocol = {
        "definition": "255 * mean((x - decode(encode(x)))**2) on [0, 1] pixels for x = uniform noise "
        "sampled on an f x f grid per channel and upscaled to the image size",
        "upscaling": f"torch.nn.functional.interpolate mode={UPSCALE_MODE!r}",
        "frequencies": frequencies,
        "trials_per_frequency": trials,
        "noise_generator": "ctx.generator('noise-frequency'), frequencies in increasing order",
        "reference": "recon L2 of the novel domain's test images (budget eval_images)",
        "encoder": ctx.encoder,
        "paper": "AugIntAE appendix A.4: 1000 trials per frequency, f = 1..image size",
    }
    i_min = min(range(len(means)), key=means.__getitem__)
    details = {"frequencies": frequencies, "l2": means, "l2_std": stds, "novel_reference": reference}
    mean_value = sum(means) / len(means)
    return {
        "noise_l2_mean": MetricValue(mean_value, {**protocol, "summary": "mean of the curve over the frequencies used"}, details),
        "noise_l2_min": MetricValue(
            means[i_min],
            {**protocol, "summary": "lowest point of the curve", "at_frequency": frequencies[i_min]},
            {**details, "argmin_frequency": frequencies[i_min]},
        ),
    }


__all__ = ["frequency_noise", "frequency_schedule", "noise_curve", "novel_reference", "noise_frequency_metric"]
