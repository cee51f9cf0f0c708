"""The training path of the augmentation engine (`AugmentationEngine.triplets`) works on whole
parameter tensors: few operations per batch, and the same numbers, bit for bit, as the
per-field path (`sample_triplet_params` + `apply_triplets`) that published runs used."""

from __future__ import annotations

import pytest
import torch

from bench.augment import AugmentationEngine
from models.base import TrainBatch
from op_recorder import Recorder

CASES = [
    ((1, 28, 28), None, 64, None),
    ((1, 28, 28), None, 13, 0.3),  # a batch that is no multiple of a vector width; alpha forced
    ((1, 28, 28), {"shear"}, 16, None),  # a one-family ablation
    ((3, 32, 32), None, 7, None),  # colour jitter
    ((1, 20, 28), None, 9, None),  # not square
]


@pytest.mark.parametrize("shape,families,n,alpha", CASES)
def test_the_training_path_gives_the_per_field_paths_numbers_bit_for_bit(shape, families, n, alpha):
    engine = AugmentationEngine.for_images(shape, families=families)
    x = torch.rand((n, *shape), generator=torch.Generator().manual_seed(1))
    g_fast, g_ref = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    fast = engine.triplets(x, g_fast, alpha)
    p1, p2, p3, ref_alpha = engine.sample_triplet_params(n, g_ref, x.device, alpha)
    ref = (*engine.apply_triplets(x, p1, p2, p3), ref_alpha)
    for name, u, v in zip("ABC", fast, ref):
        assert torch.equal(u, v), f"{name} differs from the per-field path"
    assert torch.equal(fast[3], ref[3])
    assert torch.equal(g_fast.get_state(), g_ref.get_state()), "the two paths drew different amounts"


def _kernels(fn) -> list:
    fn()  # first call: the engine's constants are made and cached
    recorder = Recorder()
    with recorder:
        fn()
    return recorder.kernels()


def test_a_batch_of_triplets_costs_few_operations():
    engine = AugmentationEngine.for_images((1, 28, 28))
    x = torch.rand(64, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    fast = _kernels(lambda: engine.triplets(x, g))
    per_field = _kernels(lambda: engine.apply_triplets(x, *engine.sample_triplet_params(64, g)[:3]))
    assert len(fast) <= 30, f"{len(fast)} operations: {fast}"
    assert len(per_field) >= 80  # what the packed path replaces (the count the issue measured)


def test_a_training_batch_converts_its_images_in_one_operation():
    images = torch.arange(256, dtype=torch.uint8).view(4, 1, 8, 8)
    assert torch.equal(TrainBatch(images).x, images.float().div_(255.0))
    assert len(_kernels(lambda: TrainBatch(images))) == 1
