"""A position left by a fill of our own earlier order, which no run manages, is taken over and protected.

End to end against the paper exchange served over loopback (tests/operator/engine_env.py), two engine runs
on one journal (engine.takeover). The cases:
- Run 1 journals a market entry's intent and dies before the send's answer; the order fills while it is
  down. Run 2 books the fill (engine.fill_origin) and takes the position over: exit state from the fill,
  one reduce-only stop (trigger on mark) at ``entry x (1 - stop_loss_pct/100)`` rounded down to the tick,
  the take-profit ladder, the take-over journaled (Alert with the stop price), the position shown as ours.
- Same, but the exchange rejects the stop (a fault injected into the paper exchange's order entry): run 2
  keeps entries paused with the reason and raises a journaled CRITICAL alert; once the fault ends, the next
  reconciliation pass places the stop (one) and clears the blocker.
- Run 1's entry filled and its protective orders rest, but the entry's fill never reached the journal:
  run 2 books the fill and takes the resting orders over (engine.orphans); no second stop is placed.
- A strategy without protective exits: the position is managed (ours) but no stop is placed; a HIGH alert
  says why.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.domain import PositionSide
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.takeover import BLOCKER
from tests.e2e.harness import rows, wait_for
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import CID, T0, crash_before_answer, drop_ws_fills, refuse_stops

D = Decimal
# quote(): ask 50 010 with 10 contracts -> a market buy of 0.01 fills at 50 010 (taker).
# stop_loss_pct 2 (ExitsConfig default), PF_XBTUSD tick 1: 50 010 x 0.98 = 49 009.8, a long's stop rounds
# down -> 49 009. Take-profits 2/5/8/12 %, rounded up: 51 010.2 -> 51 011, 52 510.5 -> 52 511,
# 54 010.8 -> 54 011, 56 011.2 -> 56 012; 25 % of 0.01 each = 0.0025.
ENTRY = D(50_010)
STOP = D(49_009)
TPS = [(D(51_011), D("0.0025")), (D(52_511), D("0.0025")), (D(54_011), D("0.0025")), (D(56_012), D("0.0025"))]


def _resting(ex) -> list[tuple]:
    return sorted((o.order_type, o.side.value, o.size, o.stop_price or o.limit_price, o.reduce_only, o.cli_ord_id)
                  for o in ex.open_orders.values())


def _stops(ex) -> list[tuple]:
    return [r for r in _resting(ex) if r[0] == "stp"]


def _alerts(journal) -> list[tuple[str, str]]:
    return [(lvl, msg) for lvl, msg in rows(journal, "SELECT level, message FROM alerts")]


async def _crash_before_answer(journal, *, reject_stops: bool = False, cfg: Config | None = None):
    """Run 1 journals the intent and dies before the answer; the order fills while it is down; run 2 starts."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        await crash_before_answer(ex, srv, journal, cfg)
        assert ex.fills[0].price == ENTRY
        restore = refuse_stops(ex) if reject_stops else None  # the fault: every stop sent from now on refused
        async with engine_run(srv, journal, cfg) as eng:
            await asyncio.sleep(0.3)  # the WS snapshots arrive
            await eng.wait_idle()
            await eng.rec.run("a later pass")
            await eng.wait_idle()
            await eng.journal.flush()
            snap = eng.snapshot()
            mp = eng.account.managed.get("PF_XBTUSD")
            res = {"snap": snap, "mp": mp, "run8": eng.run_id[:8], "blockers": dict(eng.sm.entry_blockers),
                   "sent": eng.executor.sent}
            if reject_stops:  # the fault ends: the next pass retries the stop
                res["stops_while_refused"] = _stops(ex)
                assert restore is not None
                restore()
                await eng.rec.run("after the fault")
                await eng.wait_idle()
                await eng.journal.flush()
                res["retry"] = {"stops": _stops(ex), "blockers": dict(eng.sm.entry_blockers),
                                "state": eng.sm.state, "external": [p.external for p in eng.snapshot().positions]}
    return ex, res


