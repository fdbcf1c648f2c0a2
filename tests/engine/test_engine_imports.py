"""The engine package's import graph has no cycle: every import statement of every module under
kraken_tui/engine counts (module level, ``TYPE_CHECKING`` blocks and function bodies alike), so a collaborator
that needs the engine back cannot hide the dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import kraken_tui.engine

ROOT = Path(kraken_tui.engine.__file__).parent
PKG = "kraken_tui.engine"


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        out[".".join((PKG, *parts))] = p
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


def import_cycles() -> list[list[str]]:
    """The strongly connected components (Tarjan) of more than one module: each is an import cycle."""
    mods = _modules()
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


def test_engine_modules_import_no_cycle():
    assert len(_modules()) > 30  # the walk found the package
    assert import_cycles() == []
