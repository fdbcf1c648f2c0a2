"""End to end for inverse contracts: the engine trades PI_XBTUSD (USD contracts, P&L in XBT) over Kraken's
XBT/USD 5m OHLCVT candles (2023-01) against the in-process paper exchange over loopback, and the journal's net
P&L in XBT equals the paper exchange's account log to the satoshi.

Data: ``kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv`` - the first 1 200 rows (2023-01-01 00:00 UTC on),
replayed as PI_XBTUSD (``PATH@PI_XBTUSD``). Strategy ``ema_cross`` 9/21 with tightened exits, as in the PF_
replay test, so positions are opened, managed by the stop / take-profit ladder / trailing, and closed.
Sources: Kraken Support "Portfolio Management" (inverse P&L in the coin), docs/kraken-futures-api.md §4.18
(account log: cash legs per currency).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.journal.accountlog import compare_with_account_log
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_trades
from kraken_tui.runtime import RunOptions, build_runtime

ROWS = 1200
SATOSHI = Decimal("1e-8")


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PI_XBTUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.5, 1.0, 1.5, 2.0], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 1, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0},  # the cost check on tp1, so the ATR of quiet bars blocks nothing
        "operator": {"stale_data_s": 60},
    })


async def _run(csv, journal):
    rt = await build_runtime(_config(), RunOptions(replay=[f"{csv}@PI_XBTUSD"], speed=None, exit_at_end=True,
                                                  journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=180)
        ex = rt.paper_server.exchange
        log = list(ex.account_log)
        reasons = dict(rt.engine.flow.exit_reasons)
        xbt = ex.balances.quantities.get("xbt", Decimal(0))
        positions = {s: p.size for s, p in ex.positions.items() if p.size != 0}
    finally:
        await rt.aclose()
    return code, log, reasons, xbt, positions


def test_inverse_replay_journal_net_equals_the_account_log(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv")
    csv = tmp_path / "xbt_5m_window.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(ROWS)))
    journal = tmp_path / "journal.sqlite"
    code, log, reasons, xbt_balance, positions = asyncio.run(_run(csv, journal))
    assert code == 0
    conn = open_db(journal, create=False)
    try:
        trades, _ = load_trades(conn)
    finally:
        conn.close()
    closed = [t for t in trades.closed if t.symbol == "PI_XBTUSD"]
    assert len(closed) >= 3, reasons
    assert {t.side.value for t in closed} == {"long", "short"}
    assert all(t.currency == "xbt" and t.usd_rate == t.exit_price for t in closed)
    cmp = compare_with_account_log(trades, log, currency="xbt", tolerance_usd=SATOSHI)
    assert cmp.matches, cmp.differences
    # the closed trades' net P&L in XBT equals the account log's XBT cash legs up to the last exit (a position
    # still open at the end of the data has only its entry fee booked after that)
    last_exit = max(t.exit_ts_ms for t in closed)
    upto = compare_with_account_log(trades, [e for e in log if e.ts_ms <= last_exit], currency="xbt").exchange
    exchange_net = upto.realized_pnl_usd - upto.fees_usd + upto.funding_usd
    net_journal = sum((t.net_pnl_coin for t in closed), Decimal(0))
    assert abs(net_journal - exchange_net) <= SATOSHI, (net_journal, exchange_net)
    if not positions:
        assert abs(xbt_balance - exchange_net) <= SATOSHI
    print(f"PI_XBTUSD replay: {len(closed)} trades, journal net {net_journal:.10f} XBT, account log "
          f"{exchange_net:.10f} XBT, open at the end {positions}, exits {reasons}")
