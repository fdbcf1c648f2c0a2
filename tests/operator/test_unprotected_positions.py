"""A position of ours never stays without a stop unnoticed, and a later fill of our own entry grows it.

End to end against the paper exchange served over loopback (tests/operator/engine_env.py; faults from
tests/operator/lossy.py). The cases:
- A normal entry whose protective stop the exchange refuses: entries are paused with the blocker
  ``unprotected position``, one journaled CRITICAL alert names the symbol, the size and the refusal (no
  secret); every reconciliation pass retries the stop; once it rests the blocker is lifted and a journaled
  INFO alert says so (engine.takeover, as for a taken-over position).
- At start, a position of ours (its fill is in the journal) whose stop and take-profits the operator
  cancelled by hand while the engine was down is taken over (one stop, the ladder), not shown as external.
  Only its stop cancelled and the exchange refusing the new one: the take-profits are taken over and the
  position is guarded (blocker, CRITICAL alert, retried). A position opened by hand (external) is adopted
  as external and nothing is sent for it.
- After a take-over, an earlier run's limit entry that was still resting fills: it is added to the managed
  position (size-weighted entry, stop and take-profits re-laid for the new size), never booked as an exit.
Stop prices: stop_loss_pct 2 (ExitsConfig default), PF_XBTUSD tick 1, a long's stop rounds down.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, PositionSide, Side
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.engine.takeover import BLOCKER
from kraken_tui.journal.records import IntentPurpose
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import REFUSAL, T0, crash_before_answer, refuse_stops

D = Decimal
MIN = 60_000
# quote(): ask 50 010 -> a market buy of 0.01 fills at 50 010; 50 010 x 0.98 = 49 009.8 -> stop 49 009.
STOP = D(49_009)


def _resting(ex) -> list[tuple]:
    return sorted((o.order_type, o.side.value, o.size, o.stop_price or o.limit_price, o.reduce_only)
                  for o in ex.open_orders.values())


def _stops(ex) -> list[tuple]:
    return [r[1:] for r in _resting(ex) if r[0] == "stp"]


def _alerts(journal) -> list[tuple[str, str]]:
    return rows(journal, "SELECT level, message FROM alerts ORDER BY id")


def _enter(eng, size: str = "0.01"):
    act = Enter("PF_XBTUSD", PositionSide.LONG, D(size), D(50_000), None, True, D(1), ())
    return eng.flow.enter(act, make_signal_id(eng.run_id, "PF_XBTUSD", T0))


# ----------------------------------------------------------------------------- 1. an entry's stop refused


async def _entry_stop_refused(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            await wait_for(lambda: eng.ws_positions is not None)
            restore = refuse_stops(ex)
            await _enter(eng)
            await eng.wait_idle()
            await eng.rec.run("a pass while the fault lasts")  # retried, refused again: said once
            await eng.wait_idle()
            await eng.journal.flush()
            refused = {"state": eng.sm.state, "blockers": dict(eng.sm.entry_blockers), "stops": _stops(ex),
                       "alerts": _alerts(journal), "events": [e.severity.value for e in eng.snapshot().events]}
            restore()
            await eng.rec.run("after the fault")
            await eng.wait_idle()
            await eng.journal.flush()
            after = {"state": eng.sm.state, "blockers": dict(eng.sm.entry_blockers), "stops": _stops(ex),
                     "alerts": _alerts(journal), "orders": dict(eng.account.managed["PF_XBTUSD"].orders)}
    return refused, after


def test_entry_whose_stop_is_refused_pauses_entries_alerts_and_retries_until_it_rests(tmp_path):
    journal = tmp_path / "j.sqlite"
    refused, after = asyncio.run(_entry_stop_refused(journal))
    assert refused["stops"] == []
    assert refused["state"] is OperatorState.PAUSED
    assert BLOCKER in refused["blockers"] and "no stop" in refused["blockers"][BLOCKER]
    ((level, msg),) = refused["alerts"]
    assert level == "CRITICAL" and "critical" in refused["events"]
    assert "PF_XBTUSD long 0.01" in msg and REFUSAL in msg and "49009" in msg
    assert PAPER_API_KEY not in msg and PAPER_API_SECRET not in msg
    # the fault ends: the next pass places exactly one stop for the position and lifts the blocker
    assert after["stops"] == [("sell", D("0.01"), STOP, True)]
    assert BLOCKER not in after["blockers"] and "stop" in after["orders"]
    assert after["state"] is OperatorState.PAUSED  # paused automatically; the operator resumes
    assert [lvl for lvl, _ in after["alerts"]] == ["CRITICAL", "INFO"]
    info = after["alerts"][1][1]
    assert "PF_XBTUSD" in info and "49009" in info and BLOCKER in info and "lifted" in info


# ----------------------------------------------------------------------------- 2. start-up sweep


async def _stop_cancelled_while_down(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            await wait_for(lambda: eng.ws_positions is not None)
            await _enter(eng)
            await wait_for(lambda: eng.rec.booked.get("PF_XBTUSD") == D("0.01"))
            await eng.wait_idle()
        assert rows(journal, "SELECT count(*) FROM fills") == [(1,)] and len(_stops(ex)) == 1
        ex.cancel_all()  # the operator cancels the stop and the take-profits by hand
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            await eng.journal.flush()
            snap = eng.snapshot()
            out = {"positions": [(p.size, p.external, p.stop_price) for p in snap.positions],
                   "state": snap.state, "blockers": dict(snap.entry_blockers), "managed": sorted(eng.account.managed),
                   "alerts": _alerts(journal)}
    return ex, out


def test_our_position_whose_stop_was_cancelled_while_down_is_taken_over_at_start(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, out = asyncio.run(_stop_cancelled_while_down(journal))
    assert out["managed"] == ["PF_XBTUSD"]
    assert out["positions"] == [(D("0.01"), False, STOP)]
    assert _stops(ex) == [("sell", D("0.01"), STOP, True)]
    assert len([r for r in _resting(ex) if r[0] == "lmt"]) == 4
    assert out["state"] is OperatorState.RUNNING and out["blockers"] == {}
    ((level, msg),) = out["alerts"]
    assert level == "INFO" and "taken over" in msg and "stop 49009" in msg
    assert rows(journal, "SELECT count(*) FROM reconciliation WHERE action LIKE 'adopted%'") == [(0,)]


async def _stop_cancelled_while_down_and_refused(journal):
    """Only the stop is cancelled by hand; the take-profits rest (taken over as orphans) and the exchange
    refuses the stop the take-over places."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            await wait_for(lambda: eng.ws_positions is not None)
            await _enter(eng)
            await wait_for(lambda: eng.rec.booked.get("PF_XBTUSD") == D("0.01"))
            await eng.wait_idle()
        (stop,) = [o for o in ex.open_orders.values() if o.order_type == "stp"]
        assert ex.cancel_order(cli_ord_id=stop.cli_ord_id).status == "cancelled"
        restore = refuse_stops(ex)
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            await eng.journal.flush()
            out = {"state": eng.sm.state, "blockers": dict(eng.sm.entry_blockers), "stops": _stops(ex),
                   "orders": sorted(eng.account.managed["PF_XBTUSD"].orders), "alerts": _alerts(journal)}
            restore()
            await eng.rec.run("after the fault")
            await eng.wait_idle()
            await eng.journal.flush()
            out["after"] = {"blockers": dict(eng.sm.entry_blockers), "stops": _stops(ex),
                            "levels": [lvl for lvl, _ in _alerts(journal)]}
    return out


