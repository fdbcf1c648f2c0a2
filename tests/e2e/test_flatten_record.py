"""The record of a flatten, end to end on the paper exchange: the flatten's closing fill and trade carry the
exit reason ``flatten`` with its source, the protective orders it cancelled are journaled cancelled, and a
restart on the same journal reports none of them "gone without a fill".

Data: the first 300 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` as PF_ETHUSD, ``ema_cross``
fast 5 / slow 13 (trades within the window), so a position and its protective orders are open when the
flatten runs.
"""

from __future__ import annotations

import asyncio
import sqlite3

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineEvent, EventKind
from kraken_tui.engine.operator import TransitionSource
from kraken_tui.journal.queries import account_names, load_trades
from kraken_tui.runtime import RunOptions, build_runtime


def _cfg() -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                                               "params": {"fast": 5, "slow": 13, "min_confidence": 0.4}},
                                  # the cost check on tp1, so the ATR of quiet bars blocks nothing
                                  "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})


async def _flatten_then_restart(csv, journal, source):
    opts = RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, journal=journal)
    first: list[EngineEvent] = []
    rt = await build_runtime(_cfg(), opts)
    await rt.start()
    rt.engine.add_listener(first.append)
    try:
        await asyncio.wait_for(rt.paper_server.source_done.wait(), timeout=60)
        await rt.engine.wait_idle()
        ex = rt.paper_server.exchange
        protective = [o.cli_ord_id for o in ex.open_orders.values()]
        report = await rt.engine.flatten("test flatten", source)
        await rt.engine.wait_idle()
        await asyncio.sleep(0.3)  # the closing fill arrives on the private feed
    finally:
        await rt.aclose()
    rt2 = await build_runtime(_cfg(), RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, journal=journal))
    await rt2.start()
    try:
        await rt2.engine.wait_idle()
        second = [e.message for e in rt2.engine.snapshot().events]
    finally:
        await rt2.aclose()
    return protective, report, first, second


def _run(shared_data, tmp_path, source):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(300)))
    journal = tmp_path / "j.sqlite"
    protective, report, first, second = asyncio.run(_flatten_then_restart(csv, journal, source))
    assert report.flat and len(protective) >= 2  # a stop and take-profits rested when the flatten ran
    return journal, protective, first, second


def test_a_flatten_is_recorded_as_a_flatten_and_its_cancels_as_cancelled(shared_data, tmp_path):
    journal, protective, first, second = _run(shared_data, tmp_path, TransitionSource.KEY)
    # Events: the closing fill is the flatten's, with its source; never "external".
    fills = [e for e in first if e.kind is EventKind.FILL]
    closing = fills[-1]
    assert closing.data["purpose"] == "flatten (key)", closing.message
    assert not any(e.data.get("purpose") == "external" for e in fills)
    assert any(e.data.get("exit_reason") == "flatten" for e in first)
    # The journal: the last trade's exit reason is flatten, with the source.
    conn = sqlite3.connect(journal)
    try:
        # the restart replays into an account of its own: the flatten is in the first run's account
        trades, _ = load_trades(conn, account_names(conn)[0])
        last = trades.closed[-1]
        assert last.exit_reason == "flatten"
        # Every protective order the flatten cancelled is journaled cancelled.
        for cid in protective:
            status = conn.execute("SELECT status FROM order_events WHERE cli_ord_id = ? ORDER BY id DESC LIMIT 1",
                                  (cid,)).fetchone()
            assert status is not None and status[0] == "cancelled", (cid, status)
    finally:
        conn.close()
    # The restart reports none of them gone.
    gone = [m for m in second if "gone without a fill" in m]
    assert not gone, gone
    conn = sqlite3.connect(journal)
    try:
        gone_rows = conn.execute("SELECT cli_ord_id, error FROM order_events WHERE error LIKE '%gone without a fill%'"
                                 ).fetchall()
    finally:
        conn.close()
    assert not gone_rows, gone_rows


def test_a_ctl_flatten_names_its_source(shared_data, tmp_path):
    journal, _, first, _ = _run(shared_data, tmp_path, TransitionSource.CTL)
    assert [e for e in first if e.kind is EventKind.FILL][-1].data["purpose"] == "flatten (ctl flatten)"
    conn = sqlite3.connect(journal)
    try:
        trades, _ = load_trades(conn, account_names(conn)[0])
    finally:
        conn.close()
    assert trades.closed[-1].exit_reason == "flatten"
