"""The run records published with the leaderboards (`<out>/records/`), so that results outlive run folders.

Why: run folders hold checkpoints (hundreds of MB) and stay on the machine that trained them,
while runs.csv keeps each metric's value but not its curves. When the machine behind the
checked-in leaderboards was replaced, a publish could no longer add one run without dropping
every run it did not have. So `bench publish` and `bench leaderboard` also write a runs folder
without checkpoints next to the leaderboards:

    <out>/records/<pair>/<budget>/<model>/seed<k>/config.json, metrics.json   (copied byte for byte)
    <out>/records/<pair>/<budget>/<model>/seed<k>/earlier/<revision>/...       (results of an earlier revision)
    <out>/records/<pair>/recon_matrix.csv                                     (the pair's Table 1 rows, every budget)

The budget is a level of its own because one model and seed can have a result at each budget
(`bench run --budget paper` on a GPU next to the `quick` runs made on a CPU; the runner keeps
them in separate --out folders). Every run with a metrics.json is recorded (finished, diverged,
failed; an incomplete run is not a result yet). Each publish reads the runs folder *and* these
records. A run in the runs folder replaces the record of the same budget, model and seed once it
has a metrics.json; when the two differ in model or data revision (`bench/publish/revisions.py`)
the older one is kept under `earlier/<revision>/` and listed on the page apart from the current
results, so a rerun after a model's revision never erases what the earlier model scored. A record
whose run folder is gone stays published. Recon-matrix rows merge
the same way, keyed by budget, model, seed and training domain. To withdraw a result, delete its
record folder (and its recon-matrix row). `bench publish --runs
<out>/records` regenerates the leaderboards from a clone; image grids still need checkpoints.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Optional

import pandas as pd

from bench.errors import BenchError
from bench import data as data_layer
from bench.publish.collect import INCOMPLETE, pairs_in, read_run, run_dirs, scan_pair
from bench.publish.revisions import revision_rank, revision_tag
from bench.rundir import CONFIG_FILE, METRICS_FILE, relative_run_dir, seed_dir_name

RECORDS_DIR = "records"
EARLIER_DIR = "earlier"  # <seed>/earlier/<revision>/: a record that a run of a newer revision replaced
RECON_MATRIX_FILE = "recon_matrix.csv"  # `bench recon-matrix ... --out <runs>/<pair>/recon_matrix.csv`
_MATRIX_KEY = ("budget", "model", "seed", "trained_on")


def records_dir(out_dir) -> Path:
    return Path(out_dir) / RECORDS_DIR


def _pairs_under(folder: Path) -> list:
    return pairs_in(folder) if folder.is_dir() else []


def _budget_dirs(archive: Path, pair: str) -> list:
    """The pair's budget folders in `archive`; every reader of records lists them here, so records in
    the layout before the budget level (<pair>/<model>/seed<k>) are refused here rather than skipped."""
    pair_dir = archive / pair
    if not pair_dir.is_dir():
        return []
    old = run_dirs(pair_dir)
    if old:
        model, seed, _ = old[0]
        raise BenchError(
            f"{pair_dir} holds records in the layout before budgets were a folder level ({pair}/{model}/seed{seed}, "
            f"{len(old)} in all), which this version would not read. Move each <model> folder under the budget its "
            f"config.json names, e.g. {pair_dir / 'quick' / model}, then publish again."
        )
    return sorted(p for p in pair_dir.iterdir() if p.is_dir())


def recorded_pairs(archive: Path) -> list:
    """Registered pairs with at least one record under `archive` (<pair>/<budget>/<model>/seed<k>)."""
    return sorted(p for p in data_layer.PAIRS if any(run_dirs(b) for b in _budget_dirs(archive, p)))


def read_records(archive: Path, pair: str) -> list:
    """Every record of `pair`, its earlier-revision ones (`superseded`) included; run_dir is where
    each run lived in its runs folder (<pair>/<model>/seed<k>)."""
    found = []
    for budget_dir in _budget_dirs(archive, pair):
        for model, seed, seed_dir in run_dirs(budget_dir):
            run_dir = relative_run_dir(pair, model, seed)
            found.append(read_run(archive, pair, model, seed, seed_dir, run_dir=run_dir))
            earlier = seed_dir / EARLIER_DIR
            for tag_dir in sorted(p for p in earlier.iterdir() if p.is_dir()) if earlier.is_dir() else []:
                found.append(replace(read_run(archive, pair, model, seed, tag_dir, run_dir=run_dir), superseded=True))
    return found


def is_record(run, out_dir) -> bool:
    """True when the run was read from `<out>/records` (its run folder is not in the runs folder)."""
    return run.source_dir is not None and records_dir(out_dir).resolve() in run.source_dir.resolve().parents


def pairs_to_publish(runs_dir, out_dir) -> list:
    """Every pair with a run folder under `runs_dir` or a record under `<out>/records`."""
    return sorted(set(_pairs_under(Path(runs_dir))) | set(recorded_pairs(records_dir(out_dir))))


def scan(runs_dir, out_dir, pair: str) -> list:
    """The pair's runs from the runs folder plus the records no run there replaces (same budget,
    model and seed), sorted by (budget, model, seed). A replaced record of another revision stays,
    marked `superseded` (and a run folder of an older revision than its record is the superseded
    one). `runs_dir` may be the records folder itself (publishing from a clone). With neither runs
    nor records, scan_pair's error names the missing runs."""
    runs_dir, archive = Path(runs_dir), records_dir(out_dir)
    from_archive = archive.resolve() == runs_dir.resolve()
    fresh = scan_pair(runs_dir, pair) if not from_archive and pair in _pairs_under(runs_dir) else []
    records = read_records(archive, pair)
    if not fresh and not records:
        return scan_pair(runs_dir, pair)  # raises: no runs of this pair
    main = {(r.budget, r.model, r.seed): r for r in records if not r.superseded}
    kept = [r for r in records if r.superseded]
    for run in fresh:
        key = (run.budget, run.model, run.seed)
        if run.status == INCOMPLETE:  # not a result yet: listed beside the record it may replace
            kept.append(run)
            continue
        old = main.get(key)
        if old is None:
            main[key] = run
            continue
        newer, older = (old, run) if revision_rank(old) > revision_rank(run) else (run, old)
        main[key] = newer
        if revision_tag(older) != revision_tag(newer):
            same = (older.budget, older.model, older.seed, revision_tag(older))
            kept = [k for k in kept if not (k.superseded and (k.budget, k.model, k.seed, revision_tag(k)) == same)]
            kept.append(replace(older, superseded=True))
    return sorted(list(main.values()) + kept, key=lambda r: (r.budget, r.model, r.seed, r.superseded, r.status))


