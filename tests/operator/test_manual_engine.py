"""Manual actions end to end against the paper exchange served over loopback (engine.manual, engine.manual_desk):
each action through ``Engine.manual`` and the exchange's own state checked afterwards; every refusal sends
nothing (the exchange's order count is unchanged)."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest

from kraken_tui.domain import Side
from kraken_tui.engine.manual import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualClose,
    ManualOrder,
    MoveStopTo,
    OrderKind,
    Reprotect,
)
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.journal.queries import load_trades
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import T0

D = Decimal
KEY = TransitionSource.KEY


def _pos(ex, sym="PF_XBTUSD") -> Decimal:
    p = ex.positions.get(sym)
    return p.size if p is not None else D(0)


def _orders(ex, sym="PF_XBTUSD") -> list:
    return sorted(((o.order_type, o.side.value, o.size, o.stop_price, o.limit_price, o.reduce_only)
                   for o in ex.open_orders.values() if o.symbol == sym), key=str)


async def _settle(eng) -> None:
    await asyncio.sleep(0.2)
    await eng.wait_idle()


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "journal.sqlite"


async def test_market_order_is_managed_then_stop_to_breakeven_half_close_and_close(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        res = await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.02")), KEY)
        assert res.ok, res.message
        assert res.sent is not None and res.sent.size == D("0.02") and res.sent.order_type == "mkt"
        await _settle(eng)
        assert _pos(ex) == D("0.02")
        stops = [o for o in _orders(ex) if o[0] == "stp"]
        assert len(stops) == 1 and stops[0][2] == D("0.02") and stops[0][3] == D(49_009)  # 50 010 x 0.98, down
        assert len([o for o in _orders(ex) if o[0] == "lmt"]) == 4  # the take-profit ladder
        assert eng.account.managed["PF_XBTUSD"].signal_id in eng.manual_desk.manual_ids

        quote(ex, T0 + 1000, bid=50_490, ask=50_510, mark=50_500)  # above entry: a stop at entry is below the mark
        await _settle(eng)
        res = await eng.manual(MoveStopTo("PF_XBTUSD", breakeven=True), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert [o[3] for o in _orders(ex) if o[0] == "stp"] == [D(50_010)]

        res = await eng.manual(ManualClose("PF_XBTUSD", fraction=D("0.5")), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert _pos(ex) == D("0.01")
        assert [o[2] for o in _orders(ex) if o[0] == "stp"] == [D("0.01")]  # the stop follows the size

        res = await eng.manual(ManualClose("PF_XBTUSD"), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert _pos(ex) == 0 and _orders(ex) == []
        await eng.journal.flush()
    reasons = rows(journal, "SELECT purpose, size FROM intents WHERE purpose = 'manual' ORDER BY ts_ms")
    assert [D(r[1]) for r in reasons] == [D("0.01"), D("0.01")], reasons
    conn = sqlite3.connect(journal)
    try:
        trades, _eq = load_trades(conn)
    finally:
        conn.close()
    assert [(t.exit_reason, t.size) for t in trades.closed] == [("manual", D("0.02"))]
    acts = rows(journal, "SELECT name, source FROM events WHERE kind = 'operator' AND name LIKE 'manual%'")
    assert ("manual order", "key") in acts and ("manual close", "key") in acts and ("manual move stop", "key") in acts


async def test_limit_order_rests_then_its_fill_is_managed_and_orders_are_edited_and_cancelled(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        res = await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), order_type=OrderKind.LIMIT,
                                           limit_price=D("49500.4")), KEY)
        assert res.ok and res.status == "placed", res.message
        assert res.sent is not None and res.sent.limit_price == D(49_500)  # rounded to the 1 USD tick
        assert any("rounded to 49500" in n for n in res.notes)
        await _settle(eng)
        assert _orders(ex) == [("lmt", "buy", D("0.01"), None, D(49_500), False)]
        oid = next(iter(ex.open_orders))
        res = await eng.manual(EditOrder(oid, price=D(49_600)), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert _orders(ex) == [("lmt", "buy", D("0.01"), None, D(49_600), False)]
        # the market falls through the limit: it fills, and the engine protects the position
        quote(ex, T0 + 1000, bid=49_480, ask=49_500, mark=49_490)
        await wait_for(lambda: _pos(ex) == D("0.01"), 5)
        await wait_for(lambda: any(o[0] == "stp" for o in _orders(ex)), 5)
        await _settle(eng)
        assert [o[2] for o in _orders(ex) if o[0] == "stp"] == [D("0.01")]
        res = await eng.manual(CancelTakeProfits("PF_XBTUSD"), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert [o[0] for o in _orders(ex)] == ["stp"]
        res = await eng.manual(Reprotect("PF_XBTUSD"), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert sorted(o[0] for o in _orders(ex)) == ["lmt"] * 4 + ["stp"]
        stop_id = next(i for i, o in ex.open_orders.items() if o.order_type == "stp")
        res = await eng.manual(CancelOrder(stop_id), KEY)
        assert res.ok and res.status == "cancelled", res.message
        await _settle(eng)
        assert "stp" not in [o[0] for o in _orders(ex)]


async def test_refusals_send_nothing(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        assert (await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01")), KEY)).ok
        await _settle(eng)
        before = (ex.order_seq if hasattr(ex, "order_seq") else None, _orders(ex), _pos(ex))
        sent_before = eng.executor.sent
        cases = [
            (ManualOrder("PF_NOPEUSD", Side.BUY, size_contracts=D(1)), "unknown symbol 'PF_NOPEUSD'"),
            (ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.00001")), "under the lot"),
            (ManualClose("PF_XBTUSD", size=D("0.5")), "above the PF_XBTUSD position (0.01"),
            (ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), order_type=OrderKind.STOP,
                         stop_price=D(49_000)), "triggers above the market"),
            (ManualOrder("PF_XBTUSD", Side.SELL, size_contracts=D("0.01"), order_type=OrderKind.STOP,
                         stop_price=D(51_000)), "triggers below the market"),
            (MoveStopTo("PF_XBTUSD", price=D(51_000)), "a long's stop must be below the market"),
            (CancelOrder("no-such-order"), "is not open"),
            (ManualClose("PF_ETHUSD"), "no open PF_ETHUSD position"),
            (ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D(5)), "risk gate"),
        ]
        for action, words in cases:
            p = eng.preview_manual(action)
            assert not p.ok and words in p.message, (action, p.message)
            res = await eng.manual(action, TransitionSource.CTL)
            assert not res.ok and words in res.message and res.status == "refused", (action, res.message)
        await _settle(eng)
        assert eng.executor.sent == sent_before
        assert (before[1], before[2]) == (_orders(ex), _pos(ex))
        # the gate's refusal can be overridden (the front ends ask for the typed confirmation)
        big = ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), attach_exits=False)
        p = eng.preview_manual(big)
        assert not p.ok and p.overridable and "pyramiding" in (p.gate_refusal or ""), p
        res = await eng.manual(big, TransitionSource.CTL, override=True)
        assert res.ok and res.overridden, res.message
        await _settle(eng)
        assert _pos(ex) == D("0.02")
        # paused: manual orders allowed; halted: refused, nothing sent
        eng.pause("test", KEY)
        res = await eng.manual(ManualClose("PF_XBTUSD", size=D("0.01")), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert _pos(ex) == D("0.01")
        eng.sm.halt("test halt")
        assert eng.sm.state is OperatorState.HALTED
        sent_before = eng.executor.sent
        res = await eng.manual(ManualClose("PF_XBTUSD"), KEY)
        assert not res.ok and "HALTED" in res.message
        await _settle(eng)
        assert eng.executor.sent == sent_before and _pos(ex) == D("0.01")
        await eng.journal.flush()
    acts = rows(journal, "SELECT name, reason, source FROM events WHERE kind = 'operator' AND name LIKE 'manual%'")
    assert any(a == "manual order override" and "pyramiding" in r for a, r, _s in acts), acts
    assert sum(1 for a, _r, _s in acts if a == "manual refused") == len(cases) + 1


async def test_position_closed_meanwhile_is_refused_when_the_job_runs(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        assert (await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), attach_exits=False),
                                 KEY)).ok
        await _settle(eng)
        gate = asyncio.Event()

        async def hold() -> None:
            await gate.wait()

        eng.submit("hold", hold)  # the job worker is busy: the close waits behind it
        task = asyncio.create_task(eng.manual(ManualClose("PF_XBTUSD"), KEY))
        await asyncio.sleep(0.05)
        ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.01"})  # closed elsewhere
        await wait_for(lambda: eng.account.signed_size("PF_XBTUSD") == 0, 5)
        sent = eng.executor.sent
        gate.set()
        res = await task
        assert not res.ok and "closed meanwhile" in res.message, res.message
        assert eng.executor.sent == sent and _pos(ex) == 0
