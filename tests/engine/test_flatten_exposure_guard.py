"""No new exposure leaves once a flatten has begun (engine.execution ``Executor.may_add_exposure``, wired to
engine.flatten ``EngineFlatten.exposure_refusal``): an entry decided before FLATTENING whose send comes after is
not sent, its intent is journaled with a ``refused`` "not sent: flatten in progress" result and the stop batched
with it is not sent either; exits are never refused; the flatten does not wait for an entry job the guard keeps
from opening a position, but still waits for one whose entry already left."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import (
    Instrument,
    InstrumentType,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
)
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.facade import EventKind
from kraken_tui.engine.flatten import FLATTEN_IN_PROGRESS, EngineFlatten
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.journal.records import IntentPurpose, RunStarted
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.rest_parse_orders import CancelAllResult

SYM = "PF_XBTUSD"
NOW = 1_700_000_000_000


class _Client:
    """Records every order request handed to it; answers placed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.in_send: asyncio.Event | None = None  # set while a send is held (``hold``)
        self.hold: asyncio.Event | None = None

    async def send_order(self, req: OrderRequest, *, instrument: Any = None, priority: bool = False) -> OrderResult:
        self.sent.append(req.cli_ord_id or "")
        if self.hold is not None:
            assert self.in_send is not None
            self.in_send.set()
            await self.hold.wait()
        return OrderResult(OrderStatus.PLACED, f"o-{req.cli_ord_id}", req.cli_ord_id)

    async def batch_order(self, instructions: Any, *, priority: bool = False) -> list[OrderResult]:
        out = []
        for ins in instructions:
            self.sent.append(ins.request.cli_ord_id or "")
            out.append(OrderResult(OrderStatus.PLACED, f"o-{ins.request.cli_ord_id}", ins.request.cli_ord_id))
        return out


class _CommitHook:
    """A journal whose commit (the durable intent's flush) runs ``on_commit`` once it is done: the flatten begins
    while the entry's intent is being made durable, after the decision and before the send."""

    def __init__(self, inner: JournalWriter) -> None:
        self.inner = inner
        self.on_commit: Any = None

    async def write(self, record: Any) -> None:
        await self.inner.write(record)

    async def flush(self) -> None:
        await self.inner.flush()
        if self.on_commit is not None:
            hook, self.on_commit = self.on_commit, None
            hook()


def _sm() -> OperatorStateMachine:
    return OperatorStateMachine(lambda: NOW, OperatorState.RUNNING, "test")


def _flattener(sm: OperatorStateMachine, jobs: JobQueue, client: Any, ex: Executor | None = None,
               known: list[Position] | None = None, wait_job_s: float = 2.0) -> EngineFlatten:
    f = EngineFlatten(client=client, sm=sm, jobs=jobs, account=AccountTracker(), emit=lambda *a, **k: None,
                      now_ms=lambda: NOW, record_action=lambda action, reason, source: None,
                      known_positions=lambda: list(known or []), count_exit=lambda reason: None,
                      wait_job_s=wait_job_s, exposure=ex)
    if ex is not None:
        ex.may_add_exposure = f.exposure_refusal
    return f


async def _journal(tmp_path: Path) -> JournalWriter:
    journal = JournalWriter(tmp_path / "j.sqlite")
    await journal.start()
    await journal.write(RunStarted("run-guard", 1, "paper", "h", "0.1"))
    return journal


def _rows(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
    """(cliOrdId -> intent purpose, cliOrdId -> (last order-event status, its error))."""
    with sqlite3.connect(path) as conn:
        intents = dict(conn.execute("SELECT cli_ord_id, purpose FROM intents"))
        events = {cid: (st, err) for cid, st, err in
                  conn.execute("SELECT cli_ord_id, status, error FROM order_events ORDER BY id")}
    return intents, events


def _inst() -> Instrument:
    return Instrument(SYM, InstrumentType.LINEAR, Decimal("0.5"), Decimal(1), Decimal("0.0001"))


async def test_an_entry_decided_before_the_flatten_and_sent_after_is_not_sent(tmp_path):
    journal = await _journal(tmp_path)
    hook = _CommitHook(journal)
    client = _Client()
    sm = _sm()
    ex = Executor(client, hook, lambda: NOW)  # type: ignore[arg-type]
    _flattener(sm, JobQueue(lambda n, e: None, lambda: None), client, ex)
    hook.on_commit = lambda: sm.flatten("F F", TransitionSource.KEY)  # the key lands during the intent's fsync
    req = OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), cli_ord_id="kt-sig-entry")
    res = await ex.submit(req, IntentPurpose.ENTRY, signal_id="sig")
    assert client.sent == []  # no byte left
    assert res.status is OrderStatus.UNRECOGNISED and res.raw_status == "refused"
    assert res.error == f"not sent: {FLATTEN_IN_PROGRESS}"
    assert "kt-sig-entry" not in ex.live and not ex.exposure_landing
    await journal.close()
    intents, events = _rows(tmp_path / "j.sqlite")
    assert intents == {"kt-sig-entry": "entry"}
    assert events["kt-sig-entry"] == ("refused", "not sent: flatten in progress")


