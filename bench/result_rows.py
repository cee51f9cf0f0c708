"""Leaderboard CSVs: one row per (model, seed, budget, config hash), added under a file lock.

Two `bench run` processes may finish at the same time; the read-modify-write is serialized with
an exclusive lock on a side file, and the CSV itself is replaced atomically, so no row is lost
and no reader sees a half-written file. A rerun of the same configuration replaces its row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.atomic import atomic_path, file_lock

KEY = ["model", "seed", "budget", "config_hash"]
LEADING = ["pair", "model", "seed", "budget", "status"]
TRAILING = ["model_revision", "metric_revisions", "data_revisions", "subset_revisions", "steps", "train_seconds", "config_hash", "code_version", "device", "run_dir", "finished_at"]


def locked(path: Path):
    return file_lock(path.with_name(path.name + ".lock"), f"the leaderboard {path}", "Pass a writable --leaderboard-dir.")


def _ordered_columns(columns) -> list:
    middle = sorted(c for c in columns if c not in LEADING and c not in TRAILING)
    return [c for c in LEADING if c in columns] + middle + [c for c in TRAILING if c in columns]


def add_rows(path, rows: list) -> pd.DataFrame:
    """Add (or replace, by KEY) `rows` in the CSV at `path`; returns the whole table."""
    path = Path(path)
    new = pd.DataFrame(rows)
    with locked(path):
        if path.exists():
            old = pd.read_csv(path)
            merged = pd.concat([old, new], ignore_index=True)
        else:
            merged = new
        for col in ("seed",):
            merged[col] = merged[col].astype(int)
        merged = merged.astype({"config_hash": str}).drop_duplicates(subset=KEY, keep="last")
        merged = merged.sort_values(["budget", "model", "seed"], kind="stable")
        merged = merged[_ordered_columns(list(merged.columns))]
        with atomic_path(path, suffix=".csv") as tmp:
            merged.to_csv(tmp, index=False, float_format="%.6g")
    return merged
