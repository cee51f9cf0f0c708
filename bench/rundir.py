"""The run directory: one module owns its layout, its lock, its record files and its row.

    <out>/<pair>/<model>/seed<k>/
        config.json     what defines the run (model, pair, budget, hyperparameters, revisions, versions)
        metrics.json    status, every metric entry, loss history, times
        model.pt        final weights (trainable models)
        checkpoint.pt   training state while the run trains (removed once it finished)
        losses.csv      the logged losses, written as the run trains (tensorboard/ on request)
        samples/        image grids
        .lock           held by the one process working in the run (bench run, bench evaluate)
    <out>/<pair>.csv    one row per run (`leaderboard_row`, bench/result_rows.py)

The runner, `bench evaluate`, loading a run back and the publisher all use these names and
readers, so a corrupt record is refused the same way everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.atomic import file_lock, write_json
from bench.errors import BenchError

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"
LOSSES_FILE = "losses.csv"
TENSORBOARD_DIR = "tensorboard"
SAMPLES_DIR = "samples"
LOCK_FILE = ".lock"
_SEED_DIR = re.compile(r"^seed(\d+)$")


def seed_dir_name(seed: int) -> str:
    return f"seed{seed}"


def parse_seed_dir(name: str):
    """The seed of a folder named seed<k>, else None."""
    match = _SEED_DIR.match(name)
    return int(match.group(1)) if match else None


def relative_run_dir(pair: str, model: str, seed: int) -> str:
    """<pair>/<model>/seed<k>: where the run lives under its runs folder."""
    return f"{pair}/{model}/{seed_dir_name(seed)}"


def run_dir_for(out_dir, pair: str, model: str, seed: int) -> Path:
    return Path(out_dir) / pair / model / seed_dir_name(seed)


def lock_run_dir(run_dir: Path):
    """Exclusive, non-blocking lock of one run directory for the time a process works in it."""
    return file_lock(
        Path(run_dir) / LOCK_FILE,
        f"the run directory {run_dir}",
        "Pass an --out folder you can write to.",
        busy=(
            f"{run_dir} is in use by another `bench run` or `bench evaluate` ({{holder}}); two processes must not "
            "write the same run. Wait for that one to finish (the same command then reuses its result), or pass another --out folder."
        ),
    )


def write_record(run_dir, record: dict) -> None:
    write_json(Path(run_dir) / CONFIG_FILE, record)


def write_metrics(run_dir, payload: dict) -> None:
    write_json(Path(run_dir) / METRICS_FILE, payload)


_WHAT_IS_A_RUN = "a run directory written by `bench run` (runs/<pair>/<model>/seed<k>/, holding config.json and, for trained models, model.pt)"


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_object(path: Path, remedy: str) -> tuple:
    """(the JSON object in `path`, ['it is not a JSON object'] or []); BenchError when unreadable."""
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchError(f"Cannot read {path}: {_one_line(exc)}. {remedy}") from None
    return (obj, []) if isinstance(obj, dict) else ({}, ["it is not a JSON object"])


def read_record(run_dir) -> dict:
    """config.json of a run directory, checked for the fields `load_run` needs."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise BenchError(f"{run_dir} does not exist. Pass {_WHAT_IS_A_RUN}.")
    if not run_dir.is_dir():
        raise BenchError(f"{run_dir} is a file, not a folder. Pass {_WHAT_IS_A_RUN}.")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise BenchError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}. Pass {_WHAT_IS_A_RUN}.")
    record, problems = _json_object(path, "It should be the JSON file `bench run` writes; rerun that run with --force to rewrite it.")
    if not isinstance(record.get("model"), str):
        problems.append('"model" (a model name) is missing')
    shape = record.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        problems.append('"image_shape" is not a list of three positive integers [C, H, W]')
    if not isinstance(record.get("hyperparameters", {}), dict):
        problems.append('"hyperparameters" is not an object')
    if problems:
        raise BenchError(f"{path} is not a valid run record: {'; '.join(problems)}. Pass {_WHAT_IS_A_RUN}.")
    return record


def read_metrics(run_dir) -> dict:
    """metrics.json of a run directory, checked: a JSON object with a status and, under
    "metrics", entries whose "value" is a number or null. Every command that reads run results
    (`bench run` reusing a run, `bench evaluate`, `bench leaderboard`, `bench publish`) reads them
    here, so a corrupt record is refused the same way everywhere."""
    path = Path(run_dir) / METRICS_FILE
    remedy = "It should be the metrics.json `bench run` writes; rerun that run with --force to rewrite it."
    payload, problems = _json_object(path, remedy)
    if not isinstance(payload.get("status"), str) or not payload.get("status"):
        problems.append('"status" is missing')
    entries = payload.get("metrics", {})
    if not isinstance(entries, dict):
        problems.append('"metrics" is not an object')
        entries = {}
    for key, entry in sorted(entries.items()):
        value = entry.get("value") if isinstance(entry, dict) else entry
        if not isinstance(entry, dict) or not (value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))):
            problems.append(f"metric {key!r} has value {value!r}, not a number or null")
    if problems:
        raise BenchError(f"{path} is not a valid metrics record: {'; '.join(problems[:3])}. {remedy}")
    return payload


def leaderboard_row(record: dict, payload: dict, run_dir: Path) -> dict:
    """The run's row of <out>/<pair>.csv (and of `bench run`'s results table)."""
    diverged = {}
    if payload["status"] == "diverged":
        diverged = {"last_finite_losses": json.dumps(payload.get("last_finite_losses", {}), sort_keys=True)}
    metrics = payload.get("metrics", {})
    return {
        "pair": record["pair"],
        "model": record["model"],
        "seed": record["seed"],
        "budget": record["budget"]["name"],
        "status": payload["status"],
        **headline_values(metrics),
        **diverged,
        "model_revision": record.get("model_revision", 1),
        **revision_columns(metrics),
        "steps": payload.get("steps", payload.get("diverged_at_step", 0)),
        "train_seconds": payload.get("train_seconds", 0.0),
        "config_hash": record["config_hash"],
        "code_version": record["code_version"],
        "device": record["device"],
        "run_dir": str(run_dir),
        "finished_at": payload.get("finished_at", ""),
    }


def headline_values(metrics: dict) -> dict:
    """{metric: value}, in name order (metrics.json is written with sorted keys too)."""
    return {name: metrics[name]["value"] for name in sorted(metrics)}


def revision_columns(metrics: dict) -> dict:
    """The leaderboard-row columns naming what produced the values, as compact JSON:
    metric_revisions ({metric: revision}), data_revisions and subset_revisions ({domain:
    revision}; see bench.data.domain.DomainSpec). Entries recorded before revisions existed
    count as revision 1."""
    found = {"metric_revisions": {}, "data_revisions": {}, "subset_revisions": {}}
    for entry in metrics.values():
        if isinstance(entry, dict) and entry.get("metric"):
            found["metric_revisions"][entry["metric"]] = entry.get("revision", 1)
            found["data_revisions"].update(entry.get("data_revisions") or {})
            found["subset_revisions"].update(entry.get("subset_revisions") or {})
    return {column: json.dumps(values, sort_keys=True, separators=(",", ":")) for column, values in found.items()}
