"""Only kraken_tui.ui imports textual; the rest of the package must import without it."""

from __future__ import annotations

import json
import os
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
    """``import kraken_tui`` in a fresh interpreter: no finder on sys.meta_path, no textual, no subpackage,
    nothing printed."""
    code = (
        "import json, sys\n"
        "before = [repr(f) for f in sys.meta_path]\n"
        "mods = set(sys.modules)\n"
        "import kraken_tui\n"
        "print(json.dumps({'meta_path_before': before, 'meta_path_after': [repr(f) for f in sys.meta_path],\n"
        "                  'new': sorted(set(sys.modules) - mods)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("KRAKEN_TUI_PURE", "KRAKEN_TUI_COMPILED")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    seen = json.loads(proc.stdout)
    assert seen["meta_path_after"] == seen["meta_path_before"]
    assert not [m for m in seen["new"] if m == "textual" or m.startswith("textual.")]
    assert [m for m in seen["new"] if m.startswith("kraken_tui")] == ["kraken_tui"]


def test_importing_the_command_line_module_has_no_side_effects():
    code = ("import sys; n = len(sys.meta_path); import kraken_tui.cli; "
            "print(len(sys.meta_path) - n, 'textual' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.split() == ["0", "False"]
