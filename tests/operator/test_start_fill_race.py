"""Fills of our own orders around an engine start are booked exactly once, never adopted as external.

End to end against the paper exchange served over loopback (tests/operator/engine_env.py), two engine runs
on one journal. The cases:
- A resting order of ours (run 1) fills after run 2's start-up reconciliation read the exchange but before
  the WebSocket ``fills`` snapshot arrives (the fill is only in the snapshot, which carries no cliOrdId,
  spec §7.9): it is booked (the cliOrdId restored from the journal's order id), not history.
- The journal holds an intent of ours and no fill at all (a crash between the send and the fill): the fill
  read over REST at start (spec §4.9) is booked, not treated as the account's history. Both when no answer
  was journaled (crash before the response) and when the answer "filled" was journaled but the fill never
  reached the journal.
- A manual order that fills in the same window is still adopted as external (entries paused), and now its
  fill is journaled too.
Every case checks: each exchange fill is in the journal at most once, the engine's booked size equals the
exchange's position. A position of ours that no run manages is taken over (engine.takeover; its own tests
are in test_own_position_takeover.py).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.engine.core import Engine
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.journal.records import IntentPurpose
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import CID, T0, crash_before_answer, drop_ws_fills

MIN = 60_000


def _fills_in_window(monkeypatch: pytest.MonkeyPatch, act) -> None:
    """Run ``act()`` inside ``Engine.start`` after the start-up reconciliation and before the feeds are
    subscribed (``warm_up_candles`` sits between the two): the fill it makes is only in the WS snapshot."""
    orig = Engine.warm_up_candles
    filled: set[int] = set()  # ids of the engines that ran ``act`` (once each)

    async def warm_up_then_fill(eng: Engine) -> None:
        await orig(eng)
        if id(eng) not in filled:
            filled.add(id(eng))
            act()

    monkeypatch.setattr(Engine, "warm_up_candles", warm_up_then_fill)


def _outcome(eng: Engine, ex, journal) -> dict:
    snap = eng.snapshot()
    ex_fill_ids = [f.fill_id for f in ex.fills]
    journal_ids = [fid for (fid,) in rows(journal, "SELECT fill_id FROM fills")]
    return {
        "unmanaged_alerts": [e.message for e in snap.events if "taken over by this run" in e.message],
        "managed": sorted(eng.account.managed),
        "state": snap.state,
        "blocked": BLOCKER_NAME in snap.entry_blockers,
        # adopted as external by reconciliation; the view says the same (a position of ours is managed)
        "positions": [(p.symbol, p.side.value, p.size, eng.rec.is_external(p.symbol)) for p in snap.positions],
        "view_external": [p.external for p in snap.positions],
        "booked": {s: q for s, q in eng.rec.booked.items() if q != 0},
        "exchange": {s: p.size for s, p in ex.positions.items() if p.size != 0},  # signed contracts
        "journal_unique": len(journal_ids) == len(set(journal_ids)),
        "all_journaled": set(ex_fill_ids) <= set(journal_ids),
    }


def _adoptions(journal) -> list[str]:
    return [a for (a,) in rows(journal, "SELECT action FROM reconciliation WHERE kind = 'position'")
            if a.startswith("adopted")]


# ----------------------------------------------------------------------------- fill before the WS snapshot


async def _resting_order_fills_before_snapshot(journal, monkeypatch):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"),
                               limit_price=Decimal(49_000), cli_ord_id=CID)
            placed = await eng.executor.submit(req, IntentPurpose.ENTRY)
            assert placed.status is OrderStatus.PLACED
        assert not ex.fills
        _fills_in_window(monkeypatch, lambda: quote(ex, T0 + MIN, bid=48_900, ask=48_950, mark=48_925))
        async with engine_run(srv, journal) as eng:
            (fill,) = ex.fills
            await wait_for(lambda: eng.account.seen(fill.fill_id) and eng.account.positions)
            await eng.wait_idle()
            await eng.rec.run("after the snapshot")
            await eng.journal.flush()  # the writer task committed what was queued
            out = _outcome(eng, ex, journal)
    return out, fill


def test_our_fill_between_start_and_ws_snapshot_is_booked_not_external(tmp_path, monkeypatch):
    journal = tmp_path / "j.sqlite"
    out, fill = asyncio.run(_resting_order_fills_before_snapshot(journal, monkeypatch))
    assert out["positions"] == [("PF_XBTUSD", "long", Decimal("0.01"), False)]
    assert out["state"] is OperatorState.RUNNING and not out["blocked"]
    assert out["booked"] == out["exchange"] == {"PF_XBTUSD": Decimal("0.01")}
    assert out["journal_unique"] and out["all_journaled"]
    # the snapshot has no cliOrdId; the journal's order id gave it back, so the trade is ours
    assert rows(journal, f"SELECT cli_ord_id FROM fills WHERE fill_id = '{fill.fill_id}'") == [(CID,)]
    assert _adoptions(journal) == []
    # ours, and no run managed it: taken over (stop placed, engine.takeover), said once
    assert len(out["unmanaged_alerts"]) == 1 and CID in out["unmanaged_alerts"][0]
    assert out["managed"] == ["PF_XBTUSD"] and out["view_external"] == [False]


# ----------------------------------------------------------------------------- intents, no fill journaled


async def _crash_before_answer(journal):
    """Run 1 journals the intent and dies before the send's answer; the order fills while it is down."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        await crash_before_answer(ex, srv, journal)
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)  # the WS snapshots arrive
            await eng.wait_idle()
            await eng.journal.flush()  # the writer task committed what was queued
            start = _outcome(eng, ex, journal)
            await eng.rec.run("a later pass")
            await eng.journal.flush()  # the writer task committed what was queued
            later = _outcome(eng, ex, journal)
    return start, later


