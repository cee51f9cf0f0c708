"""Ground-truth interpolation scores on the synthetic domains, checked with a model whose latent
is the true parameter vector (perfect interpolation) and with the pixel cross-fade."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from bench.budgets import BUDGETS
from bench.data.pairs import PAIRS
from bench.data.synthetic import get_renderer, load_synthetic
from metrics import ground_truth as gt
from metrics.base import MetricContext, all_metrics
from models import registry


class ParamModel(torch.nn.Module):
    """encode looks the image up in the test split and returns its parameters; decode renders;
    interpolate is the renderer's ground-truth interpolation."""

    name = "fake-params"

    def __init__(self, renderer, split):
        super().__init__()
        self.renderer = renderer
        self.register_buffer("images", split.images.flatten(1).float())
        self.register_buffer("params", split.params.clone())

    @property
    def device(self):
        return self.images.device

    def encode(self, x):
        d = torch.cdist(torch.round(x * 255).flatten(1), self.images, compute_mode="donot_use_mm_for_euclid_dist")
        best, idx = d.min(1)
        assert torch.all(best == 0), "encode got an image that is not in the test split"
        return self.params[idx]

    def decode(self, z):
        return torch.from_numpy(self.renderer.render(z.double().cpu().numpy())).to(self.device)

    def interpolate(self, z_a, z_b, alpha):
        alpha = torch.as_tensor(alpha, dtype=torch.float64).expand(z_a.shape[0])
        return torch.from_numpy(self.renderer.interpolate_params(z_a.cpu().numpy(), z_b.cpu().numpy(), alpha.cpu().numpy()))


@pytest.fixture(scope="module")
def lines():
    return load_synthetic("lines", max_train=8, max_test=96)


@pytest.fixture(scope="module")
def pole():
    return load_synthetic("pole", max_train=8, max_test=128)


def make_ctx(model, data, tmp_path, pairs=8):
    budget = BUDGETS["smoke"].with_settings(path_pairs=pairs, eval_images=None)
    return MetricContext(model=model, pair=PAIRS[data.name], train_domain=data, novel_domain=data, budget=budget, seed=0, cache_dir=tmp_path)


def pixel_fade(shape):
    cls = registry.get("pixel-fade")
    return cls(cls.Config(), shape)


def test_perfect_interpolation_scores_zero_on_lines(lines, tmp_path, monkeypatch):
    monkeypatch.setattr(gt, "_GRIDS", {})  # an earlier test may have left the grid in memory
    out = gt.ground_truth_metric(make_ctx(ParamModel(get_renderer("lines"), lines.test), lines, tmp_path))
    assert out["gt_mse_mean"].value < 1e-12 and out["gt_mse_peak"].value < 1e-12
    # grid of 10,000 angles (0.036 deg) against intervals >= 15 deg: alpha is found to ~1e-3
    assert out["alpha_error_median"].value <= 0.003
    d = out["alpha_error_median"].details
    assert max(d["abs_error_q75"]) <= 0.01
    assert np.allclose(d["alpha_pred_median"], d["alphas"], atol=0.01)
    assert np.allclose(d["param_distance_to_a_mean"], d["perfect_distance_to_a_mean"], atol=0.01)
    assert len(out["gt_mse_mean"].details["mse_mean"]) == 17
    assert out["gt_mse_mean"].protocol["pairs"] == 8
    assert list((tmp_path / "grids").glob("lines-*.pt")), "the grid is cached on disk"
    json.dumps({k: v.to_dict() for k, v in out.items()}, allow_nan=False)  # metrics.json material


def test_perfect_interpolation_scores_zero_on_pole(pole, tmp_path):
    out = gt.ground_truth_metric(make_ctx(ParamModel(get_renderer("pole"), pole.test), pole, tmp_path, pairs=6))
    assert out["gt_mse_mean"].value < 1e-12
    # 1-degree grid: parameters within 0.5 deg, intervals >= ~15 deg
    assert out["alpha_error_median"].value <= 0.04
    intervals = np.array(out["gt_mse_mean"].details["intervals"])
    assert intervals.min() > 12 and intervals.max() < 83


