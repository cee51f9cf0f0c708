"""`bench run --executor ray`: the runs of a sweep as Ray tasks, over the GPUs of a machine or a
cluster (https://docs.ray.io; an optional extra: `pip install -e ".[ray]"`).

The driver (the `bench run` process) has checked the names, overrides, budget, output folders
and data (`bench.runner.run_benchmark` before it calls `ray_results`), then:

- skips runs already finished with this configuration (their rows are read from disk);
- submits each remaining run, or each group of `--lanes` runs, as one task with its share of a
  GPU (`--gpus-per-run`: Ray packs tasks onto GPUs by these fractions and sets
  `CUDA_VISIBLE_DEVICES`) and CPUs (`--cpus-per-run`), retried `max_retries` times when its
  worker or node dies: the retry resumes from the run's `checkpoint.pt`;
- collects the rows the tasks return as they finish; it is the only writer of leaderboard rows.
  `--on-divergence stop` cancels the tasks still pending.

A task runs the same code as `bench run` does locally (`bench.runner.prepare_sweep` and
`Sweep.results`: run-directory lock, resume, atomic writes) and returns its rows. A run
directory whose lock is still held (by a process on a node that died, until its file system
lets the lock go) makes the task wait and try again for up to `lock_wait_seconds`.

Run directories are written under `--out` by whichever node runs the task: for resume across
nodes `--out` (and `--data-dir`, and the cache folder BENCH_CACHE_DIR) must be on a file system
every node sees. Shared caches (the domain classifier, FID reference statistics) are built by
the first task that needs them under a file lock; the others wait for it and read them.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import torch

from bench.errors import BenchError, LockBusy
from bench.progress import progress_bar

LOCK_POLL_SECONDS = 5.0  # how often a task tries a busy run directory again

RAY_EXTRA = (
    "`--executor ray` needs Ray, which is an optional extra of interpbench: install it with "
    "`pip install -e \".[ray]\"` in the checkout (or `pip install ray`), or leave --executor at its default, local."
)


@dataclass(frozen=True)
class RayOptions:
    address: Optional[str] = None  # None: start a Ray instance on this machine; "auto" or HOST:PORT: join one
    gpus_per_run: Optional[float] = None  # a task's share of a GPU; None: 1 on CUDA, 0 otherwise
    cpus_per_run: float = 1.0
    max_retries: int = 3  # retries of a task whose worker or node died
    lock_wait_seconds: float = 600.0


def require_ray():
    try:
        import ray
    except ImportError:
        raise BenchError(RAY_EXTRA) from None
    return ray


def _connect(ray, options: RayOptions) -> bool:
    """Start or join Ray unless this process already did; True when this call started it."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {options.address}" if options.address else "a local Ray instance"
        raise BenchError(f"Could not start or join {where}: {exc}. Check --address (auto, or HOST:PORT of the head node) and that `ray status` works there.") from None
    return True


def _absolute(opts):
    """Options a worker can use from any folder: absolute paths, plug-in files included."""
    from bench.paths import cache_dir

    plugins = tuple(str(Path(p).resolve()) if p.endswith(".py") or os.sep in p else p for p in opts.plugins)
    return replace(
        opts, out_dir=Path(opts.out_dir).resolve(), leaderboard_dir=Path(opts.leaderboard_dir).resolve(),
        cache_dir=Path(opts.cache_dir or cache_dir()).resolve(),  # the driver's, whatever a node's environment says
        data_dir=Path(opts.data_dir).resolve(), plugins=plugins, progress=False, executor="local", ray=None,
        export_samples=Path(opts.export_samples).resolve() if opts.export_samples is not None else None,
    )  # fmt: skip


def groups(indices: list, lanes: int) -> list:
    """The tasks: runs in order, `lanes` per task."""
    return [indices[k : k + lanes] for k in range(0, len(indices), lanes)]


def _gpus(options: RayOptions, device: torch.device, runs: int) -> float:
    per_run = options.gpus_per_run if options.gpus_per_run is not None else (1.0 if device.type == "cuda" else 0.0)
    return min(1.0, per_run * runs)  # one process uses one device