async def test_the_entry_and_its_batched_stop_are_not_sent(tmp_path):
    journal = await _journal(tmp_path)
    hook = _CommitHook(journal)
    client = _Client()
    sm = _sm()
    ex = Executor(client, hook, lambda: NOW)  # type: ignore[arg-type]
    _flattener(sm, JobQueue(lambda n, e: None, lambda: None), client, ex)
    hook.on_commit = lambda: sm.flatten("F F", TransitionSource.KEY)
    events: list[tuple[Any, str]] = []
    flow = OrderFlow(ex, AccountTracker(), {SYM: _inst()}, ExitsConfig(), lambda kind, msg, **k: events.append(
        (kind, msg)), lambda: NOW)
    act = Enter(SYM, PositionSide.LONG, Decimal("0.01"), Decimal(100_000), Decimal(99_000), True, Decimal(0), ())
    res = await flow.enter(act, "sig")
    assert client.sent == []  # neither the entry nor its stop
    assert res is not None and res.raw_status == "refused" and FLATTEN_IN_PROGRESS in (res.error or "")
    assert not flow.account.managed
    assert any(k is EventKind.ORDER and "not sent: flatten in progress" in m for k, m in events)
    await journal.close()
    intents, rows = _rows(tmp_path / "j.sqlite")
    assert sorted(intents.values()) == ["entry", "stop"]
    assert {st for st, _ in rows.values()} == {"refused"}
    assert all("flatten in progress" in (err or "") for _, err in rows.values())


class _Counting:
    """A journal counting its commits."""

    def __init__(self, inner: JournalWriter) -> None:
        self.inner, self.commits = inner, 0

    async def write(self, record: Any) -> None:
        await self.inner.write(record)

    async def flush(self) -> None:
        self.commits += 1
        await self.inner.flush()


async def test_an_entry_while_flattening_writes_its_intent_refused_and_sends_nothing(tmp_path):
    journal = await _journal(tmp_path)
    client = _Client()
    sm = _sm()
    counting = _Counting(journal)
    ex = Executor(client, counting, lambda: NOW)  # type: ignore[arg-type]
    _flattener(sm, JobQueue(lambda n, e: None, lambda: None), client, ex)
    sm.flatten("F F", TransitionSource.KEY)
    req = OrderRequest(SYM, Side.SELL, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal(1), cli_ord_id="kt-m-add")
    res = await ex.submit(req, IntentPurpose.ADD)
    assert client.sent == [] and res.raw_status == "refused"
    assert counting.commits == 0  # refused before its intent was written: no durable commit, no request built
    sm.flatten_done("flat")  # HALTED: still refused, with HALTED's reason
    req2 = OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), cli_ord_id="kt-m-entry")
    res2 = await ex.submit(req2, IntentPurpose.ENTRY)
    assert client.sent == [] and (res2.error or "").startswith("not sent: engine HALTED")
    await journal.close()
    intents, rows = _rows(tmp_path / "j.sqlite")
    assert set(intents) == {"kt-m-add", "kt-m-entry"}
    assert rows["kt-m-add"][0] == rows["kt-m-entry"][0] == "refused"


async def test_exits_are_never_refused(tmp_path):
    journal = await _journal(tmp_path)
    client = _Client()
    sm = _sm()
    ex = Executor(client, journal, lambda: NOW)  # type: ignore[arg-type]
    _flattener(sm, JobQueue(lambda n, e: None, lambda: None), client, ex)
    sm.flatten("F F", TransitionSource.KEY)
    for k, purpose in enumerate((IntentPurpose.SIGNAL, IntentPurpose.STOP, IntentPurpose.TP1, IntentPurpose.MANUAL)):
        req = OrderRequest(SYM, Side.SELL, OrderType.MARKET, Decimal("0.01"), reduce_only=True, cli_ord_id=f"kt-x-{k}")
        assert (await ex.submit(req, purpose)).status is OrderStatus.PLACED
    assert client.sent == [f"kt-x-{k}" for k in range(4)]
    await journal.close()


