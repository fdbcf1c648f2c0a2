"""The flatten's priority lane (engine.flatten ``EngineFlatten.starting`` / ``launched``): from the flatten's start
until its first request is on its way, the engine's market-data consumer holds back (engine.core ``_consume``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.domain import OrderStatus, Position
from kraken_tui.domain import PositionSide as PSide
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.flatten import EngineFlatten
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.kraken.rest_parse_orders import CancelAllResult


class _Exchange:
    """Flat account; records ``starting`` of the flattener at each request."""

    def __init__(self) -> None:
        self.flattener: EngineFlatten | None = None
        self.starting_at_request: list[tuple[str, bool]] = []

    def _see(self, what: str) -> None:
        assert self.flattener is not None
        self.starting_at_request.append((what, self.flattener.starting))

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        self._see("cancelallorders")
        return CancelAllResult(OrderStatus.CANCELLED, "all", ())

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        self._see("openpositions")
        return []

    async def open_orders(self, *, priority: bool = False) -> list:
        self._see("openorders")
        return []

    async def batch_order(self, instructions, *, priority: bool = False) -> list:
        self._see("batchorder")
        return []


async def test_starting_until_the_first_request_then_launched():
    ex = _Exchange()
    committed = asyncio.Event()

    async def settle() -> None:
        await committed.wait()  # FLATTENING's fsync, held by the test

    sm = OperatorStateMachine(lambda: 1_700_000_000_000, OperatorState.RUNNING, "test")
    flattener = EngineFlatten(
        client=ex, sm=sm, jobs=JobQueue(on_error=lambda n, e: None, on_progress=lambda: None),
        account=AccountTracker(), emit=lambda *a, **k: None, now_ms=lambda: 1_700_000_000_000,
        record_action=lambda action, reason, source: None,
        known_positions=lambda: [Position("PF_XBTUSD", PSide.LONG, Decimal("0.5"), Decimal(100))][:0],
        count_exit=lambda reason: None, settle=settle)
    ex.flattener = flattener
    assert not flattener.starting
    await flattener.launched(5.0)  # no flatten: returns at once
    run = asyncio.ensure_future(flattener.flatten("test", TransitionSource.KEY))
    await asyncio.sleep(0.01)
    assert flattener.starting and ex.starting_at_request == []  # FLATTENING not durable yet: no request
    waiter = asyncio.ensure_future(flattener.launched(5.0))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    committed.set()
    await asyncio.wait_for(waiter, 1.0)  # released by the first request, not by the cap
    rep = await run
    assert rep.flat and not flattener.starting
    assert ex.starting_at_request[0] == ("cancelallorders", False)


async def test_a_flatten_cancelled_before_it_ran_does_not_hold_the_feed():
    ex = _Exchange()
    sm = OperatorStateMachine(lambda: 1_700_000_000_000, OperatorState.RUNNING, "test")
    flattener = EngineFlatten(
        client=ex, sm=sm, jobs=JobQueue(on_error=lambda n, e: None, on_progress=lambda: None),
        account=AccountTracker(), emit=lambda *a, **k: None, now_ms=lambda: 1_700_000_000_000,
        record_action=lambda action, reason, source: None, known_positions=lambda: [],
        count_exit=lambda reason: None)
    ex.flattener = flattener
    caller = asyncio.ensure_future(flattener.flatten("test", TransitionSource.KEY))
    await asyncio.sleep(0)  # flatten() ran: its task is scheduled, not started
    assert flattener.starting
    assert flattener._task is not None
    flattener._task.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    await asyncio.sleep(0)
    assert not flattener.starting
