"""Steps replayed as graphs give the numbers of eager steps (bench/graphs.py), checked on the CPU
with `ReplayedClosure`: a replay calls the step captured with the Python values of its capture
(the step number, the batch's index buffer), as a CUDA graph replays its recorded launches. A
model whose step used a host value that its `step_phase` key does not declare would drift."""

from __future__ import annotations

import pytest
import torch

from bench.graphs import ReplayedClosure, StepGraphs
from bench.trainer import Trainer
from models import registry
from test_trainer import blob_images, tiny_budget

TRAINABLE = [n for n in registry.names() if registry.get(n).trainable and registry.get(n).trains_on == "train"]


def _train(name, tmp_path, graph_class):
    torch.manual_seed(0)
    cls = registry.get(name)
    model = cls(cls.Config(), (1, 28, 28))
    schedule = tiny_budget(12, batch_size=8, log_every=1, inversion_iterations=10)
    trainer = Trainer(
        model, blob_images(64), schedule, torch.device("cpu"), tmp_path / f"{name}-{graph_class is not None}.pt",
        seed=0, config_hash="h", progress=False, graph_class=graph_class, graph_warmup=1,
    )
    result = trainer.fit()
    return model, result, trainer.captured_graphs


@pytest.mark.parametrize("name", TRAINABLE)
def test_replayed_steps_give_the_eager_runs_numbers(name, tmp_path):
    eager, eager_result, none = _train(name, tmp_path, None)
    replayed, replayed_result, captured = _train(name, tmp_path, ReplayedClosure)
    assert none == 0 and captured >= 1
    assert replayed_result.history == eager_result.history
    for (key, a), (_, b) in zip(eager.state_dict().items(), replayed.state_dict().items()):
        assert torch.equal(a, b), f"{name}: {key} differs after replayed steps"


def test_one_graph_per_phase_and_lr_factor(tmp_path):
    # AE: one phase; the lr drops at 35% and 70% of 12 steps make three keys
    _, _, captured = _train("ae", tmp_path, ReplayedClosure)
    assert captured == 3


def test_graphs_are_off_on_the_cpu_unless_a_stand_in_is_given():
    assert not StepGraphs(torch.device("cpu"), enabled=True).enabled
    assert StepGraphs(torch.device("cpu"), enabled=True, graph_class=ReplayedClosure).enabled
    assert not StepGraphs(torch.device("cpu"), enabled=False, graph_class=ReplayedClosure).enabled


@pytest.mark.parametrize("flag,expected", [([], True), (["--no-graphs"], False)])
def test_bench_run_hands_the_graphs_choice_to_the_trainer(flag, expected, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import bench.runner
    from bench.cli import cli

    seen = {}

    class Stop(Exception):
        pass

    def trainer(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(bench.runner, "Trainer", trainer)
    args = ["run", "--models", "ae", "--pair", "pole", "--budget", "smoke", "--device", "cpu", "--no-progress", "--out", str(tmp_path)]
    CliRunner().invoke(cli, args + flag)
    assert seen["graphs"] is expected
