"""End to end for the default strategy, the seed's ensemble: a headless replay with the default config over
Kraken's ETH/USD 5m candles (1 400 rows from 2024-07-09, about 117 hours) against the in-process paper
exchange over loopback. The start says which slots have a source and that the ML weight (no signal file) is
redistributed, and which funding the candle replay books; the multi-timeframe slot is fed 15m, 1h and 4h
bars built from the replayed ticks; every entry comes from a signal of confidence 0.7 or more, and the
signals carry the slot votes.

Data: ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` (``PATH@PF_ETHUSD``).
Source: the ensemble's rule, kraken_tui/engine/strategies/ensemble.py (module docstring).
"""

from __future__ import annotations

import asyncio
import sqlite3

from kraken_tui.config import Config
from kraken_tui.engine.facade import EventKind
from kraken_tui.runtime import RunOptions, build_runtime

FIRST, ROWS = 2304, 1400  # 2024-07-09 on; the first signals of the file come on 2024-07-13
ANNOUNCED = ("ensemble slots: technical 50%, patterns 33%, mtf 17%; no source for ml: weight redistributed; "
             "entries at confidence >= 0.7")


async def _run(csv, journal):
    cfg = Config.model_validate({"strategy": {"symbols": ["PF_ETHUSD"]}, "operator": {"stale_data_s": 60}})
    assert cfg.strategy.name == "ensemble"
    rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, exit_at_end=True,
                                             journal=journal))
    await rt.start()
    try:
        started = [e.message for e in rt.engine.events.recent if e.kind is EventKind.INFO]
        code = await asyncio.wait_for(rt.wait_finished(), timeout=180)
        per_tf = dict(rt.engine.strategy.state("PF_ETHUSD").mtf.per_tf)
    finally:
        await rt.aclose()
    return code, started, per_tf


def test_default_ensemble_replay_announces_its_slots_and_feeds_the_timeframes(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth_5m_window.csv"
    with src.open() as f:
        lines = [line for i, line in zip(range(FIRST + ROWS), f, strict=False) if i >= FIRST]
    csv.write_text("".join(lines))
    journal = tmp_path / "journal.sqlite"
    code, started, per_tf = asyncio.run(_run(csv, journal))
    assert code == 0
    assert ANNOUNCED in started, started
    # a candle replay books the backtest's constant funding rate, and says so
    assert "replay funding: constant 1e-05 per hour (default; set --funding PATH or --funding-rate R)" in started
    # 117 hours of 5m bars: EMA(20) of the 4h bars is known after 80 hours, so every timeframe scores
    assert set(per_tf) == {"15m", "1h", "4h"} and all(v in (-1, -0.5, 0, 0.5, 1) for v in per_tf.values()), per_tf
    conn = sqlite3.connect(journal)
    try:
        rows = conn.execute("SELECT confidence, strategy, reason, action FROM signals").fetchall()
    finally:
        conn.close()
    assert rows and all(s == "ensemble" and c >= 0.7 and "mtf" in r and "technical" in r for c, s, r, _ in rows)
    print(f"default ensemble replay: {len(rows)} signals, actions {sorted({a for *_, a in rows})}, mtf {per_tf}")
