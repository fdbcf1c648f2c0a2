"""The order of a flatten's operations (engine.flatten module docstring, "Order of operations"): against an
in-memory exchange that checks, after every request it serves, that every open position still has a resting
reduce-only stop, a flatten never leaves a position unprotected - clean, thin book, lost answers, refused
closes, order work in flight - and still ends flat (or HALTED with the stops resting when it cannot close).
A running engine's flatten makes FLATTENING durable before its first request and journals each close as a
``flatten`` intent, committed, before the close is sent."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from kraken_tui.domain import Order, OrderResult, OrderStatus, Position, Side
from kraken_tui.domain import PositionSide as PSide
from kraken_tui.domain.orders import OrderEvent, OrderEventType
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.controls import flatten_intent
from kraken_tui.engine.flatten import EngineFlatten, flatten_account
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.journal.records import IntentPurpose, IntentRecord
from kraken_tui.kraken.rest_parse_orders import CancelAllResult

D = Decimal


class Unprotected(AssertionError):
    """A position was open with no resting stop."""


class _Venue:
    """Positions (symbol -> signed contracts) and resting orders; every request is logged and followed by the
    check that each open position has a reduce-only stop resting (``violations``)."""

    def __init__(self, positions: dict[str, Decimal], *, fill_ratio: tuple[Decimal, ...] = (D(1),),
                 lose_batch_answers: int = 0, refuse_batches: int = 0, entry_stop: bool = True) -> None:
        self.positions = dict(positions)
        self.orders: list[Order] = []
        self.log: list[str] = []
        self.violations: list[str] = []
        self._ids = itertools.count(1)
        self.fill_ratio = list(fill_ratio)
        self.lose, self.refuse = lose_batch_answers, refuse_batches
        for sym, size in positions.items():
            self.orders.append(self._stop(sym, size))
            if entry_stop:
                self.orders.append(Order(f"tp{next(self._ids)}", sym, Side.SELL if size > 0 else Side.BUY,
                                         "take_profit", abs(size), reduce_only=True))

    def _stop(self, sym: str, size: Decimal) -> Order:
        return Order(f"o{next(self._ids)}", sym, Side.SELL if size > 0 else Side.BUY, "stp", abs(size),
                     stop_price=D(1), reduce_only=True)

    def check(self, when: str) -> None:
        for sym, size in self.positions.items():
            if size != 0 and not any(o.symbol == sym and o.order_type == "stp" for o in self.orders):
                self.violations.append(f"{when}: {sym} {size} open without a stop")

    # ------------------------------------------------------------------ FlattenClient
    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        self.log.append("cancelallorders")
        gone = tuple((o.order_id, o.cli_ord_id) for o in self.orders)
        self.orders.clear()
        self.check("after cancelallorders")
        await asyncio.sleep(0)
        return CancelAllResult(OrderStatus.CANCELLED, "all", gone)

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        self.log.append("openpositions")
        await asyncio.sleep(0)
        return [Position(s, PSide.LONG if q > 0 else PSide.SHORT, abs(q), D(100)) for s, q in self.positions.items()
                if q != 0]

    async def open_orders(self, *, priority: bool = False) -> list[Order]:
        self.log.append("openorders")
        await asyncio.sleep(0)
        return list(self.orders)

    async def batch_order(self, instructions, *, priority: bool = False) -> list[OrderResult]:
        self.log.append("batchorder")
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("refused before processing")
        ratio = self.fill_ratio.pop(0) if len(self.fill_ratio) > 1 else self.fill_ratio[0]
        out = []
        for ins in instructions:
            r = ins.request
            assert r.reduce_only
            pos = self.positions.get(r.symbol, D(0))
            reduces = (pos > 0 and r.side is Side.SELL) or (pos < 0 and r.side is Side.BUY)
            qty = min(abs(pos), r.size) * ratio if reduces else D(0)
            self.positions[r.symbol] = pos - qty if pos > 0 else pos + qty
            ev = (OrderEvent(OrderEventType.EXECUTION, f"c{next(self._ids)}", r.cli_ord_id, D(100), qty),) if qty else ()
            out.append(OrderResult(OrderStatus.PLACED if qty else OrderStatus.IOC_WOULD_NOT_EXECUTE,
                                   f"c{next(self._ids)}", r.cli_ord_id, events=ev))
        self.check("after batchorder")
        await asyncio.sleep(0)
        if self.lose:
            self.lose -= 1
            raise TimeoutError("answer lost after processing")
        return out


def _venue(n: int = 3, **kw) -> _Venue:
    return _Venue({f"PF_{i}USD": D(i + 1) * (1 if i % 2 else -1) for i in range(n)}, **kw)


async def _no_sleep(_s: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.parametrize("known", [False, True])
async def test_clean_flatten_closes_first_and_never_leaves_a_position_without_its_stop(known):
    v = _venue(3)
    feed = await v.open_positions() if known else None
    v.log.clear()
    rep = await flatten_account(v, known_positions=feed, sleep=_no_sleep)
    assert rep.flat
    assert not v.violations, v.violations
    assert v.log.index("batchorder") < v.log.index("cancelallorders")
    assert all(q == 0 for q in v.positions.values()) and not v.orders


async def test_thin_book_keeps_the_stops_until_the_positions_are_gone():
    v = _venue(3, fill_ratio=(D("0.5"), D("0.5"), D(1)))
    rep = await flatten_account(v, sleep=_no_sleep)
    assert rep.flat and rep.rounds == 3
    assert not v.violations, v.violations
    assert v.log.count("cancelallorders") == 1  # once, after the last close


async def test_a_lost_close_answer_keeps_the_stops_until_a_read_shows_flat():
    v = _venue(3, lose_batch_answers=1)
    rep = await flatten_account(v, sleep=_no_sleep)
    assert rep.flat and not v.violations, v.violations
    assert v.log.count("batchorder") == 1  # the verifying read showed flat: no second close


async def test_refused_closes_never_cancel_the_stops():
    v = _venue(2, refuse_batches=99)
    rep = await flatten_account(v, max_rounds=3, sleep=_no_sleep)
    assert not rep.flat and not v.violations
    assert "cancelallorders" not in v.log
    assert {o.symbol for o in v.orders if o.order_type == "stp"} == {s for s, q in v.positions.items() if q}


async def test_nothing_open_still_cancels_stale_orders():
    v = _venue(0)
    v.orders.append(Order("x", "PF_XBTUSD", Side.SELL, "stp", D(1), reduce_only=True))
    rep = await flatten_account(v, sleep=_no_sleep)
    assert rep.flat and v.log[:2] == ["openpositions", "cancelallorders"]


# ---------------------------------------------------------------------- a running engine's flatten
class _Journal:
    """Records what is journaled and when it is committed, into the venue's log (one timeline)."""

    def __init__(self, log: list[str], sm: OperatorStateMachine) -> None:
        self.log, self.sm = log, sm
        self.records: list[object] = []

    async def write(self, record: object) -> None:
        self.records.append(record)
        if isinstance(record, IntentRecord):
            self.log.append(f"intent {record.cli_ord_id} {record.purpose.value}")

    async def settle(self) -> None:
        self.log.append(f"committed in {self.sm.state.value}")


