"""`bench run --lanes N`: runs trained at once in one process, their updates interleaved, give the
results each has alone."""

import json

import pytest

from bench.lanes import interleave
from bench.runner import run_benchmark
import bench.trainer
from test_runner import options

MODELS = ["ae", "augintae"]


def _metrics(out):
    runs = {}
    for path in sorted(out.glob("pole/*/seed*/metrics.json")):
        record = json.loads(path.read_text())
        runs[path.parent.parent.name + "/" + path.parent.name] = (
            {k: v["value"] for k, v in record["metrics"].items()},
            [h["losses"] for h in record["loss_history"]],
        )
    return runs


def test_two_lanes_give_the_metrics_and_losses_of_runs_made_one_after_another(tmp_path, monkeypatch):
    alone = run_benchmark(options(tmp_path, "alone", models=MODELS, seeds=[0]), echo=lambda m: None)
    order = []
    original = bench.trainer.run_train_step

    def noting(model, batch, step, device, precision):
        order.append(id(model))
        return original(model, batch, step, device, precision)

    monkeypatch.setattr(bench.trainer, "run_train_step", noting)
    laned = run_benchmark(options(tmp_path, "laned", models=MODELS, seeds=[0], lanes=2), echo=lambda m: None)
    switches = sum(a != b for a, b in zip(order, order[1:]))
    assert switches > 5, "the two lanes' updates were not interleaved"
    assert _metrics(tmp_path / "alone") == _metrics(tmp_path / "laned")
    assert sorted(r["model"] + str(r["seed"]) for r in laned) == sorted(r["model"] + str(r["seed"]) for r in alone)


def test_a_lane_that_fails_closes_the_others_and_their_checkpoints_resume(tmp_path):
    def steps(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise RuntimeError("lane failed")
            yield i
        return n

    closed = []

    def watched(n):
        try:
            return (yield from steps(n))
        finally:
            closed.append(n)

    assert list(interleave([lambda: steps(3), lambda: steps(1)], lanes=2)) == [(1, 1), (0, 3)]
    with pytest.raises(RuntimeError, match="lane failed"):
        list(interleave([lambda: watched(50), lambda: steps(5, fail_at=2), lambda: watched(7)], lanes=2))
    assert closed == [50]  # the running neighbour was closed; the waiting run never started


def test_lanes_below_one_are_refused(tmp_path):
    from click.testing import CliRunner

    from bench.cli import cli

    result = CliRunner().invoke(cli, ["run", "--models", "ae", "--pair", "pole", "--lanes", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--lanes" in result.output


def test_each_lane_keeps_its_own_global_rng_stream():
    import torch

    def run(seed):
        torch.manual_seed(seed)  # as the runner seeds a model's initialisation
        draws = []
        for _ in range(4):
            draws.append(torch.rand(1).item())  # a step drawing from the global RNG
            yield
        return draws

    alone = [value for _, value in interleave([lambda: run(1), lambda: run(2)], lanes=1)]
    together = dict(interleave([lambda: run(1), lambda: run(2)], lanes=2))
    assert [together[0], together[1]] == alone
