"""Admissibility scores: the pure functions on constructed paths, and the metric end to end."""

import json
import sys
import types

import pytest
import torch

from bench.budgets import BUDGETS
from bench.data.pairs import PAIRS, PairSpec
from bench.data.synthetic import load_synthetic
from metrics.admissibility import (
    admissibility_metric,
    boundary_l2,
    monotonicity_score,
    smoothness_score,
    step_sizes,
)
from metrics.base import MetricContext, MetricSkipped
from models import registry


@pytest.fixture(scope="module")
def lines():
    return load_synthetic("lines", max_train=16, max_test=64)


def pixel_fade(shape=(1, 32, 32)):
    cls = registry.get("pixel-fade")
    return cls(cls.Config(), shape)


def make_ctx(model, data, tmp_path, pair=PAIRS["lines"]):
    budget = BUDGETS["smoke"].with_settings(path_pairs=6, eval_images=32)
    return MetricContext(model=model, pair=pair, train_domain=data, novel_domain=data, budget=budget, seed=0, cache_dir=tmp_path)


def along(x_i, x_j, positions):
    """Path images (1-t) x_i + t x_j at the given positions t."""
    t = torch.tensor(positions, dtype=torch.float32).view(-1, 1, 1, 1)
    return (1 - t) * x_i + t * x_j


def endpoints(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 8, 8, generator=g), torch.rand(1, 8, 8, generator=g)


def test_smoothness_is_zero_for_even_steps_and_known_for_one_jump():
    x_i, x_j = endpoints()
    even = along(x_i, x_j, torch.linspace(0, 1, 17).tolist())
    assert smoothness_score(even).item() == pytest.approx(0.0, abs=1e-5)
    # steps 1, 1, 1, 5 (out of 8): max normalised step 5/8, minus 1/4
    jump = along(x_i, x_j, [0, 1 / 8, 2 / 8, 3 / 8, 1])
    assert smoothness_score(jump).item() == pytest.approx(5 / 8 - 1 / 4, abs=1e-5)
    batch = torch.stack([along(x_i, x_j, [0, 0.25, 0.5, 0.75, 1]), jump])
    assert smoothness_score(batch).tolist() == pytest.approx([0.0, 0.375], abs=1e-5)
    assert step_sizes(batch).shape == (2, 4)


def test_smoothness_of_a_still_path_is_undefined():
    x_i, _ = endpoints()
    assert torch.isnan(smoothness_score(x_i.expand(5, 1, 8, 8))).all()


def test_monotonicity_one_for_a_fade_and_lower_for_back_and_forth():
    x_i, x_j = endpoints(1)
    assert monotonicity_score(along(x_i, x_j, torch.linspace(0, 1, 17).tolist()), x_i, x_j).item() == 1.0
    # 0 -> .5 ok, .5 -> .25 goes back, .25 -> .75 ok, .75 -> 1 ok
    assert monotonicity_score(along(x_i, x_j, [0, 0.5, 0.25, 0.75, 1]), x_i, x_j).item() == pytest.approx(0.75)
    # a far detour: on the way out the distance to x_j rises, on the way back the distance to x_i falls
    detour = along(x_i, x_j, [0, 0.5, 1]).clone()
    detour[1] += 0.6
    assert monotonicity_score(detour, x_i, x_j).item() == 0.0


def test_a_path_that_does_not_move_is_not_monotone():
    # a collapsed model decodes one image for every latent: its distances never change, which
    # the steps' rule alone would score 1, the best value
    x_i, x_j = endpoints(1)
    still = x_i.expand(17, *x_i.shape).clone()
    assert monotonicity_score(still, x_i, x_j).item() == 0.0
    nearly = still + 1e-6 * torch.arange(17.0).view(17, 1, 1, 1)  # moves less than the tolerance
    assert monotonicity_score(nearly, x_i, x_j).item() == 0.0
    assert monotonicity_score(along(x_i, x_j, torch.linspace(0, 1, 17).tolist()), x_i, x_j).item() == 1.0


def test_boundary_is_zero_for_exact_endpoints_and_the_recon_l2_otherwise():
    x_i, x_j = endpoints(2)
    path = along(x_i, x_j, [0, 0.5, 1])
    assert boundary_l2(path, x_i, x_j).item() == 0.0
    shifted = path.clone()
    shifted[0] += 0.1  # start off by 0.1 everywhere: 255 * 0.01 = 2.55, averaged with an exact end
    assert boundary_l2(shifted, x_i, x_j).item() == pytest.approx(2.55 / 2, rel=1e-4)


