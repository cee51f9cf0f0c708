"""Scan a runs folder into one record per run directory, and the runs table (runs.csv).

A run directory is `<runs>/<pair>/<model>/seed<k>/` as `bench run` writes it. Its status:
- the `status` recorded in metrics.json: "finished", "diverged", or any other value a future
  runner records (e.g. "failed"), kept verbatim;
- "incomplete" when config.json is there but metrics.json is not (the run is still training or
  was interrupted; a checkpoint.pt says how far it got).
Folders holding neither file (a run that has not written its record yet) are not runs. Runs are
never dropped for their status: every one is a row of runs.csv. A metrics.json or config.json
that cannot be read is an error naming the file, since silently leaving it out would misreport
the seed count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from bench import data as data_layer
from bench.rundir import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, parse_seed_dir, read_metrics, read_record
from bench.errors import BenchError
from bench.publish.columns import ordered_metrics
from bench.publish.revisions import model_is_current, revision_label, stale_reason

_REMEDY = "rerun that run (bench run ... --force) or move its folder out of the runs folder."

FINISHED, DIVERGED, INCOMPLETE = "finished", "diverged", "incomplete"
REBUILT_KEY = "rebuilt_from"  # in a metrics.json rebuilt from a published runs.csv (see bench/publish/archive.py)

LEADING = ["pair", "model", "seed", "budget", "status"]
TRAILING = ["revision", "steps", "train_seconds", "wall_seconds", "config_hash", "code_version", "device", "run_dir", "finished_at", "note"]


@dataclass
class Run:
    pair: str
    model: str
    seed: int
    budget: str
    status: str
    run_dir: str  # relative to the runs folder: <pair>/<model>/seed<k>
    record: dict  # config.json
    payload: dict = field(default_factory=dict)  # metrics.json ({} while incomplete)
    note: str = ""
    source_dir: Optional[Path] = field(default=None, compare=False)  # where its files are (a run folder or the records archive)
    superseded: bool = False  # an earlier-revision record that a newer run of the same model and seed replaced

    @property
    def rebuilt(self) -> bool:
        """True for a record rebuilt from an earlier runs.csv: values only, no curves (`details`)."""
        return bool(self.payload.get(REBUILT_KEY))

    @property
    def metrics(self) -> dict:
        entries = self.payload.get("metrics")
        return entries if isinstance(entries, dict) else {}

    def value(self, key: str) -> float:
        """The metric's value as a float (NaN when absent or recorded as null)."""
        entry = self.metrics.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        try:
            return float(value) if value is not None else math.nan
        except (TypeError, ValueError):
            return math.nan

    def details(self, key: str) -> dict:
        entry = self.metrics.get(key)
        details = entry.get("details") if isinstance(entry, dict) else None
        return details if isinstance(details, dict) else {}


def check_runs_dir(runs_dir) -> Path:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise BenchError(
            f"The runs folder {runs_dir} does not exist or is not a folder. Pass --runs DIR, the --out folder of "
            "`bench run` (it holds <pair>/<model>/seed<k>/ run directories)."
        )
    return runs_dir


def pairs_in(runs_dir) -> list:
    """Registered pair names with at least one run directory under `runs_dir` (other folders,
    such as a leaderboard folder or logs, are ignored)."""
    runs_dir = check_runs_dir(runs_dir)
    return sorted(p for p in data_layer.PAIRS if (runs_dir / p).is_dir() and run_dirs(runs_dir / p))


def run_dirs(pair_dir: Path) -> list:
    """(model, seed, seed folder) of every run under `pair_dir` (<model>/seed<k>/ with a record)."""
    found = []
    for model_dir in sorted(p for p in pair_dir.iterdir() if p.is_dir()):
        for seed_dir in sorted(p for p in model_dir.iterdir() if p.is_dir()):
            seed = parse_seed_dir(seed_dir.name)
            if seed is not None and ((seed_dir / CONFIG_FILE).exists() or (seed_dir / METRICS_FILE).exists()):
                found.append((model_dir.name, seed, seed_dir))
    return found


def _budget_name(record: dict) -> str:
    budget = record.get("budget")
    name = budget.get("name") if isinstance(budget, dict) else budget
    return str(name) if name else "unknown"


