"""Training throughput of one model: the trainer's data path against a plain eager reference.

Figure: what `bench run` does per step (`bench.trainer`): batches are index draws from one
device-resident uint8 tensor, `TrainBatch` converts them and asks the model's augmentation
engine for the whole batch's triplets in one warp, the step runs under the trainer's precision
policy (`run_train_step`: bf16 autocast on CUDA), losses stay on the device (no host sync per
step), on CUDA each step replayed as a captured CUDA graph (`bench.graphs`, as `bench run`
does; `--no-graphs` times the eager step), optionally with the step compiled (`--compile`) and
the model in channels_last.

Baseline: the same model class (same initial weights) and the same `train_step`, in eager fp32
(PyTorch's default precision flags, so TF32 convolutions on CUDA),
fed by a DataLoader over the same images whose dataset converts and augments one image at a
time with torchvision (`bench.augment_reference`), each batch then copied to the device. This
is the straightforward implementation the suite's design replaces, so the ratio is what that
design buys end to end.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from bench.augment_reference import ReferenceTripletDataset
from bench.budgets import BUDGETS
from bench.perf.measure import alternate
from bench.perf.report import Figure
from bench.graphs import StepGraphs, make_capturable
from bench.trainer import augmentation_engine, autocast_context, compile_train_step, run_train_step, uncompile_train_step
from models import registry
from models.base import TrainBatch

PLANNED_STEPS = 10**6  # models plan their schedule for a long run: timing stays in the main phase


class ReferenceTrainingSet(Dataset):
    """Item i: (x,) or, for augmenting models, (x, A, B, C, alpha), each image computed alone."""

    def __init__(self, images_uint8: torch.Tensor, engine, seed: int = 0):
        self.images = images_uint8
        self.triplets = None if engine is None else ReferenceTripletDataset(images_uint8, engine, seed)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x = self.images[i].float().div(255.0)
        return (x,) if self.triplets is None else (x, *self.triplets[i])


class ReferenceBatch(TrainBatch):
    """A `TrainBatch` whose images and triplet were made by the reference DataLoader."""

    def __init__(self, tensors: list, generator: torch.Generator):
        self.x = tensors[0]
        self._augmenter = None
        self._generator = generator
        self._triplet = tuple(tensors[1:]) if len(tensors) > 1 else None


@dataclass(frozen=True)
class TrainingSetup:
    """How one training figure runs: step counts per timed call, loader workers, options."""

    steps: int
    reference_steps: int
    reps: int
    loader_workers: int
    precision: str = "auto"
    compile: bool = False
    channels_last: bool = False
    graphs: bool = True  # replay captured steps on CUDA, as `bench run` does


def effective_precision(device: torch.device, precision: str) -> str:
    """What the trainer's policy makes of `precision` on `device`."""
    return "bf16" if isinstance(autocast_context(device, precision), torch.autocast) else "fp32"


def trainable_model_names(spec) -> list:
    """Validated names of trainable models (from `--models`); 'all' skips untrainable ones."""
    from bench.errors import BenchError

    names = registry.resolve(spec)
    untrainable = [n for n in names if not registry.get(n).trainable]
    if spec.strip() == "all":
        return [n for n in names if n not in untrainable]
    if untrainable:
        valid = [n for n in registry.names() if registry.get(n).trainable]
        raise BenchError(
            f"{', '.join(untrainable)} {'is' if len(untrainable) == 1 else 'are'} not trained, so there is no "
            f"training step to time. `bench perf --models` takes 'all' or trainable models: {', '.join(valid)}."
        )
    return names


def build_model(name: str, image_shape: tuple, device: torch.device, seed: int, channels_last: bool = False):
    """A registered model with its published defaults, optimizers configured, in train mode."""
    cls = registry.get(name)
    torch.manual_seed(seed)
    model = cls(cls.Config(), image_shape).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.plan_training(PLANNED_STEPS, BUDGETS["paper"].training.inversion_iterations)
    model.optimizers = model.configure_optimizers()
    return model.train()


