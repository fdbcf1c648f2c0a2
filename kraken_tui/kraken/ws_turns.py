"""Bounded work per event-loop turn for the feed consumers, and batched socket reads for the WS client.

Owns: ``TurnBudget`` and ``ReadHold``. ``asyncio.Queue.get`` and a WebSocket's receive return at once while items wait, so a
consumer that drains a burst (a thousand market messages that piled up while the process waited for a core)
holds the event loop for the whole burst: every other task (a flatten's next step, a key, the control socket)
waits behind it. A consumer counts its items on a ``TurnBudget`` and gives the loop a turn
(``await asyncio.sleep(0)``) once it has handled ``max_items`` items without the loop turning. The count starts
again whenever the loop turns, for whatever reason (the consumer waited for data, or yielded): only a burst
handled in one go is split, never the few messages of one market tick (so a replay in lockstep with the engine
sees the same interleaving as without the budget). The consumer keeps every item, in order.
``ReadHold`` batches a feed's reads: once a frame was read, the socket is left alone for a short hold (a few
milliseconds), so the frames that arrive meanwhile are read and decoded in one wake-up of the process instead of
one wake-up (a ``select``, a ``recv``, two task switches) for every frame or two. At thousands of messages a
second that per-wake-up cost is about half of the receive path's CPU; a frame waits at most the hold.
Source: the asyncio documentation, "Coroutines and Tasks" (``asyncio.sleep(0)`` yields to the loop),
"Event Loop" (``loop.call_soon`` callbacks run at the loop's next iteration) and "Transports and Protocols"
(``ReadTransport.pause_reading``/``resume_reading``/``is_reading``).
Must not import: textual, the engine, websockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["PausableReader", "ReadHold", "TurnBudget"]


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


class PausableReader(Protocol):
    """The part of an ``asyncio.ReadTransport`` that ``ReadHold`` uses."""

    def pause_reading(self) -> None: ...  # pragma: no cover - protocol

    def resume_reading(self) -> None: ...  # pragma: no cover - protocol

    def is_reading(self) -> bool: ...  # pragma: no cover - protocol


class ReadHold:
    """Leaves a socket unread for ``hold_s`` after each read, so that frames arriving meanwhile are read together.

    Args:
        transport: the connection's transport (``pause_reading``/``resume_reading``/``is_reading``).
        hold_s: the hold, seconds (> 0; ``ClientConfig.ws_read_batch_ms`` / 1000). A frame waits at most this
            long before it is read.
        may_resume: asked before reading resumes; False while the WebSocket library holds the reads paused
            itself (its own flow control: its buffer of decoded frames is full), which then resumes them.

    Raises:
        ValueError: ``hold_s`` <= 0.

    Use, inside the frame loop: ``hold.frame_read()`` after each frame, ``hold.release()`` when the loop ends. The first frame of a wake-up starts the hold; reading resumes when it ends. The frames already
    decoded from the bytes read are all handed over at once, whatever the hold.
    """

    __slots__ = ("_transport", "_hold_s", "_may_resume", "_timer")

    def __init__(self, transport: PausableReader, hold_s: float, may_resume: Callable[[], bool]) -> None:
        if hold_s <= 0:
            raise ValueError(f"ReadHold hold_s must be > 0, got {hold_s}")
        self._transport = transport
        self._hold_s = hold_s
        self._may_resume = may_resume
        self._timer: asyncio.TimerHandle | None = None

    @property
    def holding(self) -> bool:
        """True while reading is held (from a frame until the hold ends)."""
        return self._timer is not None

    def frame_read(self) -> None:
        """Count one frame read: start the hold if none runs, and keep the socket unread until it ends.

        Raises:
            RuntimeError: no running event loop.
        """
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._hold_s, self._release)
        if self._transport.is_reading():  # also after the library resumed its own pause within the hold
            self._transport.pause_reading()

    def _release(self) -> None:
        self._timer = None
        if self._may_resume():
            self._transport.resume_reading()

    def release(self) -> None:
        """End a running hold now and resume reading (unless ``may_resume`` says no): the frame loop is ending,
        and the connection's close handshake must be able to read the server's close frame."""
        if self._timer is not None:
            self._timer.cancel()
            self._release()
