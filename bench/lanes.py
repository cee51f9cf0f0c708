"""Lanes: several runs trained at once in one process (`bench run --lanes N`).

Each run is a generator that yields after every training update (`bench.runner.run_steps`);
`interleave` keeps up to N of them going, one update of each in turn. A run's results do not
depend on its neighbours: it draws from its own generators (`bench.randomness`), and the global
torch RNG, which model initialisation and some steps use, is swapped per lane around each of its
updates. On a CPU this shares the cores between runs; on one GPU it keeps the device busy while
another run's host code prepares its launches.

Runs finish independently (different step counts, a reused or diverged run); the caller gets
each result when it is ready. When the caller stops early or a run raises, the other lanes are
closed: their run directories are unlocked and their checkpoints kept, so the same command resumes
them.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterator

import torch


def _rng_state() -> tuple:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def interleave(starts: list[Callable[[], Iterator]], lanes: int = 1):
    """Run the generators made by `starts` (in order), up to `lanes` at a time, one step of each
    in turn; yields (index into `starts`, the generator's return value) as each finishes."""
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    swap = lanes > 1  # one lane runs its steps back to back: no state to swap in the hot loop
    waiting = deque(enumerate(starts))
    active: deque = deque()  # [index, generator, rng state]
    try:
        while waiting or active:
            while waiting and len(active) < lanes:
                index, start = waiting.popleft()
                active.append([index, start(), _rng_state() if swap else None])
            lane = active.popleft()
            if swap:
                _set_rng_state(lane[2])
            try:
                next(lane[1])
            except StopIteration as stop:
                yield lane[0], stop.value
                continue
            if swap:
                lane[2] = _rng_state()
            active.append(lane)
    finally:
        for _, generator, _ in active:
            generator.close()