def test_our_position_whose_stop_is_missing_after_the_orphan_take_over_is_guarded_at_start(tmp_path):
    out = asyncio.run(_stop_cancelled_while_down_and_refused(tmp_path / "j.sqlite"))
    assert out["orders"] == ["tp1", "tp2", "tp3", "tp4"] and out["stops"] == []
    assert out["state"] is OperatorState.PAUSED and BLOCKER in out["blockers"]
    ((level, msg),) = out["alerts"]
    assert level == "CRITICAL" and "PF_XBTUSD long 0.01" in msg and REFUSAL in msg
    assert out["after"] == {"blockers": {}, "stops": [("sell", D("0.01"), STOP, True)],
                            "levels": ["CRITICAL", "INFO"]}


async def _external_at_start(journal):
    ex = make_exchange()
    quote(ex, T0)
    out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.02",
                         "cliOrdId": "manual-by-hand-1"})
    assert out.status == "placed"
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            await eng.journal.flush()
            snap = eng.snapshot()
            res = {"positions": [(p.size, p.external, p.stop_price) for p in snap.positions], "state": snap.state,
                   "blocked": BLOCKER_NAME in snap.entry_blockers, "sent": eng.executor.sent,
                   "managed": sorted(eng.account.managed), "alerts": _alerts(journal)}
    return ex, res


