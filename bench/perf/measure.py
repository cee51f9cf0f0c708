"""Timing a figure next to its baseline, and the memory each one peaks at.

On a shared machine a figure timed now and its baseline timed a minute later see different
loads, and their ratio means little. `alternate` therefore runs the two in turns (ABBA order:
figure, baseline, baseline, figure, ... so a load that drifts during the measurement hits both
sides alike) after one untimed warm-up call each, and the caller reports medians.

Peak memory is measured per side and per call: before each call the resident-set high-water mark
is reset (Linux: writing 5 to /proc/self/clear_refs resets VmHWM), and read after it; on CUDA the
allocator's peak is reset and read the same way. Where the reset is not available (not Linux) the
RSS figure is the process's peak so far (`resource.getrusage`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from bench.memory import peak_rss_mib, reset_peak_rss  # noqa: F401 (re-exported for the figures)

def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so a timer stopped afterwards measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Side:
    """What one side (figure or baseline) did in each timed call: seconds and work done."""

    seconds: list = field(default_factory=list)
    counts: list = field(default_factory=list)
    peak_rss_mib: float = 0.0
    peak_gpu_mib: Optional[float] = None

    def median_rate(self) -> float:
        """Median work per second over the timed calls (images/s)."""
        return statistics.median(c / s for c, s in zip(self.counts, self.seconds))

    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def _call(fn: Callable[[], int], side: Side, device: torch.device, timed: bool) -> None:
    reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    synchronize(device)
    start = time.perf_counter()
    count = fn()
    synchronize(device)
    seconds = time.perf_counter() - start
    side.peak_rss_mib = max(side.peak_rss_mib, peak_rss_mib())
    if device.type == "cuda":
        side.peak_gpu_mib = max(side.peak_gpu_mib or 0.0, torch.cuda.max_memory_allocated(device) / 2**20)
    if timed:
        side.seconds.append(seconds)
        side.counts.append(count)


def alternate(figure: Callable[[], int], baseline: Callable[[], int], reps: int, device: torch.device, warmup: bool = True) -> tuple:
    """(figure Side, baseline Side): one untimed warm-up call each (unless `warmup` is False:
    for long computations with nothing to warm up), then `reps` timed calls each in ABBA order.
    Each callable does one repetition of its work and returns how much it did (images; 1 for a
    single computation). The warm-up counts towards peak memory (first-call allocations are
    real), not towards the times."""
    if reps < 1:
        raise ValueError("reps must be >= 1")
    fig, base = Side(), Side()
    if warmup:
        _call(figure, fig, device, timed=False)
        _call(baseline, base, device, timed=False)
    for r in range(reps):
        order = ((figure, fig), (baseline, base)) if r % 2 == 0 else ((baseline, base), (figure, fig))
        for fn, side in order:
            _call(fn, side, device, timed=True)
    return fig, base
