"""Pacing of data-time events against the wall clock: ``--speed X|max``.

Owns: ``parse_speed`` (the flag's grammar) and ``Pacer`` (waits so that data time advances ``speed``
times faster than wall time). The clock and sleep are injectable so tests never wait.

Rule: the first event is released at once and anchors (wall0, data0); the event at data time ``t``
is released at wall ``wall0 + (t - data0) / 1000 / speed`` seconds (an anchor, not per-event sleeps,
so rounding never drifts). ``speed=None`` ("max") never sleeps but still awaits ``sleep(0)`` every
``yield_every`` events so the event loop (and a UI) stays responsive.
Must not import: textual, websockets, aiohttp, the engine.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

from kraken_tui.errors import ConfigError

__all__ = ["Pacer", "paced", "parse_speed"]

T = TypeVar("T")


def parse_speed(value: str | float | int | None, default: float | None = 1.0) -> float | None:
    """Parse ``--speed``: "max" -> None (as fast as possible); "10", "10x", 2.5 -> that multiple (> 0).

    ``None`` returns ``default``.

    Raises:
        ConfigError: key ``--speed``, for anything else (0, negative, NaN, text).
    """
    if value is None:
        return default
    if isinstance(value, str):
        s = value.strip().lower()
        if s == "max":
            return None
        s = s[:-1] if s.endswith("x") else s
        try:
            f = float(s)
        except ValueError:
            raise ConfigError("--speed", value, "a positive multiple like 1, 10, 300, or 'max'") from None
    else:
        f = float(value)
    if not math.isfinite(f) or f <= 0:
        raise ConfigError("--speed", value, "a positive multiple like 1, 10, 300, or 'max'")
    return f


class Pacer:
    """Releases events at ``speed`` times data time (module docstring).

    Args:
        speed: multiple of real time, or None for max speed.
        clock: monotonic seconds (default ``time.monotonic``).
        sleep: awaitable sleep in seconds (default ``asyncio.sleep``).
        yield_every: at max speed, ``sleep(0)`` after this many events (default 500).
    """

    def __init__(
        self,
        speed: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        yield_every: int = 500,
    ) -> None:
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._yield_every = max(1, yield_every)
        self._count = 0
        self._anchor: tuple[float, int] | None = None

    async def wait_for(self, ts_ms: int) -> None:
        """Return when the event at data time ``ts_ms`` (UTC ms) is due."""
        self._count += 1
        if self.speed is None:
            if self._count % self._yield_every == 0:
                await self._sleep(0)
            return
        if self._anchor is None:
            self._anchor = (self._clock(), ts_ms)
            return
        wall0, data0 = self._anchor
        delay = wall0 + (ts_ms - data0) / 1000.0 / self.speed - self._clock()
        if delay > 0:
            await self._sleep(delay)
        elif self._count % self._yield_every == 0:
            await self._sleep(0)


async def paced(events: Iterable[T], pacer: Pacer, closed: Callable[[], bool]) -> AsyncIterator[T]:
    """Yield ``events`` (each with ``ts_ms``) as ``pacer`` releases them; stop as soon as ``closed()``."""
    for ev in events:
        if closed():
            return
        await pacer.wait_for(ev.ts_ms)  # type: ignore[attr-defined]
        if closed():
            return
        yield ev
