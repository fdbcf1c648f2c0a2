"""Opt-in compiled (Cython) builds of the backtest's hot modules, used only when they match their source.

Owns: ``ACCELERATED`` (the modules ``setup.py`` compiles when asked), ``install`` and ``status``.
The build is opt-in: ``KRAKEN_TUI_BUILD_COMPILED=1 pip install -e .`` (``setup.py``); a plain
``pip install -e .`` is pure Python and writes no manifest. The build writes each extension to
``kraken_tui/_ext/<module>.<EXT_SUFFIX>``, never next to its ``.py`` (where Python's import system would
load it before the ``.py``, edited or not), and records the sha256 of the ``.py`` it compiled in
``kraken_tui/_ext/manifest.json``.

Importing ``kraken_tui`` installs nothing. ``install()`` is called explicitly by the command line
(``kraken_tui.cli.main``) and the backtest benchmark; it puts ``CompiledFinder`` first on ``sys.meta_path``
only when a manifest exists (or ``KRAKEN_TUI_COMPILED=require`` asks for the build), and then, for a module
of ``ACCELERATED``, the finder returns:

- the extension, when the manifest has it, the file exists with a suffix this interpreter loads, and the
  sha256 of the current ``.py`` equals the recorded one (so an edited ``.py`` is never shadowed);
- otherwise the ``.py`` itself (explicitly, so a stray ``.so`` next to the ``.py`` is never loaded either).

Environment, read by ``install()``:
``KRAKEN_TUI_PURE=1`` -> no finder, every module from its ``.py``;
``KRAKEN_TUI_COMPILED=require`` -> ImportError when one of them would not be the compiled build (so a
failed or stale build cannot pass as compiled); ``KRAKEN_TUI_PURE=1`` wins over it.
Results are the same either way; only the time differs.
Must not import anything outside the stdlib (``setup.py`` loads this file alone).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, SourceFileLoader
from importlib.util import spec_from_file_location
from typing import Any

__all__ = ["ACCELERATED", "CompiledFinder", "install", "read_manifest", "source_sha256", "status"]

#: The modules setup.py compiles (dotted names under kraken_tui), each from its unchanged ``.py``. Not
#: kraken_tui.engine.batch_np: Cython 3.3 types ``seq = [0.0] * n`` as a list and then rejects the non-list
#: value of ``seq[0::2] = xs`` / ``seq[1::2] = map(...)`` (TypeError "Expected list, got map"), which Python
#: accepts; its work is in numpy / C builtins anyway.
ACCELERATED: tuple[str, ...] = (
    "kraken_tui.backtest.runner", "kraken_tui.backtest.fills", "kraken_tui.backtest.orders",
    "kraken_tui.backtest.decisions", "kraken_tui.backtest.trades", "kraken_tui.backtest.settings",
    "kraken_tui.backtest.csvfile", "kraken_tui.backtest.columns",
    "kraken_tui.engine.decide", "kraken_tui.engine.risk", "kraken_tui.engine.liquidation",
    "kraken_tui.engine.indicators", "kraken_tui.engine.exits",
    "kraken_tui.engine.strategies.sma_cross", "kraken_tui.paper.account",
    "kraken_tui.journal.stats", "kraken_tui.journal.trades", "kraken_tui.domain.instruments",
)
PURE_ENV = "KRAKEN_TUI_PURE"
BUILD_ENV = "KRAKEN_TUI_BUILD_COMPILED"
REQUIRE_ENV = "KRAKEN_TUI_COMPILED"
EXT_DIR_NAME = "_ext"
MANIFEST_NAME = "manifest.json"
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def source_sha256(path: str) -> str:
    """Hex sha256 of a file's bytes (the identity of the source a build compiled)."""
    import hashlib  # here, not at the top: only a compiled build's check needs it (start-up of the CLI)

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class CompiledFinder:
    """Meta path finder for ``modules``: the compiled build when it matches its source, else the source.

    A finder of ``sys.meta_path`` by protocol (``find_spec``, ``invalidate_caches``); it does not derive from
    ``importlib.abc.MetaPathFinder``, whose import (``importlib.resources``, ``pathlib``...) would cost the
    command line's start-up even when no build is installed.

    Args:
        pkg_dir: directory of the top package (``kraken_tui/``); sources are ``<pkg_dir>/<a>/<b>.py``.
        manifest: ``{"modules": {name: {"file": <basename in ext_dir>, "sha256": <hex>}}}`` ({} = no build).
        modules: the names this finder answers for; other names fall through (None).
        pure: always the source. require: raise ImportError instead of falling back to the source (unless
            ``pure``, which wins).
    """

    def __init__(self, pkg_dir: str, manifest: dict[str, Any], modules: tuple[str, ...], *, pure: bool = False,
                 require: bool = False) -> None:
        self.pkg_dir = pkg_dir
        self.ext_dir = os.path.join(pkg_dir, EXT_DIR_NAME)
        self.entries: dict[str, dict[str, str]] = manifest.get("modules", {})
        self.modules = frozenset(modules)
        self.pure, self.require = pure, require
        self.state: dict[str, str] = {}  # name -> compiled | stale | not built | pure (forced)

    def _source(self, fullname: str) -> str:
        return os.path.join(self.pkg_dir, *fullname.split(".")[1:]) + ".py"

    def _decide(self, fullname: str) -> tuple[str, str | None]:
        if self.pure:
            return "pure (forced)", None
        entry = self.entries.get(fullname)
        if entry is None:
            return "not built", None
        so = os.path.join(self.ext_dir, entry["file"])
        if not os.path.exists(so) or not any(so.endswith(sfx) for sfx in EXTENSION_SUFFIXES):
            return "not built", None
        if source_sha256(self._source(fullname)) != entry["sha256"]:
            return "stale", None
        return "compiled", so

    def invalidate_caches(self) -> None:
        """Nothing cached between lookups (``importlib.invalidate_caches`` calls this on every finder)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        """The spec of ``fullname`` (see the class docstring); None for names it does not answer for."""
        if fullname not in self.modules:
            return None
        state, so = self._decide(fullname)
        self.state[fullname] = state
        if so is not None:
            return spec_from_file_location(fullname, so, loader=ExtensionFileLoader(fullname, so))
        if self.require and not self.pure:
            raise ImportError(f"{fullname}: compiled build required ({REQUIRE_ENV}=require) but {state}; "
                              "rebuild with `pip install -e .` or `python setup.py build_ext --inplace`")
        src = self._source(fullname)
        return spec_from_file_location(fullname, src, loader=SourceFileLoader(fullname, src))


_finder: CompiledFinder | None = None


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def read_manifest(pkg_dir: str = _PKG_DIR) -> dict[str, Any]:
    """The build manifest ``<pkg_dir>/_ext/manifest.json`` as a dict; {} when there is none (pure install)."""
    try:
        with open(os.path.join(pkg_dir, EXT_DIR_NAME, MANIFEST_NAME)) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def install() -> bool:
    """Put the finder first on ``sys.meta_path`` (once) when there is a compiled build to load.

    Reads the manifest and the environment now. Returns True when the finder is (or already was)
    installed; False, leaving ``sys.meta_path`` untouched, when ``KRAKEN_TUI_PURE=1`` is set or no build
    manifest exists (unless ``KRAKEN_TUI_COMPILED=require``, which installs it so imports fail loudly).
    Call it before the first import of a module of ``ACCELERATED``: a module already imported stays as it is.
    """
    global _finder
    if _finder is not None:
        return True
    if _flag(PURE_ENV):
        return False
    manifest = read_manifest(_PKG_DIR)
    require = os.environ.get(REQUIRE_ENV, "") == "require"
    if not manifest.get("modules") and not require:
        return False
    _finder = CompiledFinder(_PKG_DIR, manifest, ACCELERATED, require=require)
    sys.meta_path.insert(0, _finder)
    return True


def status() -> dict[str, str]:
    """Per module of ``ACCELERATED`` how it was loaded: compiled, stale, not built, pure (forced), or
    "not installed" when ``install()`` installed no finder (every module from its ``.py``); for a bench
    printout."""
    if _finder is None:
        return dict.fromkeys(ACCELERATED, "not installed")
    out = {}
    for name in ACCELERATED:
        out[name] = _finder.state.get(name) or _finder._decide(name)[0]
    return out
