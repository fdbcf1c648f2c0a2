"""What the quick commands load: ``kraken-tui ctl status`` and ``kraken-tui backtest`` on a small file run
without textual, httpx or numpy (the backtest also without multiprocessing, asyncio, sqlite3, the order
executor and the Kraken wire modules; ``backtest --json`` without the plotting library; ``ctl status`` without
pydantic, the config models, the engine facade and ``importlib.abc``; ``journal summary`` without the domain's
market and account types; a backtest without a config file without pydantic's plugin scan), so they start fast.

Each command runs in a fresh interpreter through ``kraken_tui.cli.main``; at exit the interpreter writes which
of the watched modules (exact dotted names) it had imported. No timing is asserted here (start-up times are
printed by bench/bench_backtest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WATCHED = ("textual", "httpx", "numpy", "plotext", "aiohttp", "pandas", "multiprocessing", "asyncio", "sqlite3",
           "pydantic", "importlib.abc", "kraken_tui.config", "kraken_tui.engine.facade",
           "kraken_tui.engine.execution", "kraken_tui.journal.queries", "kraken_tui.kraken", "importlib.metadata",
           "kraken_tui.domain.market", "kraken_tui.domain.account", "logging", "pickle")


def _imported(argv: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"watched = {WATCHED!r}\n"
        "def _report():\n"
        "    names = sorted(m for m in watched if m in sys.modules)\n"
        f"    open({str(out)!r}, 'w').write(json.dumps(names))\n"
        "atexit.register(_report)\n"
        "from kraken_tui.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "KRAKEN_TUI_BACKTEST_PREFETCH": "0",
           "XDG_CONFIG_HOME": str(tmp_path / "config-home"), "XDG_DATA_HOME": str(tmp_path / "data-home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    return proc.returncode, set(json.loads(out.read_text()))


def test_ctl_status_loads_no_ui_http_or_numpy(tmp_path: Path) -> None:
    code, mods = _imported(["ctl", "status"], tmp_path)
    assert code != 0  # no instance is running in this runtime directory
    assert not mods & {"textual", "httpx", "numpy", "plotext", "pandas"}, mods
    # the client needs neither the server's engine imports (config, pydantic) nor importlib.abc (kraken_tui._accel)
    assert not mods & {"pydantic", "kraken_tui.config", "kraken_tui.engine.facade", "importlib.abc"}, mods


@pytest.mark.parametrize("json_out", [True, False])
def test_backtest_of_a_small_file_loads_no_ui_http_or_numpy(tmp_path: Path, shared_data, json_out: bool) -> None:
    candles = shared_data("kraken/pf_xbtusd_1m_2025-08.csv")
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    argv = ["backtest", "--config", str(cfg), "--candles", str(candles), "--symbol", "PF_XBTUSD",
            "--strategy", "sma_cross", *(["--json"] if json_out else [])]
    code, mods = _imported(argv, tmp_path)
    assert code == 0
    assert not mods & {"textual", "httpx", "numpy", "aiohttp", "pandas", "multiprocessing"}, mods
    # signal ids without the order executor (asyncio, the REST wire parsers); iso_ms without the journal's queries
    assert not mods & {"asyncio", "kraken_tui.engine.execution", "kraken_tui.kraken", "sqlite3",
                       "kraken_tui.journal.queries"}, mods
    if json_out:
        assert "plotext" not in mods  # the chart is drawn for the text report only


def test_backtest_without_a_config_file_builds_no_config_validator(tmp_path: Path, shared_data) -> None:
    """No config file anywhere: the defaults are taken as they are (``config.default_config``), so pydantic
    builds no validator and never scans for plugins (``importlib.metadata``)."""
    candles = shared_data("kraken/pf_xbtusd_1m_2025-08.csv")
    code, mods = _imported(["backtest", "--candles", str(candles), "--symbol", "PF_XBTUSD", "--json"], tmp_path)
    assert code == 0
    assert "kraken_tui.config" in mods and "importlib.metadata" not in mods, mods
    # the default strategy (ensemble) without external signals or a model: no logging, no unpickling
    assert not mods & {"logging", "pickle"}, mods


def test_journal_summary_loads_no_market_or_account_types(tmp_path: Path) -> None:
    """``journal summary`` reads fills and funding: the domain's market data and account modules stay unloaded."""
    code, mods = _imported(["journal", "--journal", str(tmp_path / "none.sqlite"), "summary", "--since",
                            "2024-07-01"], tmp_path)
    assert code != 0  # no journal at that path
    assert "kraken_tui.journal.queries" in mods, mods
    assert not mods & {"kraken_tui.domain.market", "kraken_tui.domain.account", "pydantic", "numpy"}, mods


def test_the_compiled_build_switch_loads_no_import_machinery(tmp_path: Path) -> None:
    """``kraken_tui._accel.install()`` (called by every command) without a build imports no ``importlib.abc``."""
    code = ("import json, sys\nfrom kraken_tui import _accel\n_accel.install()\n"
            "print(json.dumps(sorted(m for m in ('importlib.abc', 'importlib.resources', 'hashlib') if m in sys.modules)))")
    env = {**os.environ, "KRAKEN_TUI_PURE": "0"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          check=True)
    assert json.loads(proc.stdout) == [], proc.stdout
