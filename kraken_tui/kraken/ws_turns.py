"""Bounded work per event-loop turn for the feed consumers.

Owns: ``TurnBudget``. ``asyncio.Queue.get`` and a WebSocket's receive return at once while items wait, so a
consumer that drains a burst (a thousand market messages that piled up while the process waited for a core)
holds the event loop for the whole burst: every other task (a flatten's next step, a key, the control socket)
waits behind it. A consumer counts its items on a ``TurnBudget`` and gives the loop a turn
(``await asyncio.sleep(0)``) whenever the budget is spent: after ``max_items`` items or ``max_ms`` of wall time
since the turn began, whichever comes first. The consumer's throughput is unchanged (it keeps every item, in
order); only the latency of the other tasks is bounded.
Source: the asyncio documentation, "Coroutines and Tasks" (``asyncio.sleep(0)`` yields to the loop).
Must not import: textual, the engine, websockets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TurnBudget"]


class TurnBudget:
    """Items and wall time a consumer may spend in one event-loop turn.

    Args:
        max_items: items per turn (>= 1).
        max_ms: wall milliseconds per turn (> 0).
        clock: seconds, monotonic (default ``time.perf_counter``; tests pass their own).

    Raises:
        ValueError: ``max_items`` < 1 or ``max_ms`` <= 0.

    Use: ``if budget.spend(): await asyncio.sleep(0)`` after each item; ``spend`` starts the next turn's count
    when it returns True.
    """

    __slots__ = ("max_items", "max_s", "_clock", "_left", "_deadline")

    def __init__(self, max_items: int, max_ms: float, clock: Callable[[], float] = time.perf_counter) -> None:
        if max_items < 1:
            raise ValueError(f"TurnBudget max_items must be >= 1, got {max_items}")
        if not max_ms > 0:
            raise ValueError(f"TurnBudget max_ms must be > 0, got {max_ms}")
        self.max_items = max_items
        self.max_s = max_ms / 1000.0
        self._clock = clock
        self._left = max_items
        self._deadline: float | None = None  # set by the turn's first item

    def spend(self) -> bool:
        """Count one item; True when the turn's budget is spent (the caller yields; the next item starts a new
        turn)."""
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self.max_s
        self._left -= 1
        if self._left > 0 and now < self._deadline:
            return False
        self._left, self._deadline = self.max_items, None
        return True
