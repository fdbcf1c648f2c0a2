"""End to end for a mixed account: the engine trades PF_XBTUSD (linear, margined by the USD flex account) and
PI_XBTUSD (inverse, margined by the XBT inverse margin account) at once, over the same recorded XBT candles,
against the in-process paper exchange over loopback. Every figure of the journal is checked against the paper
exchange's own account log, one currency at a time: realised P&L, fees and funding of the PF_ fills against the
log's USD legs to the cent's ten-thousandth, of the PI_ fills against the XBT legs to the satoshi, and each
currency's net cash change against the log's own balances (first ``old_balance`` to last ``new_balance``).
The engine's view of the two accounts at the end equals the exchange's balances.

Data: ``kraken/pf_xbtusd_5m_2025-08.csv`` (500 5m candles from 2025-08-29 04:25 UTC), replayed twice, as
PF_XBTUSD and as PI_XBTUSD; funding at the replay's constant default rate on both symbols (USD legs for PF_, XBT
legs for PI_).
Sources: docs/kraken-futures-api.md §4.6 (flex and inverse margin accounts), §4.18 (account log: cash legs per
currency, old and new balance); Kraken Support "Portfolio Management" (inverse P&L in the coin).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.journal.accountlog import compare_with_account_log
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_trades
from kraken_tui.runtime import RunOptions, build_runtime

SATOSHI = Decimal("1e-8")
CANDLES = "kraken/pf_xbtusd_5m_2025-08.csv"


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD", "PI_XBTUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.3, 0.6, 0.9, 1.2], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 4, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0, "max_position_notional_usd": 1_000_000, "sizing": "fixed",
                 "fixed_fraction_pct": 20},
        "operator": {"stale_data_s": 60},
        # flex: 20 000 USD; the XBT inverse margin account: 0.05 XBT (about 5 500 USD)
        "paper": {"starting_balance_usd": 20_000, "starting_coin_balances": {"xbt": 0.05}},
    })


async def _run(candles, journal):
    rt = await build_runtime(_config(), RunOptions(replay=[f"{candles}@PF_XBTUSD", f"{candles}@PI_XBTUSD"],
                                                  speed=None, exit_at_end=True, journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=240)
        ex = rt.paper_server.exchange
        log = list(ex.account_log)
        balances = dict(ex.balances.quantities)
        positions = {s: p.size for s, p in ex.positions.items() if p.size != 0}
        acct = rt.engine.account
        engine_usd = acct.account.balance_value_usd if acct.account is not None else None
        engine_xbt = acct.coin_accounts["xbt"].balance_coin if "xbt" in acct.coin_accounts else None
    finally:
        await rt.aclose()
    return code, log, balances, positions, engine_usd, engine_xbt


def _cash_change(log, asset):
    rows = [e for e in log if e.asset.lower() == asset and e.old_balance is not None and e.new_balance is not None]
    return rows[-1].new_balance - rows[0].old_balance


def test_mixed_pf_pi_account_matches_the_account_log(shared_data, tmp_path):
    journal = tmp_path / "journal.sqlite"
    code, log, balances, positions, engine_usd, engine_xbt = asyncio.run(_run(shared_data(CANDLES), journal))
    assert code == 0
    conn = open_db(journal, create=False)
    try:
        trades, _ = load_trades(conn)
    finally:
        conn.close()
    pf = [t for t in trades.closed if t.symbol == "PF_XBTUSD"]
    pi = [t for t in trades.closed if t.symbol == "PI_XBTUSD"]
    assert len(pf) >= 3 and len(pi) >= 3, (len(pf), len(pi))
    # each symbol sized from its own account: 20 % of 20 000 USD is about 0.036 XBT of PF_; 20 % of 0.05 XBT is
    # about 1 100 USD contracts of PI_ (from the flex account it would be 4 000)
    assert max(t.size for t in pi) <= 1_200, [t.size for t in pi]
    assert all(t.currency == "xbt" for t in pi) and all(t.currency == "usd" for t in pf)
    # USD legs = the PF_ fills only; XBT legs = the PI_ fills only
    usd = compare_with_account_log(trades, log, currency="usd", tolerance_usd=Decimal("1e-6"))
    assert usd.matches, usd.differences
    xbt = compare_with_account_log(trades, log, currency="xbt", tolerance_usd=SATOSHI)
    assert xbt.matches, xbt.differences
    assert usd.exchange.fees_usd > 0 and xbt.exchange.fees_usd > 0
    assert usd.exchange.funding_usd != 0 and xbt.exchange.funding_usd != 0
    # each currency's cash moved by exactly the journal's realised P&L - fees + funding: the log's own balances
    for cur, cmp, tol in (("usd", usd, Decimal("1e-6")), ("xbt", xbt, SATOSHI)):
        j = cmp.journal
        assert abs(_cash_change(log, cur) - (j.realized_pnl_usd - j.fees_usd + j.funding_usd)) <= tol, cur
    # the engine's view of both accounts at the end is the exchange's
    assert engine_usd is not None and abs(engine_usd - balances["usd"]) <= Decimal("1e-6"), (engine_usd, balances)
    assert engine_xbt is not None and abs(engine_xbt - balances["xbt"]) <= SATOSHI, (engine_xbt, balances)
    print(f"mixed PF_+PI_ replay: PF_ {len(pf)} trades, USD net {usd.journal.realized_pnl_usd - usd.journal.fees_usd + usd.journal.funding_usd:.4f}; "
          f"PI_ {len(pi)} trades, XBT net {xbt.journal.realized_pnl_usd - xbt.journal.fees_usd + xbt.journal.funding_usd:.10f}; "
          f"open at the end {positions}")
