"""The names and descriptions of registered things, read from the source without importing it.

Models and metrics register themselves with decorators (`@register("ae", family=...,
description=..., paper=...)`, `@register_metric("fid", "...")`), and importing their modules
imports torch (about 2 s of CPU). To validate a name or list a registry at once, this module reads
the decorator calls with `ast`: their arguments are string literals, module-level string
constants, `+` of those and `.format(...)` of those. Any other argument makes the caller import
the module instead (`Unreadable`); tests compare each catalogue with the imported registry, so the
two cannot drift apart.
"""

from __future__ import annotations

import ast
from pathlib import Path


class Unreadable(Exception):
    """A decorator argument this module cannot evaluate without running the code."""


def _value(node, constants: dict):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _value(node.left, constants) + _value(node.right, constants)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" and not node.keywords:
        return _value(node.func.value, constants).format(*(_value(a, constants) for a in node.args))
    raise Unreadable(ast.dump(node)[:80])


def decorator_calls(path: Path, decorator: str) -> list:
    """[(args, kwargs)] of every `@decorator(...)` in the file, evaluated (Unreadable if one cannot be)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = _value(node.value, constants)
            except Unreadable:
                pass
    found = []
    for node in ast.walk(tree):
        for deco in getattr(node, "decorator_list", ()):
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == decorator:
                args = [_value(a, constants) for a in deco.args]
                kwargs = {k.arg: _value(k.value, constants) for k in deco.keywords if k.arg in ("family", "description", "paper")}
                found.append((args, kwargs))
    return found


def package_calls(package_dir: Path, decorator: str) -> dict:
    """{module name: [(args, kwargs)]} over the package's modules (files not starting with '_')."""
    return {p.stem: decorator_calls(p, decorator) for p in sorted(Path(package_dir).glob("*.py")) if not p.stem.startswith("_")}


def metric_descriptions():
    """{name: description} of the built-in metrics in registry order (reconstruction first, as
    `metrics/__init__.py` imports it), without importing them; None when unreadable."""
    import importlib.util

    spec = importlib.util.find_spec("metrics")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        calls = package_calls(Path(list(spec.submodule_search_locations)[0]), "register_metric")
    except (Unreadable, OSError, SyntaxError):
        return None
    order = ["reconstruction"] + sorted(m for m in calls if m != "reconstruction")
    try:
        return {args[0]: args[1] if len(args) > 1 else kwargs["description"] for module in order for args, kwargs in calls.get(module, [])}
    except (IndexError, KeyError):
        return None
