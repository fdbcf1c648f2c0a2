"""The console (the Textual app, ``run_test``) on a candle replay against the paper exchange over loopback, with the
research strategies: the ensemble with a model trained in the test (``kraken-tui train``) shows the ``ml`` slot's
vote in its signals on the Signals panel; ``breakout`` and ``patterns`` as the strategy show their signals there too.

Data: ``kraken/pf_xbtusd_5m_2025-08.csv`` (500 five-minute bars) as PF_XBTUSD; for ``patterns`` (rare events), the
first 1 500 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` as PF_ETHUSD.
Source: kraken_tui/engine/strategies/ensemble.py (the signal's reason names each active slot's vote),
kraken_tui/engine/strategies/breakout.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kraken_tui.config import Config
from kraken_tui.runtime import RunOptions
from kraken_tui.ui.app import KrakenApp
from kraken_tui.ui.services import RuntimeServices
from kraken_tui.ui.widgets.signals import SignalsPanel
from kraken_tui.ui.widgets.table import KeyedTable

PF_5M = "kraken/pf_xbtusd_5m_2025-08.csv"
SYMBOL = "PF_XBTUSD"
SIZE = (200, 50)


def _app(cfg: Config, csv: Path, tmp_path: Path, symbol: str = SYMBOL) -> KrakenApp:
    opts = RunOptions(replay=[f"{csv}@{symbol}"], speed=None, journal=tmp_path / "journal.sqlite")
    return KrakenApp(None, cfg, services=RuntimeServices(cfg, opts, serve_ctl=False), log_file=tmp_path / "c.log",
                     export_dir=tmp_path)


def _rows(app: KrakenApp) -> list[str]:
    table = app.dashboard.query_one(SignalsPanel).query_one(KeyedTable)
    return [" ".join(getattr(c, "plain", str(c)) for c in table.cells(k)) for k in table.keys]


async def _wait_for_row(app: KrakenApp, pilot, seen: Callable[[str], bool], timeout_s: float = 120.0) -> list[str]:
    """The Signals panel's rows (cells' text joined) once one of them is ``seen``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while loop.time() < end:
        await pilot.pause(0.2)
        if app.engine is not None and any(seen(r) for r in _rows(app)):
            return _rows(app)
    raise AssertionError(f"no such row on the Signals panel after {timeout_s:.0f} s: {_rows(app)}")


_ML_VOTE = re.compile(r"\bml [+-](\d\.\d\d)x0\.\d\d")


def _ml_voted(row: str) -> bool:
    """The ensemble's reason names the ml slot's vote (``ml +0.31x0.50``) and it is not 0."""
    m = _ML_VOTE.search(row)
    return m is not None and float(m.group(1)) > 0


async def test_console_shows_the_ensembles_ml_slot_from_a_trained_model(shared_data, tmp_path, capsys):
    pytest.importorskip("sklearn")
    from threadpoolctl import threadpool_limits

    from kraken_tui.cli import main

    csv, model = shared_data(PF_5M), tmp_path / "m.pkl"
    with threadpool_limits(1):
        assert main(["train", "--candles", str(csv), "--symbol", SYMBOL, "--out", str(model), "--horizon", "6",
                     "--embargo", "6", "--max-iter", "20"]) == 0
    capsys.readouterr()
    cfg = Config.model_validate({
        "strategy": {"name": "ensemble", "symbols": [SYMBOL], "timeframe": "5m",
                     "params": {"min_confidence": 0.05, "ml": {"model_path": str(model), "min_confidence": 0.0}}},
        "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})
    app = _app(cfg, csv, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        rows = await _wait_for_row(app, pilot, _ml_voted)
        snap_events = [e.message for e in app.engine.events.recent]
        assert app.engine.strategy.model is not None
    assert all("ensemble score" in r for r in rows), rows
    assert any(f"(ml: model {model})" in m for m in snap_events), snap_events


async def test_console_runs_breakout_and_shows_its_signals(shared_data, tmp_path):
    csv = shared_data(PF_5M)
    cfg = Config.model_validate({"strategy": {"name": "breakout", "symbols": [SYMBOL], "timeframe": "5m"},
                                 "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})
    app = _app(cfg, csv, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        rows = await _wait_for_row(app, pilot, lambda r: "breakout" in r.lower())
        assert app.engine.strategy.name == "breakout"
    assert all("breakout" in r.lower() for r in rows), rows


async def test_console_runs_patterns_and_shows_its_signals(shared_data, tmp_path):
    """``patterns`` on the first 1 500 rows of Kraken's ETH/USD 5m candles (2024-07-01 on) as PF_ETHUSD."""
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth_5m_window.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(1500)))
    cfg = Config.model_validate({"strategy": {"name": "patterns", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                                              "params": {"min_pattern_reliability": 0.6}},
                                 "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})
    app = _app(cfg, csv, tmp_path, "PF_ETHUSD")
    async with app.run_test(size=SIZE) as pilot:
        await _wait_for_row(app, pilot, lambda r: "PF_ETHUSD" in r and "reliability" in r)
        assert app.engine.strategy.name == "patterns"
