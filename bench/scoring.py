"""Scores a trained model (for `bench run` and `bench evaluate`): runs every registered metric that
applies and records each with its protocol, revisions and time.

Each entry of `metrics.json["metrics"]` is {"value", "protocol", "seconds", "metric", "revision"
[, "details"]}: `metric` names the registered metric that produced the key, `revision` its
revision (records without one are revision 1) and `seconds` is that metric's compute
time (shared images, such as the FID sample set, are charged to the first metric that needs them).
A metric that cannot run here is listed under `metrics.json["skipped"]` with the reason, after one
warning; the other metrics still run. Leaderboards keep the value under the key's name.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch


from bench import data as data_layer
from bench.paths import cache_dir as default_cache_dir
from bench.progress import progress_bar
from metrics.base import ORACLE_SUFFIX, MetricContext, MetricSkipped, all_metrics, get_metrics


def evaluate(ctx: MetricContext, names: Optional[list] = None) -> tuple:
    """(metrics, skipped): {key: entry} for every metric in `names` (default: all registered)
    that applies to this run, and {metric: reason} for those skipped."""
    requested = names is not None
    specs = get_metrics(names) if requested else list(all_metrics().values())
    ctx.model.configure_evaluation(ctx.evaluation.refine_steps)
    provenance = {"data_revisions": data_layer.data_revisions(ctx.pair)}
    if ctx.budget.caps_a_split:  # capped splits: how they were drawn
        provenance["subset_revisions"] = data_layer.subset_revisions(ctx.pair)
    suffix = ORACLE_SUFFIX if ctx.encoder == "oracle" else ""
    results, skipped = {}, {}
    bar = progress_bar(specs, desc=f"{ctx.model.name} metrics", enabled=ctx.progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        if not spec.applies(ctx):
            if requested:
                skipped[spec.name] = f"does not apply to pair {ctx.pair.name} or model {ctx.model.name}"
            continue
        start = time.perf_counter()
        try:
            values = spec.fn(ctx)
        except MetricSkipped as exc:
            ctx.warn(f"Warning: metric {spec.name} skipped: {exc}")
            skipped[spec.name] = str(exc)
            continue
        seconds = round(time.perf_counter() - start, 4)
        undeclared = sorted(set(values) - set(spec.keys))
        if undeclared:
            raise ValueError(f"metric {spec.name!r} returned keys {undeclared} that it does not declare; add them to register_metric(keys=...)")
        for key, value in values.items():
            entry = value.to_dict()
            if not math.isfinite(entry["value"]):  # undefined (e.g. every path constant): JSON null
                entry["value"] = None
            entry["protocol"] = {**entry["protocol"], "seed": ctx.seed, "budget": ctx.budget.name}
            results[key + suffix] = {**entry, "metric": spec.name, "revision": spec.revision, **provenance, "seconds": seconds}
    return results, skipped


@dataclass(kw_only=True)
class ScoringOptions:
    """How runs are scored: what `bench evaluate` takes, and `bench run` too (RunOptions extends it)."""

    device: torch.device = torch.device("cpu")
    data_dir: Optional[Path] = None
    cache_dir: Optional[Path] = None  # None: bench.paths.cache_dir()
    pairing: str = "same-class"  # FID interpolation pairs: "same-class" or "any"
    require_fid: bool = False
    progress: bool = True
    download: bool = False  # fetch missing datasets and FID weights (yes unless offline)
    plugins: tuple = ()  # plug-in modules for loading a finished run of a plug-in model
    export_samples: Optional[Path] = None  # write the scored images here (metrics/export.py)


def check_export_target(out_dir) -> None:
    """Refuse an --export-samples folder that holds files, before any work."""
    from metrics.export import check_target

    check_target(out_dir)


def export_samples(ctx, out_dir, echo) -> None:
    """The images the run's image metrics scored, as PNGs with an index (metrics/export.py);
    called after the scores are saved, so a failure here loses none of them."""
    from metrics.base import MetricSkipped
    from metrics.export import export_scored_images

    try:
        echo(f"Scored images exported to {export_scored_images(ctx, out_dir)}")
    except MetricSkipped as exc:
        echo(f"No scored images to export to {out_dir}: {exc}")


def metric_context(model, pair, train_data, novel_data, budget, seed, opts: ScoringOptions, artifacts_dir, echo, encoder="model") -> MetricContext:
    return MetricContext(
        model=model,
        pair=pair,
        train_domain=train_data,
        novel_domain=novel_data,
        budget=budget,
        seed=seed,
        cache_dir=Path(opts.cache_dir) if opts.cache_dir else default_cache_dir(),
        encoder=encoder,
        pairing=opts.pairing,
        require_fid=opts.require_fid,
        artifacts_dir=Path(artifacts_dir) if artifacts_dir else None,
        warn=echo,
        progress=opts.progress,
        offline=not opts.download,
    )
