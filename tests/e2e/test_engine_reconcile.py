"""Reconciliation wired into the engine, against the paper exchange over loopback (tests/e2e/harness.py):
a manual position is adopted as external and pauses entries until resume; a fast fill missing from
openorders is resolved as filled (never rejected/cancelled: nautilus_trader #3870); the dead man's switch
is armed, shown and disarmed on an orderly stop; funding accrues per position hourly.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.journal.records import IntentPurpose
from kraken_tui.kraken import ws_events as W
from tests.e2e.harness import T0, driven_runtime, rows, wait_for

MIN = 60_000


def _cfg(**operator) -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1h"},
                                  "operator": {"stale_data_s": 600, **operator}})


async def _manual_position(journal):
    async with driven_runtime(_cfg(), journal) as (rt, feed):
        eng, ex = rt.engine, rt.paper_server.exchange
        await feed.tick(T0, 50_000)
        before = eng.snapshot().state
        out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.02",
                             "cliOrdId": "manual-by-hand-1"})
        assert out is not None
        await wait_for(lambda: eng.snapshot().positions)
        await feed.tick(T0 + MIN, 50_100)
        snap = eng.snapshot()
        await eng.rec.run("test pass")  # a later pass keeps it blocked (not acknowledged yet)
        still = (eng.sm.state, BLOCKER_NAME in eng.sm.entry_blockers)
        eng.resume("looked at it", TransitionSource.KEY)
        await eng.rec.run("test pass after resume")
        after = eng.snapshot()
    return before, snap, still, after


def test_manual_position_is_adopted_external_and_pauses_until_resume(tmp_path):
    journal = tmp_path / "j.sqlite"
    before, snap, still, after = asyncio.run(_manual_position(journal))
    assert before is OperatorState.RUNNING
    (pos,) = snap.positions
    assert pos.external and pos.size == Decimal("0.02") and pos.side.value == "long"
    assert snap.state is OperatorState.PAUSED and "adopted as external" in snap.state_reason
    assert BLOCKER_NAME in snap.entry_blockers
    assert still == (OperatorState.PAUSED, True)
    assert after.state is OperatorState.RUNNING and BLOCKER_NAME not in after.entry_blockers
    assert after.positions[0].external  # acknowledged, still tagged external
    diffs = rows(journal, "SELECT kind, symbol, journal_value, exchange_value, action FROM reconciliation")
    assert ("position", "PF_XBTUSD", "flat", "long 0.02 @ 50005.0", "adopted as external, entries paused") in [
        (k, s, j, x[:len("long 0.02 @ 50005.0")], a) for k, s, j, x, a in diffs]
    assert rows(journal, "SELECT cli_ord_id FROM fills") == [("manual-by-hand-1",)]
    states = rows(journal, "SELECT name, source FROM events WHERE kind = 'state' ORDER BY id")
    assert states[-2:] == [("PAUSED", "automatic"), ("RUNNING", "key")]


async def _fast_fill(journal, hide_rest_fills: bool):
    async with driven_runtime(_cfg(), journal) as (rt, feed):
        eng = rt.engine
        await feed.tick(T0, 50_000)
        # The WebSocket "misses" the private updates of our order (as when Kraken's fill beats the poll).
        real = eng.on_ws_event
        dropped: list[str] = []

        async def lossy(ev):
            if isinstance(ev, W.FillsEvent | W.OrderUpdateEvent | W.PositionsEvent):
                dropped.append(type(ev).__name__)
                return
            await real(ev)

        eng.on_ws_event = lossy
        cid = "kt-test-XBT-1-entry"
        req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal(49_000),
                           cli_ord_id=cid)
        placed = await eng.executor.submit(req, IntentPurpose.ENTRY)
        assert placed.status is OrderStatus.PLACED and cid in eng.executor.live
        await feed.tick(T0 + MIN, 48_900)  # the limit fills on the exchange
        eng.on_ws_event = real
        assert rt.paper_server.exchange.find_open(cli_ord_id=cid) is None and cid in eng.executor.live
        if hide_rest_fills:  # fills not visible yet: only orders/status can tell
            client = eng.client

            async def no_fills(*_a, **_k):
                return []

            client.fills = no_fills  # type: ignore[method-assign]
            client.fills_since = no_fills  # type: ignore[method-assign]
        actions = await eng.rec.run("test")
        events = [e.message for e in eng.snapshot().events]
        state = eng.sm.state
    return dropped, actions, events, state, cid


def _order_statuses(journal, cid):
    return [s for (s,) in rows(journal, f"SELECT status FROM order_events WHERE cli_ord_id = '{cid}' ORDER BY id")]


def test_fast_fill_missing_from_openorders_is_filled_from_fills(tmp_path):
    journal = tmp_path / "j.sqlite"
    dropped, actions, events, state, cid = asyncio.run(_fast_fill(journal, hide_rest_fills=False))
    assert "FillsEvent" in dropped
    resolved = [a for a in actions if type(a).__name__ == "OrderResolved"]
    assert [(a.outcome, a.filled) for a in resolved] == [("filled", Decimal("0.01"))]
    statuses = _order_statuses(journal, cid)
    assert statuses[0] == "placed" and statuses[-1] == "filled"
    assert not {"cancelled", "rejected", "notFound"} & set(statuses)
    assert rows(journal, f"SELECT size FROM fills WHERE cli_ord_id = '{cid}'") == [("0.01",)]  # booked from REST
    assert state is OperatorState.RUNNING  # our own fill: synced, not adopted
    assert not any("cancelled" in m or "rejected" in m for m in events if cid in m)


def test_fast_fill_missing_from_openorders_and_fills_is_filled_from_order_status(tmp_path):
    journal = tmp_path / "j.sqlite"
    _dropped, actions, _events, _state, cid = asyncio.run(_fast_fill(journal, hide_rest_fills=True))
    resolved = [a for a in actions if type(a).__name__ == "OrderResolved"]
    assert [(a.outcome, a.detail) for a in resolved] == [("filled", "orders/status FULLY_EXECUTED")]
    statuses = _order_statuses(journal, cid)
    assert statuses[0] == "placed" and statuses[-1] == "filled"
    assert not {"cancelled", "rejected", "notFound"} & set(statuses)
    diffs = rows(journal, "SELECT action FROM reconciliation WHERE kind = 'order'")
    assert diffs == [("marked filled",)]


async def _dead_man_and_funding(journal):
    async with driven_runtime(_cfg(cancel_after_s=60), journal) as (rt, feed):
        eng, ex = rt.engine, rt.paper_server.exchange
        await feed.tick(T0 + 10 * MIN, 50_000, funding_rate=0.0001)
        armed = eng.snapshot().dead_man
        cid = "kt-test-XBT-2-entry"
        await eng.executor.submit(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("0.5"),
                                               cli_ord_id=cid), IntentPurpose.ENTRY)
        await feed.tick(T0 + 30 * MIN, 50_000)
        mid = eng.snapshot().positions[0].funding_accrued_usd
        await feed.tick(T0 + 61 * MIN, 50_000)
        one_hour = eng.snapshot().positions[0].funding_accrued_usd
        await feed.tick(T0 + 121 * MIN, 50_000)
        two_hours = eng.snapshot().positions[0].funding_accrued_usd
        await eng.stop("test stop")
        disarmed = ex.dead_man_trigger_ms if hasattr(ex, "dead_man_trigger_ms") else None
    return armed, mid, one_hour, two_hours, disarmed, eng.dead_man.view()


def test_dead_man_switch_shown_and_disarmed_and_funding_accrues_hourly(tmp_path):
    armed, mid, one_hour, two_hours, _disarmed, after = asyncio.run(_dead_man_and_funding(tmp_path / "j.sqlite"))
    assert armed.enabled and armed.timeout_s == 60 and armed.trigger_ts_ms is not None
    assert after.trigger_ts_ms is None and after.last_error is None  # disarmed on the orderly stop
    # long 0.5 at mark 50 000, +0.0001/h: the long pays 0.5 x 50 000 x 0.0001 = 2.5 USD per hour.
    assert mid == 0
    assert one_hour == Decimal("-2.5")
    assert two_hours == Decimal("-5.0")
