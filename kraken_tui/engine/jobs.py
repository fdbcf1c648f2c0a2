"""The engine's job worker: order work (decisions, exit actions, clean-ups, reconciliation passes, take-overs)
runs one job at a time, in the order queued, off the WebSocket consumer, so a slow exchange never stalls
market data (the WebSocket consumer never awaits an order).

Owns: ``JobQueue``. A failed job is logged and reported through ``on_error``; the worker keeps running.
The flatten (``engine.flatten``) drops what is queued (``drop_queued``) and waits for the job in flight
(``wait_idle``, ``running``, ``current``).
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kraken_tui.engine.context import Job

__all__ = ["JobQueue"]

log = logging.getLogger(__name__)


class JobQueue:
    """A FIFO of named jobs run by one worker task (``run``).

    Args:
        on_error: called with (job name, exception) when a job raises (not for cancellation).
        on_progress: called after every job (the replay lockstep waits on it).

    Attributes:
        current: the name of the job running or last run, None before the first.
        stopped: set by ``close``; ``submit`` then ignores new jobs.
    """

    def __init__(self, on_error: Callable[[str, Exception], None], on_progress: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[tuple[str, Job]] = asyncio.Queue()
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_error = on_error
        self._on_progress = on_progress
        self.current: str | None = None
        self.stopped = False

    def submit(self, name: str, job: Job) -> None:
        """Queue ``job`` (ignored once ``close`` was called)."""
        if not self.stopped:
            self._queue.put_nowait((name, job))
            self._idle.clear()

    def close(self) -> None:
        """Accept no new job (the one running and those queued still run until the worker is cancelled)."""
        self.stopped = True

    @property
    def running(self) -> bool:
        """True while a job is running."""
        return self._running > 0

    @property
    def busy(self) -> bool:
        """True while a job is queued or running."""
        return self._running > 0 or not self._queue.empty()

    def drop_queued(self) -> list[str]:
        """Remove every queued job without running it (the one running is not touched); their names in order."""
        dropped = []
        while not self._queue.empty():
            dropped.append(self._queue.get_nowait()[0])
        if self._running == 0:
            self._idle.set()
        return dropped

    async def wait_idle(self) -> None:
        """Return when no job is queued or running."""
        while self.busy:
            self._idle.clear()
            await self._idle.wait()

    async def run(self) -> None:
        """The worker loop (runs until cancelled)."""
        while True:
            name, job = await self._queue.get()
            self.current = name
            self._running += 1
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed job is reported; the worker keeps running
                log.exception("engine job %s failed", name)
                self._on_error(name, exc)
            finally:
                self._running -= 1
                if self._running == 0 and self._queue.empty():
                    self._idle.set()
                self._on_progress()
