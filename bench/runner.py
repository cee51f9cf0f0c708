"""`bench run`: train and score each (model, seed) on a pair, record it, add leaderboard rows.

Flow: load the pair once -> for each model and seed: build the model from the registry with its
config -> the trainer runs the budget (resuming an interrupted run) -> metrics -> the run
directory `<out>/<pair>/<model>/seed<k>/` receives config.json, metrics.json, checkpoints (model.pt at the end) and
sample grids -> `<leaderboard-dir>/<pair>.csv` gains the row -> a results table is printed.
A finished (or diverged) run is not retrained or overwritten unless `force` is set. One process
at a time works in a run directory (a non-blocking lock, `.lock`); a second one fails at once.
A diverged run is recorded (status, step, last finite losses) and, with `on_divergence="skip"`,
the remaining runs go on; `"stop"` ends the invocation after recording it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import torch

from bench import data as data_layer
from bench import randomness
from bench.atomic import check_room, ensure_writable_dir, torch_save
from bench.budgets import Budget
from bench.data.pairs import PairSpec
from bench.errors import BenchError
from bench.scoring import ScoringOptions, check_export_target, evaluate, export_samples, metric_context
from bench.grids import write_run_grids
from bench.result_rows import add_rows
from bench.loss_log import LossLog, check_tensorboard
from bench.rundir import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    LOSSES_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SAMPLES_DIR,
    TENSORBOARD_DIR,
    leaderboard_row,
    lock_run_dir,
    read_metrics,
    read_record,
    run_dir_for,
    write_metrics,
    write_record,
)
from bench.memory import peak_rss_mib, reset_peak_rss
from bench.provenance import code_version, config_hash, device_description, library_versions
from bench.lanes import interleave
from bench.trainer import Diverged, Trainer, finish, read_checkpoint
from models import registry
from models.config import apply_overrides, split_overrides


ON_DIVERGENCE = ("skip", "stop")


@dataclass(kw_only=True)
class RunOptions(ScoringOptions):
    """What `bench run` does: ScoringOptions (device, data, scoring) plus the runs and training."""

    models: list[str]  # registered names
    pair: PairSpec  # resolved once, by the caller (bench.api.run checks the name before torch loads)
    budget: Budget
    seeds: list[int]
    out_dir: Path
    leaderboard_dir: Path
    overrides: tuple = ()
    force: bool = False
    precision: str = "auto"
    metrics: Optional[list] = None  # None: every metric that applies
    compile: bool = False  # torch.compile the training steps (not part of the config hash, like precision)
    graphs: bool = True  # replay each training step as a CUDA graph on CUDA (bench/graphs.py; same results)
    on_divergence: str = "skip"  # "skip": record it and go on; "stop": record it and end the invocation
    lanes: int = 1  # runs trained at once in this process, their steps interleaved (bench.lanes)
    tensorboard: bool = False  # also write the logged losses as TensorBoard events (<run>/tensorboard/)
    executor: str = "local"  # "local": this process; "ray": Ray tasks (bench/ray_executor.py)
    ray: Optional[object] = None  # bench.ray_executor.RayOptions when executor == "ray"


def _log(message: str) -> None:
    print(message, flush=True)


def same_domain_oracle_notes(pair, model_names, classes) -> list:
    """One note per oracle model (trained on the novel domain) asked for on a one-domain pair
    such as lines or pole: there it trains on the training domain's images with the same seed, so
    it reproduces its non-oracle counterpart and its (GAN-inversion-heavy) run buys nothing new."""
    if not pair.one_domain:
        return []
    return [
        f"Note: {name} trains on the novel domain, which on {pair.name} is the training domain "
        f"({pair.train}); it will train on the same images as its non-oracle counterpart and, at the "
        "same seed, reproduce its numbers."
        for name in model_names
        if classes[name].trains_on == "novel"
    ]


@dataclass
class Sweep:
    """The runs of one invocation with what they share: model classes and configs, the pair's
    data, the training images on the device, and the options with the budget for these images."""

    opts: RunOptions
    classes: dict
    configs: dict
    train_data: object
    novel_data: object
    images_by_domain: dict
    planned: list  # [(model name, seed)] in run order

    def start(self, name: str, seed: int, echo):
        """A zero-argument function starting the run's step generator (`run_steps`)."""
        images = self.images_by_domain[self.classes[name].trains_on]
        return lambda: run_steps(self.classes[name], self.configs[name], self.opts.pair, self.train_data, self.novel_data, images, seed, self.opts, echo)

    def results(self, runs: list, echo):
        """(index into `runs`, row) of each of `runs` ((name, seed) pairs) as it finishes, up to
        `opts.lanes` trained at once in this process."""
        return interleave([self.start(name, seed, echo) for name, seed in runs], self.opts.lanes)

    def reusable_row(self, name: str, seed: int):
        """The row of a run already finished (or diverged) with this configuration, read without
        locking (the executor's driver skips it), else None."""
        cls = self.classes[name]
        run_dir = run_dir_for(self.opts.out_dir, self.opts.pair.name, name, seed)
        if self.opts.force or not (run_dir / METRICS_FILE).exists():
            return None
        record = _record(cls, self.configs[name], self.opts.pair, self.opts.budget, seed, self.opts, self.train_data.image_shape)
        try:
            previous = read_metrics(run_dir)
            read_record(run_dir)
        except BenchError:
            return None  # the worker's own checks say what is wrong
        if previous.get("config_hash") != record["config_hash"] or previous.get("status") not in ("finished", "diverged"):
            return None
        return leaderboard_row(record, previous, run_dir)