def test_external_position_at_start_is_adopted_untouched(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, res = asyncio.run(_external_at_start(journal))
    assert res["positions"] == [(D("0.02"), True, None)]
    assert res["managed"] == [] and res["sent"] == 0 and _resting(ex) == []
    assert res["state"] is OperatorState.PAUSED and res["blocked"]
    assert res["alerts"] == []


# ----------------------------------------------------------------------------- 3. an earlier entry fills later


CID_LIMIT = "kt-aaaaaaaa-PF_XBTUSD-1704067260000-entry"


async def _earlier_limit_entry_fills_after_take_over(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:  # run 1a: a limit entry that rests
            req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, D("0.01"), limit_price=D(49_500),
                               cli_ord_id=CID_LIMIT)
            assert (await eng.executor.submit(req, IntentPurpose.ENTRY)).status is OrderStatus.PLACED
        await crash_before_answer(ex, srv, journal)  # run 1b: a market entry fills while no run is up
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            taken = _stops(ex)
            quote(ex, T0 + MIN, bid=49_400, ask=49_450, mark=49_425)  # the resting limit entry fills
            await wait_for(lambda: any(f.cli_ord_id == CID_LIMIT for f in ex.fills))
            await wait_for(lambda: eng.rec.booked.get("PF_XBTUSD") == D("0.02"))
            await eng.wait_idle()
            await eng.journal.flush()
            mp = eng.account.managed.get("PF_XBTUSD")
            res = {"taken": taken, "exits": (mp.exits.remaining, mp.exits.entry_price, mp.exits.stop_price)
                   if mp else None, "reasons": dict(eng.flow.exit_reasons), "alerts": _alerts(journal),
                   "fill_price": next(f.price for f in ex.fills if f.cli_ord_id == CID_LIMIT)}
    return ex, res


def test_earlier_runs_entry_filling_after_take_over_grows_the_position_and_its_stop(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, res = asyncio.run(_earlier_limit_entry_fills_after_take_over(journal))
    assert res["taken"] == [("sell", D("0.01"), STOP, True)]
    assert res["fill_price"] == D(49_500)
    # entry (0.01 x 50 010 + 0.01 x 49 500) / 0.02 = 49 755; stop 49 755 x 0.98 = 48 759.9 -> 48 759
    assert res["exits"] == (D("0.02"), D(49_755), D(48_759))
    assert res["reasons"] == {}  # nothing was booked as an exit
    assert _stops(ex) == [("sell", D("0.02"), D(48_759), True)]
    # take-profits re-laid from 49 755 (+2/5/8/12 %, rounded up), 25 % of 0.02 each
    assert [(r[3], r[2]) for r in _resting(ex) if r[0] == "lmt"] == [
        (D(50_751), D("0.005")), (D(52_243), D("0.005")), (D(53_736), D("0.005")), (D(55_726), D("0.005"))]
    assert [lvl for lvl, _ in res["alerts"]] == ["INFO", "INFO"]
    assert CID_LIMIT in res["alerts"][1][1] and "0.02" in res["alerts"][1][1]
