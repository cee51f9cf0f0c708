"""Training steps replayed as CUDA graphs (`bench run`, on by default on CUDA; `--no-graphs`).

A step of these small networks launches a few hundred kernels whose host-side launch time is
the whole cost of the step on a GPU (leaderboards/perf.md). A CUDA graph records the launches
of one step once and replays them with a single call.

How the trainer uses it (`StepGraphs.run(key, step_fn)`):

- `key` says which operations the step launches: the model's `step_phase(step)` (its Python
  branches and any host number its step uses, such as the inversion phase's lr) and the
  trainer's lr factor (a float lr is baked into a captured optimizer step, so an lr drop is a
  new key). Steps with one key launch the same operations on the same buffers.
- The first `warmup` steps of each key run eagerly, on the trainer's stream: they are real
  training steps (optimizer state is created there, cuBLAS and cuDNN pick their kernels), not
  throw-away ones, so there is no state to snapshot and restore. The next step of that key is
  captured (capturing launches nothing) and replayed at once; later steps replay the graph.
- The step reads its batch from static buffers: the trainer copies each batch's indices into
  one index tensor (device to device) and the step gathers the images itself, so gather,
  augmentation, forward, backward and optimizer steps are all in the graph. The losses the step
  returns are the graph's output tensors, overwritten at each replay and read by the trainer
  only when it logs.
- The training generator is registered with each graph (`register_generator_state`), so that
  replays draw fresh numbers and the generator's state, saved in checkpoints, stays exact.
  Each graph has its own memory pool (graphs of different keys replay in any order).
- Optimizers are switched to `capturable` when graphs are on (fused Adam computes the same
  numbers either way).
- Autocast never keeps its cast cache during a step, graphs or not (`bench.trainer.run_train_step`):
  a cached bf16 copy of a weight would outlive an optimizer step inside the same `train_step`
  (the discriminator scored again after its update), and a graph cannot hold the cache anyway.

Results equal an eager run's: a graph replays exactly the kernels the eager step launches.
`python -m bench.perf.gpu_check` checks that on a GPU: every trainable model trained 12 steps
eager and graphed from the same state (one eager warm-up step per key), then the timings.

On the CPU and MPS nothing is captured (eager steps); the trainer goes through the same code.
Tests replace the CUDA graph by `ReplayedClosure`, which replays a captured step by calling it
again with the Python values it was captured with: a model whose step used a host value that
its key does not declare gives different numbers, on the CPU.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from typing import Callable, Optional

import torch

WARMUP = 3  # eager steps per key before capture (PyTorch's advice: a few, on a side stream)


class CudaStepGraph:
    """One captured step (`torch.cuda.CUDAGraph`)."""

    def __init__(self, step_fn: Callable[[], dict], generator: Optional[torch.Generator], stream):
        self.graph = torch.cuda.CUDAGraph()
        register = getattr(self.graph, "register_generator_state", None)
        if register is not None and generator is not None and generator.device.type == "cuda":
            with warnings.catch_warnings():  # needed up to torch 2.13; a deprecated no-op from 2.14
                warnings.simplefilter("ignore")
                register(generator)
        with torch.cuda.graph(self.graph, stream=stream, capture_error_mode="thread_local"):
            self.outputs = step_fn()

    def replay(self) -> dict:
        self.graph.replay()
        return self.outputs


class ReplayedClosure:
    """A stand-in for a CUDA graph on the CPU (tests): capture keeps the closure, replay calls
    it and writes its losses into the same output tensors, as a replayed graph would."""

    def __init__(self, step_fn: Callable[[], dict], generator=None, stream=None):
        self.step_fn, self.outputs = step_fn, None

    def replay(self) -> dict:
        losses = self.step_fn()
        if self.outputs is None:
            self.outputs = {k: v.detach().clone() for k, v in losses.items()}
        else:
            for k, v in losses.items():
                self.outputs[k].copy_(v)
        return self.outputs


def make_capturable(optimizers: dict) -> None:
    """Let the optimizers' steps run inside a CUDA graph (their step counts stay on the device).
    Fused Adam computes the same numbers either way. Call it after loading a checkpoint: loading
    an optimizer's state replaces its param groups, flag included."""
    for opt in optimizers.values():
        if "capturable" in opt.defaults:
            for group in opt.param_groups:
                group["capturable"] = True


class StepGraphs:
    """The captured steps of one run, by key; `run(key, step_fn)` runs a step."""

    def __init__(self, device: torch.device, enabled: bool, generator=None, graph_class=None, warmup: int = WARMUP):
        self.graph_class = graph_class or (CudaStepGraph if device.type == "cuda" else None)
        self.enabled = bool(enabled) and self.graph_class is not None
        self.generator, self.warmup = generator, warmup
        self.device = device
        # on CUDA each run has its own stream, graphs or not: lanes (`bench run --lanes`) overlap
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self.graphs: dict = {}
        self.eager_steps: Counter = Counter()

    def stream_context(self):
        """The stream the run's steps go on (its own on CUDA)."""
        if self.stream is None:
            return contextlib.nullcontext()
        return torch.cuda.stream(self.stream)

    def start(self) -> None:
        """Before the first step: the run's stream waits for the work queued before (the data)."""
        if self.stream is not None:
            self.stream.wait_stream(torch.cuda.current_stream(self.device))

    def finish(self) -> None:
        """After the last step: work queued later on the default stream (scoring) waits for the run."""
        if self.stream is not None:
            torch.cuda.current_stream(self.device).wait_stream(self.stream)

    def run(self, key, step_fn: Callable[[], dict]) -> dict:
        if not self.enabled:
            return step_fn()
        graph = self.graphs.get(key)
        if graph is None:
            if self.eager_steps[key] < self.warmup:
                self.eager_steps[key] += 1
                with warnings.catch_warnings():  # "capturable=True but step() is running without graph capture"
                    warnings.filterwarnings("ignore", message=".*capturable.*")
                    return step_fn()
            # each graph its own memory pool: graphs of different keys replay in any order
            graph = self.graph_class(step_fn, self.generator, self.stream)
            self.graphs[key] = graph
        return graph.replay()

    def captured(self) -> int:
        return len(self.graphs)