def export_target(opts, model: str, seed: int) -> Path:
    return Path(opts.export_samples) / opts.pair.name / model / f"seed{seed}"


def _check_options(opts: RunOptions) -> None:
    if opts.on_divergence not in ON_DIVERGENCE:
        raise BenchError(f"on_divergence {opts.on_divergence!r}: accepted values are {', '.join(ON_DIVERGENCE)}.")
    if opts.tensorboard:
        check_tensorboard()


def prepare_sweep(opts: RunOptions, echo=_log, to_device: bool = True) -> Sweep:
    """Check the options, load the pair's data and put the training images on the device
    (`to_device=False`: the Ray driver, which trains nothing, leaves them on the CPU)."""
    _check_options(opts)
    pair = opts.pair
    classes = {name: registry.get(name) for name in opts.models}
    routed = split_overrides(list(opts.overrides), opts.models, {n: c.Config for n, c in classes.items()})
    configs = {n: apply_overrides(classes[n].Config, routed[n], model_name=n) for n in opts.models}
    budget = opts.budget
    train_data, novel_data = data_layer.load_pair(
        pair, opts.data_dir, download=opts.download, max_train=budget.training.max_train, max_test=budget.evaluation.eval_images
    )
    device = opts.device if to_device else torch.device("cpu")
    images_by_domain = {"train": train_data.train.images.to(device)}
    if any(classes[n].trains_on == "novel" for n in opts.models):
        images_by_domain["novel"] = novel_data.train.images.to(device)
    opts = replace(opts, budget=budget.for_images(train_data.image_shape))
    planned = [(name, seed) for name in opts.models for seed in opts.seeds]
    return Sweep(opts, classes, configs, train_data, novel_data, images_by_domain, planned)


def run_benchmark(opts: RunOptions, echo=_log) -> list:
    """Train and score every (model, seed); returns the leaderboard rows of this invocation.

    This process is the only writer of the leaderboard: with `executor="ray"` the runs train in
    Ray tasks (bench/ray_executor.py) that return their rows here."""
    _check_options(opts)
    budget, pair = opts.budget, opts.pair
    echo(f"bench run: pair {pair.name} ({pair.train} -> {pair.novel}), budget {budget.name} ({budget.description}), device {device_description(opts.device)}")
    for note in same_domain_oracle_notes(pair, opts.models, {n: registry.get(n) for n in opts.models}):
        echo(note)
    sweep = prepare_sweep(opts, echo, to_device=opts.executor != "ray")
    opts = sweep.opts

    ensure_writable_dir(opts.out_dir, "--out folder")
    ensure_writable_dir(opts.leaderboard_dir, "--leaderboard-dir folder")
    check_room(opts.out_dir, *_planned_bytes(sweep.classes, sweep.configs, sweep.train_data.image_shape, len(opts.seeds)), "--out folder")
    rows = []
    leaderboard = Path(opts.leaderboard_dir) / f"{pair.name}.csv"
    planned = sweep.planned
    if opts.executor == "ray":
        from bench.ray_executor import ray_results

        results = ray_results(sweep, prepare_sweep, echo)
    else:
        results = sweep.results(planned, echo)

    done = set()
    try:
        for i, row in results:
            name, seed = planned[i]
            done.add(i)
            rows.append(row)
            add_rows(leaderboard, [row])
            if row["status"] == "diverged" and opts.on_divergence == "stop":
                echo(format_results(rows))
                not_run = ", ".join(f"{n} seed {s}" for j, (n, s) in enumerate(planned) if j not in done) or "none"
                raise BenchError(
                    f"{name} seed {seed} diverged at step {row['steps']}; --on-divergence stop ends this invocation here. "
                    f"The run is recorded as diverged in {Path(row['run_dir']) / 'metrics.json'} and in {leaderboard}. "
                    f"Not run: {not_run}. Change its hyperparameters (--set) and rerun with --force, or pass "
                    "--on-divergence skip to record divergences and go on with the remaining runs."
                )
    finally:
        results.close()  # stops lanes or cancels Ray tasks still going when this ends early
    echo(format_results(rows))
    echo(f"\nRun directories under {Path(opts.out_dir) / pair.name}; leaderboard rows in {Path(opts.leaderboard_dir) / (pair.name + '.csv')}.")
    return rows


