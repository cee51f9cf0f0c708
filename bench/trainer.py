"""The shared training loop: one loop for every model.

The model owns `train_step` (its losses and optimizer steps). The trainer owns everything
around it: batches drawn by indexing a device-resident uint8 tensor (a fresh permutation per
epoch, no DataLoader), the augmentation engine, bf16 autocast on CUDA, the lr schedule of
non-adversarial models, a progress bar and the run's loss log (`bench/loss_log.py`) fed every
`log_every` steps (no host sync per step), on CUDA each step replayed as a captured graph on the
run's own stream (`bench/graphs.py`; `graphs=False` for eager steps),
divergence detection, and atomic periodic checkpoints from which an interrupted run resumes
with the same result it would have had.

Models must draw their own randomness from `batch.generator` (or the global torch RNG, whose
state is checkpointed too) so that resuming is exact.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from bench.atomic import torch_save
from bench.augment import AugmentationEngine
from bench.budgets import TrainingSchedule
from bench.devices import full_fp32
from bench.errors import BenchError
from bench.graphs import WARMUP, StepGraphs, make_capturable
from bench import randomness
from bench.progress import progress_bar
from models.base import TrainBatch

CHECKPOINT_FORMAT = 1


class Diverged(Exception):
    """A loss or parameter became non-finite."""

    def __init__(self, step: int, losses: dict, last_finite: dict):
        self.step, self.losses, self.last_finite = step, losses, last_finite
        bad = ", ".join(f"{k}={v}" for k, v in losses.items() if not math.isfinite(v)) or "a parameter"
        super().__init__(f"training diverged at step {step}: non-finite {bad}")


@dataclass
class TrainResult:
    steps: int
    seconds: float  # training time of the whole run, earlier interrupted processes included
    resumed_from: int
    history: list = field(default_factory=list)
    resumed_seconds: float = 0.0  # the part of `seconds` read from the checkpoint (0 for a fresh run)


def _unusable(path, exc) -> BenchError:
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return BenchError(
        f"Cannot resume from {path}: the checkpoint is corrupt or incompatible ({type(exc).__name__}: "
        f"{first_line}). Delete it or use --force to train this run from the start."
    )


def read_checkpoint(path, config_hash: str, device="cpu") -> dict:
    """Load a training checkpoint, refusing one that is corrupt or from another configuration."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a format-{CHECKPOINT_FORMAT} interpbench checkpoint")
    except Exception as exc:
        raise _unusable(path, exc) from None
    if ckpt.get("config_hash") != config_hash:
        raise BenchError(
            f"The checkpoint {path} belongs to a run with another configuration (hash "
            f"{ckpt.get('config_hash')}, this run {config_hash}). Use --force to start this run "
            "afresh, or another --out folder."
        )
    return ckpt


def autocast_context(device: torch.device, precision: str):
    """bf16 autocast on CUDA unless fp32 is asked for; full precision elsewhere.

    fp32 on CUDA also turns TF32 off for the step: PyTorch runs cuDNN convolutions in TF32 by
    default, so without this `--precision fp32` would not rule reduced precision out.
    Autocast keeps no cast cache: a cached bf16 copy of a weight would outlive an optimizer step
    taken inside the same `train_step` (a discriminator scored again after its update would score
    with its old weights), and a CUDA graph could not hold the cache anyway.
    """
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=False)
    if device.type == "cuda" and precision == "fp32":
        return full_fp32()
    return contextlib.nullcontext()  # off CUDA; and `bench perf`'s "tf32" (PyTorch's flags as set)


def augmentation_engine(model, image_shape: tuple, padding: str = "zeros") -> Optional[AugmentationEngine]:
    """The engine that builds `model`'s triplets, None when the model uses no augmentation
    (shared with `bench perf`, which times the same data path)."""
    if not model.uses_augmentation:
        return None
    return AugmentationEngine.for_images(tuple(image_shape), families=model.augmentation_families, padding=padding)


def run_train_step(model, batch: TrainBatch, step: int, device: torch.device, precision: str) -> dict:
    """One update of `model` under the trainer's precision policy (shared with `bench perf`)."""
    with autocast_context(device, precision):
        return model.train_step(batch, step)


def compile_train_step(model) -> None:
    """Replace `model.train_step` by its `torch.compile`d version (an instance attribute that
    shadows the method; `uncompile_train_step` removes it). Compilation happens at the first call."""
    torch._dynamo.reset()
    model.train_step = torch.compile(model.train_step)


def uncompile_train_step(model) -> None:
    model.__dict__.pop("train_step", None)