def test_pixel_fade_departs_from_the_truth_mid_path(lines, tmp_path):
    out = gt.ground_truth_metric(make_ctx(pixel_fade((1, 32, 32)), lines, tmp_path))
    curve = out["gt_mse_mean"].details["mse_mean"]
    assert curve[0] < 1e-5 and curve[16] < 1e-5  # endpoints: only uint8 quantisation
    assert curve[8] > 100 * max(curve[0], curve[16])
    assert out["gt_mse_peak"].value == max(curve) and out["gt_mse_peak"].details["peak_alpha"] == pytest.approx(0.5, abs=0.2)
    assert out["alpha_error_median"].value > 0.05  # a cross-fade retrieves one of the endpoints


def test_interval_pairs_cover_the_requested_range(pole):
    params = pole.test.params.numpy()
    r = get_renderer("pole")
    a, b = gt.interval_pairs(r, params, 200, 15.0, 80.0, torch.Generator().manual_seed(0))
    d = r.param_distance(params[a.numpy()], params[b.numpy()])
    assert torch.all(a != b)
    assert d.min() > 10 and d.max() < 85
    assert np.sum(d < 47.5) > 50 and np.sum(d >= 47.5) > 50  # both halves of the range


def test_closest_path_alpha_follows_the_shorter_arc():
    r = get_renderer("lines")
    p_a, p_b = np.array([[math.radians(350)]]), np.array([[math.radians(20)]])
    p_hat = np.array([[[math.radians(350)], [math.radians(5)], [math.radians(20)], [math.radians(180)]]])
    alpha = gt.closest_path_alpha(r, p_a, p_b, p_hat)
    assert alpha[0, :3].tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-3)
    assert alpha[0, 3] in (0.0, 1.0)  # far off the path: the nearer end


def test_acai_smoothness_matches_its_definition():
    even = np.linspace(0.3, 2.0, 17)[None]
    assert gt.acai_smoothness(even)[0] == pytest.approx(0.0, abs=1e-12)
    wrapped = np.mod(np.linspace(6.0, 7.0, 17), 2 * np.pi)[None]  # crosses 2*pi: unwrapped first
    assert gt.acai_smoothness(wrapped)[0] == pytest.approx(0.0, abs=1e-9)
    jump = np.array([[0.0, 0.1, 0.2, 0.3, 0.8]])  # max step 0.5 of 0.8, minus 1/4
    assert gt.acai_smoothness(jump)[0] == pytest.approx(0.5 / 0.8 - 0.25)
    assert np.isnan(gt.acai_smoothness(np.full((1, 5), 1.0))[0])


def test_nearest_agrees_with_brute_force():
    g = torch.Generator().manual_seed(0)
    grid, queries = torch.rand(300, 50, generator=g) + 3.0, torch.rand(40, 50, generator=g) + 3.0
    idx, dist = gt.nearest(queries, grid, "l2", chunk=16)
    brute = torch.cdist(queries.double(), grid.double())
    assert torch.equal(idx, brute.argmin(1))
    assert torch.allclose(dist.double(), brute.min(1).values, atol=1e-4)
    idx, dist = gt.nearest(queries, grid, "cosine")
    cos = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(grid, dim=1).T
    assert torch.equal(idx, cos.argmax(1))


def test_acai_lines_scores_perfect_model_near_zero_and_fade_worse(lines, tmp_path):
    perfect = gt.acai_lines_metric(make_ctx(ParamModel(get_renderer("lines"), lines.test), lines, tmp_path))
    fade = gt.acai_lines_metric(make_ctx(pixel_fade((1, 32, 32)), lines, tmp_path))
    assert perfect["lines_mean_distance"].value < 0.01
    assert perfect["lines_smoothness"].value < 0.05
    assert fade["lines_mean_distance"].value > 10 * perfect["lines_mean_distance"].value
    assert fade["lines_smoothness"].value > 0.2  # the nearest line flips from one end to the other
    assert perfect["lines_smoothness"].protocol["pairs"] == 8
    json.dumps({k: v.to_dict() for k, v in fade.items()}, allow_nan=False)


def test_applies_only_where_a_renderer_and_params_exist(lines, tmp_path):
    specs = all_metrics()
    ctx = make_ctx(pixel_fade((1, 32, 32)), lines, tmp_path)
    assert specs["ground_truth"].applies(ctx) and specs["acai_lines"].applies(ctx)
    no_params = replace(lines, test=replace(lines.test, params=None))
    ctx = make_ctx(pixel_fade((1, 32, 32)), no_params, tmp_path)
    assert not specs["ground_truth"].applies(ctx)
