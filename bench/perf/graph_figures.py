"""The GPU-throughput figures (CUDA only): graphed vs eager steps, lanes, bf16 vs TF32.

- `graphs/<model>/b<batch>`: the trainer path with each step replayed as a CUDA graph vs the
  same path eager (both bf16 autocast, as `bench run`).
- `lanes/<model>/x<N>`: aggregate images/s of N runs of one model trained at once, each on its
  own stream with its own graphs, one step of each in turn (`bench run --lanes N`), vs one run.
- `bf16/<model>/b<batch>`: graphed steps under bf16 autocast vs graphed steps in fp32 with
  TF32 convolutions and matmuls (PyTorch's fast fp32): whether bf16's casts pay off for these
  small networks.

Each figure is one `TrainerPath` (bench/perf/training.py) per side; graphs are captured in the
untimed warm-up call.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from bench.devices import tf32
from bench.perf.measure import alternate
from bench.perf.report import Figure
from bench.perf.training import TrainerPath, TrainingSetup, effective_precision

LANES = (2, 4, 8)


def graphs_figure(name: str, batch_size: int, images_on_device: torch.Tensor, device: torch.device, setup: TrainingSetup, graph_class=None) -> Figure:
    graphed = TrainerPath(name, images_on_device, batch_size, device, replace(setup, graphs=True), graph_class=graph_class)
    eager = TrainerPath(name, images_on_device, batch_size, device, replace(setup, graphs=False))
    fig, base = alternate(lambda: graphed.steps(setup.steps), lambda: eager.steps(setup.steps), setup.reps, device)
    return Figure.from_sides(
        f"graphs/{name}/b{batch_size}", "images/s", "the same trainer path, eager", fig, base,
        precision=_precision(device, setup), graphs="on" if graphed.graphs.captured() else "off",
        note=f"{setup.steps} steps per call; {graphed.graphs.captured()} graph(s) captured (not timed)",
    )  # fmt: skip


def lanes_figure(name: str, lanes: int, batch_size: int, images_on_device: torch.Tensor, device: torch.device, setup: TrainingSetup, graph_class=None) -> Figure:
    paths = [TrainerPath(name, images_on_device, batch_size, device, setup, seed=k, graph_class=graph_class) for k in range(lanes)]
    alone = TrainerPath(name, images_on_device, batch_size, device, setup, seed=0, graph_class=graph_class)

    def together() -> int:
        done = 0
        for _ in range(setup.steps):
            for path in paths:  # one step of each in turn, each on its own stream
                done += path.steps(1)
        return done

    fig, base = alternate(together, lambda: alone.steps(setup.steps), setup.reps, device)
    return Figure.from_sides(
        f"lanes/{name}/x{lanes}", "images/s", "one run", fig, base,
        precision=_precision(device, setup), graphs="on" if alone.graphs.captured() else "off",
        note=f"{lanes} runs at batch {batch_size}, {setup.steps} steps each per call; aggregate images/s",
    )  # fmt: skip


def precision_figure(name: str, batch_size: int, images_on_device: torch.Tensor, device: torch.device, setup: TrainingSetup, graph_class=None) -> Figure:
    bf16 = TrainerPath(name, images_on_device, batch_size, device, replace(setup, precision="bf16"), graph_class=graph_class)
    # "auto" is fp32 off CUDA; on CUDA the path's steps run in fp32 under the TF32 flags set here
    fast_fp32 = TrainerPath(name, images_on_device, batch_size, device, replace(setup, precision="tf32"), graph_class=graph_class)

    def tf32_steps() -> int:
        with tf32(True):
            return fast_fp32.steps(setup.steps)

    fig, base = alternate(lambda: bf16.steps(setup.steps), tf32_steps, setup.reps, device)
    return Figure.from_sides(
        f"bf16/{name}/b{batch_size}", "images/s", "fp32 with TF32 convolutions and matmuls", fig, base,
        precision="bf16" if device.type == "cuda" else "fp32", graphs="on" if bf16.graphs.captured() else "off",
        note=f"{setup.steps} steps per call, both sides graphed" if bf16.graphs.captured() else f"{setup.steps} steps per call",
    )  # fmt: skip


def _precision(device: torch.device, setup: TrainingSetup) -> str:
    return effective_precision(device, setup.precision)
