"""Every model's training step can be captured as a CUDA graph, checked on the CPU.

The contract (models/base.py, `BenchModel.train_step`): no host syncs; Python branches only on
host integers, declared by `step_phase(step)`, so that steps of one phase launch the same
operations on the same shapes and dtypes; randomness from `batch.generator` only. A
TorchDispatchMode records every aten operation of a step (optimizer steps excluded: on CUDA the
trainer uses capturable fused Adam; on the CPU Adam reads its step count on the host).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import _disable_current_modes

from bench.trainer import augmentation_engine
from op_recorder import Recorder
from models import registry
from models.base import TrainBatch

TRAINABLE = [n for n in registry.names() if registry.get(n).trainable and registry.get(n).trains_on == "train"]
SHAPE = (1, 28, 28)
BATCH = 8
def _unrecorded(step_fn, label, recorder):
    def step(*args, **kwargs):
        recorder.ops.append((label, ()))
        with _disable_current_modes():
            return step_fn(*args, **kwargs)

    return step


def _model(name):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), SHAPE)
    model.plan_training(12, inversion_iterations=4)
    model.optimizers = model.configure_optimizers()
    return model.train()


def _record(model, step, images, engine, generator) -> Recorder:
    recorder = Recorder()
    originals = {}
    for key, opt in model.optimizers.items():
        originals[key] = opt.step
        opt.step = _unrecorded(opt.step, f"optimizer {key}", recorder)
    try:
        with recorder:
            model.train_step(TrainBatch(images, engine, generator), step)
    finally:
        for key, opt in model.optimizers.items():
            opt.step = originals[key]
    return recorder


@pytest.mark.parametrize("name", TRAINABLE)
def test_a_training_step_makes_no_host_sync_and_repeats_its_operations_per_phase(name):
    model = _model(name)
    engine = augmentation_engine(model, SHAPE)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (BATCH, *SHAPE), dtype=torch.uint8)
    total = model.main_steps + model.extra_training_steps()
    seen: dict = {}
    for step in range(total):
        recorder = _record(model, step, images, engine, generator)
        assert not recorder.syncs, f"{name} step {step}: host syncs {sorted(set(recorder.syncs))}"
        phase = model.step_phase(step)
        # the first steps of a phase may differ (optimizer state created lazily): compare later ones
        seen.setdefault(phase, []).append(recorder.ops)
    for phase, sequences in seen.items():
        if len(sequences) >= 3:
            assert sequences[-1] == sequences[-2], f"{name}: phase {phase!r} launched different operations at two steps"


def test_the_recorder_catches_a_sync_and_a_branch_on_data():
    recorder = Recorder()
    x = torch.ones(3)
    with recorder:
        if (x > 0).any():  # `if tensor` reads the value on the host
            x = x[x > 0]  # a boolean mask: a data-dependent shape
    assert "aten.is_nonzero" in recorder.syncs or "aten._local_scalar_dense" in recorder.syncs
    assert "aten.nonzero" in recorder.syncs or "aten.masked_select" in recorder.syncs or "aten.index" in str(recorder.ops)
