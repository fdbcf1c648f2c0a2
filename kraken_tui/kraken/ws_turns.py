"""Bounded work per event-loop turn for the feed consumers.

Owns: ``TurnBudget``. ``asyncio.Queue.get`` and a WebSocket's receive return at once while items wait, so a
consumer that drains a burst (a thousand market messages that piled up while the process waited for a core)
holds the event loop for the whole burst: every other task (a flatten's next step, a key, the control socket)
waits behind it. A consumer counts its items on a ``TurnBudget`` and gives the loop a turn
(``await asyncio.sleep(0)``) once it has handled ``max_items`` items without the loop turning. The count starts
again whenever the loop turns, for whatever reason (the consumer waited for data, or yielded): only a burst
handled in one go is split, never the few messages of one market tick (so a replay in lockstep with the engine
sees the same interleaving as without the budget). The consumer keeps every item, in order.
Source: the asyncio documentation, "Coroutines and Tasks" (``asyncio.sleep(0)`` yields to the loop) and
"Event Loop" (``loop.call_soon`` callbacks run at the loop's next iteration).
Must not import: textual, the engine, websockets.
"""

from __future__ import annotations

import asyncio

__all__ = ["TurnBudget"]


class TurnBudget:
    """Items a consumer may handle in one event-loop turn.

    Args:
        max_items: items per turn (>= 1).

    Raises:
        ValueError: ``max_items`` < 1.

    Use, inside a coroutine: ``if budget.spend(): await asyncio.sleep(0)`` after each item.
    """

    __slots__ = ("max_items", "_left", "_open")

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError(f"TurnBudget max_items must be >= 1, got {max_items}")
        self.max_items = max_items
        self._left = max_items
        self._open = False  # a turn is being counted; the loop's next iteration closes it

    def _close(self) -> None:
        self._open = False

    def spend(self) -> bool:
        """Count one item; True when ``max_items`` were handled in this loop turn (the caller yields).

        Raises:
            RuntimeError: no running event loop.
        """
        if not self._open:
            self._open = True
            self._left = self.max_items
            asyncio.get_running_loop().call_soon(self._close)
        self._left -= 1
        if self._left > 0:
            return False
        self._left = self.max_items
        return True
