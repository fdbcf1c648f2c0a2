"""What every engine collaborator may do with the engine: publish an event, read the engine clock, journal a
record, queue order work. One small typed bundle (``EngineIO``) the ``core.Engine`` builds once and hands to
its collaborators (order flow, reconciler, take-over, orphan sweep, decisions, flatten), so none of them
needs the engine itself.
Must not import: textual, the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.journal.encode import JournalRecord

__all__ = ["Emit", "EngineIO", "Job", "Submit"]

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
