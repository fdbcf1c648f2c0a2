"""A flatten that meets an entry in flight closes that entry's position from the entry's own REST answer
(engine.execution ``Executor.exposure_fills``, spec §4.10 ``sendStatus.orderEvents`` EXECUTION amounts), or from
the feed's position report when that comes first, while the entry's job still runs and the entry's stop still
rests: one close only, the cancel-all after it, and the procedure after the job sizes from a fresh
``openpositions`` read, so a stale feed report never sends a second close (engine.flatten, step 3)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from kraken_tui.domain import (
    OrderEvent,
    OrderEventType,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.flatten import EngineFlatten
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.journal.records import IntentPurpose
from kraken_tui.kraken.rest_parse_orders import CancelAllResult

SYM = "PF_XBTUSD"
starting: list[tuple[str, bool]] = []  # (moment, ``EngineFlatten.starting`` then), per ``_run``
NOW = 1_700_000_000_000
D = Decimal


def _executed(cid: str | None, amount: str, price: str = "50000") -> OrderResult:
    """A market order's answer: placed, one EXECUTION event of ``amount`` contracts at ``price`` USD."""
    ev = OrderEvent(OrderEventType.EXECUTION, f"o-{cid}", cid, D(price), D(amount))
    return OrderResult(OrderStatus.PLACED, f"o-{cid}", cid, events=(ev,))


class _Exchange:
    """The exchange for both the entry job and the flatten: the entry (and its batched stop) opens a long of what
    it executed; a reduce-only close reduces it (never flips it); records each call with whether the entry job
    still ran."""

    def __init__(self, jobs: JobQueue, entry_fill: str = "0.5") -> None:
        self.jobs = jobs
        self.entry_fill = D(entry_fill)
        self.size = D(0)
        self.orders = 0
        self.calls: list[tuple[str, bool]] = []
        self.closes: list[OrderRequest] = []

    async def batch_order(self, instructions: Any, *, priority: bool = False) -> list[OrderResult]:
        out = []
        for ins in instructions:
            r = ins.request
            if r.reduce_only and r.order_type is OrderType.MARKET:  # a flatten's close
                self.calls.append(("close", self.jobs.running))
                self.closes.append(r)
                done = min(r.size, self.size)
                self.size -= done
                out.append(_executed(r.cli_ord_id, str(done)) if done > 0 else
                           OrderResult(OrderStatus.UNRECOGNISED, None, r.cli_ord_id, raw_status="wouldNotReducePosition"))
            elif r.order_type is OrderType.MARKET:  # the entry
                self.calls.append(("entry", self.jobs.running))
                self.size += self.entry_fill
                out.append(_executed(r.cli_ord_id, str(self.entry_fill)))
            else:  # its stop
                self.orders += 1
                out.append(OrderResult(OrderStatus.PLACED, f"o-{r.cli_ord_id}", r.cli_ord_id))
        return out

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        self.calls.append(("cancelallorders", self.jobs.running))
        self.orders = 0
        return CancelAllResult(OrderStatus.CANCELLED, "all", ())

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        self.calls.append(("openpositions", self.jobs.running))
        return [Position(SYM, PositionSide.LONG, self.size, D(50_000))] if self.size > 0 else []

    async def open_orders(self, *, priority: bool = False) -> list[Any]:
        self.calls.append(("openorders", self.jobs.running))
        return [object()] * self.orders


