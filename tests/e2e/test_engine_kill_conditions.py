"""Operator safety on a small synthetic price path against the paper exchange (tests/e2e/harness.py):
the daily loss limit pauses until 00:00 UTC (then entries are allowed again) and the equity floor
flattens, halts and finishes with exit code 5.

Account: 10 000 USD (paper default); long 1 PF_XBTUSD bought at about 50 005 (ask). Limits: daily loss
5 % (500 USD), equity floor 80 % of the starting equity (8 000 USD).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.domain import OrderRequest, OrderType, Side
from kraken_tui.engine.operator import OperatorState
from kraken_tui.journal.records import IntentPurpose
from tests.e2e.harness import T0, driven_runtime, rows, wait_for

MIN = 60_000
DAY = 86_400_000


def _cfg() -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1h"},
                                  "operator": {"stale_data_s": 600, "daily_loss_limit_pct": 5,
                                               "equity_floor_pct": 80}})


async def _path(journal):
    async with driven_runtime(_cfg(), journal) as (rt, feed):
        eng, ex = rt.engine, rt.paper_server.exchange
        await feed.tick(T0 + 22 * 60 * MIN, 50_000)  # 2024-01-01 22:00 UTC
        start_equity = eng.starting_equity
        await eng.executor.submit(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal(1),
                                               cli_ord_id="kt-test-XBT-1-entry"), IntentPurpose.ENTRY)
        await feed.tick(T0 + 22 * 60 * MIN + MIN, 49_800)  # -200 USD: still inside the limit
        small = (eng.sm.state, eng.sm.entries_allowed)
        await feed.tick(T0 + 23 * 60 * MIN, 49_300)  # about -700 USD: 7 % of the day's start
        await wait_for(lambda: eng.sm.state is OperatorState.PAUSED)
        paused = (eng.sm.state, eng.sm.reason, eng.sm.entries_allowed)
        await feed.tick(T0 + DAY - MIN, 49_300)  # 23:59 the same day: still paused
        late = eng.sm.state
        await feed.tick(T0 + DAY, 49_300)  # 00:00 UTC the next day
        next_day = (eng.sm.state, eng.sm.reason, eng.sm.entries_allowed)
        await feed.tick(T0 + DAY + MIN, 47_500)  # about -2 500 USD: below 80 % of the starting equity
        code = await asyncio.wait_for(rt.wait_finished(), timeout=10)
        final = (eng.sm.state, eng.sm.reason)
        flat = (sum(1 for p in ex.positions.values() if p.size != 0), len(ex.open_orders))
    return start_equity, small, paused, late, next_day, code, final, flat


def test_daily_loss_pauses_until_utc_midnight_and_equity_floor_halts_with_code_5(tmp_path):
    journal = tmp_path / "j.sqlite"
    start_equity, small, paused, late, next_day, code, final, flat = asyncio.run(_path(journal))
    assert start_equity == Decimal(10_000)
    assert small == (OperatorState.RUNNING, True)
    assert paused[0] is OperatorState.PAUSED and paused[1].startswith("daily loss limit") and not paused[2]
    assert "until 00:00 UTC" in paused[1]
    assert late is OperatorState.PAUSED
    assert next_day == (OperatorState.RUNNING, "new UTC day: daily loss limit reset", True)
    assert code == 5
    assert final[0] is OperatorState.HALTED and final[1].startswith("flattened")
    assert flat == (0, 0)
    states = [n for (n,) in rows(journal, "SELECT name FROM events WHERE kind = 'state' ORDER BY id")]
    assert states == ["PAUSED", "RUNNING", "FLATTENING", "HALTED"]
    reasons = [r for (r,) in rows(journal, "SELECT reason FROM events WHERE kind = 'operator' ORDER BY id")]
    assert any(r.startswith("equity floor") for r in reasons)
