"""Flatten the whole account: cancel every order, close every position the exchange reports, verify flat.
Everything a flatten does lives in this module.

Owns: ``flatten_account``, the one procedure behind ``Engine.flatten`` (ctl, console key, equity floor)
and ``kraken-tui flatten`` (no running instance). It has no dependency on strategy, engine state or UI
code: a short path that cannot be derailed by an exception elsewhere. And ``EngineFlatten``, the running
engine's side of it (below), given the few things it uses (job queue, state machine, account), never the
engine.
Must not import: textual, the journal (records go through the callables it is given), the engine core.

A running engine's flatten (``EngineFlatten.flatten``; one at a time, a second call joins the first):
1. The operator action is journaled, then FLATTENING, and both are made durable (the journal committed with
   ``synchronous=FULL``, ``settle``) BEFORE the first request: a crash at any later instant restarts in
   FLATTENING. No job decides an entry from here on. When the journal cannot be written the flatten still
   runs (after at most ``FLATTEN_DURABLE_WAIT_S``), with a CRITICAL event saying it is not durable.
2. Order work queued before is dropped, not run (queued entries and exits are moot now).
3. When order work is in flight (an entry being sent, protective orders being cancelled), an early round
   leaves at once while that job is still landing: reduce-only closes of the positions the exchange reports,
   stops still resting; or, when it reports no position and the job cannot open one (``may_open_position``:
   not an entry), ``cancelallorders`` (nothing to protect, and a resting entry cannot fill while the job
   lands). An entry in flight with no position reported sends no cancel-all (its position and stop may be
   landing, and the stop rests until that position's close was answered): the position is closed the moment
   the exchange tells what the entry filled, by whichever comes first: the entry's own REST answer (sendorder's
   or batchorder's ``sendStatus`` with its EXECUTION ``orderEvents``, spec §4.10/§4.15, taken in by the
   executor: ``ExposureWork.exposure_fills``) or the feed's position report; one close only, sized from that
   source, while the job still places its take-profits; when every entry of it was answered and none
   executed (``ExposureWork.exposure_answered_all``), ``cancelallorders`` leaves at once. The job is awaited
   (at most ``FLATTEN_WAIT_JOB_S``) and the procedure below then sizes its closes from a fresh
   ``openpositions`` read (not the feed's report, which may predate the job's fills or the early close's), so
   a position that job opened is still closed and a position the early close already closed is not closed
   twice. With the executor's guard in place (``exposure``: no entry or add is sent from FLATTENING
   on, ``execution.Executor.may_add_exposure``) an entry job that sent none before FLATTENING can open no
   position: it is not waited for (``waits_for_work``) and the flatten runs as with no work in flight; an entry
   job whose entry already left (``exposure_landing``) is waited for as above.
The steps up to handing FLATTENING's commit to the journal run synchronously in ``EngineFlatten.begin`` (the
console's flatten key calls it from the key's handler): no turn of the event loop (market data, rendering)
runs between the key and FLATTENING; the first request leaves on the turn its commit completes.
4. ``flatten_account`` with the positions the exchange last pushed on the private ``open_positions`` feed
   (``known_positions``; None when that feed is not live) so a clean run costs 4 REST calls. Each batch of
   closes is journaled as intents (purpose ``flatten``) and committed before it is sent, and the exchange's
   answers are journaled after it.
5. The engine forgets its managed positions; HALTED (the latch: entries and exits off until the operator
   resets), also when the procedure failed (``flatten_failed``); a verified flat account is shown flat at once.
6. Verified flat: every order the engine knew resting when the flatten began is journaled ``cancelled`` (the
   cancel-all took it), so a restart does not look for it and report it gone; so is every close whose answer
   was lost (it no longer rests: the account is flat with no open order).
A restart that finds FLATTENING last in the journal runs the flatten again at start (``core.Engine.start``):
the account is read afresh, so a flatten cut at any point is finished, and ends HALTED.
While FLATTENING or HALTED (``owns_exits``) a fill that closes a managed position is booked with exit reason
``flatten`` (when not our order) and its protective orders are forgotten without cancel calls (the
cancel-all took them); the equity floor's kill (``kill``) is a flatten that also ends the engine (exit 5).
The record of a flatten: its closes carry cliOrdIds ``flat-<source>-<ms>-r<round>-<symbol>``
(``domain.flatten_ids.flatten_close_tag``), so their fills read ``flatten (<source>)`` in Events and the
trades they close have the exit reason ``flatten`` (``journal.trades``), whoever started it: the console key,
``ctl flatten``, the equity floor, or ``kraken-tui flatten`` straight to the exchange (``external flatten``).

Order of operations: a position is never left without its resting stop, at any instant. The protective
orders (stop-loss, take-profits) stay on the book while the closes go out; only after the closes were
answered is ``cancelallorders`` sent. A crash between the two leaves either the position with its stop
still resting, or a flat account with stale reduce-only orders (which cannot open a position: the exchange
trims or rejects a reduce-only order that would not reduce, ``wouldNotReducePosition``); the restart's
flatten cancels them. Cancelling first (the other order) would leave, for the length of one round trip or
for ever after a crash, an open position with no stop on the book.

Procedure (spec §4.7 openpositions, §4.8 openorders, §4.13 cancelallorders, §4.15 batchorder):

round 1   openpositions (sizing read; skipped when the feed's report is known)
          one batchorder: a reduce-only ``mkt`` close per position, sized from the exchange's position
          cancelallorders (every symbol, trigger orders included): only after the closes were answered
          openpositions  ||  openorders                                                    (verify)
round k   (only while something is left) closes for what the last verifying read still showed,
          cancelallorders again if orders remain or are unknown, verify again; backoff doubles.

A clean run therefore costs 5 REST calls whatever the number of positions N (up to ``MAX_BATCH``
closes per batchorder), in 4 sequential round trips. With no position there is no batch (4 calls).
A running engine passes ``known_positions``: the positions as the exchange itself last pushed them on
the private ``open_positions`` feed (spec §7.10). Round 1 then sizes the closes from that report and
skips the sizing read: 4 calls (one batch, cancel-all, two verifying reads). Whatever the feed missed
is seen by the verifying reads and closed in round 2, sized from ``openpositions``.

Safety rules:
- Closes are reduce-only market orders (``mkt`` = IOC with Kraken's 1 % price protection). An answer
  that was lost (timeout, 5xx, connection closed after processing: ``OrderStatus.UNKNOWN``) is never
  re-sent blindly: the next round is sized from a fresh ``openpositions`` read, and even a late-arriving
  earlier close cannot flip the position because the exchange trims or rejects a reduce-only order that
  would not reduce it (``wouldNotReducePosition``).
- Every call spends the client's rate-limit reserve when needed (``priority``): cancel-all, the
  reduce-only closes and the sizing/verifying reads.
- Never raises for exchange, transport or protocol errors, nor for a bug inside it: the report says
  ``flat=False`` with the error. ``asyncio.CancelledError`` propagates (the caller cancelled it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from kraken_tui.domain import ZERO, Order, OrderRequest, OrderResult, OrderStatus, OrderType, Position, Side
from kraken_tui.domain import PositionSide as PSide
from kraken_tui.domain.flatten_ids import FlattenSource, flatten_close_tag, flatten_source_of
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import Emit
from kraken_tui.engine.facade import EventKind, FlattenProgress, FlattenReport, Severity
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.engine.ports import FlattenClient
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.kraken.rest_orders import BatchSend
from kraken_tui.wording import counted

__all__ = ["ENTRY_WORK_PREFIXES", "FLATTEN_DURABLE_WAIT_S", "FLATTEN_IN_PROGRESS", "FLATTEN_WAIT_JOB_S", "MAX_BATCH",
           "CloseRecorder", "EngineFlatten", "ExposureWork", "OrderWork", "RestingOrders", "close_requests",
           "flatten_account", "may_open_position", "round_tag"]

log = logging.getLogger(__name__)

#: Closes per batchorder call. Kraken documents no maximum (spec §10 gap 5); CCXT declares 100 and
#: nautilus_trader chunks cancels at 50, so 50 is a conservative chunk.
MAX_BATCH = 50
FLATTEN_WAIT_JOB_S = 2.0
"""How long a running engine's flatten waits for the order work in flight (an entry being sent), s."""
ENTRY_POLL_S = 0.002
"""How often a flatten looks for the position of an entry in flight (step 3), s."""
FLATTEN_DURABLE_WAIT_S = 2.0
"""How long a running engine's flatten waits for FLATTENING (and each batch's intents) to be committed, s;
past it (a journal that cannot be written) the flatten goes on, with a CRITICAL event."""