class TrainerPath:
    """`bench run`'s step loop for timing: batches gathered by a static index from one
    device-resident uint8 tensor (a fresh order per call), the model's own augmentation engine,
    the trainer's precision policy, each step replayed as a CUDA graph when `graphs` (CUDA only),
    on the path's own stream on CUDA (several paths overlap: lanes)."""

    def __init__(self, name: str, images_on_device: torch.Tensor, batch_size: int, device: torch.device, setup: "TrainingSetup", seed: int = 0, graph_class=None):
        self.model = build_model(name, tuple(images_on_device.shape[1:]), device, seed, setup.channels_last)
        self.engine = augmentation_engine(self.model, tuple(images_on_device.shape[1:]))
        self.images, self.batch_size, self.device, self.precision = images_on_device, batch_size, device, setup.precision
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.order = torch.Generator().manual_seed(seed)
        self.graphs = StepGraphs(device, setup.graphs and not setup.compile, self.generator, graph_class)
        if self.graphs.enabled:
            make_capturable(self.model.optimizers)  # as the trainer
        self.graphs.start()
        self.index = torch.empty(batch_size, dtype=torch.long, device=device)
        self.step, self.perm = 0, None

    def steps(self, count: int) -> int:
        """`count` training steps; returns the images they trained on."""
        per_pass = self.images.shape[0] // self.batch_size
        with self.graphs.stream_context():
            for _ in range(count):
                pos = self.step % per_pass
                if pos == 0 or self.perm is None:  # as the trainer: a fresh order per pass
                    self.perm = torch.randperm(self.images.shape[0], generator=self.order).to(self.device)
                self.index.copy_(self.perm[pos * self.batch_size : (pos + 1) * self.batch_size])
                self.graphs.run(self.model.step_phase(self.step), self._step_fn(self.step))
                self.step += 1
        self.graphs.finish()
        return count * self.batch_size

    def _step_fn(self, step: int):
        def step_fn() -> dict:
            batch = TrainBatch(self.images[self.index], self.engine, self.generator)
            return run_train_step(self.model, batch, step, self.device, self.precision)

        return step_fn


def _forever(loader: DataLoader):
    while True:
        yield from loader


def reference_batches(images_uint8: torch.Tensor, engine, batch_size: int, workers: int, device: torch.device):
    """An endless iterator of reference batches (lists of tensors, still on the CPU)."""
    extra = {"persistent_workers": True} if workers > 0 else {}
    loader = DataLoader(
        ReferenceTrainingSet(images_uint8, engine),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        **extra,
    )
    return _forever(loader)


def _try_compile(model, device: torch.device, first_step) -> tuple:
    """(compile column, note): compile `model.train_step` and run one step through it; if that
    fails, go back to the eager step and say why (a CPU without a working compiler, say)."""
    import time

    compile_train_step(model)
    start = time.perf_counter()
    try:
        first_step()
    except Exception as exc:  # any compiler failure: record it, measure eager
        uncompile_train_step(model)
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        return "failed", f"compile failed ({type(exc).__name__}: {reason}); measured eager"
    return "on", f"compiled in {time.perf_counter() - start:.0f} s (not timed)"


def training_figure(name: str, batch_size: int, images_uint8: torch.Tensor, device: torch.device, setup: TrainingSetup, seed: int = 0) -> Figure:
    """Training images/s of `name` at `batch_size`: trainer path vs reference-fed eager fp32."""
    image_shape = tuple(images_uint8.shape[1:])
    if images_uint8.shape[0] < batch_size:
        raise ValueError(f"{images_uint8.shape[0]} images for batches of {batch_size}")
    path = TrainerPath(name, images_uint8.to(device), batch_size, device, setup, seed)
    model = path.model
    reference_model = build_model(name, image_shape, device, seed)
    engine, generator = path.engine, path.generator
    reference_steps = itertools.count()
    trainer_steps = path.steps

    batches = reference_batches(images_uint8, engine, batch_size, setup.loader_workers, device)

    def reference_steps_call() -> int:
        for _ in range(setup.reference_steps):
            tensors = [t.to(device, non_blocking=True) for t in next(batches)]
            # PyTorch's defaults, as a plain script has them (on CUDA: TF32 convolutions, which the
            # trainer's --precision fp32 turns off), so the baseline stays what earlier figures measured
            reference_model.train_step(ReferenceBatch(tensors, generator), next(reference_steps))
        return setup.reference_steps * batch_size

    compiled, notes = "off", []
    if setup.compile:
        compiled, note = _try_compile(model, device, lambda: trainer_steps(1))
        notes.append(note)
    precision = effective_precision(device, setup.precision)
    if setup.precision == "bf16" and precision != "bf16":
        notes.append(f"bf16 autocast is CUDA-only (trainer policy): ran {precision}")
    fig, base = alternate(lambda: trainer_steps(setup.steps), reference_steps_call, setup.reps, device)
    notes.append(f"{setup.steps} / {setup.reference_steps} steps per call")
    if path.graphs.enabled:
        notes.append(f"{path.graphs.captured()} step graph(s) captured (not timed)")
    workers = f"{setup.loader_workers} workers" if setup.loader_workers else "no workers"
    return Figure.from_sides(
        f"train/{name}/b{batch_size}", "images/s", f"same step, eager fp32, reference DataLoader ({workers})",
        fig, base, compile=compiled, precision=precision, channels_last=setup.channels_last,
        graphs="on" if path.graphs.captured() else "off", note="; ".join(notes),
    )  # fmt: skip