def test_metric_on_pixel_fade_is_admissible_and_omits_credibility(lines, tmp_path, monkeypatch):
    fake = types.ModuleType("metrics.domain_classifier")
    fake.get_domain_classifier = lambda ctx: pytest.fail("no classifier on a same-domain pair")
    monkeypatch.setitem(sys.modules, "metrics.domain_classifier", fake)
    out = admissibility_metric(make_ctx(pixel_fade(), lines, tmp_path))
    assert set(out) == {"adm_boundary_l2", "adm_smoothness", "adm_monotonicity"}
    assert out["adm_boundary_l2"].value == 0.0  # perfect reconstructor
    assert out["adm_smoothness"].value == pytest.approx(0.0, abs=1e-4)  # a cross-fade moves evenly
    assert out["adm_monotonicity"].value == 1.0
    protocol = out["adm_smoothness"].protocol
    assert protocol["pairs"] == 6 and "omitted" in protocol["credibility"]
    assert len(out["adm_smoothness"].details["normalized_step_mean"]) == 16
    json.dumps({k: v.to_dict() for k, v in out.items()}, allow_nan=False)  # metrics.json material


class Jumpy(torch.nn.Module):
    """Pixel latents, but interpolation snaps: alpha < 0.5 gives z_a, else z_b."""

    name = "jumpy"

    def __init__(self):
        super().__init__()
        self.register_buffer("anchor", torch.zeros(()))

    device = property(lambda self: self.anchor.device)
    encode = staticmethod(lambda x: x.clone())
    decode = staticmethod(lambda z: z)

    def interpolate(self, z_a, z_b, alpha):
        a = torch.as_tensor(alpha).view(-1, *([1] * (z_a.dim() - 1)))
        return torch.where(a < 0.5, z_a, z_b)


def test_metric_scores_a_jumping_path_as_unsmooth(lines, tmp_path):
    out = admissibility_metric(make_ctx(Jumpy(), lines, tmp_path))
    assert out["adm_smoothness"].value == pytest.approx(1 - 1 / 16, abs=1e-5)
    assert out["adm_boundary_l2"].value == 0.0
    assert out["adm_monotonicity"].value == 1.0  # standing still is allowed; the one jump is monotone


def test_credibility_uses_the_domain_classifier_on_every_path_point(lines, tmp_path, monkeypatch):
    seen = []

    class Classifier:
        def prob_novel(self, x):
            seen.append(tuple(x.shape))
            return x.mean((1, 2, 3))  # linear in the image: the mean over a fade is known

    fake = types.ModuleType("metrics.domain_classifier")
    fake.get_domain_classifier = lambda ctx: Classifier()
    monkeypatch.setitem(sys.modules, "metrics.domain_classifier", fake)
    ctx = make_ctx(pixel_fade(), lines, tmp_path, pair=PairSpec("two-domains", "mnist", "lines", "test pair"))
    out = admissibility_metric(ctx)
    assert sum(s[0] for s in seen) == 6 * 17 and all(s[1:] == (1, 32, 32) for s in seen)
    from metrics.paths import novel_pair_latents

    pairs = novel_pair_latents(ctx)
    x = ctx.test_images("novel")
    expected = 0.5 * (x[pairs["index_a"]].mean((1, 2, 3)) + x[pairs["index_b"]].mean((1, 2, 3))).mean().item()
    assert out["adm_credibility"].value == pytest.approx(expected, rel=1e-5)
    assert len(out["adm_credibility"].details["prob_novel_mean"]) == 17
    assert "credibility" not in out["adm_boundary_l2"].protocol


def test_a_classifier_that_cannot_be_built_omits_credibility_only(lines, tmp_path, monkeypatch):
    def unavailable(ctx):
        raise MetricSkipped("no data for the training domain")

    fake = types.ModuleType("metrics.domain_classifier")
    fake.get_domain_classifier = unavailable
    monkeypatch.setitem(sys.modules, "metrics.domain_classifier", fake)
    ctx = make_ctx(pixel_fade(), lines, tmp_path, pair=PairSpec("two-domains", "mnist", "lines", "test pair"))
    out = admissibility_metric(ctx)
    assert "adm_credibility" not in out and out["adm_monotonicity"].value == 1.0
    assert "no data for the training domain" in out["adm_boundary_l2"].protocol["credibility"]