SAMPLES_BYTES = 2 * 2**20  # sample grids and records of one run, generously


def _planned_bytes(classes: dict, configs: dict, image_shape, n_seeds: int) -> tuple:
    """(total, largest): about what the planned runs write under --out. Each trained run keeps
    model.pt (its weights); a training checkpoint (weights plus two Adam moments, about 3x) exists
    while it trains and is the largest file. Models are built on the meta device: no memory."""
    weights = {}
    for name, cls in classes.items():
        if not cls.trainable:
            weights[name] = 0
            continue
        try:
            with torch.device("meta"):
                model = cls(configs[name], image_shape)
        except Exception:  # a model that cannot be built on the meta device: on the CPU
            model = cls(configs[name], image_shape)
        weights[name] = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    largest = int(3.2 * max(weights.values(), default=0))
    total = sum(n_seeds * (w + SAMPLES_BYTES) for w in weights.values()) + largest
    return total, largest


def _record(cls, config, pair, budget, seed, opts, image_shape) -> dict:
    defining = {
        "model": cls.name,
        "pair": pair.name,
        "image_shape": list(image_shape),
        "budget": budget.to_dict(),
        "hyperparameters": config.to_dict(),
    }
    revision = getattr(cls, "revision", 1)
    if revision > 1:  # revision 1 is the suite before revisions existed: its hashes stay as they were
        defining["model_revision"] = revision
    return {
        **defining,
        "model_revision": revision,
        "data_revisions": data_layer.data_revisions(pair),
        **({"subset_revisions": data_layer.subset_revisions(pair)} if budget.caps_a_split else {}),
        "seed": seed,
        "config_hash": config_hash(defining),
        "code_version": code_version(),
        "versions": library_versions(),
        "device": device_description(opts.device),
        "precision": opts.precision,
        "compile": opts.compile,
        "paper": cls.paper,
    }


def run_one(cls, config, pair, train_data, novel_data, train_images, seed, opts, echo) -> dict:
    """Train (or resume, or reuse) and score one run; returns its leaderboard row."""
    return finish(run_steps(cls, config, pair, train_data, novel_data, train_images, seed, opts, echo))


def run_steps(cls, config, pair, train_data, novel_data, train_images, seed, opts, echo):
    """`run_one` as a generator that yields after every training update (lanes interleave
    these) and returns the row; the run directory stays locked until it ends or is closed."""
    run_dir = run_dir_for(opts.out_dir, pair.name, cls.name, seed)
    with lock_run_dir(run_dir):
        return (yield from _run_locked(cls, config, pair, train_data, novel_data, train_images, seed, opts, echo, run_dir))


