"""Load a finished run directory back into a ready-to-use model (`bench generate`, `bench interpolate`).

A run directory (`runs/<pair>/<model>/seed<k>/`, written by `bench run`) holds `config.json`
(model name, image shape, hyperparameters, config hash) and, for trainable models, `model.pt`
({"model", "config_hash", "state_dict"}) once the run has finished. `load_run` rebuilds the
registered model class from the recorded hyperparameters (the dataclass is built directly from
the recorded values, not through the `--set` string parser), loads the weights, moves the model
to the device and puts it in eval mode. Every problem a user can cause (wrong folder, unfinished
or diverged run, unknown model, corrupt or mismatched weights) is a `BenchError` naming the file
and what to do.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from bench.budgets import budget_from_record
from bench.errors import BenchError
from models import registry

from bench.rundir import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, MODEL_FILE, _one_line, read_record, seed_dir_name

def build_config(cls, hyperparameters: dict, source="the run record"):
    """The model's config dataclass from recorded values (JSON lists become tuples where the
    default is a tuple); an unknown key is an error, a missing one keeps its default."""
    config_cls = cls.Config
    by_name = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(hyperparameters) - set(by_name))
    if unknown:
        raise BenchError(
            f"{source} gives hyperparameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} that model "
            f"{cls.name!r} does not have (it has: {', '.join(by_name) or 'none'}). The run was made with another "
            "version of the model; load it with that version, or retrain it with `bench run --force`."
        )
    values = {}
    for key, value in hyperparameters.items():
        f = by_name[key]
        if isinstance(value, list) and isinstance(f.default, tuple):
            value = tuple(value)
        values[key] = value
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise BenchError(f"{source}: the hyperparameters of {cls.name!r} are invalid ({_one_line(exc)}).") from None


def _finish_command(run_dir: Path, record: dict, cls) -> str:
    """The `bench run` command that finishes (resumes) this run, as far as the record tells."""
    parts = ["bench run", f"--models {record['model']}"]
    if isinstance(record.get("pair"), str):
        parts.append(f"--pair {record['pair']}")
    budget = record.get("budget")
    if isinstance(budget, dict) and isinstance(budget.get("name"), str):
        parts.append(f"--budget {budget['name']}")
    seed = record.get("seed")
    if isinstance(seed, int):
        parts.append(f"--seeds {seed},")  # a list of one seed (a bare number is a count)
    if run_dir.name == seed_dir_name(seed) and run_dir.parent.name == record.get("model") and run_dir.parent.parent.name == record.get("pair"):
        parts.append(f"--out {run_dir.parent.parent.parent}")
    try:
        defaults = cls.Config().to_dict()
        for key, value in sorted(record.get("hyperparameters", {}).items()):
            if key in defaults and defaults[key] != value and not isinstance(value, (list, dict)):
                parts.append(f"--set {record['model']}.{key}={'none' if value is None else value}")
    except Exception:  # a config without defaults: the command stays without --set
        pass
    return " ".join(parts)


def _load_weights(model, path: Path, record: dict) -> None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BenchError(
            f"Cannot read {path}: the file is corrupt or not an interpbench model file ({type(exc).__name__}: "
            f"{_one_line(exc)}). Retrain the run with `bench run ... --force`."
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise BenchError(f"{path} is not an interpbench model file (expected a dict with a 'state_dict'). Retrain the run with `bench run ... --force`.")
    if payload.get("model") not in (None, record["model"]):
        raise BenchError(
            f"{path} holds weights of model {payload.get('model')!r}, but {path.parent / CONFIG_FILE} records model "
            f"{record['model']!r}. The run directory was mixed up; retrain it with `bench run ... --force`."
        )
    if record.get("config_hash") and payload.get("config_hash") and payload["config_hash"] != record["config_hash"]:
        raise BenchError(
            f"{path} belongs to another configuration (hash {payload['config_hash']}) than {path.parent / CONFIG_FILE} "
            f"(hash {record['config_hash']}). The run directory was mixed up; retrain it with `bench run ... --force`."
        )
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise BenchError(
            f"The weights in {path} do not fit model {record['model']!r} built from {path.parent / CONFIG_FILE} "
            f"({_one_line(exc)}). The files do not belong together, or the model's code changed since the run; "
            "retrain it with `bench run ... --force`."
        ) from None


def load_run(run_dir, device="cpu", plugins=()):
    """(model, record) of a finished run directory: the registered model with its recorded
    hyperparameters and image shape, its final weights, on `device`, in eval mode."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    registry.load_plugins(plugins)
    name = record["model"]
    try:
        cls = registry.get(name)
    except BenchError:
        raise BenchError(
            f"The run in {run_dir} was made with model {name!r}, which is not registered here. If it comes from a "
            f"plug-in, pass its module with --plugin MODULE. Registered models: {', '.join(registry.names())}."
        ) from None
    config = build_config(cls, record.get("hyperparameters", {}), source=str(run_dir / CONFIG_FILE))
    shape = tuple(record["image_shape"])

    weights = run_dir / MODEL_FILE
    if cls.trainable and not weights.is_file():
        status = None
        try:
            status = json.loads((run_dir / METRICS_FILE).read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            pass
        if status == "diverged":
            raise BenchError(
                f"The run in {run_dir} diverged during training (see {METRICS_FILE}) and has no weights to load. "
                f"Retrain it with other hyperparameters (--set) and --force, or pick another run."
            )
        where = "it was interrupted (a training checkpoint is there)" if (run_dir / CHECKPOINT_FILE).exists() else "it has no model.pt"
        raise BenchError(
            f"The run in {run_dir} has not finished: {where}. Only finished runs can be loaded; finish it with "
            f"`{_finish_command(run_dir, record, cls)}` (the same command resumes an interrupted run)."
        )

    torch_device = torch.device(device) if not isinstance(device, torch.device) else device
    try:
        model = cls(config, shape)
    except BenchError:
        raise
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise BenchError(
            f"Cannot build model {name!r} for image shape {list(shape)} from {run_dir / CONFIG_FILE}: "
            f"{type(exc).__name__}: {_one_line(exc)}."
        ) from None
    if cls.trainable:
        _load_weights(model, weights, record)
    model.to(torch_device)
    model.eval()
    # Encoders that are optimisations (GAN inversion) take their step counts from the run's budget.
    if isinstance(record.get("budget"), dict):
        model.configure_evaluation(budget_from_record(record).evaluation.refine_steps)
    return model, record