#: The names of the order work that may open a position (``JobQueue`` job names, by prefix): a signal's entry
#: (``decisions``: ``signal <id>``) and the operator's manual order (``manual_desk``: ``manual <verb> <symbol>``).
ENTRY_WORK_PREFIXES = ("signal ", "manual ")


#: Why an entry or add is not sent while FLATTENING (``EngineFlatten.exposure_refusal``).
FLATTEN_IN_PROGRESS = "flatten in progress"


def may_open_position(job: str | None) -> bool:
    """True when the order work named ``job`` (``OrderWork.current``) may open a position (an entry:
    ``ENTRY_WORK_PREFIXES``); None (no name) counts as one, to be safe."""
    return job is None or job.startswith(ENTRY_WORK_PREFIXES)


def close_requests(positions: Sequence[Position], tag: str) -> list[OrderRequest]:
    """Reduce-only market orders that close ``positions`` exactly (size = the exchange's size).

    Args:
        positions: as reported by openpositions (spec §4.7); zero-size rows are skipped.
        tag: a short unique prefix for the cliOrdIds (``<tag>-<symbol>``, at most 100 chars).

    Returns:
        One ``OrderRequest`` per position: sell for a long, buy for a short.
    """
    out = []
    for p in positions:
        if p.size <= 0:
            continue
        side = Side.SELL if p.side is PSide.LONG else Side.BUY
        cli = f"{tag}-{p.symbol}"[:100]
        out.append(OrderRequest(p.symbol, side, OrderType.MARKET, p.size, reduce_only=True, cli_ord_id=cli))
    return out


def round_tag(tag: str, round_no: int) -> str:
    """The cliOrdId prefix of round ``round_no``'s closes: ``<tag>-r<round>`` (``tag``: ``flatten_close_tag``)."""
    return f"{tag}-r{round_no}"


class CloseRecorder(Protocol):
    """Where a flatten's closes are recorded (a running engine's journal, ``EngineFlatten``)."""

    async def intents(self, requests: Sequence[OrderRequest]) -> None:
        """Record (durably) the closes about to be sent, purpose ``flatten``; returns once committed."""
        ...

    async def results(self, results: Sequence[OrderResult]) -> None:
        """Record the exchange's answers to those closes."""
        ...


class _Run:
    """State of one flatten (request count, progress, errors)."""

    def __init__(self, progress: Callable[[FlattenProgress], None] | None, clock: Callable[[], float],
                 source: FlattenSource, recorder: CloseRecorder | None = None, started_ms: int | None = None) -> None:
        self.progress = progress
        self.recorder = recorder
        self.clock = clock
        self.t0 = clock()
        self.started_ms = int(time.time() * 1000) if started_ms is None else started_ms
        self.tag = flatten_close_tag(source, self.started_ms)
        self.requests = 0
        self.cancelled = 0
        self.first_cancel_ms: float | None = None
        self.errors: list[str] = []
        self.round = 1
        self.first_seen: dict[str, Decimal] = {}
        self.last_seen: dict[str, Decimal] = {}

    def ms(self) -> float:
        return (self.clock() - self.t0) * 1000.0

    def emit(self, phase: str, positions: int = 0, orders: int = 0, detail: str = "") -> None:
        if self.progress is None:
            return
        p = FlattenProgress(phase, self.started_ms, self.round, positions, orders, self.requests, detail)
        try:
            self.progress(p)
        except Exception:  # a broken progress listener must never stop a flatten
            log.exception("flatten progress listener failed")

    def error(self, what: str, exc: BaseException | str) -> None:
        text = f"{what}: {exc if isinstance(exc, str) else f'{type(exc).__name__}: {exc}'}"
        log.warning("flatten round %d: %s", self.round, text)
        self.errors.append(text)

    def saw_positions(self, positions: Sequence[Position]) -> None:
        now = {p.symbol: p.signed_size for p in positions if p.size > 0}
        for sym, size in now.items():
            self.first_seen.setdefault(sym, size)
        self.last_seen = now

    def closed(self) -> tuple[tuple[str, Decimal], ...]:
        out = []
        for sym in sorted(self.first_seen):
            gone = self.first_seen[sym] - self.last_seen.get(sym, ZERO)
            if gone != 0:
                out.append((sym, gone))
        return tuple(out)


