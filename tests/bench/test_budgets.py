"""A budget is a training schedule plus an evaluation protocol; models and metrics see their part."""

import json
from pathlib import Path

import pytest
import torch

from bench.budgets import BUDGETS, Budget, EvaluationProtocol, TrainingSchedule, budget_from_record
from metrics.base import MetricContext

RECORDS = Path(__file__).resolve().parents[2] / "leaderboards" / "records"


def test_a_budget_is_a_schedule_and_a_protocol_with_nothing_in_both():
    smoke = BUDGETS["smoke"]
    assert isinstance(smoke.training, TrainingSchedule) and isinstance(smoke.evaluation, EvaluationProtocol)
    assert smoke.training.steps == 20 and smoke.evaluation.fid_images == 32
    assert not hasattr(smoke.training, "fid_images") and not hasattr(smoke.evaluation, "batch_size")
    changed = smoke.with_settings(fid_images=8, steps=3)
    assert (changed.training.steps, changed.evaluation.fid_images) == (3, 8)
    with pytest.raises(TypeError, match="unknown budget settings"):
        smoke.with_settings(fid_image=8)


@pytest.mark.parametrize("record", sorted(RECORDS.glob("*/*/*/seed0/config.json"))[:40], ids=lambda p: "/".join(p.parts[-5:-1]))
def test_published_records_read_back_to_the_budget_they_recorded(record):
    """config.json keeps the flat budget every run has written (its config hash depends on it)."""
    recorded = json.loads(record.read_text())
    budget = budget_from_record(recorded)
    assert json.loads(json.dumps(budget.to_dict())) == recorded["budget"]


def test_the_current_budgets_record_the_same_flat_dict_as_published_runs():
    recorded = json.loads((RECORDS / "omniglot" / "quick" / "ae" / "seed0" / "config.json").read_text())
    assert json.loads(json.dumps(BUDGETS["quick"].for_images(recorded["image_shape"]).to_dict())) == recorded["budget"]


def test_metrics_read_the_protocol_and_models_get_numbers_only():
    budget = Budget.of("t", "t", batch_size=4, steps=1, fid_images=7, refine_steps=3)
    ctx = MetricContext(model=None, pair=None, train_domain=None, novel_domain=None, budget=budget, seed=0, cache_dir=Path("."))
    assert ctx.evaluation.fid_images == 7 and ctx.evaluation.refine_steps == 3
    from models import registry

    cls = registry.get("wgan-gp")
    model = cls(cls.Config(), (1, 28, 28))
    model.plan_training(10, budget.training.inversion_iterations)
    assert model.extra_training_steps() == budget.training.inversion_iterations
    model.configure_evaluation(budget.evaluation.refine_steps)
    assert model.refine_steps == 3


def test_the_default_budget_follows_the_chosen_device_not_the_host(monkeypatch, tmp_path):
    """`--device cpu` on a CUDA host is a CPU run: quick, not paper."""
    import bench.runner

    chosen = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bench.runner, "run_benchmark", lambda opts, echo: chosen.setdefault("opts", opts) and [])
    bench.run(models="ae", pair="pole", device="cpu", out=tmp_path, progress=False)
    assert chosen["opts"].budget.name == "quick"
    assert chosen["opts"].pair.name == "pole"  # resolved once, handed to the runner