def _run_locked(cls, config, pair, train_data, novel_data, train_images, seed, opts, echo, run_dir) -> dict:
    budget = opts.budget
    record = _record(cls, config, pair, budget, seed, opts, train_data.image_shape)
    metrics_path, ckpt_path = run_dir / METRICS_FILE, run_dir / CHECKPOINT_FILE

    if opts.force and run_dir.exists():
        for stale in (metrics_path, ckpt_path, run_dir / MODEL_FILE):
            stale.unlink(missing_ok=True)
    if metrics_path.exists():
        previous = read_metrics(run_dir)
        status = previous.get("status")
        if previous.get("config_hash") == record["config_hash"] and status in ("finished", "diverged"):
            read_record(run_dir)  # a finished run whose config.json is corrupt is refused, not reused
            echo(f"{cls.name} seed {seed}: {status} run found in {run_dir}; reusing it (--force retrains).")
            if status == "finished":
                ckpt_path.unlink(missing_ok=True)  # left by a kill between metrics.json and its removal
            if opts.export_samples is not None:
                echo(f"{cls.name} seed {seed}: reused, so nothing exported; `bench evaluate {run_dir} --export-samples DIR` exports its scored images.")
            return leaderboard_row(record, previous, run_dir)
        if previous.get("config_hash") != record["config_hash"]:
            raise BenchError(f"{run_dir} already holds a run with another configuration{_revision_note(run_dir, record)}. Use --force to replace it, or choose another --out folder.")
    if ckpt_path.exists():
        read_checkpoint(ckpt_path, record["config_hash"])  # refuse before anything is written
    if opts.export_samples is not None:  # a folder that holds files is refused now, not after training
        check_export_target(export_target(opts, cls.name, seed))
    write_record(run_dir, record)

    randomness.seed_model_init(seed)
    reset_peak_rss()  # so each run records its own peak, not the process's (`peak_rss_mib`)
    if opts.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(opts.device)
    model = cls(config, train_data.image_shape).to(opts.device)
    started = time.perf_counter()
    status, train_info = "finished", {"steps": 0, "train_seconds": 0.0, "resumed_seconds": 0.0}
    if cls.trainable:
        trainer = Trainer(
            model,
            train_images,
            budget.training,
            opts.device,
            ckpt_path,
            seed=seed,
            config_hash=record["config_hash"],
            precision=opts.precision,
            padding=pair.augment_padding,
            progress=opts.progress,
            desc=f"{cls.name} seed{seed}",
            compile=opts.compile,
            graphs=opts.graphs,
            loss_log=LossLog(run_dir / LOSSES_FILE, run_dir / TENSORBOARD_DIR if opts.tensorboard else None),
        )
        try:
            result = yield from trainer.steps()
        except Diverged as exc:
            echo(f"{cls.name} seed {seed}: {exc}; recorded as diverged.")
            payload = {
                "status": "diverged",
                "config_hash": record["config_hash"],
                "diverged_at_step": exc.step,
                "losses": exc.losses,
                "last_finite_losses": exc.last_finite,
                "metrics": {},
                "finished_at": _now(),
            }
            write_metrics(run_dir, payload)
            return leaderboard_row(record, payload, run_dir)
        if result.resumed_from:
            echo(f"{cls.name} seed {seed}: resumed from step {result.resumed_from} of {result.steps}.")
        train_info = {"steps": result.steps, "train_seconds": round(result.seconds, 2), "history": result.history, "resumed_seconds": result.resumed_seconds}

    model.eval()
    ctx = metric_context(model, pair, train_data, novel_data, budget, seed, opts, run_dir / SAMPLES_DIR, echo)
    metrics, skipped = evaluate(ctx, opts.metrics)
    write_run_grids(model, train_data, novel_data, run_dir / SAMPLES_DIR)
    payload = {
        "status": status,
        "config_hash": record["config_hash"],
        "metrics": metrics,
        "skipped_metrics": skipped,
        "steps": train_info["steps"],
        "train_seconds": train_info["train_seconds"],
        # this process's time plus the training an interrupted one did before it (from the
        # checkpoint), so a resumed run is not listed as faster than its own training
        "wall_seconds": round(time.perf_counter() - started + train_info["resumed_seconds"], 2),
        **_peak_memory(opts.device),
        "loss_history": train_info.get("history", []),
        "finished_at": _now(),
    }
    if cls.trainable:
        # The finished run keeps its weights only; the training checkpoint (weights + optimizer
        # state, ~3x larger) is needed only to resume an unfinished run.
        torch_save({"model": cls.name, "config_hash": record["config_hash"], "state_dict": model.state_dict()}, run_dir / MODEL_FILE)
    write_metrics(run_dir, payload)
    ckpt_path.unlink(missing_ok=True)
    if opts.export_samples is not None:
        export_samples(ctx, export_target(opts, cls.name, seed), lambda m: echo(f"{cls.name} seed {seed}: {m}"))
    return leaderboard_row(record, payload, run_dir)


def _revision_note(run_dir: Path, record: dict) -> str:
    """' (revision R of the model; this suite trains revision S)' when that is the difference."""
    try:
        old = json.loads((run_dir / CONFIG_FILE).read_text()).get("model_revision", 1)
    except (OSError, ValueError, AttributeError):
        return ""
    if old == record["model_revision"]:
        return ""
    return f" (revision {old} of {record['model']}; this suite trains revision {record['model_revision']})"


def _peak_memory(device: torch.device) -> dict:
    """Peak resident memory of this run (training and metrics), and peak CUDA memory on a GPU."""
    peaks = {"peak_rss_mib": round(peak_rss_mib(), 1)}
    if device.type == "cuda":
        peaks["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peaks


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_results(rows: list) -> str:
    import pandas as pd

    table = pd.DataFrame(rows)
    hidden = ("pair", "config_hash", "code_version", "device", "run_dir", "finished_at", "last_finite_losses", "metric_revisions", "data_revisions", "subset_revisions")
    keep = [c for c in table.columns if c not in hidden]
    return "\nResults\n" + table[keep].to_string(index=False, float_format=lambda v: f"{v:.4g}")