def finish(steps):
    """Run a generator of steps (`Trainer.steps`, a run's steps) to its end; returns its value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _epoch_permutation(n: int, seed: int, epoch: int, device) -> torch.Tensor:
    return torch.randperm(n, generator=randomness.epoch_order_generator(seed, epoch)).to(device)


class Trainer:
    def __init__(
        self,
        model,
        images: torch.Tensor,
        schedule: TrainingSchedule,
        device: torch.device,
        checkpoint_path: Path,
        seed: int,
        config_hash: str,
        precision: str = "auto",
        padding: str = "zeros",
        progress: bool = True,
        desc: str = "",
        compile: bool = False,
        loss_log=None,
        graphs: bool = True,
        graph_class=None,
        graph_warmup: int = WARMUP,
    ):
        self.model = model
        self.images = images
        self.schedule = schedule
        self.device = device
        self.checkpoint_path = Path(checkpoint_path)
        self.seed = seed
        self.config_hash = config_hash
        self.precision = precision
        self.padding = padding
        self.progress = progress
        self.desc = desc
        self.compile = compile  # torch.compile the model's training step (`bench run --compile`)
        self.loss_log = loss_log  # bench.loss_log.LossLog: losses.csv (and TensorBoard) as the run trains
        # replay each step as a CUDA graph (bench/graphs.py; on CUDA only, and not with compile);
        # graph_class: a stand-in for torch.cuda.CUDAGraph (tests, on the CPU)
        self.graphs = graphs and not compile
        self.graph_class, self.graph_warmup = graph_class, graph_warmup
        self.captured_graphs = 0  # how many step graphs the last training captured

    # --- checkpoints ------------------------------------------------------------------------
    def _save(self, step: int, generator: torch.Generator, history: list, elapsed: float) -> None:
        torch_save(
            {
                "format": CHECKPOINT_FORMAT,
                "config_hash": self.config_hash,
                "step": step,
                "state": self.model.training_state(),
                "generator": generator.get_state(),
                "cpu_rng": torch.get_rng_state(),
                "history": history,
                "elapsed": elapsed,
            },
            self.checkpoint_path,
        )

    def _load(self):
        ckpt = read_checkpoint(self.checkpoint_path, self.config_hash, self.device)
        try:
            self.model.load_training_state(ckpt["state"])
        except Exception as exc:
            raise _unusable(self.checkpoint_path, exc) from None
        return ckpt

    # --- the loop -----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train to the end of the schedule (from the checkpoint, when there is one)."""
        return finish(self.steps())

    def steps(self):
        """The loop as a generator: yields after every update, so that several runs' steps can
        be interleaved in one process (`bench run --lanes`); returns the TrainResult."""
        model, schedule, device = self.model, self.schedule, self.device
        n = self.images.shape[0]
        batch_size = min(schedule.batch_size, n)
        steps_per_epoch = max(1, n // batch_size)
        main_steps = schedule.total_steps(n, model.steps_multiplier)
        model.plan_training(main_steps, schedule.inversion_iterations)
        total = main_steps + model.extra_training_steps()
        model.optimizers = model.configure_optimizers()
        base_lrs = {k: [g["lr"] for g in opt.param_groups] for k, opt in model.optimizers.items()}
        generator = randomness.training_generator(self.seed, device)
        engine = augmentation_engine(model, tuple(self.images.shape[1:]), self.padding)

        start, history, elapsed = 0, [], 0.0
        if self.checkpoint_path.exists():
            ckpt = self._load()
            start, history, elapsed = ckpt["step"], list(ckpt["history"]), float(ckpt["elapsed"])
            generator.set_state(ckpt["generator"].cpu())
            torch.set_rng_state(ckpt["cpu_rng"].cpu())
        resumed_from = start
        if start >= total:
            return TrainResult(start, elapsed, resumed_from, history, resumed_seconds=elapsed)

        model.train()
        if self.loss_log is not None:
            self.loss_log.start(history)
        if self.compile:
            compile_train_step(model)
        lr_factor = None
        graphs = StepGraphs(device, self.graphs, generator, self.graph_class, self.graph_warmup)
        if graphs.enabled:
            make_capturable(model.optimizers)  # after the checkpoint's optimizer state is loaded
        graphs.start()
        index = torch.empty(batch_size, dtype=torch.long, device=device)  # the step's static input
        perm, perm_epoch = None, -1
        last_finite: dict = history[-1]["losses"] if history else {}
        t0 = time.perf_counter()
        last_ckpt = t0
        bar = progress_bar(total=total, initial=start, desc=self.desc, enabled=self.progress)
        try:
            for step in range(start, total):
                with graphs.stream_context():
                    epoch, pos = divmod(step, steps_per_epoch)
                    if epoch != perm_epoch:
                        perm, perm_epoch = _epoch_permutation(n, self.seed, epoch, device), epoch
                    index.copy_(perm[pos * batch_size : (pos + 1) * batch_size])
                    if not model.adversarial:
                        factor = schedule.lr_factor(step, main_steps)
                        if factor != lr_factor:
                            lr_factor = factor
                            for key, opt in model.optimizers.items():
                                for group, base in zip(opt.param_groups, base_lrs[key]):
                                    group["lr"] = base * factor
                    step_fn = self._step_function(step, index, engine, generator)
                    losses = graphs.run((model.step_phase(step), lr_factor), step_fn)
                    done = step + 1
                    if done % schedule.log_every == 0 or done == total:
                        values = {k: float(v) for k, v in losses.items()}
                        if not all(math.isfinite(v) for v in values.values()) or not self._params_finite():
                            raise Diverged(done, values, last_finite)
                        last_finite = values
                        history.append({"step": done, "losses": values})
                        if self.loss_log is not None:
                            self.loss_log.log(done, values)
                        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                        bar.update(done - bar.n)
                    now = time.perf_counter()
                    if done < total and (done % schedule.checkpoint_every == 0 or now - last_ckpt > schedule.checkpoint_seconds):
                        self._save(done, generator, history, elapsed + now - t0)
                        last_ckpt = now
                yield done
            with graphs.stream_context():
                seconds = elapsed + time.perf_counter() - t0
                self._save(total, generator, history, seconds)
            self.captured_graphs = graphs.captured()
        finally:
            graphs.finish()  # later work on the default stream waits for this run's stream
            bar.close()
            if self.loss_log is not None:
                self.loss_log.close()
            if self.compile:
                uncompile_train_step(model)
        return TrainResult(total, seconds, resumed_from, history, resumed_seconds=elapsed)

    def _step_function(self, step: int, index: torch.Tensor, engine, generator):
        """The whole update at `step` as a closure over static inputs (`bench/graphs.py`): gather
        the batch at `index`, build it (augmentation included), run the model's step."""

        def step_fn() -> dict:
            batch = TrainBatch(self.images[index], engine, generator)
            return run_train_step(self.model, batch, step, self.device, self.precision)

        return step_fn

    def _params_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in self.model.parameters())