def test_position_of_an_earlier_runs_fill_is_taken_over_with_one_stop(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, res = asyncio.run(_crash_before_answer(journal))
    snap, mp = res["snap"], res["mp"]
    (pos,) = snap.positions
    assert (pos.side, pos.size, pos.external, pos.stop_price) == (PositionSide.LONG, D("0.01"), False, STOP)
    assert pos.take_profits_left == 4
    assert snap.state is OperatorState.RUNNING and not res["blockers"]
    # exactly one resting reduce-only stop at the hand-computed price, for the whole position, of this run
    (stop,) = _stops(ex)
    assert stop[1:5] == ("sell", D("0.01"), STOP, True)
    assert stop[5].startswith(f"kt-{res['run8']}-PF_XBTUSD-") and stop[5].endswith("-stop")
    assert [(r[3], r[2]) for r in _resting(ex) if r[0] == "lmt"] == TPS
    assert all(r[4] for r in _resting(ex))
    # the exit state starts from the journal's fill: its price and its time
    assert mp is not None and (mp.exits.entry_price, mp.exits.opened_ms) == (ENTRY, ex.fills[0].ts_ms)
    assert mp.orders["stop"] == stop[5]
    # journaled: the take-over with the stop price; no "not managed" HIGH alert
    ((level, msg),) = _alerts(journal)
    assert level == "INFO" and "taken over" in msg and "stop 49009" in msg and CID in msg
    assert rows(journal, "SELECT cli_ord_id, side, size FROM fills") == [(CID, "buy", "0.01")]


def test_stop_rejected_at_take_over_keeps_entries_paused_with_a_critical_alert(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, res = asyncio.run(_crash_before_answer(journal, reject_stops=True))
    snap = res["snap"]
    assert res["stops_while_refused"] == []
    assert snap.state is OperatorState.PAUSED
    assert BLOCKER in res["blockers"] and "no stop" in res["blockers"][BLOCKER]
    crit = [m for lvl, m in _alerts(journal) if lvl == "CRITICAL"]
    assert len(crit) == 1 and "PF_XBTUSD" in crit[0] and "marketSuspended" in crit[0]
    assert [e for e in snap.events if e.severity.value == "critical"]
    (pos,) = snap.positions
    assert pos.external is False and pos.stop_price == STOP  # ours; the stop it should have, not resting
    # once the exchange accepts stops again, the next reconciliation pass places exactly one and unblocks
    retry = res["retry"]
    assert [s[1:5] for s in retry["stops"]] == [("sell", D("0.01"), STOP, True)] == [s[1:5] for s in _stops(ex)]
    assert retry["blockers"] == {} and retry["external"] == [False]
    assert retry["state"] is OperatorState.PAUSED  # paused automatically; the operator resumes
    assert [lvl for lvl, _ in _alerts(journal)] == ["CRITICAL", "INFO"]


def test_strategy_without_protective_exits_takes_over_without_a_stop_and_says_so(tmp_path):
    journal = tmp_path / "j.sqlite"
    cfg = Config.model_validate({"strategy": {"name": "sma_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1h"},
                                 "operator": {"stale_data_s": 86_400, "reconcile_interval_s": 3600}})
    ex, res = asyncio.run(_crash_before_answer(journal, cfg=cfg))
    assert _resting(ex) == [] and res["sent"] == 0
    (pos,) = res["snap"].positions
    assert pos.external is False and pos.stop_price is None
    assert res["snap"].state is OperatorState.RUNNING and not res["blockers"]
    ((level, msg),) = _alerts(journal)
    assert level == "HIGH" and "protective exits" in msg and "no stop" in msg


async def _entry_fill_lost_orders_rest(journal):
    """Run 1 enters (stop + ladder placed) but the entry's fill never reaches the journal."""
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            drop_ws_fills(eng)
            await wait_for(lambda: eng.ws_positions is not None)
            act = Enter("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000), None, True, D(1), ())
            await eng.flow.enter(act, make_signal_id(eng.run_id, "PF_XBTUSD", T0))
            placed = dict(eng.account.managed["PF_XBTUSD"].orders)
        assert rows(journal, "SELECT count(*) FROM fills") == [(0,)]
        before = _resting(ex)
        async with engine_run(srv, journal) as eng:
            await asyncio.sleep(0.3)
            await eng.wait_idle()
            await eng.rec.run("a later pass")
            await eng.wait_idle()
            await eng.journal.flush()
            mp = eng.account.managed.get("PF_XBTUSD")
            res = {"snap": eng.snapshot(), "orders": dict(mp.orders) if mp else None, "sent": eng.executor.sent}
    return ex, placed, before, res


def test_resting_orphan_stop_is_taken_over_and_no_second_stop_is_placed(tmp_path):
    journal = tmp_path / "j.sqlite"
    ex, placed, before, res = asyncio.run(_entry_fill_lost_orders_rest(journal))
    assert len(_stops(ex)) == 1 and _stops(ex)[0][5] == placed["stop"] and _stops(ex)[0][3] == STOP
    assert _resting(ex) == before and res["sent"] == 0  # nothing re-sent
    assert res["orders"] == placed
    (pos,) = res["snap"].positions
    assert pos.external is False and pos.stop_price == STOP
    assert res["snap"].state is OperatorState.RUNNING
    assert [m for lvl, m in _alerts(journal) if lvl in ("HIGH", "CRITICAL")] == []
    assert rows(journal, "SELECT count(*) FROM fills") == [(1,)]
