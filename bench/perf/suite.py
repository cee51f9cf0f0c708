"""`bench perf`: which figures run, at what sizes, and the CSV they end up in.

Sizes are per device class. The CPU sizes keep the whole run within ~10 minutes on a 2-core
machine (few steps per timed call, 16 Inception images, one timing of each Fréchet route: at
2048-d each takes tens of seconds there, scipy's up to two minutes); the CUDA sizes are long enough for
GPU timings to settle; `--quick` runs every figure at toy sizes in seconds (for tests: its
figures exercise the code paths and are not meaningful). Default models: `ae` and `augintae` on
a CPU, every trainable model on a GPU.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from tqdm.auto import tqdm

from bench.errors import BenchError
from bench.perf import figures, graph_figures, report
from bench.perf.training import TrainingSetup, trainable_model_names, training_figure

CPU_MODELS = "ae,augintae"


@dataclass(frozen=True)
class Sizes:
    aug_images: int  # engine images per timed call
    aug_reference_images: int  # reference-pipeline images per timed call
    aug_batch: int
    aug_reps: int
    train_batches: tuple
    train_steps: int  # trainer-path steps per timed call
    train_reference_steps: int  # reference-fed steps per timed call
    train_reps: int
    inception_images: int
    inception_single_images: int
    inception_reps: int
    frechet_dim: int
    frechet_reps: int  # each call is tens of seconds at 2048-d on a small CPU
    loader_workers: int  # reference DataLoader workers


CPU = Sizes(
    aug_images=1024, aug_reference_images=512, aug_batch=256, aug_reps=7,
    train_batches=(64, 256), train_steps=2, train_reference_steps=2, train_reps=3,
    inception_images=16, inception_single_images=4, inception_reps=3, frechet_dim=2048, frechet_reps=1,
    loader_workers=0,
)  # fmt: skip
# On a GPU the reference loader gets worker processes, as an eager pipeline would use.
CUDA = Sizes(
    aug_images=65536, aug_reference_images=4096, aug_batch=256, aug_reps=7,
    train_batches=(64, 256), train_steps=40, train_reference_steps=5, train_reps=5,
    inception_images=1000, inception_single_images=50, inception_reps=5, frechet_dim=2048, frechet_reps=5,
    loader_workers=max(0, min(8, (os.cpu_count() or 1) - 1)),
)  # fmt: skip
QUICK = Sizes(
    aug_images=64, aug_reference_images=32, aug_batch=32, aug_reps=3,
    train_batches=(8, 16), train_steps=1, train_reference_steps=1, train_reps=2,
    inception_images=2, inception_single_images=1, inception_reps=3, frechet_dim=64, frechet_reps=3,
    loader_workers=0,
)  # fmt: skip

# The GPU check's sizes (bench/perf/gpu_check.py): every figure of a GPU in one device call.
CHECK = Sizes(
    aug_images=16384, aug_reference_images=1024, aug_batch=256, aug_reps=3,
    train_batches=(64, 256), train_steps=20, train_reference_steps=3, train_reps=3,
    inception_images=500, inception_single_images=20, inception_reps=3, frechet_dim=2048, frechet_reps=3,
    loader_workers=max(0, min(8, (os.cpu_count() or 1) - 1)),
)  # fmt: skip


@dataclass(frozen=True)
class PerfOptions:
    device: torch.device
    models: Optional[str] = None  # None: CPU_MODELS on a CPU, every trainable model on CUDA
    out: Path = Path("leaderboards/perf.csv")
    quick: bool = False
    compile: bool = False
    precision: str = "auto"
    channels_last: bool = False
    threads: Optional[int] = None  # torch intra-op threads; None: torch's default
    graphs: bool = True  # on CUDA: training steps replayed as graphs, and the graph/lanes/bf16 figures
    sizes: Optional[Sizes] = None  # None: by device and `quick`


def sizes_for(device: torch.device, quick: bool) -> Sizes:
    if quick:
        return QUICK
    return CUDA if device.type == "cuda" else CPU


def check_out_path(path: Path) -> None:
    """Refuse an unusable --out before minutes of measuring."""
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"--out {path} is a folder; give the CSV file to write, such as leaderboards/perf.csv.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"Cannot write {path}: {exc.strerror or exc}. Choose a folder you can write to.") from None
    if not os.access(path.parent, os.W_OK):
        raise BenchError(f"Cannot write {path}: its folder is not writable. Choose a folder you can write to.")


def plan(opts: PerfOptions) -> list:
    """(name, zero-argument function returning a Figure) for every figure, in run order."""
    sizes = opts.sizes or sizes_for(opts.device, opts.quick)
    spec = opts.models or ("all" if opts.device.type == "cuda" else CPU_MODELS)
    names = trainable_model_names(spec)
    setup = TrainingSetup(
        sizes.train_steps, sizes.train_reference_steps, sizes.train_reps, sizes.loader_workers,
        opts.precision, opts.compile, opts.channels_last, opts.graphs,
    )  # fmt: skip
    images = figures.random_images(max(sizes.train_batches) * max(sizes.train_steps, 2))
    device = opts.device
    tasks = [
        ("augment/triplets", lambda: figures.augmentation_figure(
            device, sizes.aug_images, sizes.aug_reference_images, sizes.aug_batch, sizes.loader_workers, sizes.aug_reps)),
    ]  # fmt: skip
    for name in names:
        for batch in sizes.train_batches:
            tasks.append((f"train/{name}/b{batch}", lambda name=name, batch=batch: training_figure(name, batch, images, device, setup)))
    if device.type == "cuda" and opts.graphs and not opts.compile:
        tasks.extend(_gpu_throughput_tasks(names, sizes, images, device, setup))
    tasks.append((figures.INCEPTION_FIGURE, lambda: figures.inception_figure(device, sizes.inception_images, sizes.inception_single_images, sizes.inception_reps)))
    tasks.append(("fid/frechet_distance", lambda: figures.frechet_figure(device, sizes.frechet_dim, sizes.frechet_reps)))
    return tasks


def _gpu_throughput_tasks(names: list, sizes: Sizes, images: torch.Tensor, device: torch.device, setup: TrainingSetup) -> list:
    """The CUDA-graph figures (bench/perf/graph_figures.py): graphed vs eager per model and batch,
    lanes and bf16 vs TF32 for augintae and ae (the paper's model and the cheapest step)."""
    on_device = images.to(device)
    tasks = []
    for name in names:
        for batch in sizes.train_batches:
            tasks.append((f"graphs/{name}/b{batch}", lambda name=name, batch=batch: graph_figures.graphs_figure(name, batch, on_device, device, setup)))
    batch = min(sizes.train_batches)
    for name in [n for n in ("augintae", "ae") if n in names]:
        for lanes in graph_figures.LANES:
            tasks.append((f"lanes/{name}/x{lanes}", lambda name=name, lanes=lanes: graph_figures.lanes_figure(name, lanes, batch, on_device, device, setup)))
        tasks.append((f"bf16/{name}/b{batch}", lambda name=name: graph_figures.precision_figure(name, batch, on_device, device, setup)))
    return tasks


def _line(f: report.Figure) -> str:
    if f.value != f.value:  # NaN: skipped
        return f"{f.figure}: {f.note}"
    return f"{f.figure}: {f.value:.4g} {f.unit} vs {f.baseline:.4g} {f.unit} baseline ({f.speedup:.3g}x)"


def _figure_failed(name: str, exc: Exception, results: list, opts: PerfOptions) -> BenchError:
    """Write the figures measured before `name` (atomically) and say what failed and where they are."""
    detail = (str(exc).splitlines() or [""])[0][:300]
    if results:
        report.write_csv(report.table(results, opts.device), opts.out)
        kept = f"The {len(results)} figures measured before it were written to {opts.out}."
    else:
        kept = f"No figure had been measured, so {opts.out} was not written."
    return BenchError(
        f"bench perf: the figure {name} failed ({type(exc).__name__}: {detail}). {kept} "
        "A library version outside what pyproject.toml allows is a common cause (pytorch-fid 0.3.0 fails with "
        "scipy 1.18 or newer); install the allowed versions and run bench perf again."
    )


def run_perf(opts: PerfOptions, echo: Callable = print):
    """Measure every figure, write the CSV atomically, return the table (a DataFrame)."""
    check_out_path(opts.out)
    tasks = plan(opts)
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    results = []
    with tqdm(tasks, desc="bench perf", unit="figure", leave=False, disable=None) as bar:
        for name, measure in bar:
            bar.set_postfix_str(name, refresh=True)
            try:
                figure = measure()
            except Exception as exc:  # keep the minutes of figures already measured
                raise _figure_failed(name, exc, results, opts) from exc
            results.append(figure)
            if bar.disable:
                echo(_line(figure))
            else:
                bar.write(_line(figure))
            gc.collect()
            if opts.device.type == "cuda":
                torch.cuda.empty_cache()
    frame = report.table(results, opts.device)
    report.write_csv(frame, opts.out)
    return frame