def write_records(runs, pair_records: Path) -> None:
    """Copy config.json and metrics.json of every run with a result into
    `pair_records`/<budget>/<model>/seed<k> (earlier-revision ones into its earlier/<revision>/)."""
    for r in runs:
        if r.status == INCOMPLETE:
            continue
        target = pair_records / r.budget / r.model / seed_dir_name(r.seed)
        if r.superseded:
            target = target / EARLIER_DIR / revision_tag(r)
        target.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_FILE, METRICS_FILE):
            shutil.copyfile(r.source_dir / name, target / name)


def read_recon_matrix(path: Path, as_text: bool = False) -> Optional[pd.DataFrame]:
    """The CSV `bench recon-matrix` writes, or None when absent; `as_text` keeps every cell as
    written, so merging never reformats a number."""
    if not path.is_file():
        return None
    options = dict(dtype=str, keep_default_na=False) if as_text else {}
    try:
        table = pd.read_csv(path, **options)
    except (OSError, ValueError) as exc:
        raise BenchError(f"Cannot read {path}: {' '.join(str(exc).split())[:200]}. It should be the CSV `bench recon-matrix` writes; rewrite or remove it.") from None
    missing = {"model", "trained_on"} - set(table.columns)
    if missing:
        raise BenchError(f"{path} has no column {', '.join(sorted(missing))}; it is not a `bench recon-matrix` CSV. Rewrite it with `bench recon-matrix ... --out {path}` or remove it.")
    if "budget" not in table.columns:
        raise BenchError(
            f"{path} has no budget column: `bench recon-matrix` wrote it before its rows named the budget their run "
            f"trained at, so a row could not be told from one of the same model and seed at another budget. Rewrite it "
            f"with `bench recon-matrix ... --out {path}`, or add a column `budget` holding each row's budget (the "
            f"budget name in the run's config.json, e.g. quick)."
        )
    return table


def merge_recon_matrix(runs_dir, out_dir, pair: str, target: Path) -> bool:
    """Write `target`: the runs folder's recon-matrix rows, then the recorded rows of runs they do
    not cover (same budget, model, seed and training domain), sorted; False when neither has any."""
    fresh = read_recon_matrix(Path(runs_dir) / pair / RECON_MATRIX_FILE, as_text=True)
    recorded = read_recon_matrix(records_dir(out_dir) / pair / RECON_MATRIX_FILE, as_text=True)
    tables = [t for t in (fresh, recorded) if t is not None]
    if not tables:
        return False
    merged = pd.concat(tables, ignore_index=True).fillna("")
    key = [c for c in _MATRIX_KEY if c in merged.columns]
    merged = merged.drop_duplicates(subset=key, keep="first")
    seed_order = pd.to_numeric(merged["seed"], errors="coerce") if "seed" in merged.columns else None
    merged = merged.assign(_seed=seed_order).sort_values([c if c != "seed" else "_seed" for c in key], kind="stable").drop(columns="_seed")
    target.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(target, index=False, lineterminator="\n")
    return True
