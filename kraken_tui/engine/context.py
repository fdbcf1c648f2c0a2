"""What every engine collaborator may do with the engine: publish an event, read the engine clock, journal a
record, queue order work. One small typed bundle (``EngineIO``) the ``core.Engine`` builds once and hands to
its collaborators (order flow, reconciler, take-over, orphan sweep, decisions, account and market events),
so none of them needs the engine itself.

Owns: ``EngineIO`` and the parts behind it: ``EngineClock`` (the engine clock: market data time in a replay,
else UTC wall time), ``EventHub`` (the recent-events ring and the front ends' listeners) and
``JournalOutlet`` (journal writes whose failure becomes an ERROR event).
Units: times UTC ms.
Must not import: textual, the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from kraken_tui.engine.facade import EngineEvent, EventKind, Severity
from kraken_tui.engine.ports import JournalSink
from kraken_tui.journal.encode import JournalRecord

__all__ = ["Emit", "EngineClock", "EngineIO", "EventHub", "Job", "JournalOutlet", "PriorityJournal", "Submit",
           "commit_now"]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]
"""One unit of order work for the engine's job worker (``jobs.JobQueue``)."""


class Emit(Protocol):
    """Publish one engine event (``facade.EngineEvent``) to the recent-events ring and every listener."""

    def __call__(self, kind: EventKind, message: str, *, symbol: str | None = None,
                 severity: Severity = Severity.INFO, data: Mapping[str, Any] | None = None) -> None:
        ...


class Submit(Protocol):
    """Queue ``job`` under ``name`` on the engine's job worker (one job at a time, in order)."""

    def __call__(self, name: str, job: Job) -> None:
        ...


@dataclass(frozen=True, slots=True)
class EngineIO:
    """The engine's outputs for its collaborators.

    Attributes:
        emit: publish an engine event (``Emit``).
        now_ms: the engine clock, UTC ms (``core.Engine.now_ms``).
        write: journal a record; a failure becomes an ERROR event, never raised.
        write_soon: journal a record from synchronous code (the write is scheduled on the running loop).
        submit: queue order work on the job worker (``Submit``).
    """

    emit: Emit
    now_ms: Callable[[], int]
    write: Callable[[JournalRecord], Awaitable[None]]
    write_soon: Callable[[JournalRecord], None]
    submit: Submit


class EngineClock:
    """The engine clock, UTC ms: the latest market data timestamp seen when ``data_clock`` is set (a replay
    runs on the data's time), else UTC wall time.

    Attributes:
        data_ms: the latest market data timestamp seen (UTC ms), None before any.
    """

    def __init__(self, data_clock: bool) -> None:
        self.data_clock = data_clock
        self.data_ms: int | None = None

    def now_ms(self) -> int:
        """The engine clock now, UTC ms."""
        if self.data_clock and self.data_ms is not None:
            return self.data_ms
        return int(time.time() * 1000)

    def touch(self, ts_ms: int | None) -> None:
        """Market data stamped ``ts_ms`` (UTC ms; None = unstamped) arrived: the clock never goes back."""
        if ts_ms is not None and (self.data_ms is None or ts_ms > self.data_ms):
            self.data_ms = ts_ms


