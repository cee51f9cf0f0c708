"""The Python API: what `bench run`, `bench evaluate` and `bench publish` do, for notebooks and scripts.

Plain values in, plain values out: names and strings for models, pairs, budgets and devices (the
same ones the command line takes), lists of leaderboard rows (dicts) back. Errors are the same
`BenchError` paragraphs the command line prints.

    import bench
    rows = bench.run(models=["ae", "augintae"], pair="omniglot", budget="quick", seeds=[0, 1], data_dir="../shared/data")
    model, record = bench.load_run("runs/omniglot/augintae/seed0")
    values = bench.evaluate("runs/omniglot/augintae/seed0", metrics=["recon"])
    bench.publish_leaderboards("runs", "leaderboards")

`bench.run`, `bench.load_run`, `bench.evaluate` and `bench.publish_leaderboards` are these
functions (importing `bench` alone loads nothing heavy; each loads what it needs when called).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Union

Names = Union[str, Iterable[str]]


def _names(value: Names) -> str:
    return value if isinstance(value, str) else ",".join(value)


def is_offline(offline: Optional[bool] = None) -> bool:
    """An explicit choice, else BENCH_OFFLINE=1 (downloads are on by default)."""
    return os.environ.get("BENCH_OFFLINE") == "1" if offline is None else bool(offline)


def metric_names(spec: Optional[Names]) -> Optional[list]:
    """None for 'all' (or None); otherwise the validated list of metric names (checked against
    the metrics' catalogue, without importing them, where it can be read)."""
    from bench.catalogue import metric_descriptions
    from bench.errors import BenchError

    if spec is None or (isinstance(spec, str) and spec.strip() == "all"):
        return None
    names = [n.strip() for n in _names(spec).split(",") if n.strip()]
    if not names:
        raise BenchError(f"--metrics {spec!r}: give 'all' or a comma-separated list of metric names (see `bench metrics`).")
    known = metric_descriptions()
    if known is None:
        from metrics.base import get_metrics

        get_metrics(names)
    elif any(n not in known for n in names):
        unknown = [n for n in names if n not in known]
        raise BenchError(f"Unknown metric {', '.join(map(repr, unknown))}. Valid metrics: {', '.join(known)}.")
    return names


def run(
    models: Names = "all",
    pair: str = "pole",
    budget: Optional[str] = None,
    seeds: Union[int, Iterable[int]] = (0,),
    device: str = "auto",
    data_dir=None,
    out="runs",
    leaderboard_dir=None,
    overrides: Iterable[str] = (),
    plugins: Iterable[str] = (),
    metrics: Optional[Names] = None,
    force: bool = False,
    offline: Optional[bool] = None,
    progress: bool = True,
    echo=None,
    executor: str = "local",
    address: Optional[str] = None,
    gpus_per_run: Optional[float] = None,
    cpus_per_run: float = 1.0,
    **options,
) -> list:
    """Train and score `models` on `pair`, as `bench run` does; returns the leaderboard rows.

    models: 'all', 'a,b' or a list of names; budget: 'smoke', 'quick', 'paper' or None (the
    device's default); seeds: a list of seeds, or an int N for seeds 0..N-1; overrides: '--set'
    strings ('lr=0.002', 'augintae.k_rate=0'); metrics: None for all that apply, or names;
    offline: never download (default: BENCH_OFFLINE=1); otherwise missing datasets and the FID
    weights are downloaded into data_dir and torch's hub cache on first use.
    executor: "local" (this process) or "ray" (Ray tasks; address, gpus_per_run, cpus_per_run as
    in `bench.ray_executor.RayOptions`). Further options (precision, compile, graphs, lanes,
    pairing, require_fid, on_divergence, tensorboard) as in `bench.runner.RunOptions`. echo: where messages go (default: print, or nowhere without
    progress).

    Names and options are checked before torch is imported, so a typo is refused at once."""
    from bench import data as data_layer
    from bench.budgets import get_budget
    from bench.paths import default_data_dir
    from models import registry

    pair_spec = data_layer.get_pair(pair)
    registry.load_plugins(plugins)
    names = registry.resolve(_names(models))
    if budget is not None:
        get_budget(budget, cuda_available=False)  # an unknown name is refused here, before torch
    chosen_metrics = metric_names(metrics)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    ray_options = _ray_options(executor, address, gpus_per_run, cpus_per_run, device)
    if options.get("precision", "auto") not in PRECISIONS:
        from bench.errors import BenchError

        raise BenchError(f"Unknown precision {options['precision']!r}. Valid precisions: {', '.join(PRECISIONS)}.")

    from bench.devices import choose_device
    from bench.runner import RunOptions, run_benchmark

    chosen = choose_device(device)
    opts = RunOptions(
        models=names,
        pair=pair_spec,
        budget=get_budget(budget, cuda_available=chosen.type == "cuda"),
        seeds=seed_list,
        device=chosen,
        data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
        out_dir=Path(out),
        leaderboard_dir=Path(leaderboard_dir) if leaderboard_dir is not None else Path(out),
        overrides=tuple(overrides),
        download=not is_offline(offline),
        force=force,
        progress=progress,
        metrics=chosen_metrics,
        plugins=tuple(plugins),
        executor=executor,
        ray=ray_options,
        **options,
    )
    if echo is None:
        echo = print if progress else (lambda message: None)
    return run_benchmark(opts, echo=echo)


EXECUTORS = ("local", "ray")


PRECISIONS = ("auto", "bf16", "fp32")


def _ray_options(executor: str, address, gpus_per_run, cpus_per_run, device: str = "auto"):
    """RayOptions for executor "ray" (Ray must be importable), None for "local"."""
    from bench.errors import BenchError

    if executor not in EXECUTORS:
        raise BenchError(f"Unknown executor {executor!r}. Valid executors: {', '.join(EXECUTORS)}.")
    if executor == "local":
        if address is not None or gpus_per_run is not None:
            raise BenchError("--address and --gpus-per-run apply to --executor ray only; add --executor ray, or leave them out.")
        return None
    from bench.ray_executor import RayOptions, require_ray

    require_ray()
    if gpus_per_run is not None and not 0 <= gpus_per_run:
        raise BenchError(f"--gpus-per-run {gpus_per_run}: a task's share of a GPU is 0 or more (0.25 puts four runs on a GPU).")
    if gpus_per_run == 0 and device.startswith("cuda"):
        raise BenchError("--gpus-per-run 0 with --device cuda: Ray would hide every GPU from the tasks. Give each task a share above 0 (0.25 puts four runs on a GPU), or --device cpu.")
    if not cpus_per_run > 0:
        raise BenchError(f"--cpus-per-run {cpus_per_run}: give a positive number of CPUs per task.")
    return RayOptions(address=address, gpus_per_run=gpus_per_run, cpus_per_run=cpus_per_run)


def load_run(path, device: str = "cpu", plugins: Iterable[str] = ()):
    """(model, record): a finished run's model with its weights, in eval mode on `device`, and its
    config.json as a dict."""
    from bench.devices import choose_device
    from bench.loading import load_run as _load_run

    return _load_run(Path(path), device=choose_device(device), plugins=tuple(plugins))


def evaluate(
    path,
    metrics: Optional[Names] = None,
    device: str = "auto",
    data_dir=None,
    pairing: str = "same-class",
    encoder: str = "model",
    require_fid: bool = False,
    plugins: Iterable[str] = (),
    leaderboard_dir=None,
    echo=lambda message: None,
    offline: Optional[bool] = None,
    export_samples=None,
) -> dict:
    """Recompute `metrics` (None: all that apply) on a finished run, as `bench evaluate` does;
    merges them into its metrics.json (and its row in `leaderboard_dir`/<pair>.csv when given)
    and returns {key: entry}. `export_samples`: a new folder for the images the metrics scored."""
    from bench.devices import choose_device
    from bench.paths import default_data_dir
    from bench.reevaluate import reevaluate
    from bench.scoring import ScoringOptions

    names = metric_names(metrics)
    opts = ScoringOptions(
        device=choose_device(device),
        data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
        pairing=pairing,
        require_fid=require_fid,
        plugins=tuple(plugins),
        download=not is_offline(offline),
        progress=False,
        export_samples=Path(export_samples) if export_samples is not None else None,
    )
    return reevaluate(Path(path), names, opts, encoder, echo, Path(leaderboard_dir) if leaderboard_dir is not None else None)


def publish_leaderboards(runs="runs", out="leaderboards") -> list:
    """Write the leaderboards of every pair under `runs` (and `out`'s records), as `bench publish`
    does; returns the paths written."""
    from bench.publish import publish as _publish

    return _publish(Path(runs), Path(out), echo=lambda message: None)
