"""``patterns`` and ``breakout`` in the live engine (the path the console and headless run share,
``runtime.build_runtime``): a replay of Kraken's ETH/USD 5m candles (first 1 500 rows, 2024-07-01 onwards) as
PF_ETHUSD against the in-process paper exchange over loopback; the strategy's signals are journaled and its
entries filled."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from kraken_tui.config import Config
from kraken_tui.runtime import RunOptions, build_runtime

ROWS = 1500


async def _run(name: str, params: dict, csv, journal) -> int:
    cfg = Config.model_validate({"strategy": {"name": name, "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                                              "params": params},
                                 "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})
    rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, exit_at_end=True,
                                             journal=journal))
    await rt.start()
    try:
        return await asyncio.wait_for(rt.wait_finished(), timeout=120)
    finally:
        await rt.aclose()


@pytest.mark.parametrize("name,params", [("patterns", {"min_pattern_reliability": 0.6}), ("breakout", {})])
def test_strategy_trades_in_the_engine(name, params, shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth_5m_window.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(ROWS)))
    journal = tmp_path / "journal.sqlite"
    assert asyncio.run(_run(name, params, csv, journal)) == 0
    conn = sqlite3.connect(journal)
    signals = conn.execute("SELECT strategy, side FROM signals").fetchall()
    entries = conn.execute("SELECT COUNT(*) FROM fills JOIN intents USING (cli_ord_id) "
                           "WHERE intents.purpose = 'entry'").fetchone()[0]
    conn.close()
    assert signals and {s for s, _ in signals} == {name}
    assert entries > 0