def _engine_flatten(v: _Venue, jobs: JobQueue, sm: OperatorStateMachine, j: _Journal) -> EngineFlatten:
    return EngineFlatten(client=v, sm=sm, jobs=jobs, account=AccountTracker(), emit=lambda *a, **k: None,
                         now_ms=lambda: 1_700_000_000_000, record_action=lambda *a: None,
                         known_positions=lambda: None, count_exit=lambda reason: None, journal=j.write,
                         journal_intent=lambda req: j.write(flatten_intent(0, req)), settle=j.settle, wait_job_s=5.0)


async def test_flattening_is_committed_before_the_first_request_and_each_close_is_a_committed_intent():
    v = _venue(2)
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
    j = _Journal(v.log, sm)
    rep = await _engine_flatten(v, jobs, sm, j).flatten("test", TransitionSource.CTL)
    assert rep.flat and sm.state is OperatorState.HALTED and not v.violations
    assert v.log[0] == "committed in FLATTENING"  # durable before any request
    batch = v.log.index("batchorder")
    intents = [e for e in v.log[:batch] if e.startswith("intent ")]
    assert len(intents) == 2 and all(e.endswith(" flatten") for e in intents)
    assert v.log[batch - 1].startswith("committed")  # the intents were committed before the send
    assert all(r.purpose is IntentPurpose.FLATTEN and r.reduce_only for r in j.records if isinstance(r, IntentRecord))
    answers = [r for r in j.records if isinstance(r, OrderResult) and (r.cli_ord_id or "").startswith("flat-")]
    assert len(answers) == 2  # the exchange's answers are journaled too


async def test_with_order_work_in_flight_the_early_round_closes_and_never_cancels_first():
    v = _venue(2)
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    worker = asyncio.create_task(jobs.run())
    release = asyncio.Event()
    jobs.submit("entry", release.wait)
    try:
        while not jobs.running:  # noqa: ASYNC110 (the job queue exposes a flag, not an event)
            await asyncio.sleep(0)
        sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
        flat = asyncio.create_task(_engine_flatten(v, jobs, sm, _Journal(v.log, sm)).flatten("t", TransitionSource.KEY))
        for _ in range(200):
            if "batchorder" in v.log:
                break
            await asyncio.sleep(0.005)
        assert "batchorder" in v.log and "cancelallorders" not in v.log  # closed while the job is in flight
        assert all(q == 0 for q in v.positions.values()) and v.orders  # flat, the stops still rest
        release.set()
        rep = await asyncio.wait_for(flat, timeout=5)
        assert rep.flat and sm.state is OperatorState.HALTED and not v.violations
    finally:
        worker.cancel()
