"""The CUDA-graph throughput figures and the GPU check script run their code on the CPU, graphs
replayed by the `ReplayedClosure` stand-in (their numbers mean nothing there)."""

from __future__ import annotations

import math

import pandas as pd
import torch

from bench.graphs import ReplayedClosure
from bench.perf import graph_figures, gpu_check
from bench.perf.training import TrainingSetup

CPU = torch.device("cpu")
SETUP = TrainingSetup(steps=2, reference_steps=1, reps=1, loader_workers=0)


def _images(n=32):
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_graph_lanes_and_bf16_figures_measure_both_sides():
    figs = [
        graph_figures.graphs_figure("ae", 8, _images(), CPU, SETUP, graph_class=ReplayedClosure),
        graph_figures.lanes_figure("augintae", 2, 8, _images(), CPU, SETUP, graph_class=ReplayedClosure),
        graph_figures.precision_figure("ae", 8, _images(), CPU, SETUP, graph_class=ReplayedClosure),
    ]
    assert [f.figure for f in figs] == ["graphs/ae/b8", "lanes/augintae/x2", "bf16/ae/b8"]
    for f in figs:
        assert math.isfinite(f.value) and math.isfinite(f.baseline) and f.value > 0 and f.baseline > 0
    assert figs[0].graphs == "on" and "graph(s) captured" in figs[0].note


def test_the_gpu_check_compares_graphed_and_eager_training_and_writes_its_files(tmp_path, capsys):
    status = gpu_check.main(["--device", "cpu", "--models", "ae,wgan-gp", "--out", str(tmp_path)])
    checks = pd.read_csv(tmp_path / "graph_check.csv")
    assert status == 0 and list(checks.model)[:2] == ["ae", "wgan-gp"] and checks.passed.all()
    assert checks.model[2].startswith("refine_latents")
    assert (checks.graph_vs_eager == 0).all() and (checks.graphs_captured[:2] >= 3).all()
    perf = pd.read_csv(tmp_path / "perf.csv")
    assert {"train/ae/b8", "train/wgan-gp/b16"} <= set(perf.figure)
    assert "graph check ae: ok" in capsys.readouterr().out


def test_the_gpu_check_fails_when_graphed_training_drifts(tmp_path, monkeypatch):
    class Drifting(ReplayedClosure):
        def replay(self):
            out = super().replay()
            trainer = next(c.cell_contents for c in self.step_fn.__closure__ if hasattr(c.cell_contents, "model"))
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.add_(1e-3)
            return out

    monkeypatch.setattr(gpu_check, "ReplayedClosure", Drifting)
    status = gpu_check.main(["--device", "cpu", "--models", "ae", "--out", str(tmp_path), "--no-perf"])
    assert status == 1 and not pd.read_csv(tmp_path / "graph_check.csv").passed.any()