class EventHub:
    """The engine's events: a ring of the recent ones (the snapshot's ``events``) and the front ends'
    listeners, called on the engine's loop in order; a listener that raises is logged, never propagated.

    Args:
        now_ms: the engine clock (UTC ms) stamping each event.
        keep: how many recent events the ring holds.
    """

    def __init__(self, now_ms: Callable[[], int], keep: int = 200) -> None:
        self._now_ms = now_ms
        self.recent: deque[EngineEvent] = deque(maxlen=keep)
        self._listeners: list[Callable[[EngineEvent], None]] = []

    def emit(self, kind: EventKind, message: str, *, symbol: str | None = None,
             severity: Severity = Severity.INFO, data: Mapping[str, Any] | None = None) -> None:
        """Publish one event to the ring and every listener (``Emit``); ERROR and CRITICAL are also logged."""
        ev = EngineEvent(self._now_ms(), kind, message, symbol, severity, dict(data or {}))
        self.recent.append(ev)
        if severity in (Severity.ERROR, Severity.CRITICAL):
            log.error("%s", message)
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a broken front end must not stop the engine
                log.exception("engine event listener failed")

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Receive every later event (called on the engine's loop; must not block)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Stop receiving events (unknown listeners are ignored)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)


@runtime_checkable
class PriorityJournal(Protocol):
    """A journal with a synchronous put and a priority commit (``journal.writer.JournalWriter``: ``write_nowait``,
    ``commit_now``; its module docstring states the durability and order rule)."""

    def write_nowait(self, record: JournalRecord) -> None:
        """Queue ``record`` now (``asyncio.QueueFull`` when the queue is full: nothing queued)."""
        ...

    def commit_now(self, alongside: Callable[[], object] | None = None) -> asyncio.Future[None]:
        """Commit everything queued now, ahead of the batching; the future is set once it is committed
        (``JournalError`` raised or set when the journal cannot commit). ``alongside``: a short thread-safe job
        the journal may run on another thread while the commit's fsync runs (it may not have run when this
        returns)."""
        ...


_PRIORITY_TYPES: dict[type, bool] = {}


def _has_priority_lane(journal: object) -> bool:
    """``isinstance(journal, PriorityJournal)``, remembered per type (a runtime protocol check walks the
    protocol's members on every call; this one runs before every order)."""
    kind = type(journal)
    known = _PRIORITY_TYPES.get(kind)
    if known is None:
        known = _PRIORITY_TYPES[kind] = isinstance(journal, PriorityJournal)
    return known


def commit_now(journal: JournalSink, alongside: Callable[[], object] | None = None) -> Awaitable[None]:
    """Commit everything ``journal`` holds: its priority lane (``PriorityJournal.commit_now``, done in this
    call when the journal can) when it has one, else its ``flush``. Await the result; a journal that cannot
    commit raises ``JournalError`` there (never here). ``alongside``: passed to the priority lane (a job that
    may run meanwhile on another thread; never relied on having run), ignored by a ``flush``."""
    if _has_priority_lane(journal):
        lane = cast(PriorityJournal, journal)
        try:
            return lane.commit_now(alongside) if alongside is not None else lane.commit_now()
        except Exception as exc:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed
    return journal.flush()


class JournalOutlet:
    """Journal writes for the engine: a failed write becomes an ERROR event (``emit``), never an exception
    in the trading flow.

    Args:
        journal: the started journal writer (``ports.JournalSink``; a ``PriorityJournal`` gets synchronous
            puts from ``write_soon`` and the priority lane from ``settle``).
        emit: publishes the ERROR event of a failed write.
    """

    def __init__(self, journal: JournalSink, emit: Emit) -> None:
        self._journal, self._emit = journal, emit
        self._soon: set[asyncio.Task[None]] = set()
        self._nowait = journal if isinstance(journal, PriorityJournal) else None

    async def write(self, record: JournalRecord) -> None:
        """Queue ``record`` on the journal writer."""
        try:
            await self._journal.write(record)
        except Exception as exc:
            self._emit(EventKind.ERROR, f"journal write failed: {exc}", severity=Severity.ERROR)

    def write_soon(self, record: JournalRecord) -> None:
        """Journal from synchronous code: queued at once (in call order) on a ``PriorityJournal`` with room,
        else the (non-blocking) queue put is scheduled on the running loop; without a running loop nothing is
        written."""
        if self._nowait is not None and not self._soon:  # nothing scheduled before it: order is kept
            try:
                self._nowait.write_nowait(record)
                return
            except asyncio.QueueFull:
                pass  # back-pressure: the scheduled put below waits for room
            except Exception as exc:
                self._emit(EventKind.ERROR, f"journal write failed: {exc}", severity=Severity.ERROR)
                return
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(self.write(record))
            self._soon.add(task)
            task.add_done_callback(self._soon.discard)

    def settle(self) -> Awaitable[None]:
        """Await the result: returns once every record written so far (``write_soon`` ones included) is
        committed (durable per the journal's ``synchronous``, FULL by default), through the journal's priority
        lane when it has one (``commit_now``: the commit is handed to the writer thread in this call).

        Raises (when awaited):
            JournalError: the journal cannot commit (``journal.writer.JournalWriter.flush``).
        """
        if self._soon:
            return self._settle_after_soon()
        return commit_now(self._journal)

    async def _settle_after_soon(self) -> None:
        await asyncio.gather(*list(self._soon))
        await commit_now(self._journal)
