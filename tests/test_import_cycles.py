"""The import graphs of the core packages have no cycle: every import statement of every module under
the package counts (module level, ``TYPE_CHECKING`` blocks and function bodies alike), so a collaborator that
needs the engine (or the paper exchange) back cannot hide the dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kraken_tui

TOP = Path(kraken_tui.__file__).parent


def _modules(pkg: str = "kraken_tui.engine") -> dict[str, Path]:
    root = TOP / pkg.split(".", 1)[1]
    out = {}
    for p in root.rglob("*.py"):
        parts = p.relative_to(root).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        out[".".join((pkg, *parts))] = p
    return out


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            deps.add(base)
            deps.update(f"{base}.{a.name}" for a in node.names)
    return {d for d in deps if d in mods and d != name}


def import_cycles(pkg: str = "kraken_tui.engine") -> list[list[str]]:
    """The strongly connected components (Tarjan) of more than one module of ``pkg``: each is an import cycle."""
    mods = _modules(pkg)
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


@pytest.mark.parametrize(("pkg", "at_least"), [
    ("kraken_tui.engine", 30), ("kraken_tui.paper", 20), ("kraken_tui.backtest", 10), ("kraken_tui.journal", 10),
    ("kraken_tui.domain", 5), ("kraken_tui.kraken", 10)])
def test_package_modules_import_no_cycle(pkg, at_least):
    assert len(_modules(pkg)) > at_least  # the walk found the package
    assert import_cycles(pkg) == []