def run_task(prepare_sweep, opts, runs: list, cwd: str, lock_wait_seconds: float, threads: int) -> list:
    """In a worker: train and score `runs` ((model, seed) pairs) as `bench run` would; their rows.

    `prepare_sweep`: `bench.runner.prepare_sweep`, handed over by the driver (this module does
    not import the runner, which imports it). `threads`: the driver's torch thread count. CPU
    results depend on it (reduction order), and Ray gives a task as many threads as CPUs it
    reserved; the driver's count keeps a run's numbers those of `--executor local`."""
    from models import registry

    torch.set_num_threads(threads)
    if os.path.isdir(cwd):  # the driver's folder, where a node has it (paths in `opts` are absolute)
        os.chdir(cwd)
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
    registry.load_plugins(opts.plugins)
    if opts.device.type == "cuda":
        opts = replace(opts, device=torch.device("cuda"))  # the GPU Ray gave this task (CUDA_VISIBLE_DEVICES)
    sweep = prepare_sweep(opts, echo=lambda message: print(message, flush=True))  # data on the task's device
    deadline = time.monotonic() + lock_wait_seconds
    while True:
        try:
            done = dict(sweep.results(runs, lambda message: print(message, flush=True)))
            return [done[k] for k in range(len(runs))]
        except LockBusy as busy:
            if time.monotonic() > deadline:
                raise
            print(f"waiting for a run directory: {busy}", flush=True)
            time.sleep(LOCK_POLL_SECONDS)


def _cause(exc: Exception) -> Exception:
    """The exception raised in the task (a BenchError stays one), not Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


def ray_results(sweep, prepare_sweep, echo, ray=None):
    """(index into `sweep.planned`, row) of every run as it finishes, trained in Ray tasks that
    call `prepare_sweep` (the runner's). Closing the generator cancels the tasks still pending."""
    ray = ray or require_ray()
    sweep = replace(sweep, opts=replace(sweep.opts, out_dir=Path(sweep.opts.out_dir).resolve()))  # rows name run folders as the tasks' do
    opts = sweep.opts
    options = opts.ray or RayOptions()
    pending = []
    for i, (name, seed) in enumerate(sweep.planned):
        row = sweep.reusable_row(name, seed)
        if row is None:
            pending.append(i)
        else:
            echo(f"{name} seed {seed}: {row['status']} run found in {row['run_dir']}; reusing it (--force retrains).")
            yield i, row
    if not pending:
        return
    started = _connect(ray, options)
    wanted = _gpus(options, opts.device, 1)
    resources = getattr(ray, "cluster_resources", lambda: None)()
    if wanted > 0 and resources is not None and resources.get("GPU", 0) < wanted:
        if started:
            ray.shutdown()
        raise BenchError(
            f"Each task asks for {wanted:g} GPU but the Ray cluster has {resources.get('GPU', 0):g}: the tasks would wait forever. "
            "Start Ray where the GPUs are (or pass --address of such a cluster), or train on the CPU with --device cpu."
        )
    task = ray.remote(run_task)
    worker_opts = _absolute(opts)
    tasks = {}
    for group in groups(pending, opts.lanes):
        runs = [sweep.planned[i] for i in group]
        ref = task.options(
            num_cpus=options.cpus_per_run, num_gpus=_gpus(options, opts.device, len(runs)), max_retries=options.max_retries,
        ).remote(prepare_sweep, worker_opts, runs, os.getcwd(), options.lock_wait_seconds, torch.get_num_threads())  # fmt: skip
        tasks[ref] = group
    echo(f"bench run: {len(pending)} run(s) in {len(tasks)} Ray task(s), {len(sweep.planned) - len(pending)} reused.")
    bar = progress_bar(total=len(sweep.planned), initial=len(sweep.planned) - len(pending), desc="runs", enabled=opts.progress)
    try:
        while tasks:
            ready, _ = ray.wait(list(tasks), num_returns=1)
            group = tasks.pop(ready[0])
            try:
                rows = ray.get(ready[0])
            except Exception as exc:
                raise _cause(exc) from None
            for i, row in zip(group, rows):
                name, seed = sweep.planned[i]
                bar.update(1)
                line = f"{name} seed {seed}: {row['status']}, {row.get('steps', 0)} steps, {row.get('wall_seconds', '-')} s"
                bar.write(line) if opts.progress else echo(line)
                yield i, row
    finally:
        for ref in tasks:
            ray.cancel(ref, force=True)
        bar.close()
        if started:
            ray.shutdown()
