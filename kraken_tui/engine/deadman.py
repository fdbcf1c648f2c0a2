"""The dead man's switch: keep Kraken's cancelallordersafter armed while the engine runs.

Owns: ``operator_switch`` (the engine's switch for ``[operator] cancel_after_s``) and ``DeadMansSwitch`` - arms ``cancelallordersafter(timeout_s)`` (spec §4.14) at start, re-arms it
every ``refresh_s`` seconds (by default a third of the timeout: Kraken recommends refreshing every
15-20 s with a 60 s timeout), and disarms it (timeout 0) on a clean stop so that the protective orders
left resting after an orderly exit are NOT cancelled. If the process dies or hangs, the refreshes stop
and Kraken cancels every order (protective stops included) ``timeout_s`` after the last refresh - the
reason ``[operator] cancel_after_s`` defaults to 0 (off): see config.py.
Errors (network, 5xx, rate limit) are reported in ``view().last_error`` and retried at the next tick,
never raised out of the timer task.
Must not import: textual, the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from kraken_tui.domain import DeadManSwitchStatus
from kraken_tui.engine.facade import DeadManView

__all__ = ["DeadManClient", "DeadMansSwitch", "operator_switch"]

log = logging.getLogger(__name__)


class DeadManClient(Protocol):
    """The one call the switch makes (Kraken Futures docs, REST v3 "Dead man's switch"; a ``ports.KrakenClient``
    has it)."""

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitchStatus:
        """Arm the timer for ``timeout_s`` seconds (0 disarms)."""
        ...


class DeadMansSwitch:
    """Arm, refresh and disarm Kraken's cancel-all-after timer.

    Args:
        client: anything with ``async cancel_all_orders_after(timeout_s: int) -> DeadManSwitchStatus``
            (``KrakenRestClient``; the call is priority, so it may spend the rate-limit reserve).
        timeout_s: seconds Kraken waits after the last refresh before cancelling all orders; 0 = off
            (``start`` then does nothing).
        refresh_s: seconds between refreshes; default ``timeout_s / 3``. Must be below ``timeout_s``.
        on_error: called with a message when a refresh fails (e.g. to emit an engine alert); must not raise.
        sleep: async sleep (tests).
        exchange_clock_ms: the clock the exchange's trigger time is on (UTC ms), when it is not the wall clock:
            a replay's paper exchange stamps the trigger on the replay's data clock. The trigger shown by
            ``view`` is then moved onto the wall clock (wall now + trigger - exchange now), so a countdown
            against the wall clock is right. None = the exchange runs on the wall clock (live).

    Raises:
        ValueError: negative timeout, or refresh_s not in (0, timeout_s).
    """

    def __init__(self, client: DeadManClient, timeout_s: int, refresh_s: float | None = None, *,
                 on_error: Callable[[str], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 exchange_clock_ms: Callable[[], int] | None = None) -> None:
        if timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        refresh = timeout_s / 3 if refresh_s is None else refresh_s
        if timeout_s and not 0 < refresh < timeout_s:
            raise ValueError(f"refresh_s must be in (0, timeout_s={timeout_s}), got {refresh}")
        self._client = client
        self.timeout_s = int(timeout_s)
        self.refresh_s = refresh
        self._on_error = on_error
        self._sleep = sleep
        self._exchange_clock = exchange_clock_ms
        self._task: asyncio.Task[None] | None = None
        self._trigger_ms: int | None = None
        self._last_error: str | None = None
        self.refreshes = 0

    @property
    def enabled(self) -> bool:
        """True when a timeout is configured (``timeout_s`` > 0)."""
        return self.timeout_s > 0

    def view(self) -> DeadManView:
        """The switch for the snapshot: trigger time (UTC ms, exchange clock) and the last error."""
        return DeadManView(self.enabled, self.timeout_s, self._trigger_ms, self._last_error)

    async def refresh(self) -> bool:
        """Arm / re-arm once now. Returns True on success; a failure is recorded, never raised."""
        try:
            status = await self._client.cancel_all_orders_after(self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported in view() and to on_error; the timer goes on
            self._fail(f"dead man's switch refresh failed: {type(exc).__name__}: {exc}")
            return False
        trigger = status.trigger_ts_ms
        if trigger is not None and self._exchange_clock is not None:
            trigger = self.now_ms() + (trigger - self._exchange_clock())
        self._trigger_ms = trigger
        self._last_error = None
        self.refreshes += 1
        return True

    def _fail(self, msg: str) -> None:
        log.warning("%s", msg)
        self._last_error = msg
        if self._on_error is not None:
            try:
                self._on_error(msg)
            except Exception:
                log.exception("dead man's switch error listener failed")

    async def start(self) -> None:
        """Arm now and start the refresh timer (no-op when off or already running)."""
        if not self.enabled or self._task is not None:
            return
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="dead-mans-switch")

    async def _loop(self) -> None:
        while True:
            await self._sleep(self.refresh_s)
            await self.refresh()

    async def stop(self, *, disarm: bool = True) -> None:
        """Stop refreshing and, with ``disarm`` (the default), send timeout 0 so Kraken keeps the orders.
        A failed disarm is recorded (the timer then fires on the exchange at ``trigger_ts_ms``)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self.enabled or not disarm:
            return
        try:
            await self._client.cancel_all_orders_after(0)
            self._trigger_ms = None
        except Exception as exc:
            self._fail(f"dead man's switch disarm failed (Kraken will cancel all orders at its trigger "
                       f"time): {type(exc).__name__}: {exc}")

    @staticmethod
    def now_ms() -> int:
        """Wall clock UTC ms (for callers comparing with ``trigger_ts_ms``)."""
        return int(time.time() * 1000)


def operator_switch(client: DeadManClient, cancel_after_s: int,
                    on_error: Callable[[str], None],
                    exchange_clock_ms: Callable[[], int] | None = None) -> DeadMansSwitch | None:
    """The engine's switch for ``[operator] cancel_after_s`` seconds (None when 0 = off): refreshed every
    third of the timeout, at least every second (every 0.5 s for a 1 s timeout); ``on_error`` hears each
    failed refresh; ``exchange_clock_ms`` as ``DeadMansSwitch`` takes it (a replay passes its data clock)."""
    if cancel_after_s <= 0:
        return None
    refresh_s = max(1.0, cancel_after_s / 3) if cancel_after_s > 1 else 0.5
    return DeadMansSwitch(client, cancel_after_s, refresh_s, on_error=on_error, exchange_clock_ms=exchange_clock_ms)
