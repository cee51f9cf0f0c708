"""`bench recon-matrix`: the AugIntAE paper's Table 1 for any set of finished runs.

Rows are trained runs ("<model> on <training domain>", one per run directory, with the budget it
trained at, since one model and seed can have a run at each budget), columns are every
domain of the same image size whose data is present (synthetic domains always are), cells are the
reconstruction L2 (metrics.reconstruction: 255 * MSE on [0, 1] pixels) on that domain's test split
(at most `max_images` of it: a seeded, label-stratified random subset, `bench.data.load_domain`).
GANs reconstruct through their inversion (network + refinement with the run's budget). Each row
records the model's revision and the revision of the subset rule (`subset_revision`, the
highest of the columns' domains; empty when no split was capped), so that a page shows only
rows of the current revisions (bench/publish/revisions.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
from tqdm.auto import tqdm

from bench import data as data_layer
from bench.atomic import atomic_path
from bench.budgets import budget_from_record
from bench.errors import BenchError
from bench.loading import load_run
from bench.progress import progress_bar
from metrics.reconstruction import reconstruction_l2

MATRIX_ID_COLUMNS = ("run", "model", "seed", "budget", "trained_on", "model_revision", "subset_revision")  # every other column is an evaluation domain


def available_domains(image_shape, data_dir) -> list:
    """Names of the domains with this image shape whose files are present under `data_dir`."""
    names = []
    for spec in data_layer.domains().values():
        if (spec.channels, spec.size, spec.size) != tuple(image_shape):
            continue
        if spec.kind == "synthetic" or spec.is_available(data_dir):
            names.append(spec.name)
    return names


def recon_matrix(run_dirs, data_dir, device, max_images: Optional[int] = 2000, echo=print, progress: bool = True) -> pd.DataFrame:
    """One row per run: its reconstruction L2 on every available domain of its image size; a
    progress bar over runs, since GAN rows invert every image (minutes on a CPU)."""
    loaded = [(Path(d), *load_run(d, device=device)) for d in run_dirs]
    shapes = {tuple(record["image_shape"]) for _, _, record in loaded}
    if len(shapes) > 1:
        raise BenchError(f"The runs have different image shapes ({', '.join(map(str, sorted(shapes)))}); a reconstruction matrix compares runs of one image size.")
    shape = shapes.pop()
    columns = available_domains(shape, data_dir)
    if not columns:
        raise BenchError(f"No domain of image shape {list(shape)} has its data under {data_dir}. Pass --data-dir (see `bench pairs`).")
    test_images = {}
    capped = []
    for name in columns:
        spec = data_layer.get_domain(name)
        test_images[name] = data_layer.load_domain(spec, data_dir, max_train=1, max_test=max_images).test.images
        if max_images is not None and max_images < spec.split_sizes[1]:
            capped.append(spec.subset_revision)
    subset_revision = max(capped) if capped else None
    rows = []
    bar = progress_bar(loaded, desc="recon matrix", unit="run", enabled=progress)
    for run_dir, model, record in bar:
        budget = budget_from_record(record)
        model.configure_evaluation(budget.evaluation.refine_steps)
        pair = data_layer.get_pair(record["pair"])
        trained_on = pair.novel if getattr(type(model), "trains_on", "train") == "novel" else data_layer.get_domain(pair.train).name
        row = {
            "run": str(run_dir), "model": record["model"], "seed": record["seed"], "budget": budget.name, "trained_on": trained_on,
            "model_revision": record.get("model_revision", 1), "subset_revision": subset_revision,
        }  # fmt: skip
        for name in columns:
            row[name] = reconstruction_l2(model, test_images[name])
        with tqdm.external_write_mode():
            echo(f"{record['model']} (trained on {trained_on}): " + ", ".join(f"{n} {row[n]:.2f}" for n in columns))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*MATRIX_ID_COLUMNS, *columns])


def write_table(table: pd.DataFrame, out: Path) -> None:
    with atomic_path(out, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
