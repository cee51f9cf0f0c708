"""The import graph of the suite's packages has no cycle.

Edges: every `import` / `from ... import` of a module of bench/, models/ or metrics/, wherever it
is written (function-level imports included, since they run too); a package `__init__` that
imports its modules dynamically (importlib / pkgutil) counts as importing every one of them. A cycle would make a module's behaviour depend
on which side was imported first (and was dodged with lazy imports before)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "models", "metrics")


def modules() -> dict:
    """{dotted name: path} of every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def edges(name: str, path: Path, known: dict) -> set:
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    source = path.read_text(encoding="utf-8")
    out = set()

    def add(target: str):
        while target and target not in known:  # `from bench.data import load_pair` -> bench.data
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    if is_package and ("importlib.import_module" in source or "pkgutil.iter_modules" in source):
        out |= {m for m in known if m.startswith(name + ".") and m.count(".") == name.count(".") + 1}
    return out


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    known = modules()
    graph = {name: edges(name, path, known) for name, path in known.items()}
    assert "bench.grids" in graph["metrics.noise_frequency"]  # function-level and top-level imports are both seen
    assert "bench.version" in graph["bench.provenance"] and "bench" not in graph["bench.provenance"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_and_a_dynamic_package_init_imports_its_modules(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("import importlib, pkgutil\nfor m in pkgutil.iter_modules(__path__):\n    importlib.import_module(m.name)\n")
    (tmp_path / "pkg" / "one.py").write_text("def f():\n    from pkg import two\n")
    (tmp_path / "pkg" / "two.py").write_text("import pkg\n")
    known = {"pkg": tmp_path / "pkg" / "__init__.py", "pkg.one": tmp_path / "pkg" / "one.py", "pkg.two": tmp_path / "pkg" / "two.py"}
    graph = {name: edges(name, path, known) for name, path in known.items()}
    assert graph == {"pkg": {"pkg.one", "pkg.two"}, "pkg.one": {"pkg.two"}, "pkg.two": {"pkg"}}
    assert cycles(graph) == [["pkg", "pkg.one", "pkg.two"]]