class _NullJournal:
    async def write(self, record: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


async def _run(feed: list[Position], *, feed_after_answer: list[Position] | None = None,
               wired: bool = True, entry_fill: str = "0.5") -> tuple[_Exchange, Any, bool]:
    """An entry job (``signal ...``) sends an entry and its stop in one batch; F F lands while that batch is on
    its way; the job then holds (its take-profits being placed) until the flatten's first close was sent or
    1 s passed. ``feed``: the feed's position report throughout (``feed_after_answer``: from the entry's answer
    on). Returns the exchange, the flatten's report and whether a close left while the job was held."""
    jobs = JobQueue(lambda n, e: None, lambda: None)
    worker = asyncio.ensure_future(jobs.run())
    exch = _Exchange(jobs, entry_fill)
    sm = OperatorStateMachine(lambda: NOW, OperatorState.RUNNING, "test")
    ex = Executor(exch, _NullJournal(), lambda: NOW, durable=False)  # type: ignore[arg-type]
    report: dict[str, list[Position]] = {"now": list(feed)}
    f = EngineFlatten(client=exch, sm=sm, jobs=jobs, account=AccountTracker(), emit=lambda *a, **k: None,
                      now_ms=lambda: NOW, record_action=lambda action, reason, source: None,
                      known_positions=lambda: list(report["now"]), count_exit=lambda reason: None,
                      wait_job_s=2.0, exposure=ex)
    ex.may_add_exposure = f.exposure_refusal
    if wired:
        ex.exposure_answered = f.entry_answered
    flattening: list[asyncio.Future[Any]] = []
    starting.clear()
    closed_while_held = asyncio.Event()
    batch = exch.batch_order

    async def batch_and_f_f(instructions: Any, *, priority: bool = False) -> list[OrderResult]:
        if not flattening:  # the entry's batch: its bytes have left when F F lands
            flattening.append(f.begin("F F", TransitionSource.KEY))
        if instructions[0].request.reduce_only:
            starting.append(("close", f.starting))
        out = await batch(instructions, priority=priority)
        if not instructions[0].request.reduce_only:
            await asyncio.sleep(0.01)  # the flatten waits for this answer meanwhile
            starting.append(("answer", f.starting))
        if instructions[0].request.reduce_only and jobs.running:
            closed_while_held.set()  # the flatten's first request left while the job was held
        if feed_after_answer is not None:
            report["now"] = list(feed_after_answer)
        return out

    exch.batch_order = batch_and_f_f  # type: ignore[method-assign]
    cancel_all = exch.cancel_all_orders

    async def cancel_all_while_held(symbol: str | None = None) -> CancelAllResult:
        if jobs.running:
            closed_while_held.set()
        return await cancel_all(symbol)

    exch.cancel_all_orders = cancel_all_while_held  # type: ignore[method-assign]

    async def entry_job() -> None:
        entry = OrderRequest(SYM, Side.BUY, OrderType.MARKET, D("0.5"), cli_ord_id="kt-s-entry")
        stop = OrderRequest(SYM, Side.SELL, OrderType.STOP, D("0.5"), stop_price=D(49_000), reduce_only=True,
                            cli_ord_id="kt-s-stop")
        await ex.submit_batch([(entry, IntentPurpose.ENTRY), (stop, IntentPurpose.STOP)], signal_id="s")
        with_close = True
        try:
            await asyncio.wait_for(closed_while_held.wait(), 1.0)  # its take-profits being placed
        except TimeoutError:
            with_close = False
        held.append(with_close)

    held: list[bool] = []
    jobs.submit("signal r1-PF_XBTUSD-1", entry_job)
    await jobs.wait_idle()
    rep = await asyncio.wait_for(flattening[0], 10)
    worker.cancel()
    return exch, rep, held[0]


async def test_the_entry_in_flight_is_closed_from_its_answer_while_its_job_still_runs():
    exch, rep, closed_while_held = await _run(feed=[])  # the feed never reports the entry's position
    assert closed_while_held
    assert exch.calls[:2] == [("entry", True), ("close", True)]  # the close is the flatten's first request
    assert [(c.side, c.size, c.reduce_only) for c in exch.closes] == [(Side.SELL, D("0.5"), True)]  # one close
    assert exch.calls.index(("cancelallorders", False)) > exch.calls.index(("close", True))  # the stop rested
    assert rep.flat and rep.closed == ((SYM, D("0.5")),)
    assert exch.size == 0
    # the market-data consumer kept holding while the flatten waited for the answer; released as the close left
    assert starting == [("answer", True), ("close", False)]


async def test_without_the_wake_up_the_answer_is_still_seen_at_the_next_poll():
    exch, rep, closed_while_held = await _run(feed=[], wired=False)
    assert closed_while_held and [c.size for c in exch.closes] == [D("0.5")]
    assert rep.flat


async def test_a_stale_feed_report_after_the_early_close_sends_no_second_close():
    # the feed reports the entry's position from its answer on, and still reports it after the close
    pos = [Position(SYM, PositionSide.LONG, D("0.5"), D(50_000))]
    exch, rep, closed_while_held = await _run(feed=[], feed_after_answer=pos)
    assert closed_while_held
    assert len(exch.closes) == 1  # not closed again from the stale report: openpositions was read afresh
    assert ("openpositions", False) in exch.calls
    assert rep.flat and rep.closed == ((SYM, D("0.5")),) and rep.error is None


async def test_an_entry_answered_with_nothing_executed_lets_the_cancel_all_leave_at_once():
    exch, rep, cancelled_while_held = await _run(feed=[], entry_fill="0")
    assert cancelled_while_held and exch.calls[:2] == [("entry", True), ("cancelallorders", True)]
    assert exch.closes == [] and rep.flat and rep.closed == ()


async def test_executor_exposure_fills_come_from_the_answers_and_end_with_the_work():
    woken: list[int] = []
    ex = Executor(_AnswerClient(), _NullJournal(), lambda: NOW, durable=False, resolve_attempts=1,  # type: ignore[arg-type]
                  sleep=lambda s: asyncio.sleep(0))
    ex.exposure_answered = lambda: woken.append(1)
    await ex.submit(OrderRequest(SYM, Side.SELL, OrderType.MARKET, D("0.2"), cli_ord_id="kt-a-entry"),
                    IntentPurpose.ENTRY)
    await ex.submit(OrderRequest(SYM, Side.SELL, OrderType.MARKET, D("0.1"), cli_ord_id="kt-a-add"),
                    IntentPurpose.ADD)
    await ex.submit(OrderRequest(SYM, Side.BUY, OrderType.MARKET, D("0.3"), reduce_only=True, cli_ord_id="kt-a-exit"),
                    IntentPurpose.SIGNAL)  # an exit: not exposure
    await ex.submit(OrderRequest("PF_ETHUSD", Side.BUY, OrderType.MARKET, D("1"), cli_ord_id="kt-lost"),
                    IntentPurpose.ENTRY)  # its answer was lost: nothing known filled
    assert ex.exposure_fills == {SYM: D("-0.3")}  # sold 0.2 then 0.1
    assert len(woken) == 2  # one call per answer of an entry or add (not the exit, not the lost answer)
    ex.settle_exposure()
    assert ex.exposure_fills == {}


class _AnswerClient:
    """Answers every order executed in full, except ``kt-lost`` (UNKNOWN, unresolvable)."""

    async def send_order(self, req: OrderRequest, **k: Any) -> OrderResult:
        if req.cli_ord_id == "kt-lost":
            return OrderResult(OrderStatus.UNKNOWN, None, req.cli_ord_id, error="timeout")
        return _executed(req.cli_ord_id, str(req.size))

    async def resolve_unknown(self, cli_ord_id: str, *, size: Any = None) -> OrderResult | None:
        return None
