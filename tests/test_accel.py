"""kraken_tui._accel: a compiled build is used only while it matches its .py; otherwise (and with
KRAKEN_TUI_PURE=1) the .py is loaded, never a stale or stray extension."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, SourceFileLoader
from pathlib import Path

import pytest

from kraken_tui import _accel
from kraken_tui._accel import CompiledFinder, source_sha256

SFX = EXTENSION_SUFFIXES[0]


def _pkg(tmp_path: Path, *, recorded: str | None = None, stray: bool = False) -> tuple[Path, dict]:
    """A package dir with pkg/a/b.py and a (fake, never loaded) build of ``kt.a.b`` in pkg/_ext."""
    pkg = tmp_path / "pkg"
    (pkg / "a").mkdir(parents=True)
    src = pkg / "a" / "b.py"
    src.write_text("X = 1\n")
    (pkg / "_ext").mkdir()
    (pkg / "_ext" / f"kt.a.b{SFX}").write_bytes(b"not really an extension")
    if stray:
        (pkg / "a" / f"b{SFX}").write_bytes(b"stray in-place build")
    manifest = {"modules": {"kt.a.b": {"file": f"kt.a.b{SFX}",
                                      "sha256": source_sha256(str(src)) if recorded is None else recorded}}}
    return pkg, manifest


def test_matching_build_is_used(tmp_path):
    pkg, manifest = _pkg(tmp_path)
    f = CompiledFinder(str(pkg), manifest, ("kt.a.b",))
    spec = f.find_spec("kt.a.b")
    assert isinstance(spec.loader, ExtensionFileLoader)
    assert spec.origin == str(pkg / "_ext" / f"kt.a.b{SFX}")
    assert f.state == {"kt.a.b": "compiled"}


def test_edited_source_loads_the_py_not_the_stale_build(tmp_path):
    pkg, manifest = _pkg(tmp_path, stray=True)
    (pkg / "a" / "b.py").write_text("X = 2\n")  # edited after the build
    f = CompiledFinder(str(pkg), manifest, ("kt.a.b",))
    spec = f.find_spec("kt.a.b")
    assert isinstance(spec.loader, SourceFileLoader)
    assert spec.origin == str(pkg / "a" / "b.py")  # not the stray a/b<SFX> either
    assert f.state == {"kt.a.b": "stale"}


def test_require_refuses_a_stale_or_missing_build(tmp_path):
    pkg, manifest = _pkg(tmp_path, recorded="0" * 64)
    with pytest.raises(ImportError, match="stale"):
        CompiledFinder(str(pkg), manifest, ("kt.a.b",), require=True).find_spec("kt.a.b")
    with pytest.raises(ImportError, match="not built"):
        CompiledFinder(str(pkg), {}, ("kt.a.b",), require=True).find_spec("kt.a.b")


def test_pure_forces_the_py_and_other_names_fall_through(tmp_path):
    pkg, manifest = _pkg(tmp_path)
    f = CompiledFinder(str(pkg), manifest, ("kt.a.b",), pure=True)
    assert f.find_spec("kt.a.b").origin == str(pkg / "a" / "b.py")
    assert f.state == {"kt.a.b": "pure (forced)"}
    assert f.find_spec("kt.a.c") is None and f.find_spec("json") is None


def test_pure_wins_over_require(tmp_path):
    # CI's pure leg runs with KRAKEN_TUI_COMPILED=require still exported
    pkg, manifest = _pkg(tmp_path)
    f = CompiledFinder(str(pkg), manifest, ("kt.a.b",), pure=True, require=True)
    assert isinstance(f.find_spec("kt.a.b").loader, SourceFileLoader)


def test_environment_is_honoured_in_a_fresh_interpreter():
    code = ("import json, kraken_tui.backtest.runner as r, kraken_tui._accel as a; "
            "print(json.dumps([r.__file__, a.status()]))")
    env = {**os.environ, "KRAKEN_TUI_PURE": "1"}
    env.pop("KRAKEN_TUI_COMPILED", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    path, status = json.loads(out.stdout)
    assert path.endswith(os.path.join("backtest", "runner.py"))
    assert set(status.values()) == {"pure (forced)"} and set(status) == set(_accel.ACCELERATED)


def test_this_process_uses_what_the_environment_asks_for():
    mods = [sys.modules.get(n) or __import__(n, fromlist=["_"]) for n in _accel.ACCELERATED]
    compiled = [m.__name__ for m in mods if not m.__file__.endswith(".py")]
    if os.environ.get("KRAKEN_TUI_PURE", "") not in ("", "0"):
        assert compiled == []
    elif os.environ.get("KRAKEN_TUI_COMPILED") == "require":
        assert compiled == list(_accel.ACCELERATED)
    for name, state in _accel.status().items():
        assert (name in compiled) == (state == "compiled")
