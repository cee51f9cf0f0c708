"""The model registry: every model is one class registered under a name.

Built-in models register when `models` is imported; third-party plug-ins register through the
entry-point group `interpbench.models` or `bench run --plugin my_module`. Registration is
validated (a malformed or duplicate name is an error at registration time), so a typo never
silently shadows another model.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from importlib import metadata

from bench.errors import BenchError

ENTRY_POINT_GROUP = "interpbench.models"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REGISTRY: dict = {}


def register(name: str, *, family: str, description: str, paper: str):
    """Class decorator: register a `BenchModel` subclass under `name`."""

    def decorate(cls):
        if not _NAME.match(name):
            raise BenchError(
                f"Cannot register model {name!r}: names are lowercase words joined by hyphens "
                "(letters and digits only), such as 'augintae-rotate'."
            )
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise BenchError(
                f"Cannot register model {name!r} from {cls.__module__}: that name is already taken by "
                f"{existing.__module__}.{existing.__qualname__}. Choose another name for the plug-in."
            )
        cls.name, cls.family, cls.description, cls.paper = name, family, description, paper
        _REGISTRY[name] = cls
        return cls

    return decorate


def get(name: str):
    load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BenchError(f"Unknown model {name!r}. Valid names: {', '.join(names())}.") from None


def names() -> list:
    load_builtin()
    return sorted(_REGISTRY)


def all_models() -> list:
    return [_REGISTRY[n] for n in names()]


def resolve(spec: str) -> list:
    """'all' or a comma-separated list of names -> list of names, validated, order kept."""
    load_builtin()
    if spec.strip() == "all":
        return names()
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        raise BenchError(f"No model named in {spec!r}. Use 'all' or a comma-separated list of: {', '.join(names())}.")
    unknown = [w for w in wanted if w not in _REGISTRY]
    if unknown:
        raise BenchError(
            f"Unknown model{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"Use 'all' or a comma-separated list of: {', '.join(names())}."
        )
    return list(dict.fromkeys(wanted))


_builtin_loaded = False


def load_builtin() -> None:
    """Import the built-in model modules and the installed entry-point plug-ins once."""
    global _builtin_loaded
    if _builtin_loaded:
        return
    _builtin_loaded = True
    import models

    for info in sorted(pkgutil.iter_modules(models.__path__), key=lambda m: m.name):
        importlib.import_module(f"models.{info.name}")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except BenchError:
            raise
        except Exception as exc:  # a broken third-party package must not hide the built-ins
            raise BenchError(
                f"The model plug-in entry point {ep.name!r} ({ep.value}) failed to import: "
                f"{type(exc).__name__}: {exc}. Fix or uninstall that package."
            ) from None


def load_plugin(module: str) -> None:
    """Import a user module that registers models (`bench run --plugin my_module`)."""
    load_builtin()
    try:
        importlib.import_module(module)
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(
            f"The plug-in module {module!r} failed to import: {type(exc).__name__}: {exc}. "
            "Pass an importable module name (on PYTHONPATH or in the current folder) that registers "
            "models with @models.registry.register."
        ) from None
