"""End to end on real input: the engine trades PF_ETHUSD over Kraken's ETH/USD 5m OHLCVT candles (2024-07)
against the in-process paper exchange over loopback, at max speed, and the journal agrees with the exchange.

Data: ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` - the first 1 200 rows (2024-07-01 00:00 UTC to
about 2024-07-05 04:00 UTC; a sub-window keeps the test at a few seconds), replayed as PF_ETHUSD
(``PATH@PF_ETHUSD``).
Strategy: ``ema_cross`` with fast 9 / slow 21 and ``min_confidence`` 0.4 (the cross alone is enough), so it
trades often enough on 5m bars; exits tightened (stop 0.6 %, TP ladder 0.5/1/1.5/2 %, trailing from
0.4 % at 0.3 %, time exit after 1 h above 0.05 %) so every exit mechanism occurs in the window. With
these settings the window produces longs and shorts and closes by stop, trailing, time and signal, with
take-profit fills in between.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineMode
from kraken_tui.journal.queries import load_fills
from kraken_tui.runtime import RunOptions, build_runtime

ROWS = 1200


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.5, 1.0, 1.5, 2.0], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 1, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0},  # the cost check on tp1, so the ATR of quiet bars blocks nothing
        "operator": {"stale_data_s": 60},
    })


async def _run(csv: Path, journal: Path):
    rt = await build_runtime(_config(), RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, exit_at_end=True,
                                                  journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=120)
        ex = rt.paper_server.exchange
        exchange_fills = {f.fill_id: (f.side.value, f.size, f.price, f.cli_ord_id) for f in ex.fills}
        exchange_pos = {s: p.size for s, p in ex.positions.items() if p.size != 0}
        reasons = dict(rt.engine.flow.exit_reasons)
        timeouts = rt.paper_server.source.timeouts
        assert rt.mode is EngineMode.REPLAY
    finally:
        await rt.aclose()
    return code, exchange_fills, exchange_pos, reasons, timeouts


def test_replay_trades_every_exit_kind_and_journal_matches_exchange(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth_5m_window.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(ROWS)))
    journal = tmp_path / "journal.sqlite"

    code, exchange_fills, exchange_pos, reasons, timeouts = asyncio.run(_run(csv, journal))

    assert code == 0
    assert timeouts == 0  # the lockstep never had to give up on the engine
    conn = sqlite3.connect(journal)
    fills = load_fills(conn)
    intents = {cli: (purpose, side) for cli, purpose, side in
               conn.execute("SELECT cli_ord_id, purpose, side FROM intents")}
    stopped = conn.execute("SELECT stop_reason FROM runs").fetchall()
    conn.close()

    # The journal holds exactly the exchange's fills (ids, sides, sizes, prices, cliOrdIds).
    assert {f.fill_id: (f.side.value, f.size, f.price, f.cli_ord_id) for f in fills} == exchange_fills
    # Positions derived from the journal's fills equal the exchange's positions.
    net: dict[str, Decimal] = {}
    for f in fills:
        net[f.symbol] = net.get(f.symbol, Decimal(0)) + f.size * f.side.sign
    assert {s: q for s, q in net.items() if q != 0} == exchange_pos
    # Every fill is one of our intents (no stray orders), journaled before it was sent.
    assert all(f.cli_ord_id in intents for f in fills)
    # Longs and shorts were opened.
    entry_sides = {intents[f.cli_ord_id][1] for f in fills if intents[f.cli_ord_id][0] == "entry"}
    assert entry_sides == {"buy", "sell"}
    # Exits by several mechanisms: positions closed by stop, trailing, time and signal; take-profits filled.
    for reason in ("stop", "trailing", "time", "signal"):
        assert reasons.get(reason, 0) > 0, (reason, reasons)
    assert any(intents[f.cli_ord_id][0].startswith("tp") for f in fills)
    assert stopped == [("exit-at-end",)]