def read_run(runs_dir: Path, pair: str, model: str, seed: int, seed_dir: Path, run_dir: Optional[str] = None) -> Run:
    """One run's record; run_dir: its path in the runs folder (default: seed_dir relative to runs_dir)."""
    config_path, metrics_path = seed_dir / CONFIG_FILE, seed_dir / METRICS_FILE
    if not config_path.exists():
        raise BenchError(
            f"{seed_dir} has {METRICS_FILE} but no {CONFIG_FILE}, so its budget and configuration are unknown. "
            "Rerun that run (bench run ... --force) or move its folder out of the runs folder."
        )
    record = read_record(seed_dir)
    relative = run_dir if run_dir is not None else seed_dir.relative_to(runs_dir).as_posix()
    common = dict(pair=pair, model=model, seed=seed, budget=_budget_name(record), run_dir=relative, record=record, source_dir=seed_dir)
    if not metrics_path.exists():
        has_checkpoint = (seed_dir / CHECKPOINT_FILE).exists()
        note = "no metrics.json; checkpoint.pt present (training or interrupted)" if has_checkpoint else "no metrics.json yet"
        return Run(status=INCOMPLETE, note=note, **common)
    payload = read_metrics(seed_dir)
    status = payload.get("status")
    if not isinstance(status, str) or not status:
        raise BenchError(f"{metrics_path} records no status. It should be the metrics.json `bench run` writes; rerun that run with --force.")
    note = ""
    if status == DIVERGED:
        note = f"diverged at step {payload.get('diverged_at_step', '?')}"
    elif status != FINISHED:
        note = str(payload.get("error", payload.get("reason", "")))[:200]
    return Run(status=status, payload=payload, note=note, **common)


def scan_pair(runs_dir, pair: str) -> list:
    """Every run of `pair` under `runs_dir`, sorted by (budget, model, seed)."""
    runs_dir = check_runs_dir(runs_dir)
    data_layer.get_pair(pair)  # an unknown pair is an error naming the valid ones
    pair_dir = runs_dir / pair
    if not pair_dir.is_dir():
        raise BenchError(f"No runs of pair {pair!r} under {runs_dir} (no folder {pair_dir}). Run `bench run --pair {pair} --out {runs_dir}` first, or pass the right --runs folder.")
    runs = [read_run(runs_dir, pair, model, seed, seed_dir) for model, seed, seed_dir in run_dirs(pair_dir)]
    if not runs:
        raise BenchError(f"{pair_dir} holds no run directories (<model>/seed<k>/ with config.json). Run `bench run --pair {pair} --out {runs_dir}` first.")
    return sorted(runs, key=lambda r: (r.budget, r.model, r.seed))


def metric_keys(runs) -> list:
    """Every metric key recorded by a finished run, in table order."""
    return ordered_metrics({k for r in runs if r.status == FINISHED for k in r.metrics}, pair=runs[0].pair if runs else None)


def _revision_cell(run) -> str:
    """The runs.csv revision column: 'model r2', with what is older about it ('model r1 (now r2)',
    'data ... (now r2)'), and 'earlier record' for one a rerun replaced."""
    parts = [revision_label(run)]
    if model_is_current(run):
        parts += sorted({stale_reason(run, key) for key in run.metrics} - {""})
    if run.superseded:
        parts.append("earlier record")
    return "; ".join(parts)


def runs_table(runs) -> pd.DataFrame:
    """runs.csv: one row per run, every status, every metric value (empty where not measured)."""
    keys = ordered_metrics({k for r in runs for k in r.metrics}, pair=runs[0].pair if runs else None)
    rows = []
    for r in runs:
        p = r.payload
        rows.append(
            {
                "pair": r.pair, "model": r.model, "seed": r.seed, "budget": r.budget, "status": r.status,
                **{k: r.value(k) for k in keys},
                "revision": _revision_cell(r),
                "steps": p.get("steps", p.get("diverged_at_step")),
                "train_seconds": p.get("train_seconds"),
                "wall_seconds": p.get("wall_seconds"),
                "config_hash": r.record.get("config_hash", ""),
                "code_version": r.record.get("code_version", ""),
                "device": r.record.get("device", ""),
                "run_dir": r.run_dir,
                "finished_at": p.get("finished_at", ""),
                "note": r.note,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=LEADING + keys + TRAILING)
    for col in keys + ["train_seconds", "wall_seconds"]:
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["steps"] = pd.to_numeric(table["steps"], errors="coerce").astype("Int64")
    return table
