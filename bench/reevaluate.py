"""`bench evaluate`: recompute selected metrics on a finished run and merge them into its record.

The run's budget is rebuilt from its config.json (fields a newer suite added take the named
budget's current values, so an old `smoke` run is not suddenly scored with paper-sized samples).
New values replace old ones key by key in metrics.json (written atomically); the leaderboard row
of the run is replaced when a leaderboard folder is given. The run directory's lock is held
meanwhile, so an evaluation and a `bench run` of the same run fail fast instead of interleaving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from bench import data as data_layer
from bench.budgets import budget_from_record
from bench.errors import BenchError
from bench.scoring import ScoringOptions, check_export_target, evaluate, export_samples, metric_context
from bench.result_rows import add_rows
from bench.loading import load_run
from bench.rundir import METRICS_FILE, SAMPLES_DIR, leaderboard_row, lock_run_dir, read_metrics, write_metrics


def reevaluate(run_dir, metric_names: Optional[list], opts: ScoringOptions, encoder: str, echo, leaderboard_dir=None) -> dict:
    """Compute `metric_names` (None: all that apply) for the finished run in `run_dir`;
    returns the new {key: entry}. `opts`: device, data, downloads, pairing, FID requirement, plug-ins."""
    run_dir = Path(run_dir)
    model, record = load_run(run_dir, device=opts.device, plugins=opts.plugins)
    with lock_run_dir(run_dir):  # a `bench run --force` retraining this run must not interleave
        return _reevaluate_locked(run_dir, model, record, metric_names, opts, encoder, echo, leaderboard_dir)


def _reevaluate_locked(run_dir: Path, model, record: dict, metric_names, opts, encoder: str, echo, leaderboard_dir) -> dict:

    metrics_path = run_dir / METRICS_FILE
    if not metrics_path.is_file():
        raise BenchError(f"{metrics_path} is missing; `bench evaluate` needs a finished run written by `bench run`.")
    payload = read_metrics(run_dir)
    budget = budget_from_record(record)
    pair = data_layer.get_pair(record["pair"])
    train_data, novel_data = data_layer.load_pair(pair, opts.data_dir, download=opts.download, max_train=budget.training.max_train, max_test=budget.evaluation.eval_images)
    ctx = metric_context(model, pair, train_data, novel_data, budget, record["seed"], opts, run_dir / SAMPLES_DIR, echo, encoder=encoder)
    if opts.export_samples is not None:
        check_export_target(opts.export_samples)  # before minutes of scoring
    new, skipped = evaluate(ctx, metric_names)
    payload["metrics"] = {**payload.get("metrics", {}), **new}
    produced = {entry["metric"] for entry in new.values()}
    still_skipped = {k: v for k, v in payload.get("skipped_metrics", {}).items() if k not in produced}
    payload["skipped_metrics"] = {**still_skipped, **skipped}
    write_metrics(run_dir, payload)
    if opts.export_samples is not None:
        export_samples(ctx, opts.export_samples, echo)
    if leaderboard_dir is not None:
        add_rows(Path(leaderboard_dir) / f"{pair.name}.csv", [leaderboard_row(record, payload, run_dir)])
    return new
