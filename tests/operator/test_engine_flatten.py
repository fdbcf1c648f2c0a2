"""A running engine's flatten (engine.flatten ``EngineFlatten``) around its job queue (engine.jobs ``JobQueue``):
order work queued before FLATTENING is dropped, never run; the first request (the early close round: the
positions the exchange reports) leaves while the order job in flight is still running (it does not wait for that
job to end), and ``cancelallorders`` only after it; the flatten ends HALTED."""

from __future__ import annotations

import asyncio

from kraken_tui.domain import OrderStatus
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.flatten import EngineFlatten, may_open_position
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.kraken.rest_parse_orders import CancelAllResult


class _FlatExchange:
    """An account with nothing on it; records every call in order, with whether the order job was running."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs
        self.calls: list[tuple[str, bool]] = []

    async def cancel_all_orders(self, symbol=None) -> CancelAllResult:
        self.calls.append(("cancelallorders", self.jobs.running))
        return CancelAllResult(OrderStatus.CANCELLED, "all")

    async def open_positions(self, *, priority=False):
        self.calls.append(("openpositions", self.jobs.running))
        return []

    async def open_orders(self, *, priority=False):
        self.calls.append(("openorders", self.jobs.running))
        return []

    async def batch_order(self, instructions, *, priority=False):
        self.calls.append(("batchorder", self.jobs.running))
        return []


def _flattener(jobs: JobQueue, client: _FlatExchange, sm: OperatorStateMachine, wait_job_s: float) -> EngineFlatten:
    return EngineFlatten(client=client, sm=sm, jobs=jobs, account=AccountTracker(), emit=lambda *a, **k: None,
                         now_ms=lambda: 0, record_action=lambda *a: None, known_positions=lambda: None,
                         count_exit=lambda reason: None, wait_job_s=wait_job_s)


async def test_jobs_queued_before_flattening_are_dropped_not_run():
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    worker = asyncio.create_task(jobs.run())
    ran: list[str] = []
    release = asyncio.Event()

    async def entry_in_flight() -> None:
        ran.append("in flight")
        await release.wait()

    async def queued(name: str) -> None:
        ran.append(name)

    jobs.submit("entry", entry_in_flight)
    jobs.submit("signal 2", lambda: queued("signal 2"))
    jobs.submit("exits PF_XBTUSD", lambda: queued("exits PF_XBTUSD"))
    try:
        while not jobs.running:  # noqa: ASYNC110 (a flag, not an event): the worker took the first job, two wait
            await asyncio.sleep(0)
        sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
        flat = asyncio.create_task(_flattener(jobs, _FlatExchange(jobs), sm, 5.0).flatten("test", TransitionSource.KEY))
        await asyncio.sleep(0.05)
        release.set()  # the job in flight lands
        report = await asyncio.wait_for(flat, timeout=5)
        await asyncio.sleep(0.05)  # a queued job left behind would run now
        assert ran == ["in flight"]  # the queued ones were dropped, not run
        assert report.flat and sm.state is OperatorState.HALTED and not jobs.busy
    finally:
        worker.cancel()


async def test_the_first_request_leaves_before_the_order_job_in_flight_ends():
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    worker = asyncio.create_task(jobs.run())
    release = asyncio.Event()
    client = _FlatExchange(jobs)
    jobs.submit("signal 1", release.wait)  # an entry being sent: its answer has not come back
    try:
        while not jobs.running:  # noqa: ASYNC110 (the job queue exposes a flag, not an event; one loop turn each)
            await asyncio.sleep(0)
        sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
        flat = asyncio.create_task(_flattener(jobs, client, sm, 5.0).flatten("test", TransitionSource.KEY))
        for _ in range(200):  # up to ~1 s, far below the 5 s the flatten would wait for the job
            if client.calls:
                break
            await asyncio.sleep(0.005)
        assert client.calls[:1] == [("openpositions", True)]  # sent while the job is still running
        assert ("cancelallorders", True) not in client.calls  # the stops rest until the closes were answered
        assert sm.state is OperatorState.FLATTENING
        release.set()
        report = await asyncio.wait_for(flat, timeout=5)
        # the full procedure ran after the job ended: 4 calls of its own (no positions)
        assert [name for name, running in client.calls[1:] if not running] == [
            "openpositions", "cancelallorders", "openpositions", "openorders"]
        assert report.flat and sm.state is OperatorState.HALTED
    finally:
        worker.cancel()


async def test_with_no_position_and_a_cleanup_in_flight_the_cancel_all_leaves_at_once():
    # Order work that cannot open a position (cancelling a closed position's protective orders) is in flight and
    # the exchange reports no position: nothing to protect, so the cancel-all leaves before that work lands.
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    worker = asyncio.create_task(jobs.run())
    release = asyncio.Event()
    client = _FlatExchange(jobs)
    jobs.submit("cleanup PF_ETHUSD", release.wait)
    try:
        while not jobs.running:  # noqa: ASYNC110 (the job queue exposes a flag, not an event)
            await asyncio.sleep(0)
        sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
        flat = asyncio.create_task(_flattener(jobs, client, sm, 5.0).flatten("test", TransitionSource.KEY))
        for _ in range(200):
            if ("cancelallorders", True) in client.calls:
                break
            await asyncio.sleep(0.005)
        assert client.calls[:2] == [("openpositions", True), ("cancelallorders", True)]  # the job still runs
        release.set()
        report = await asyncio.wait_for(flat, timeout=5)
        assert report.flat and sm.state is OperatorState.HALTED
    finally:
        worker.cancel()


def test_entry_work_is_told_from_other_order_work():
    assert may_open_position("signal 1733-PF_ETHUSD") and may_open_position("manual buy PF_XBTUSD")
    assert may_open_position(None)  # unnamed: counted as an entry
    for name in ("cleanup PF_ETHUSD", "resync PF_ETHUSD", "exits PF_ETHUSD", "reconcile (timer)",
                 "funding payments", "take over PF_ETHUSD", "guard close PF_ETHUSD", "manage manual PF_ETHUSD"):
        assert not may_open_position(name), name


async def test_begin_sets_flattening_and_hands_the_commit_over_in_its_own_call():
    # The console's flatten key calls ``begin``: FLATTENING and its commit must not wait for a turn of the loop
    # (market data and rendering run in those turns).
    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    client = _FlatExchange(jobs)
    sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
    commits: list[str] = []
    committed = asyncio.get_running_loop().create_future()

    def settle():
        commits.append(sm.state.value)
        return committed

    flattener = EngineFlatten(client=client, sm=sm, jobs=jobs, account=AccountTracker(), emit=lambda *a, **k: None,
                              now_ms=lambda: 0, record_action=lambda *a: None, known_positions=lambda: [],
                              count_exit=lambda reason: None, settle=settle)
    fut = flattener.begin("test", TransitionSource.KEY)
    assert sm.state is OperatorState.FLATTENING and commits == ["FLATTENING"]  # no await in between
    assert flattener.begin("again", TransitionSource.KEY) is fut  # a second call joins the running flatten
    assert not client.calls  # nothing sent before the commit completes
    await asyncio.sleep(0.01)
    assert not client.calls
    committed.set_result(None)
    report = await asyncio.wait_for(fut, timeout=5)
    assert report.flat and client.calls[0][0] == "cancelallorders"


async def test_an_entry_in_flight_is_closed_the_moment_its_position_is_reported():
    # An entry is being sent and no position is reported yet: no cancel-all (its stop may be landing with it);
    # the position it opens is closed as soon as the exchange's feed reports it, while the job still runs.
    from decimal import Decimal

    from kraken_tui.domain import Position, PositionSide

    jobs = JobQueue(on_error=lambda name, exc: None, on_progress=lambda: None)
    worker = asyncio.create_task(jobs.run())
    release = asyncio.Event()
    client = _FlatExchange(jobs)
    reported: list[Position] = []
    jobs.submit("signal 1", release.wait)
    try:
        while not jobs.running:  # noqa: ASYNC110 (the job queue exposes a flag, not an event)
            await asyncio.sleep(0)
        sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
        flattener = EngineFlatten(client=client, sm=sm, jobs=jobs, account=AccountTracker(),
                                  emit=lambda *a, **k: None, now_ms=lambda: 0, record_action=lambda *a: None,
                                  known_positions=lambda: tuple(reported), count_exit=lambda reason: None,
                                  wait_job_s=5.0)
        flat = asyncio.create_task(flattener.flatten("test", TransitionSource.KEY))
        await asyncio.sleep(0.05)
        assert not client.calls  # nothing yet: no position, and no cancel-all while an entry lands
        reported.append(Position("PF_ETHUSD", PositionSide.LONG, Decimal("0.5"), Decimal(3000)))  # the fill
        for _ in range(200):
            if client.calls:
                break
            await asyncio.sleep(0.005)
        assert client.calls[:1] == [("batchorder", True)]  # the close, while the entry's job still runs
        assert ("cancelallorders", True) not in client.calls
        reported.clear()
        release.set()
        await asyncio.wait_for(flat, timeout=5)
    finally:
        worker.cancel()
