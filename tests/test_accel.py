"""kraken_tui._accel: a compiled build is used only while it matches its .py; otherwise (and with
KRAKEN_TUI_PURE=1) the .py is loaded, never a stale or stray extension. ``install()`` adds a finder only
when there is a build (a manifest) to load, and only the command line calls it."""

from __future__ import annotations

import json
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
    pkg, manifest = _pkg(tmp_path)
    f = CompiledFinder(str(pkg), manifest, ("kt.a.b",), pure=True, require=True)
    assert isinstance(f.find_spec("kt.a.b").loader, SourceFileLoader)


@pytest.fixture
def fresh_install(monkeypatch, tmp_path):
    """``_accel.install`` against a package dir ``tmp_path/pkg`` (no build yet), restoring sys.meta_path."""
    monkeypatch.setattr(_accel, "_PKG_DIR", str(tmp_path / "pkg"))
    monkeypatch.setattr(_accel, "_finder", None)
    monkeypatch.delenv("KRAKEN_TUI_PURE", raising=False)
    monkeypatch.delenv("KRAKEN_TUI_COMPILED", raising=False)
    saved = list(sys.meta_path)
    yield tmp_path / "pkg"
    sys.meta_path[:] = saved


def _write_manifest(pkg: Path) -> None:
    (pkg / "_ext").mkdir(parents=True)
    (pkg / "_ext" / _accel.MANIFEST_NAME).write_text(json.dumps(
        {"format": 1, "modules": {"kraken_tui.x": {"file": f"kraken_tui.x{SFX}", "sha256": "0" * 64}}}))


def test_install_without_a_build_changes_nothing(fresh_install):
    before = list(sys.meta_path)
    assert _accel.install() is False
    assert sys.meta_path == before
    assert set(_accel.status().values()) == {"not installed"}


def test_install_with_a_build_puts_its_finder_first_once(fresh_install):
    _write_manifest(fresh_install)
    assert _accel.install() is True
    assert isinstance(sys.meta_path[0], CompiledFinder)
    n = len(sys.meta_path)
    assert _accel.install() is True and len(sys.meta_path) == n


def test_pure_environment_installs_nothing_even_with_a_build(fresh_install, monkeypatch):
    _write_manifest(fresh_install)
    monkeypatch.setenv("KRAKEN_TUI_PURE", "1")
    before = list(sys.meta_path)
    assert _accel.install() is False and sys.meta_path == before


def test_require_without_a_build_installs_a_finder_that_refuses(fresh_install, monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_COMPILED", "require")
    assert _accel.install() is True
    with pytest.raises(ImportError, match="not built"):
        sys.meta_path[0].find_spec(_accel.ACCELERATED[0])


def test_the_command_line_installs_the_finder(monkeypatch):
    from kraken_tui import cli

    calls = []
    monkeypatch.setattr(_accel, "install", lambda: calls.append(1) or False)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert calls == [1]


def test_a_default_install_is_pure_python():
    """The README's ``pip install -e .`` compiles nothing: no manifest, every hot module from its .py (a
    developer's opt-in build, ``KRAKEN_TUI_BUILD_COMPILED=1``, skips this)."""
    if _accel.read_manifest(_accel._PKG_DIR).get("modules"):
        pytest.skip("an opt-in compiled build is installed in this tree")
    code = ("import json, importlib, kraken_tui._accel as a; a.install(); "
            "print(json.dumps([importlib.import_module(n).__file__ for n in a.ACCELERATED]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert all(path.endswith(".py") for path in json.loads(out.stdout))
