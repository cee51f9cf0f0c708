"""Model hyperparameters: one dataclass per model, with the paper's values as defaults.

`apply_overrides` turns `--set key=value` strings into a validated config. Fields declare their
allowed range in `metadata` (`hp(default, min=..., max=..., choices=..., help=...)`), so a bad
value is rejected with a message naming the key, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field, fields

from bench.errors import BenchError


def hp(default, *, min=None, max=None, choices=None, help: str = ""):
    """A hyperparameter field with its accepted range and a one-line meaning."""
    return field(default=default, metadata={"min": min, "max": max, "choices": choices, "help": help})


@dataclass
class ModelConfig:
    """Base class of every model's hyperparameters (empty: each model declares its own)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _base_type(tp):
    """(type, optional?) for int | None style annotations."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _parse_value(key: str, text: str, tp):
    base, optional = _base_type(tp)
    if optional and text.strip().lower() in ("none", "null", "auto"):
        return None
    try:
        if base is bool:
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if base is int:
            return int(text)
        if base is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if base is str:
            return text
    except ValueError:
        pass
    else:
        raise BenchError(f"--set {key}: values of type {getattr(base, '__name__', base)} are not supported by the parser.")
    kind = {bool: "true or false", int: "an integer", float: "a finite number"}.get(base, str(base))
    raise BenchError(f"--set {key}={text}: {key!r} takes {kind}{' or none' if optional else ''}, not {text!r}.")


def _check_range(key: str, value, meta) -> None:
    if value is None:
        return
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if choices is not None and value not in choices:
        raise BenchError(f"--set {key}={value}: accepted values are {', '.join(map(str, choices))}.")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"from {lo if lo is not None else '-inf'} to {hi if hi is not None else 'inf'}"
        raise BenchError(f"--set {key}={value}: out of range; {key!r} accepts values {bounds}.")


def describe_fields(config_cls) -> str:
    return ", ".join(f.name for f in fields(config_cls))


def apply_overrides(config_cls, overrides, *, model_name: str = "the model"):
    """Build `config_cls()` with `key=value` overrides applied; raise BenchError on any bad one.

    `overrides` is a dict {key: text} or a list of 'key=value' strings.
    """
    if not isinstance(overrides, dict):
        parsed = {}
        for item in overrides:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise BenchError(f"--set {item!r}: expected key=value, for example --set lr=0.0005.")
            parsed[key] = value.strip()
        overrides = parsed
    hints = typing.get_type_hints(config_cls)
    by_name = {f.name: f for f in fields(config_cls)}
    values = {}
    for key, text in overrides.items():
        if key not in by_name:
            raise BenchError(
                f"--set {key}: {model_name} has no hyperparameter {key!r}. "
                f"Valid keys: {describe_fields(config_cls) or '(none)'}."
            )
        value = _parse_value(key, str(text), hints[key])
        _check_range(key, value, by_name[key].metadata)
        values[key] = value
    return config_cls(**values)


def split_overrides(overrides, model_names, config_classes) -> dict:
    """Route `--set` items to models: `key=value` goes to every model that has `key`;
    `model.key=value` only to that model. A key no selected model knows is an error."""
    routed = {name: {} for name in model_names}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--set {item!r}: expected key=value or model.key=value, for example --set lr=0.0005.")
        target, dot, bare = key.rpartition(".")
        if dot:
            if target not in routed:
                raise BenchError(f"--set {item}: {target!r} is not one of the selected models ({', '.join(model_names)}).")
            routed[target][bare] = value.strip()
            continue
        takers = [n for n in model_names if key in {f.name for f in fields(config_classes[n])}]
        if not takers:
            valid = sorted({f.name for n in model_names for f in fields(config_classes[n])})
            raise BenchError(
                f"--set {key}: no selected model has a hyperparameter {key!r}. "
                f"Valid keys: {', '.join(valid) or '(none)'}."
            )
        for n in takers:
            routed[n][key] = value.strip()
    return routed