async def test_while_running_the_entry_is_sent_and_landing_until_its_work_ends(tmp_path):
    journal = await _journal(tmp_path)
    client = _Client()
    client.hold, client.in_send = asyncio.Event(), asyncio.Event()
    sm = _sm()
    ex = Executor(client, journal, lambda: NOW)  # type: ignore[arg-type]
    _flattener(sm, JobQueue(lambda n, e: None, lambda: None), client, ex)
    req = OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), cli_ord_id="kt-s-entry")
    sending = asyncio.ensure_future(ex.submit(req, IntentPurpose.ENTRY))
    await asyncio.wait_for(client.in_send.wait(), 5)
    assert ex.exposure_landing  # bytes on their way
    sm.flatten("F F", TransitionSource.KEY)  # too late for this one: it left before FLATTENING
    client.hold.set()
    assert (await sending).status is OrderStatus.PLACED
    assert client.sent == ["kt-s-entry"] and ex.exposure_landing  # its position may still be landing
    ex.settle_exposure()
    assert not ex.exposure_landing
    await journal.close()


class _Flat:
    """An exchange for the flatten: one long position until closed; records each request with the time it left
    and whether the entry job was still running."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs
        self.calls: list[tuple[str, bool]] = []
        self.pos = [Position(SYM, PositionSide.LONG, Decimal("0.5"), Decimal(100))]

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        self.calls.append(("cancelallorders", self.jobs.running))
        return CancelAllResult(OrderStatus.CANCELLED, "all", ())

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        self.calls.append(("openpositions", self.jobs.running))
        return list(self.pos)

    async def open_orders(self, *, priority: bool = False) -> list[Any]:
        self.calls.append(("openorders", self.jobs.running))
        return []

    async def batch_order(self, instructions: Any, *, priority: bool = False) -> list[OrderResult]:
        self.calls.append(("batchorder", self.jobs.running))
        self.pos = []
        return [OrderResult(OrderStatus.FILLED, f"o{k}", i.request.cli_ord_id) for k, i in enumerate(instructions)]


async def _flatten_with_entry_job(guarded: bool, landing: bool) -> tuple[_Flat, list[str], bool]:
    """An entry job (``signal ...``) is in flight, held before its send, when F F is pressed on a flat account;
    ``landing``: an entry of that job already left. Returns the exchange, the job's entry answers, and whether the
    flatten was done within 0.5 s while the job was still held."""
    jobs = JobQueue(lambda n, e: None, lambda: None)
    worker = asyncio.ensure_future(jobs.run())
    exch = _Flat(jobs)
    exch.pos = []
    client = _Client()
    ex = Executor(client, _NullJournal(), lambda: NOW, durable=False)  # type: ignore[arg-type]
    f = _flattener(_sm(), jobs, exch, ex if guarded else None, known=[], wait_job_s=1.0)
    release, started = asyncio.Event(), asyncio.Event()
    answers: list[str] = []

    async def entry_job() -> None:
        if landing:
            ex._exposure_sent = True  # an entry of this job already left (as ``Executor.submit`` marks it) ...
            ex._exposure_unanswered = 1  # ... and its answer has not come yet
        started.set()
        await release.wait()  # the decision's awaits (the intent's commit...) before the send
        req = OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), cli_ord_id="kt-j-entry")
        r = await ex.submit(req, IntentPurpose.ENTRY)
        answers.append(r.raw_status or r.status.value)

    jobs.submit("signal r1-PF_XBTUSD-1", entry_job)
    await asyncio.wait_for(started.wait(), 5)
    fut = f.begin("F F", TransitionSource.KEY)
    done, _ = await asyncio.wait([fut], timeout=0.5)
    release.set()
    report = await asyncio.wait_for(fut, 5)
    assert report.flat
    await jobs.wait_idle()
    worker.cancel()
    return exch, answers, bool(done)


class _NullJournal:
    async def write(self, record: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


async def test_the_flatten_does_not_wait_for_an_entry_job_the_guard_refuses():
    exch, answers, done_while_held = await _flatten_with_entry_job(guarded=True, landing=False)
    assert exch.calls[0] == ("cancelallorders", True)  # the first request left while the entry job still ran
    assert done_while_held  # the whole flatten did
    assert answers == ["refused"]  # and that job's entry was not sent


async def test_without_the_guard_the_flatten_waits_for_the_entry_job():
    exch, answers, done_while_held = await _flatten_with_entry_job(guarded=False, landing=False)
    assert not done_while_held and not exch.calls[0][1]  # nothing left before the job ended
    assert answers == ["placed"]


async def test_the_flatten_still_waits_for_an_entry_job_whose_entry_already_left():
    exch, answers, done_while_held = await _flatten_with_entry_job(guarded=True, landing=True)
    assert not done_while_held and not exch.calls[0][1]  # no cancel-all before that job's position landed
    assert answers == ["refused"]  # its later entry is refused all the same
