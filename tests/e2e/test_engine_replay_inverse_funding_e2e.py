"""End to end for inverse contracts with Kraken's own PI_XBTUSD funding: the engine trades PI_XBTUSD (USD
contracts, margined and settled in XBT) over recorded XBT candles with the recorded PI_XBTUSD hourly funding,
against the in-process paper exchange over loopback. It opens positions sized from the XBT inverse margin
account, manages them (take-profit ladder partial exits, trailing stop) and closes them; funding is booked in
XBT every hour. The journal's figures equal the paper exchange's account log to the satoshi: realised P&L,
fees and funding in XBT, and the closed trades' net P&L up to the last exit.

Data: ``kraken/pf_xbtusd_5m_2025-08.csv`` (500 5m candles from 2025-08-29 04:25 UTC) replayed as PI_XBTUSD, and
``kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv`` (``--funding``; Kraken's relative rate per hour).
Sources: Kraken Support "Portfolio Management" (inverse P&L in the coin), docs/kraken-futures-api.md §4.6
(inverse margin accounts), §4.18 (account log: cash legs per currency), §8.3 (hourly funding).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.journal.accountlog import compare_with_account_log
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_fills, load_trades
from kraken_tui.runtime import RunOptions, build_runtime

SATOSHI = Decimal("1e-8")
CANDLES = "kraken/pf_xbtusd_5m_2025-08.csv"
FUNDING = "kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PI_XBTUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.3, 0.6, 0.9, 1.2], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 4, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0, "max_position_notional_usd": 1_000_000, "sizing": "fixed",
                 "fixed_fraction_pct": 50},
        "operator": {"stale_data_s": 60},
        # the flex account holds 100 000 USD, the XBT inverse margin account 0.05 XBT (about 5 500 USD)
        "paper": {"starting_balance_usd": 100_000, "starting_coin_balances": {"xbt": 0.05}},
    })


async def _run(candles, funding, journal):
    rt = await build_runtime(_config(), RunOptions(replay=[f"{candles}@PI_XBTUSD"], funding=str(funding), speed=None,
                                                  exit_at_end=True, journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=240)
        ex = rt.paper_server.exchange
        log = list(ex.account_log)
        reasons = dict(rt.engine.flow.exit_reasons)
        start_xbt = rt.engine.starting_equity
    finally:
        await rt.aclose()
    return code, log, reasons, start_xbt


def test_inverse_replay_with_recorded_funding_matches_the_account_log(shared_data, tmp_path):
    journal = tmp_path / "journal.sqlite"
    code, log, reasons, _ = asyncio.run(_run(shared_data(CANDLES), shared_data(FUNDING), journal))
    assert code == 0
    conn = open_db(journal, create=False)
    try:
        trades, _ = load_trades(conn)
        fills = load_fills(conn, symbol="PI_XBTUSD")
    finally:
        conn.close()
    closed = [t for t in trades.closed if t.symbol == "PI_XBTUSD"]
    # opened, managed and closed: several trades both ways, closes in parts (the take-profit ladder), a
    # protective exit among the reasons
    assert len(closed) >= 5, reasons
    assert {t.side.value for t in closed} == {"long", "short"}
    assert len(fills) > 2 * len(closed) + 2, (len(fills), len(closed))
    assert set(reasons) & {"trailing", "stop", "tp1", "tp2", "tp3", "tp4"}, reasons
    # sized from the XBT account: 50 % of 0.05 XBT at under 115 000 USD is under 2 875 contracts (USD) - from the
    # 100 000 USD flex account it would be 50 000
    assert max(t.size for t in closed) <= 2875, [t.size for t in closed]
    assert all(t.currency == "xbt" and t.usd_rate == t.exit_price for t in closed)
    # funding booked hourly in XBT from the recorded rates, and the journal saw every payment
    funding_rows = [e for e in log if e.info == "funding rate change"]
    assert len(funding_rows) >= 10 and all(e.asset == "xbt" for e in funding_rows)
    assert any(t.funding_coin for t in closed)
    # to the satoshi: realised P&L, fees and funding in XBT against the account log's XBT cash legs
    cmp = compare_with_account_log(trades, log, currency="xbt", tolerance_usd=SATOSHI)
    assert cmp.matches, cmp.differences
    # the closed trades' net P&L in XBT equals the account log up to the last exit, without the opening fills
    # of a position still open at the end (a reversal enters in the same millisecond as it exits)
    last_exit = max(t.exit_ts_ms for t in closed)
    reopened = min((p.entry_ts_ms for p in trades.open), default=None)
    rows = [e for e in log if e.ts_ms <= last_exit
            and not (reopened is not None and e.ts_ms >= reopened and e.info == "futures trade"
                     and not e.realized_pnl)]
    upto = compare_with_account_log(trades, rows, currency="xbt").exchange
    exchange_net = upto.realized_pnl_usd - upto.fees_usd + upto.funding_usd
    net_journal = sum((t.net_pnl_coin for t in closed), Decimal(0))
    assert abs(net_journal - exchange_net) <= SATOSHI, (net_journal, exchange_net)
    assert upto.funding_usd != 0
    print(f"PI_XBTUSD replay with recorded funding: {len(closed)} trades, {len(fills)} fills, "
          f"{len(funding_rows)} funding rows, journal net {net_journal:.10f} XBT = account log "
          f"{exchange_net:.10f} XBT, exits {reasons}")
