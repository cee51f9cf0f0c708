"""The model registry: every model is one class registered under a name.

Built-in models register when `models` is imported; third-party plug-ins register through the
entry-point group `interpbench.models` or `bench run --plugin my_module`. Registration is
validated (a malformed or duplicate name is an error at registration time), so a typo never
silently shadows another model.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import sys
from importlib import metadata
from pathlib import Path

from bench.errors import BenchError

ENTRY_POINT_GROUP = "interpbench.models"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REGISTRY: dict = {}
_NAMED_PLUGINS: set = set()  # models registered by modules the user named (--plugin)


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


def _catalogue():
    """{name: (module, family, description, paper)} of the built-in models, read from the
    decorators in the source without importing it (bench/catalogue.py); None when a decorator
    is not literal enough to read, and then the modules are imported instead."""
    global _CATALOGUE
    if _CATALOGUE is _UNREAD:
        from bench.catalogue import Unreadable, package_calls

        try:
            _CATALOGUE = {
                args[0]: (f"models.{module}", kwargs.get("family", ""), kwargs.get("description", ""), kwargs.get("paper", ""))
                for module, calls in package_calls(Path(__file__).parent, "register").items()
                for args, kwargs in calls
            }
        except (Unreadable, IndexError, OSError, SyntaxError):
            _CATALOGUE = None
    return _CATALOGUE


_UNREAD = object()
_CATALOGUE = _UNREAD


def _exact() -> bool:
    """True when the names must come from importing the models: they are imported already,
    an installed plug-in may add names, or the source could not be read."""
    return _builtin_loaded or bool(metadata.entry_points(group=ENTRY_POINT_GROUP)) or _catalogue() is None


def describe() -> list:
    """(name, family, description, paper) of every model, sorted by name; without importing the
    built-in models when their catalogue can be read (`bench models`)."""
    if _exact():
        return [(c.name, c.family, c.description, c.paper) for c in all_models()]
    rows = {name: info[1:] for name, info in _catalogue().items()}
    rows.update({n: (c.family, c.description, c.paper) for n, c in _REGISTRY.items()})
    return [(name, *rows[name]) for name in sorted(rows)]


def get(name: str):
    load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BenchError(f"Unknown model {name!r}. Valid names: {', '.join(names())}.") from None


def names() -> list:
    """Every registered model name, sorted (read from the source where that is exact, so a
    wrong name is refused without importing torch)."""
    if _exact():
        load_builtin()
        return sorted(_REGISTRY)
    return sorted(set(_catalogue()) | set(_REGISTRY))


def counted_names() -> list:
    """The models a leaderboard's coverage counts: the built-in ones and those of plug-ins named on
    the command line (`load_plugin`), not whatever else happens to be installed, so the same runs
    publish the same bytes on every machine."""
    load_builtin()
    return sorted(n for n, cls in _REGISTRY.items() if cls.__module__.split(".")[0] == "models" or n in _NAMED_PLUGINS)


def all_models() -> list:
    """Every registered model class (imports them all), sorted by name."""
    load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def resolve(spec: str) -> list:
    """'all' or a comma-separated list of names -> list of names, validated, order kept."""
    known = names()
    if spec.strip() == "all":
        return known
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    if not wanted:
        raise BenchError(f"No model named in {spec!r}. Use 'all' or a comma-separated list of: {', '.join(known)}.")
    unknown = [w for w in wanted if w not in known]
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


def load_plugins(modules) -> None:
    """Import each plug-in named on the command line (`--plugin`), in order: the one loader every
    command uses."""
    for module in modules:
        load_plugin(module)


def load_plugin(module: str) -> None:
    """Import a user module that registers models: `bench run --plugin my_module` (a module on
    PYTHONPATH or `my_module.py` in the current folder) or `--plugin path/to/file.py`."""
    load_builtin()
    before = set(_REGISTRY)
    try:
        if module.endswith(".py") or "/" in module or os.sep in module:
            _import_file(Path(module))
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:  # console scripts leave the current folder out
                sys.path.insert(0, os.getcwd())
            importlib.import_module(module)
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(
            f"The plug-in module {module!r} failed to import: {type(exc).__name__}: {exc}. "
            "Pass an importable module name (on PYTHONPATH or a .py file of that name in the current "
            "folder), or the path of a .py file, that registers models with @models.registry.register."
        ) from None
    _NAMED_PLUGINS.update(set(_REGISTRY) - before)


def _import_file(path: Path) -> None:
    """Import a plug-in given as a file path, once (as the module named after the file)."""
    if not path.is_file():
        raise BenchError(f"The plug-in file {path} does not exist. Pass the path of a .py file that registers models, or a module name.")
    path = path.resolve()
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == path:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
