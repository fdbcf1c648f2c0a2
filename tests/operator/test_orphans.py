"""Protective orders an earlier run left on the exchange (engine.orphans), against the paper exchange over
loopback: run 1 enters (stop + take-profit ladder placed) and stops; run 2 on the same journal and exchange
either takes the orders over (position still open) or cancels them and journals why (position gone).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.domain import PositionSide
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.orphans import parse_protective
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served

D = Decimal
T0 = 1_704_067_200_000


async def _feeds_live(eng) -> None:
    """Wait for the private feeds' snapshots: a fill made before the fills snapshot arrives counts as
    history (engine.fill_origin), which is not what these tests are about."""
    await wait_for(lambda: eng.ws_positions is not None)
    await asyncio.sleep(0.2)


async def _enter(eng) -> dict[str, str]:
    """Run 1's entry: long 0.02 PF_XBTUSD at market; returns purpose -> cliOrdId of its protective orders."""
    await _feeds_live(eng)
    sid = make_signal_id(eng.run_id, "PF_XBTUSD", T0)
    act = Enter("PF_XBTUSD", PositionSide.LONG, D("0.02"), D(50_000), None, True, D(1), ())
    await eng.flow.enter(act, sid)
    await eng.rec.run("test")  # the entry's fill is booked and journaled (REST, if the feed has not yet)
    assert eng.rec.booked.get("PF_XBTUSD") == D("0.02")
    return dict(eng.account.managed["PF_XBTUSD"].orders)


def _open(ex):
    return {o.cli_ord_id for o in ex.open_orders.values()}


def test_parse_protective_ids():
    p = parse_protective("kt-0123abcd-PF_XBTUSD-1704067200000-tp2-1")
    assert p is not None and (p.run8, p.signal_id, p.symbol, p.purpose) == (
        "0123abcd", "0123abcd-PF_XBTUSD-1704067200000", "PF_XBTUSD", "tp2")
    assert parse_protective("kt-0123abcd-PF_XBTUSD-1704067200000-trailing").is_stop
    for other in ("kt-0123abcd-PF_XBTUSD-1704067200000-entry", "flat-1", "manual-by-hand-1", None,
                  "kt-0123abcd-PF_XBTUSD-1704067200000-time"):
        assert parse_protective(other) is None


async def _take_over(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            placed = await _enter(eng)
            run1 = eng.run_id[:8]
        resting = _open(ex)
        async with engine_run(srv, journal) as eng:
            mp = eng.account.managed.get("PF_XBTUSD")
            taken = dict(mp.orders) if mp is not None else None
            sent_at_start = eng.executor.sent
            purposes = {o.cli_ord_id: o.purpose for o in eng.snapshot().orders}
            await _feeds_live(eng)
            # the stop triggers on the mark: the position closes and the take-profits are cleaned up
            stop_px = float(ex.find_open(cli_ord_id=placed["stop"]).stop_price)
            quote(ex, T0 + 60_000, bid=stop_px - 20, ask=stop_px - 10, mark=stop_px - 15)
            await wait_for(lambda: not eng.account.managed and not eng.busy, timeout_s=10)
            await eng.wait_idle()
            reasons = dict(eng.flow.exit_reasons)
    return run1, placed, resting, taken, sent_at_start, purposes, reasons, _open(ex), ex


def test_orphans_of_an_open_position_are_taken_over_and_cleaned_up_on_close(tmp_path):
    journal = tmp_path / "j.sqlite"
    run1, placed, resting, taken, sent, purposes, reasons, left, ex = asyncio.run(_take_over(journal))
    assert set(placed) >= {"stop", "tp1"} and all(c.startswith(f"kt-{run1}-PF_XBTUSD-") for c in placed.values())
    assert set(placed.values()) == resting  # run 1 left them on the exchange
    assert taken == placed  # run 2 manages them as they rest: nothing cancelled or re-sent
    assert sent == 0
    assert all(purposes[c] == k for k, c in placed.items())  # shown with their purposes
    assert reasons == {"stop": 1}
    assert left == set() and all(p.size == 0 for p in ex.positions.values())


async def _position_gone(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            placed = await _enter(eng)
        out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.02",
                             "reduceOnly": True, "cliOrdId": "manual-close-1"})
        assert out is not None and out.status == "placed"
        resting = _open(ex)
        async with engine_run(srv, journal) as eng:
            managed = dict(eng.account.managed)
            events = [e.message for e in eng.snapshot().events]
    return placed, resting, managed, events, _open(ex)


def test_orphans_of_a_gone_position_are_cancelled_and_journaled(tmp_path):
    journal = tmp_path / "j.sqlite"
    placed, resting, managed, events, left = asyncio.run(_position_gone(journal))
    assert resting == set(placed.values())  # the manual close left them resting
    assert managed == {} and left == set()
    diffs = rows(journal, "SELECT kind, symbol, journal_value, action FROM reconciliation WHERE kind = 'order' "
                          "AND action LIKE 'cancelled:%' ORDER BY id")
    assert {j.split("(")[1].split(")")[0] for _, _, j, _ in diffs} == set(placed.values())
    assert all(a == "cancelled: its position is gone" and s == "PF_XBTUSD" for _, s, _, a in diffs)
    assert sum("orphaned protective order" in m for m in events) == len(placed)
    cancels = rows(journal, "SELECT cli_ord_id, status FROM order_events WHERE status = 'cancelled'")
    assert {c for c, _ in cancels} >= set(placed.values())


async def _reversed_while_down(journal):
    """Run 1 enters short (buy stop + take-profits rest) and stops; while it is down the position is reversed on
    the exchange to a long whose reduce-only sell stop carries a protective cliOrdId of run 1 (as a run killed
    between a reversal's entry batch and the old position's clean-up leaves it)."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            await _feeds_live(eng)
            sid = make_signal_id(eng.run_id, "PF_XBTUSD", T0)
            act = Enter("PF_XBTUSD", PositionSide.SHORT, D("0.02"), D(50_000), None, True, D(1), ())
            await eng.flow.enter(act, sid)
            await eng.rec.run("test")
            old = dict(eng.account.managed["PF_XBTUSD"].orders)
            run1 = eng.run_id[:8]
        for params in ({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.04"},
                       {"orderType": "stp", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.02",
                        "stopPrice": "49000", "reduceOnly": "true",
                        "cliOrdId": f"kt-{run1}-PF_XBTUSD-{T0 + 60_000}-stop"}):
            out = ex.send_order(params)
            assert out.status == "placed", out.status
        before = _open(ex)
        async with engine_run(srv, journal) as eng:
            pass
    return old, run1, before, _open(ex), ex


def test_an_earlier_positions_orders_are_cancelled_but_the_open_positions_stop_stays(tmp_path):
    old, run1, before, after, ex = asyncio.run(_reversed_while_down(tmp_path / "j.sqlite"))
    new_stop = f"kt-{run1}-PF_XBTUSD-{T0 + 60_000}-stop"
    assert ex.positions["PF_XBTUSD"].size == D("0.02")
    assert before >= {*old.values(), new_stop}
    assert not set(old.values()) & after  # the short's buy stop and take-profits: cancelled
    assert new_stop in after, "the long's own stop was cancelled with the short's orders"
