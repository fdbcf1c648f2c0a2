"""Only kraken_tui.ui imports textual; the rest of the package must import without it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import kraken_tui


def _non_ui_modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages(kraken_tui.__path__, prefix="kraken_tui."):
        if info.name.startswith("kraken_tui.ui") or info.name == "kraken_tui.__main__":
            continue
        mods.append(info.name)
    return mods


def test_non_ui_modules_do_not_import_textual():
    mods = _non_ui_modules()
    assert "kraken_tui.cli" in mods and "kraken_tui.domain" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "print(bad[:5])\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"textual imported outside ui/: {proc.stdout}{proc.stderr}"


def test_importing_the_package_has_no_side_effects():
    code = "import sys, kraken_tui, kraken_tui.cli; print(len([m for m in sys.modules if m.startswith('kraken_tui')]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == ""