def test_intent_without_answer_or_fill_in_journal_books_the_rest_fill(tmp_path):
    journal = tmp_path / "j.sqlite"
    start, later = asyncio.run(_crash_before_answer(journal))
    for out in (start, later):
        assert out["positions"] == [("PF_XBTUSD", "long", Decimal("0.01"), False)]
        assert out["state"] is OperatorState.RUNNING and not out["blocked"]
        assert out["booked"] == out["exchange"] == {"PF_XBTUSD": Decimal("0.01")}
        assert out["journal_unique"] and out["all_journaled"]
    assert rows(journal, "SELECT cli_ord_id, side, size FROM fills") == [(CID, "buy", "0.01")]
    assert _adoptions(journal) == []
    assert len(later["unmanaged_alerts"]) == 1 and later["managed"] == ["PF_XBTUSD"]
    assert rows(journal, "SELECT level, symbol FROM alerts") == [("INFO", "PF_XBTUSD")]  # taken over


async def _answer_journaled_fill_lost(journal):
    """Run 1 sends a market entry and journals its answer (filled), but its fill never reaches the journal
    (the WS fills message is lost and the run stops before a reconciliation pass)."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            drop_ws_fills(eng)
            req = OrderRequest("PF_XBTUSD", Side.SELL, OrderType.MARKET, Decimal("0.02"), cli_ord_id=CID)
            res = await eng.executor.submit(req, IntentPurpose.ENTRY)
            assert res.filled_size == Decimal("0.02")
        assert rows(journal, "SELECT count(*) FROM fills") == [(0,)]
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            await eng.rec.run("a later pass")
            await eng.journal.flush()  # the writer task committed what was queued
            out = _outcome(eng, ex, journal)
    return out


def test_answered_order_whose_fill_never_reached_the_journal_is_booked_at_restart(tmp_path):
    journal = tmp_path / "j.sqlite"
    out = asyncio.run(_answer_journaled_fill_lost(journal))
    assert out["positions"] == [("PF_XBTUSD", "short", Decimal("0.02"), False)]
    assert out["state"] is OperatorState.RUNNING and not out["blocked"]
    assert out["booked"] == out["exchange"] == {"PF_XBTUSD": Decimal("-0.02")}
    assert out["journal_unique"] and out["all_journaled"]
    assert rows(journal, "SELECT cli_ord_id, side, size FROM fills") == [(CID, "sell", "0.02")]
    assert _adoptions(journal) == []


# ----------------------------------------------------------------------------- truly external stays external


async def _manual_fill_before_snapshot(journal, monkeypatch):
    ex = make_exchange()
    quote(ex, T0)

    def manual() -> None:
        assert ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.03",
                              "cliOrdId": "manual-by-hand-2"}) is not None

    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:  # run 1 trades nothing: a fresh journal with a run
            pass
        _fills_in_window(monkeypatch, manual)
        async with engine_run(srv, journal) as eng:
            await wait_for(lambda: eng.account.positions)  # the fills snapshot came before the positions one
            await eng.wait_idle()
            await eng.rec.run("a later pass")
            await eng.journal.flush()  # the writer task committed what was queued
            out = _outcome(eng, ex, journal)
    return out


def test_manual_fill_between_start_and_ws_snapshot_is_still_adopted_external(tmp_path, monkeypatch):
    journal = tmp_path / "j.sqlite"
    out = asyncio.run(_manual_fill_before_snapshot(journal, monkeypatch))
    assert out["positions"] == [("PF_XBTUSD", "long", Decimal("0.03"), True)]
    assert out["state"] is OperatorState.PAUSED and out["blocked"]
    assert out["booked"] == out["exchange"] == {"PF_XBTUSD": Decimal("0.03")}
    assert out["unmanaged_alerts"] == []
    assert out["journal_unique"] and out["all_journaled"]  # the manual fill is journaled (theirs, not ours)
    assert rows(journal, "SELECT cli_ord_id FROM fills") == [("manual-by-hand-2",)]
    assert len(_adoptions(journal)) == 1


# ----------------------------------------------------------------------------- fill while the WS is down


async def _fill_during_ws_outage(journal):
    """This run's resting order fills while the WebSocket is down: the fill reaches the engine only in
    the snapshot after the reconnect (no cliOrdId there) and in the reconnect's REST pass."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"),
                               limit_price=Decimal(49_000), cli_ord_id=CID)
            assert (await eng.executor.submit(req, IntentPurpose.ENTRY)).status is OrderStatus.PLACED
            await wait_for(lambda: eng.account.orders)
            conns = list(srv.hub.conns)
            srv.hub.conns.clear()  # nothing reaches the engine from here on: the fill below is not pushed
            quote(ex, T0 + MIN, bid=48_900, ask=48_950, mark=48_925)
            (f,) = ex.fills
            for c in conns:
                await c.ws.close()
            await wait_for(lambda: eng.account.seen(f.fill_id), timeout_s=15)
            await wait_for(lambda: eng.rec.passes >= 2, timeout_s=10)  # the reconnect's pass
            await eng.wait_idle()
            await eng.journal.flush()  # the writer task committed what was queued
            out = _outcome(eng, ex, journal)
    return out, f


def test_our_fill_while_the_ws_is_down_is_booked_from_the_reconnect_snapshot(tmp_path):
    journal = tmp_path / "j.sqlite"
    out, f = asyncio.run(_fill_during_ws_outage(journal))
    assert out["positions"] == [("PF_XBTUSD", "long", Decimal("0.01"), False)]
    assert out["state"] is OperatorState.RUNNING and not out["blocked"]
    assert out["booked"] == out["exchange"] == {"PF_XBTUSD": Decimal("0.01")}
    assert out["journal_unique"] and out["all_journaled"]
    assert rows(journal, f"SELECT cli_ord_id FROM fills WHERE fill_id = '{f.fill_id}'") == [(CID,)]
    assert _adoptions(journal) == []
    assert out["unmanaged_alerts"] == []  # this run's own order: no "earlier run" alert