async def _call(run: _Run, what: str, make: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
    """One counted REST call: (True, result) or (False, None) with the error recorded."""
    run.requests += 1
    try:
        return True, await make()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure is reported, never raised (module docstring)
        run.error(what, exc)
        return False, None


async def _cancel_all(run: _Run, client: FlattenClient) -> bool | None:
    """cancelallorders; True when the exchange confirmed, None when the outcome is unknown."""
    if run.first_cancel_ms is None:
        run.first_cancel_ms = run.ms()
    ok, res = await _call(run, "cancelallorders", client.cancel_all_orders)
    if not ok:
        return None
    if res.status is OrderStatus.UNKNOWN:
        run.error("cancelallorders", res.error or "outcome unknown")
        return None
    run.cancelled += len(res.cancelled)
    return True


async def _close(run: _Run, client: FlattenClient, positions: Sequence[Position]) -> bool:
    """Send the closes in batches of ``MAX_BATCH`` (concurrently), priority (reduce-only); each batch's
    intents are recorded (``CloseRecorder.intents``) before it is sent and its answers after.

    Returns:
        True when the exchange answered every close as filled in full (the positions are gone), False when
        one was refused, partly filled, or its answer was lost (the stops must stay until a read shows flat).
    """
    reqs = close_requests(positions, round_tag(run.tag, run.round))
    chunks = [reqs[i : i + MAX_BATCH] for i in range(0, len(reqs), MAX_BATCH)]

    async def send(chunk: list[OrderRequest]) -> bool:
        await _record(run, "intents", chunk)
        ins = [BatchSend(r, str(k)) for k, r in enumerate(chunk)]
        ok, results = await _call(run, "batchorder", lambda: client.batch_order(ins, priority=True))
        if not ok:
            return False
        results = list(results or ())
        await _record(run, "results", results)
        for r in results:
            _note_result(run, r)
        filled = {r.cli_ord_id: r.filled_size for r in results if r.accepted and r.status is not OrderStatus.UNKNOWN}
        return all(filled.get(q.cli_ord_id, ZERO) >= q.size for q in chunk)

    if len(chunks) == 1:  # the common case: sent from this task (gather would wrap it in a new task first)
        return await send(chunks[0])
    return all(await asyncio.gather(*(send(c) for c in chunks)))


async def _record(run: _Run, what: str, items: Sequence[Any]) -> None:
    """Hand ``items`` to the run's ``CloseRecorder`` (``intents`` or ``results``); its failure is logged,
    never raised (the closes go out whatever the journal does)."""
    if run.recorder is None or not items:
        return
    try:
        if what == "intents":
            await run.recorder.intents(items)
        else:
            await run.recorder.results(items)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        run.error(f"recording the closes' {what}", exc)


def _note_result(run: _Run, r: OrderResult) -> None:
    if r.status is OrderStatus.UNKNOWN:
        run.error(f"close {r.cli_ord_id}", r.error or "outcome unknown (verified by re-reading positions)")
    elif not r.accepted:
        run.error(f"close {r.cli_ord_id}", f"exchange answered {r.raw_status or r.status.value}")
    else:
        log.info("flatten close %s %s filled %s", r.cli_ord_id, r.status.value, r.filled_size)


async def _read_both(run: _Run, client: FlattenClient) -> tuple[list[Position] | None, list[Order] | None]:
    (okp, pos), (oko, orders) = await asyncio.gather(
        _call(run, "openpositions", lambda: client.open_positions(priority=True)),
        _call(run, "openorders", lambda: client.open_orders(priority=True)),
    )
    return (pos if okp else None), (orders if oko else None)


async def flatten_account(
    client: FlattenClient,
    *,
    progress: Callable[[FlattenProgress], None] | None = None,
    known_positions: Sequence[Position] | None = None,
    source: FlattenSource = FlattenSource.CLI,
    recorder: CloseRecorder | None = None,
    max_rounds: int = 6,
    first_backoff_s: float = 0.2,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    started_ms: int | None = None,
) -> FlattenReport:
    """Cancel every order and close every position on the account, then verify it is flat.

    Args:
        client: a ``KrakenRestClient`` (live Kraken or the paper exchange); only ``cancel_all_orders``,
            ``open_positions(priority=True)``, ``open_orders(priority=True)`` and
            ``batch_order(..., priority=True)`` are used.
        progress: called with a ``FlattenProgress`` at each phase (cancelling, closing, verifying,
            retrying, done, failed); must be quick; its exceptions are logged and ignored.
        known_positions: the exchange's own latest position report (private WS feed); None = read
            ``openpositions`` first. Never the caller's derived view: only what the exchange reported.
        source: who started it, carried in the closes' cliOrdIds (``domain.flatten_ids.flatten_close_tag``;
            default ``kraken-tui flatten`` straight to the exchange).
        recorder: journals each batch of closes as intents before it is sent and the exchange's answers
            after (``CloseRecorder``); None records nothing. Its failures are logged, never raised.
        max_rounds: rounds before giving up (>= 1).
        first_backoff_s: wait before round 2, seconds; doubles every round.
        clock: monotonic seconds for ``elapsed_ms`` / ``first_cancel_ms``. sleep: async sleep (tests).
        started_ms: the UTC ms its closes' cliOrdIds carry (``flatten_close_tag``); None = now. A caller that
            journaled round 1's closes ahead (``close_requests(known_positions, round_tag(flatten_close_tag(
            source, started_ms), 1))``) passes the same value, so the recorder sees the same cliOrdIds.

    Returns:
        ``FlattenReport``: ``flat`` True only when the last ``openpositions`` and ``openorders`` reads
        both came back empty; ``requests`` = REST calls made (a read the client retried internally
        counts once); ``closed`` = per symbol, the signed position size that went away between the
        first and the last read; ``error`` = what went wrong when not flat (None when flat).

    Raises:
        Nothing but ``asyncio.CancelledError``: every other failure is in the report.
    """
    run = _Run(progress, clock, source, recorder, started_ms)
    try:
        known = None if known_positions is None else [p for p in known_positions if p.size != 0]
        return await _flatten(client, run, max(1, max_rounds), first_backoff_s, sleep, known)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in this module must still leave a report (engine goes HALTED)
        log.exception("flatten failed unexpectedly")
        run.error("internal error", exc)
        run.emit("failed", detail=run.errors[-1])
        return _report(run, False)


def _report(run: _Run, flat: bool, left: str = "") -> FlattenReport:
    error = None
    if not flat:
        parts = ([left] if left else []) + run.errors[-3:]
        error = "; ".join(parts) or "not verified flat"
    return FlattenReport(flat, run.round, run.requests, run.cancelled, run.closed(), run.ms(),
                         run.first_cancel_ms, error)


async def _flatten(client: FlattenClient, run: _Run, max_rounds: int, backoff_s: float,
                   sleep: Callable[[float], Awaitable[None]], known: list[Position] | None) -> FlattenReport:
    positions: list[Position] | None = known
    if known is not None:
        run.saw_positions(known)
    orders_left: bool | None = None  # None = unknown -> cancel again
    left = ""
    for rnd in range(1, max_rounds + 1):
        run.round = rnd
        if rnd > 1:
            run.emit("retrying", len(positions or ()), 0, left)
            await sleep(backoff_s * 2 ** (rnd - 2))
        # 1. size the closes from the exchange (the feed's report, the last verifying read, or a read now).
        if positions is None:
            ok, got = await _call(run, "openpositions", lambda: client.open_positions(priority=True))
            positions = list(got) if ok else None
            if positions is not None:
                run.saw_positions(positions)
        # 2. close what the exchange reports, in one batch, while every stop still rests.
        closed = positions == []
        if positions:
            run.emit("closing", len(positions))
            closed = await _close(run, client, positions)
        # 3. cancel every order, only once no position is left to protect (module docstring).
        if closed and (rnd == 1 or orders_left is not False):
            run.emit("cancelling")
            await _cancel_all(run, client)
        # 4. verify.
        run.emit("verifying")
        pos, orders = await _read_both(run, client)
        if pos is not None:
            run.saw_positions(pos)
        positions, orders_left = pos, (bool(orders) if orders is not None else None)
        if pos == [] and orders == []:
            run.emit("done")
            return _report(run, True)
        left = _left(pos, orders)
    run.emit("failed", len(positions or ()), 0, left)
    return _report(run, False, f"after {counted(run.round, 'round')}: {left}")


def _left(pos: list[Position] | None, orders: list[Order] | None) -> str:
    p = "positions unknown" if pos is None else f"{counted(len(pos), 'position')} open " + ", ".join(
        f"{x.symbol} {x.side.value} {x.size}" for x in pos[:5])
    o = "orders unknown" if orders is None else f"{counted(len(orders), 'order')} open"
    return f"{p.strip()}; {o}"


def _wake_up(wake: asyncio.Future[None]) -> None:
    if not wake.done():
        wake.set_result(None)


def _merge_closed(closed: Sequence[tuple[str, Decimal]], early: dict[str, Decimal]) -> tuple[tuple[str, Decimal], ...]:
    """``FlattenReport.closed`` (symbol, signed size closed) plus what the early close closed, per symbol."""
    total = dict(closed)
    for sym, q in early.items():
        total[sym] = total.get(sym, ZERO) + q
    return tuple((sym, q) for sym, q in sorted(total.items()) if q != 0)


class OrderWork(Protocol):
    """The engine's job queue as a flatten sees it (``jobs.JobQueue``)."""

    @property
    def running(self) -> bool:
        """True while a job is running."""
        ...

    @property
    def current(self) -> str | None:
        """The name of the job running (or last run)."""
        ...

    def drop_queued(self) -> list[str]:
        """Remove every queued job without running it."""
        ...

    async def wait_idle(self) -> None:
        """Return when no job is queued or running."""
        ...


class ExposureWork(Protocol):
    """Whether the order work in flight may still open a position, as a flatten sees it (``execution.Executor``:
    its ``may_add_exposure`` guard refuses every entry and add while FLATTENING or HALTED)."""

    may_add_exposure: Callable[[], str | None] | None
    """The guard asked before an entry or add is journaled and again right before it is sent (None: none)."""

    @property
    def exposure_landing(self) -> bool:
        """True when an entry or add request may have left during the order work in flight."""
        ...

    @property
    def exposure_fills(self) -> dict[str, Decimal]:
        """Symbol -> signed contracts the exchange's answers to the entries and adds of the order work in flight
        say were executed (``execution.Executor.exposure_fills``)."""
        ...

    @property
    def exposure_answered_all(self) -> bool:
        """True when every entry and add of the order work in flight has its definite answer."""
        ...


class RestingOrders(Protocol):
    """This run's resting orders as a flatten sees them (``execution.Executor``)."""

    @property
    def live(self) -> dict[str, KnownOrder]:
        """cliOrdId -> the order believed resting."""
        ...

    def gone(self, cli_ord_id: str | None) -> KnownOrder | None:
        """Forget an order that left the book; returns what was known of it."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class _Start:
    """What ``EngineFlatten.begin``'s synchronous steps hand to the flatten's task."""

    resting: list[tuple[str | None, str | None]]  # (order id, cliOrdId) resting when the flatten began
    started_ms: int  # engine clock, UTC ms
    known: Sequence[Position] | None  # the feed's positions (None: order work in flight, or the feed not live)
    close_ms: int  # the UTC ms round 1's cliOrdIds carry
    intents: list[OrderRequest]  # round 1's closes the task still journals before the commit (no sync journal)
    committing: Awaitable[None] | None  # the FLATTENING commit handed to the journal's thread (None: not yet)
    early: list[OrderRequest] | None = None  # with order work in flight: the early round's closes of the positions
    # the feed reported (journaled with FLATTENING); None: no work in flight, or the feed not live
    waiting: bool = False  # order work was in flight at the start (``waits_for_work``): step 3 runs


#: The ``TransitionSource`` of a running engine's flatten -> the source its closes carry.
_SOURCES = {TransitionSource.KEY: FlattenSource.KEY, TransitionSource.CTL: FlattenSource.CTL}


class EngineFlatten:
    """A running engine's flatten (module docstring, steps 1-5).

    Args:
        client: the exchange (``FlattenClient``).
        sm: the operator state machine (FLATTENING, then HALTED).
        jobs: the engine's order work (``OrderWork``).
        account: the account (managed positions forgotten; a verified flat account shown flat).
        emit: publishes FLATTEN and ALERT events.
        now_ms: the engine clock (UTC ms).
        record_action: journals the operator action (action, reason, source) before the state moves.
        known_positions: the exchange's own latest position report when the private feed is live, else None.
        count_exit: counts a position closed per exit reason (``OrderFlow.count_exit``).
        orders: this run's resting orders (``RestingOrders``); those resting when the flatten began are
            journaled cancelled once the account is verified flat (step 6). None: nothing journaled.
        journal: journals one record (``EngineIO.write``): those cancels and the closes' answers.
        journal_intent: journals one close as an intent with purpose ``flatten`` (``controls.flatten_intent``).
        journal_intent_now: the same from synchronous code (``EngineIO.write_soon``): ``begin`` queues round 1's
            closes with FLATTENING in its own call. None: ``begin``'s task journals them (``journal_intent``).
        settle: returns once every record journaled so far is committed (``context.JournalOutlet.settle``;
            FULL fsync); awaited, at most ``durable_wait_s``, after FLATTENING and before each batch of closes.
            None: nothing is awaited.
        wait_job_s: how long the order work in flight is awaited (``FLATTEN_WAIT_JOB_S``).
        durable_wait_s: how long ``settle`` is awaited (``FLATTEN_DURABLE_WAIT_S``).
        exposure: the executor whose guard (``may_add_exposure``, wired to ``exposure_refusal``) refuses every
            entry and add from FLATTENING on (``ExposureWork``): an entry job in flight that sent none by then
            can open no position, so the flatten does not wait for it (``work_may_open``). None: every entry job
            in flight is waited for.

    Attributes:
        progress: the latest ``FlattenProgress`` (None before the first flatten).
    """

    def __init__(self, *, client: FlattenClient, sm: OperatorStateMachine, jobs: OrderWork,
                 account: AccountTracker, emit: Emit, now_ms: Callable[[], int],
                 record_action: Callable[[str, str, TransitionSource], None],
                 known_positions: Callable[[], Sequence[Position] | None],
                 count_exit: Callable[[str], None], orders: RestingOrders | None = None,
                 journal: Callable[[OrderResult], Awaitable[None]] | None = None,
                 journal_intent: Callable[[OrderRequest], Awaitable[None]] | None = None,
                 settle: Callable[[], Awaitable[None]] | None = None,
                 wait_job_s: float = FLATTEN_WAIT_JOB_S, durable_wait_s: float = FLATTEN_DURABLE_WAIT_S,
                 journal_intent_now: Callable[[OrderRequest], None] | None = None,
                 exposure: ExposureWork | None = None) -> None:
        self.client, self.sm, self.jobs, self.account = client, sm, jobs, account
        self.emit, self.now_ms, self.record_action = emit, now_ms, record_action
        self.known_positions, self.count_exit, self.wait_job_s = known_positions, count_exit, wait_job_s
        self.orders, self.journal, self.settle, self.durable_wait_s = orders, journal, settle, durable_wait_s
        self.journal_intent, self.journal_intent_now = journal_intent, journal_intent_now
        self.exposure = exposure
        self._unanswered: dict[str, OrderRequest] = {}
        self._prejournaled: set[str] = set()  # round 1's closes, journaled and committed with FLATTENING
        self.progress: FlattenProgress | None = None
        self._task: asyncio.Future[FlattenReport] | None = None
        self._launched = asyncio.Event()  # clear from a flatten's start until its first request is on its way
        self._launched.set()
        self._wake: asyncio.Future[None] | None = None  # ``_entry_landed``'s nap, ended early by ``entry_answered``
        self._early_closed: dict[str, Decimal] = {}  # symbol -> signed position size the early close closed

    # ------------------------------------------------------------------ the priority lane
    @property
    def starting(self) -> bool:
        """True from a flatten's start until its first order request is on its way (the market-data consumer
        then holds back: ``launched``)."""
        return not self._launched.is_set()

    async def launched(self, within_s: float) -> None:
        """Return once the running flatten's first request is on its way (at once when none is starting), or
        after ``within_s`` seconds at most."""
        if self._launched.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._launched.wait(), within_s)

    # ------------------------------------------------------------------ no new exposure
    def exposure_refusal(self) -> str | None:
        """The executor's ``may_add_exposure`` guard: why no entry or add may be sent now (``flatten in
        progress`` while FLATTENING, ``engine HALTED: <reason>`` while HALTED), None otherwise. PAUSED is not a
        refusal here: a paused engine still sends the operator's manual orders (engine.manual), and the strategy's
        entries are refused by the decision (``OperatorStateMachine.entry_rejection_reason``)."""
        state = self.sm.state
        if state is OperatorState.FLATTENING:
            return FLATTEN_IN_PROGRESS
        if state is OperatorState.HALTED:
            return f"engine HALTED: {self.sm.reason}"
        return None

    def work_may_open(self) -> bool:
        """True when the order work in flight may open a position: an entry job (``may_open_position``) that,
        with the executor's guard in place (``exposure``), already sent an entry or add (``exposure_landing``);
        without the guard, any entry job. False when no job runs."""
        if not self.jobs.running or not may_open_position(self.jobs.current):
            return False
        ex = self.exposure
        if ex is None or ex.may_add_exposure is None:
            return True
        return ex.exposure_landing or self.exposure_refusal() is None

    def waits_for_work(self) -> bool:
        """True when the flatten waits for the order work in flight (step 3): a job runs and it is not an entry
        job the executor's guard keeps from opening a position (``work_may_open``)."""
        if not self.jobs.running:
            return False
        return not may_open_position(self.jobs.current) or self.work_may_open()

    def entry_answered(self) -> None:
        """The exchange answered an entry or add of the order work in flight (wired to
        ``execution.Executor.exposure_answered``): a flatten waiting for that entry's position (step 3) looks at
        ``ExposureWork.exposure_fills`` now instead of at its next poll."""
        if self._wake is not None:
            _wake_up(self._wake)

    # ------------------------------------------------------------------ while flattening
    def owns_exits(self) -> bool:
        """True while FLATTENING or HALTED: fills neither resync nor clean up protective orders."""
        return self.sm.state in (OperatorState.FLATTENING, OperatorState.HALTED)

    def exit_reason(self, ours: bool, cli_ord_id: str | None = None) -> str | None:
        """``flatten`` for the closing fill of a flatten's close (cliOrdId ``flat-...``, whenever it arrives) or
        of an order that is not ours while ``owns_exits``, else None (the fill's own purpose names it)."""
        if flatten_source_of(cli_ord_id) is not None:
            return "flatten"
        return "flatten" if self.owns_exits() and not ours else None

    @staticmethod
    def fill_label(cli_ord_id: str | None) -> str | None:
        """``flatten (<source>)`` for a fill of a flatten's close (``domain.flatten_ids.FlattenSource.label``:
        key, ctl flatten, equity floor, external flatten), ``flatten`` when it names no source, else None."""
        source = flatten_source_of(cli_ord_id)
        if source is None:
            return None
        return f"flatten ({source})" if source else "flatten"

    def position_closed(self, mp: ManagedPosition, reason: str) -> bool:
        """A fill closed ``mp``: while ``owns_exits`` count ``reason`` and forget its protective orders (the
        cancel-all took them: no cancel calls) and return True; otherwise False (the caller cleans up)."""
        if not self.owns_exits():
            return False
        self.count_exit(reason)
        mp.orders.clear()
        return True

    # ------------------------------------------------------------------ the procedure
    async def flatten(self, reason: str, source: TransitionSource,
                      origin: FlattenSource | None = None) -> FlattenReport:
        """Cancel every order, close every position the exchange reports, verify, then HALTED (module
        docstring). ``origin``: the source the closes carry (default from ``source``: key, ctl, else
        automatic). Never raises for exchange errors (the report says what failed); a call while a flatten
        runs returns that flatten's report."""
        return await asyncio.shield(self.begin(reason, source, origin))

    def begin(self, reason: str, source: TransitionSource,
              origin: FlattenSource | None = None) -> asyncio.Future[FlattenReport]:
        """Start a flatten in this call and return its future (the report; ``flatten`` awaits it). Its
        synchronous first steps run before this returns, with no turn of the event loop in between: the
        operator action and FLATTENING journaled, FLATTENING set (no job decides an entry from here on), queued
        order work dropped, round 1's closes journaled as intents (``journal_intent_now``) and the commit
        handed to the journal's thread (``settle``). The rest (the wait for that commit, then the requests)
        runs in the future's task. A call while a flatten runs returns that flatten's future. Call it on the
        engine's loop (a running event loop is required; ``RuntimeError`` otherwise)."""
        if self._task is not None and not self._task.done():
            return self._task
        loop = asyncio.get_running_loop()
        self._launched.clear()  # from now: the consumer holds market data before its next event
        origin = origin or _SOURCES.get(source, FlattenSource.AUTO)
        try:
            start: _Start | BaseException = self._start(reason, source, origin)
        except Exception as exc:  # a bug in the synchronous steps: the task still flattens (and halts)
            log.exception("flatten: its first steps failed")
            start = exc
        self._task = loop.create_task(self._run(reason, source, origin, start))
        self._task.add_done_callback(lambda _: self._launched.set())  # even a task cancelled unstarted
        return self._task

    async def kill(self, reason: str) -> FlattenReport:
        """The equity floor: a CRITICAL alert, then a flatten (automatic). The caller ends the engine."""
        self.emit(EventKind.ALERT, reason, severity=Severity.CRITICAL)
        return await self.flatten(reason, TransitionSource.AUTOMATIC, FlattenSource.FLOOR)

    async def _durable(self, what: str, started: Awaitable[None] | None = None) -> bool:
        """Await ``settle`` (at most ``durable_wait_s``): True once committed; False (CRITICAL event) when the
        journal could not commit in time: the flatten goes on regardless (exits never wait on the journal).
        ``settle``'s awaitable is awaited directly (no extra task): its commit was handed to the journal's
        thread when ``settle`` was called, and this task resumes the moment it is committed. ``started``: the
        awaitable of a ``settle`` called earlier (the commit already on its way)."""
        if self.settle is None:
            return True
        expired = False
        fut: asyncio.Future[None] | None = None

        def expire() -> None:
            nonlocal expired
            expired = True
            if fut is not None:
                fut.cancel()

        try:
            fut = asyncio.ensure_future(started if started is not None else self.settle())
            timer = asyncio.get_running_loop().call_later(self.durable_wait_s, expire)
            try:
                await fut
            finally:
                timer.cancel()
            return True
        except asyncio.CancelledError:
            if not expired:
                raise
            exc: BaseException = TimeoutError()
        except Exception as err:  # a JournalError: the journal cannot write
            exc = err
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.emit(EventKind.ALERT, f"flatten: {what} not durable in the journal ({detail}); flattening anyway",
                  severity=Severity.CRITICAL)
        return False

    def _settle_started(self) -> Awaitable[None] | None:
        """Call ``settle`` now (its commit starts); a ``settle`` that raises at once is raised again when awaited
        (``_durable``)."""
        if self.settle is None:
            return None
        try:
            return self.settle()
        except Exception as exc:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def _journal_intents(self, requests: Sequence[OrderRequest]) -> bool:
        """Queue each close as an intent (purpose ``flatten``) and remember it unanswered; False when there is
        no intent journal."""
        if self.journal_intent is None:
            return False
        for r in requests:
            assert r.cli_ord_id is not None  # close_requests names every close
            self._unanswered[r.cli_ord_id] = r
            await self.journal_intent(r)
        return True

    async def intents(self, requests: Sequence[OrderRequest]) -> None:
        """``CloseRecorder``: journal each close as an intent (purpose ``flatten``), then commit (bounded).
        Closes whose intents were already committed with FLATTENING (``_run``) are not journaled again."""
        fresh = [r for r in requests if r.cli_ord_id not in self._prejournaled]
        if fresh and await self._journal_intents(fresh):
            await self._durable("the closes' intents")

    async def results(self, results: Sequence[OrderResult]) -> None:
        """``CloseRecorder``: journal the exchange's answers to the closes."""
        if self.journal is None:
            return
        for r in results:
            if r.status is not OrderStatus.UNKNOWN and r.cli_ord_id:
                self._unanswered.pop(r.cli_ord_id, None)
            stamped = r if r.received_ts_ms is not None else dataclasses.replace(r, received_ts_ms=self.now_ms())
            await self.journal(stamped)

    async def _early_close(self, origin: FlattenSource, early: list[OrderRequest] | None = None) -> None:
        """Sent while order work in flight is still landing (module docstring, step 3): reduce-only closes of
        the positions the exchange reports (the feed's report, else ``openpositions``), the stops still
        resting; or, when it reports none and that work cannot open a position (``may_open_position``),
        ``cancelallorders`` at once (no position to protect; a resting entry cannot fill meanwhile); or, when
        it reports none and an entry is landing, the close of that entry's position as soon as the exchange
        tells its size (``_entry_landed``). What the closes filled is kept (``_early_closed``) for the report.
        ``early``: the closes of the positions the feed reported at the start, journaled with FLATTENING
        (``_start``); None when the feed was not live (``openpositions`` is read).
        A failure is reported and left to ``flatten_account``, which reads the account again. ``launched`` is
        set as its first request leaves: while it waits for an entry's answer, the market-data consumer still
        holds (at most ``core.FLATTEN_HOLD_S``)."""
        try:
            tag = f"{flatten_close_tag(origin, int(time.time() * 1000))}-r0"
            if early is not None:
                reqs = list(early)
            else:
                self._launched.set()  # its first request leaves now: the positions read
                reqs = close_requests(await self.client.open_positions(priority=True), tag)
            if not reqs and not self.work_may_open():
                self._launched.set()
                await self.client.cancel_all_orders()
                return
            if not reqs:  # an entry in flight: its position (with its stop) is closed the moment it is reported
                landed = await self._entry_landed()
                self._launched.set()  # the close or the cancel-all leaves now (or nothing: flatten_account next)
                if landed is None:  # every entry answered, none executed: no position to protect
                    await self.client.cancel_all_orders()
                    return
                reqs = close_requests(landed, tag)
            if not reqs:
                return
            await self.intents(reqs)
            self._launched.set()
            results = await self.client.batch_order([BatchSend(r, str(k)) for k, r in enumerate(reqs)],
                                                    priority=True)
            sent = {r.cli_ord_id: r for r in reqs}
            for res in results:
                req = sent.get(res.cli_ord_id)
                if req is not None and res.accepted and res.status is not OrderStatus.UNKNOWN:
                    gone = -req.side.sign * res.filled_size  # a sell closed a long: +size went away
                    self._early_closed[req.symbol] = self._early_closed.get(req.symbol, ZERO) + gone
            await self.results(results)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.emit(EventKind.FLATTEN, f"flatten: early close failed ({type(exc).__name__}: {exc}); "
                      "the flatten reads the account again", severity=Severity.WARNING)

    async def _entry_landed(self) -> Sequence[Position] | None:
        """While an entry is in flight: wait until the exchange tells the position it opened, by the entry's own
        answer (``ExposureWork.exposure_fills``; woken by ``entry_answered``) or by the feed's position report
        (polled every ``ENTRY_POLL_S``), whichever comes first, or until the order work ends (at most
        ``wait_job_s``). Returns the positions so told (from an answer: symbol, side and the size it executed;
        entry price 0, unknown here); None when every entry's answer came and none executed (nothing was
        opened: a later entry of that work is refused while FLATTENING); empty when the work ended first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_job_s
        while self.jobs.running and loop.time() < deadline:
            answered = self._answered_positions()
            if answered:
                return answered
            if self.exposure is not None and self.exposure.exposure_answered_all:
                return None
            known = self.known_positions()
            if known:
                return known
            wake = self._wake = loop.create_future()
            timer = loop.call_later(ENTRY_POLL_S, _wake_up, wake)
            try:
                await wake
            finally:
                timer.cancel()
                self._wake = None
        return ()

    def _answered_positions(self) -> list[Position]:
        """The positions the answers to the entries in flight opened (``ExposureWork.exposure_fills``)."""
        ex = self.exposure
        if ex is None:
            return []
        return [Position(sym, PSide.LONG if q > 0 else PSide.SHORT, abs(q), ZERO)
                for sym, q in sorted(ex.exposure_fills.items()) if q != 0]

    def _resting(self) -> list[tuple[str | None, str | None]]:
        """(order id, cliOrdId) of every order known resting now: this run's and the exchange's report."""
        seen: dict[str, tuple[str | None, str | None]] = {}
        if self.orders is not None:
            for cid, k in self.orders.live.items():
                seen[cid or k.order_id or ""] = (k.order_id, cid or None)
        for o in self.account.orders.values():
            key = o.cli_ord_id or o.order_id
            if key and key not in seen:
                seen[key] = (o.order_id, o.cli_ord_id)
        return [v for k, v in seen.items() if k]

    async def _journal_cancelled(self, resting: Sequence[tuple[str | None, str | None]]) -> None:
        """Step 6: journal each order that rested when the flatten began as cancelled by its cancel-all."""
        if self.journal is None:
            return
        for order_id, cli_ord_id in resting:
            if self.orders is not None:
                self.orders.gone(cli_ord_id)
            await self.journal(OrderResult(status=OrderStatus.CANCELLED, order_id=order_id, cli_ord_id=cli_ord_id,
                                           received_ts_ms=self.now_ms(), raw_status=OrderStatus.CANCELLED.value,
                                           error="cancelled by the flatten (cancel-all)"))

    async def _run(self, reason: str, source: TransitionSource, origin: FlattenSource,
                   start: _Start | BaseException) -> FlattenReport:
        try:
            if isinstance(start, BaseException):  # ``begin``'s synchronous steps failed: they run again here
                start = self._start(reason, source, origin)
            return await self._steps(reason, origin, start)
        finally:
            self._launched.set()

    def _start(self, reason: str, source: TransitionSource, origin: FlattenSource) -> _Start:
        """The synchronous first steps (``begin``): returns what the rest of the flatten needs."""
        self.record_action("flatten", reason, source)
        resting = self._resting()
        self.sm.flatten(reason, source)  # 1. FLATTENING first: no job decides an entry from here on ...
        self.jobs.drop_queued()  # 2. queued entries/exits are moot now
        started = self.now_ms()
        self.progress = FlattenProgress("cancelling", started)
        # 1. ... and durable before the first request. With no order work in flight and the exchange's own
        # position report at hand, round 1's closes are journaled as intents now and committed in the SAME
        # transaction (one fsync) as FLATTENING; flatten_account then sends them with the same cliOrdIds.
        # With order work in flight, the early round's closes (step 3) of the positions the feed reports are
        # journaled and committed with FLATTENING the same way, and flatten_account reads the account afresh.
        waiting = self.waits_for_work()
        feed = self.known_positions()
        known = None if waiting else feed
        close_ms = int(time.time() * 1000)
        tag = flatten_close_tag(origin, close_ms)
        first = close_requests(feed or (), f"{tag}-r0") if waiting else close_requests(known or (), round_tag(tag, 1))
        early = (None if feed is None else list(first)) if waiting else None
        self._prejournaled.clear()
        committing: Awaitable[None] | None = None
        if first and self.journal_intent_now is not None:
            for r in first:
                assert r.cli_ord_id is not None  # close_requests names every close
                self._unanswered[r.cli_ord_id] = r
                self.journal_intent_now(r)
            self._prejournaled.update(r.cli_ord_id for r in first if r.cli_ord_id)
        if not first or self.journal_intent_now is not None or self.journal_intent is None:
            committing = self._settle_started()  # handed to the journal's thread now
            first = []  # nothing left for the task to journal before the commit
        return _Start(resting, started, known, close_ms, first, committing, early, waiting)

    async def _steps(self, reason: str, origin: FlattenSource, start: _Start) -> FlattenReport:
        resting, started, known, close_ms = start.resting, start.started_ms, start.known, start.close_ms
        committing = start.committing
        if start.intents and await self._journal_intents(start.intents):  # no synchronous intent journal
            self._prejournaled.update(r.cli_ord_id for r in start.intents if r.cli_ord_id)
            committing = self._settle_started()
        self.emit(EventKind.FLATTEN, f"flatten started: {reason}", severity=Severity.WARNING)
        await self._durable("FLATTENING" + (" and the closes' intents" if self._prejournaled else ""), committing)
        self._early_closed.clear()
        waited = start.waiting  # decided at the start, with the closes journaled then
        if waited:  # 3. an order being sent right now must land before the account is read ...
            # ... but the positions already open are closed at once (their stops still rest), and with none
            # open the cancel-all leaves at once: flatten_account reads the account after the job, so a
            # position it opens is still closed. The early round runs in this task (its first request leaves
            # without waiting a loop turn for a task of its own), then the job is awaited.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait_job_s
            await self._early_close(origin, start.early)
            try:
                await asyncio.wait_for(self.jobs.wait_idle(), timeout=max(deadline - loop.time(), 0.05))
            except TimeoutError:
                self.emit(EventKind.FLATTEN, f"flatten: order work ({self.jobs.current}) still running after "
                          f"{self.wait_job_s:g} s; flattening anyway", severity=Severity.WARNING)

        def progress(p: FlattenProgress) -> None:
            self._launched.set()  # flatten_account reports each phase just before its requests
            self.progress = p
            self.emit(EventKind.FLATTEN, f"flatten {p.phase} (round {p.round}): "
                      f"{counted(p.positions_remaining, 'position')}, {counted(p.orders_remaining, 'order')} left",
                      data={"phase": p.phase})

        try:  # 4.
            if not self._prejournaled:
                # after order work in flight (step 3) the feed's report may predate its fills and the early close's:
                # openpositions is read afresh
                known = None if waited else self.known_positions()
            report = await flatten_account(self.client, progress=progress, source=origin, recorder=self,
                                           known_positions=list(known) if known is not None else None,
                                           started_ms=close_ms)
        except Exception as exc:  # flatten_account never raises for exchange errors; a bug still halts safely
            report = FlattenReport(False, 0, 0, 0, (), 0.0, error=f"{type(exc).__name__}: {exc}")
        if self._early_closed:
            report = dataclasses.replace(report, closed=_merge_closed(report.closed, self._early_closed))
        self._prejournaled.clear()
        self.account.managed.clear()  # 5.
        if report.flat:  # verified by the exchange's own openpositions/openorders: show it at once
            self.account.set_positions([])
            self.account.set_orders([])
            self.sm.flatten_done(f"{counted(len(report.closed), 'position')} closed, "
                                 f"{counted(report.cancelled_orders, 'order')} cancelled")
            self.progress = FlattenProgress("done", started, report.rounds, 0, 0, report.requests)
            await self._journal_cancelled(resting + [(None, cid) for cid in self._unanswered])
            self._unanswered.clear()
        else:
            self.sm.flatten_failed(report.error or "the exchange still reports positions or orders")
            self.progress = FlattenProgress("failed", started, report.rounds, requests=report.requests,
                                            detail=report.error or "")
        self.emit(EventKind.FLATTEN,
                  f"flatten {'done: account flat' if report.flat else 'FAILED: ' + str(report.error)}",
                  severity=Severity.INFO if report.flat else Severity.CRITICAL,
                  data={"flat": report.flat, "requests": report.requests, "elapsed_ms": report.elapsed_ms})
        return report
