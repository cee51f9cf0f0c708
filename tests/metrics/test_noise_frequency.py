"""Noise-frequency curves: the noise generator and the metric on models whose curve is known."""

import json

import pytest
import torch
import torch.nn.functional as F

from bench.budgets import BUDGETS
from bench.data.pairs import PAIRS
from bench.data.synthetic import load_synthetic
from metrics.base import MetricContext
from metrics.noise_frequency import frequency_noise, frequency_schedule, noise_frequency_metric
from models import registry


class BlurModel(torch.nn.Module):
    """Reconstructs through a 4x4 average: exact on constant images, lossy on fine noise."""

    name = "blur"

    def __init__(self, shape):
        super().__init__()
        self.shape = shape
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self):
        return self.anchor.device

    def encode(self, x):
        return F.avg_pool2d(x, 4)

    def decode(self, z):
        return F.interpolate(z, scale_factor=4, mode="nearest")


@pytest.fixture(scope="module")
def lines():
    return load_synthetic("lines", max_train=16, max_test=64)


def make_ctx(model, data, tmp_path, **budget):
    b = BUDGETS["smoke"].with_settings(**{"noise_trials": 4, "eval_images": 32, **budget})
    return MetricContext(model=model, pair=PAIRS["lines"], train_domain=data, novel_domain=data, budget=b, seed=0, cache_dir=tmp_path, artifacts_dir=tmp_path)


def test_frequency_one_is_constant_per_image_and_channel():
    x = frequency_noise(16, 1, (3, 28, 28), torch.Generator().manual_seed(0))
    assert x.shape == (16, 3, 28, 28)
    assert torch.equal(x.amax((2, 3)), x.amin((2, 3)))  # one value per image and channel
    values = x[:, :, 0, 0]
    assert values.unique().numel() == values.numel()  # independent across images and channels


def test_full_resolution_noise_is_iid_uniform():
    x = frequency_noise(64, 32, (3, 32, 32), torch.Generator().manual_seed(1))
    assert (x[..., 1:] != x[..., :-1]).float().mean() > 0.999  # no upscaling: neighbours differ
    assert (x[..., 1:, :] != x[..., :-1, :]).float().mean() > 0.999
    assert abs(x.mean().item() - 0.5) < 0.005
    assert abs(x.var().item() - 1 / 12) < 0.002
    assert x.min() >= 0 and x.max() <= 1


def test_nearest_upscaling_makes_blocks_and_keeps_uniform_marginals():
    x = frequency_noise(256, 16, (1, 32, 32), torch.Generator().manual_seed(2))
    blocks = x.view(256, 1, 16, 2, 16, 2)
    assert torch.equal(blocks.amax((3, 5)), blocks.amin((3, 5)))  # 2x2 blocks
    assert abs(x.var().item() - 1 / 12) < 0.003  # nearest keeps the per-pixel variance


def test_schedule_is_complete_for_small_images_and_geometric_for_large():
    assert frequency_schedule(28) == list(range(1, 29))
    big = frequency_schedule(64)
    assert big[:16] == list(range(1, 17)) and big[-1] == 64
    assert all(b > a for a, b in zip(big, big[1:])) and len(big) < 30


def test_metric_curve_rises_with_frequency_for_a_blurring_model(lines, tmp_path):
    ctx = make_ctx(BlurModel((1, 32, 32)), lines, tmp_path)
    out = noise_frequency_metric(ctx)
    d = out["noise_l2_mean"].details
    assert d["frequencies"] == list(range(1, 33)) == out["noise_l2_mean"].protocol["frequencies"]
    assert len(d["l2"]) == len(d["l2_std"]) == 32
    assert d["l2"][0] < 1e-9  # constant noise survives a 4x4 average exactly
    assert d["l2"][3] < 1e-9  # so do 8x8 blocks (f = 4)
    assert d["l2"][-1] > 10.0  # i.i.d. pixels lose most of their variance: 255 * (1/12)(15/16) ~ 19.9
    assert abs(d["l2"][-1] - 255 / 12 * 15 / 16) < 2.0
    assert out["noise_l2_min"].value == min(d["l2"])
    x = ctx.test_images("novel")
    expected_ref = 255 * (F.interpolate(F.avg_pool2d(x, 4), scale_factor=4) - x).pow(2).mean().item()
    assert d["novel_reference"] == pytest.approx(expected_ref, rel=1e-5)
    assert (tmp_path / "noise_reconstructions.png").stat().st_size > 0
    assert out["noise_l2_mean"].protocol["trials_per_frequency"] == 4
    json.dumps({k: v.to_dict() for k, v in out.items()}, allow_nan=False)  # metrics.json material
    # reproducible: the noise comes from ctx.generator only
    again = noise_frequency_metric(make_ctx(BlurModel((1, 32, 32)), lines, tmp_path))
    assert again["noise_l2_mean"].value == out["noise_l2_mean"].value


def test_metric_is_zero_for_a_perfect_reconstructor(lines, tmp_path):
    model = registry.get("pixel-fade")(registry.get("pixel-fade").Config(), (1, 32, 32))
    out = noise_frequency_metric(make_ctx(model, lines, tmp_path, noise_trials=2))
    assert out["noise_l2_mean"].value == 0.0
    assert out["noise_l2_mean"].details["novel_reference"] == 0.0
