"""Client-side rate limiting of Kraken Futures REST calls: cost tables and token buckets that WAIT.

Owns: the cost of every endpoint the client calls (spec §5.1 ``/derivatives`` budget, §5.2 history
pool), a token bucket with an injected clock and sleep, and ``RateLimiter``, which holds one bucket
per pool and keeps a reserve that only priority calls (cancel, cancel-all, cancel-after, flatten)
may spend.
Must not import: httpx, websockets, aiohttp, textual.

Model (spec §5.1 [GAP] "a token bucket of capacity 500 refilling 50/s is a reasonable model"):
a bucket of ``capacity`` points refills continuously at ``capacity / window_s`` points per second.
A normal call of cost ``c`` proceeds only when ``available - c >= reserve``; a priority call only
needs ``available - c >= 0``. Calls that cannot proceed sleep until the bucket has refilled enough:
the limiter waits instead of exceeding. Normal calls queue FIFO behind one lock; priority calls do
not queue behind normal ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = [
    "DERIVATIVES_COSTS",
    "RateLimiter",
    "TokenBucket",
    "account_log_cost",
    "batch_cost",
]

#: Cost points per call on the ``/derivatives`` budget (spec §5.1). Public endpoints cost 0.
DERIVATIVES_COSTS: dict[str, int] = {
    "sendorder": 10,
    "editorder": 10,
    "cancelorder": 10,
    "accounts": 2,
    "openpositions": 2,
    "fills": 2,
    "fills_paged": 25,  # fills with lastFillTime
    "cancelallorders": 25,
    "cancelallordersafter": 25,
    "openorders": 2,
    "orders/status": 1,
    "leveragepreferences_get": 2,
    "leveragepreferences_put": 10,
}


def batch_cost(n_instructions: int) -> int:
    """Cost of a batchorder call: 9 + number of instructions (spec §5.1; batch of 10 -> 19)."""
    if n_instructions < 1:
        raise ValueError("a batch needs at least one instruction")
    return 9 + n_instructions


def account_log_cost(count: int | None) -> int:
    """History-pool tokens of one account-log call by ``count`` (spec §5.2; default count 500 -> 3).

    1-25 -> 1, 26-50 -> 2, 51-1000 -> 3, 1001-5000 -> 6, 5001-100000 -> 10.
    """
    n = 500 if count is None else count
    if n <= 25:
        return 1
    if n <= 50:
        return 2
    if n <= 1000:
        return 3
    if n <= 5000:
        return 6
    return 10


class TokenBucket:
    """A continuously refilling bucket of cost points.

    Args:
        capacity: maximum points (500 for ``/derivatives``, 100 for history).
        window_s: seconds to refill from empty to full (10 s and 600 s per spec §5.1/§5.2).
        clock: monotonic seconds; injected so tests need no real time.
    """

    def __init__(self, capacity: float, window_s: float, clock: Callable[[], float]) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError("capacity and window_s must be > 0")
        self.capacity = float(capacity)
        self.rate_per_s = self.capacity / window_s
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = max(self._stamp, now)

    def available(self) -> float:
        """Points available now (0..capacity)."""
        self._refill()
        return self._tokens

    def wait_time(self, cost: float, floor: float = 0.0) -> float:
        """Seconds until ``cost`` can be taken leaving at least ``floor`` points; 0 when it can now."""
        self._refill()
        deficit = cost + floor - self._tokens
        return 0.0 if deficit <= 1e-9 else deficit / self.rate_per_s

    def take(self, cost: float) -> None:
        """Remove ``cost`` points (may drive the bucket negative only via ``drain``)."""
        self._refill()
        self._tokens -= cost

    def drain(self, for_s: float = 0.0) -> None:
        """Empty the bucket, and push it below zero so it stays empty ``for_s`` more seconds.

        Used when the exchange says the limit was exceeded (spec §3.2 item 6, ``rate-limit-reset``).
        """
        self._refill()
        self._tokens = -max(0.0, for_s) * self.rate_per_s


class RateLimiter:
    """The client's two rate-limit pools: ``/derivatives`` (spec §5.1) and history (spec §5.2).

    Args:
        budget: ``/derivatives`` points per window (``config.rate_limit_budget``, 500).
        window_s: the window, seconds (``config.rate_limit_window_s``, 10).
        reserve: points only priority calls may spend (``config.rate_limit_reserve``, 100).
        history_capacity: history pool tokens (100); history_window_s: its refill time (600 s).
        clock: monotonic seconds; sleep: async sleep. Both injectable for tests.

    ``acquire(cost, priority=...)`` waits until the call fits, then spends. Priority is for calls that
    reduce risk: cancelorder, cancelallorders, cancelallordersafter, and flatten's reduce-only orders.
    """

    def __init__(
        self,
        *,
        budget: int = 500,
        window_s: float = 10.0,
        reserve: int = 100,
        history_capacity: int = 100,
        history_window_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 <= reserve < budget:
            raise ValueError(f"rate_limit_reserve ({reserve}) must be in [0, budget={budget})")
        self.reserve = reserve
        self.derivatives = TokenBucket(budget, window_s, clock)
        self.history = TokenBucket(history_capacity, history_window_s, clock)
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._history_lock = asyncio.Lock()

    def headroom(self) -> tuple[int, int]:
        """(points available now, capacity) of the ``/derivatives`` budget, for the UI."""
        return max(0, int(self.derivatives.available())), int(self.derivatives.capacity)

    def history_headroom(self) -> tuple[int, int]:
        """(tokens available now, capacity) of the history pool."""
        return max(0, int(self.history.available())), int(self.history.capacity)

    async def acquire(self, cost: int, *, priority: bool = False) -> float:
        """Wait until ``cost`` points fit in the ``/derivatives`` budget, then spend them.

        Returns:
            Seconds waited (0 when the call went straight through).

        Raises:
            ValueError: the cost can never fit (more than the budget, or than budget - reserve for
                a normal call), so waiting would never end.
        """
        if cost <= 0:
            return 0.0
        floor = 0.0 if priority else float(self.reserve)
        if cost + floor > self.derivatives.capacity:
            raise ValueError(
                f"cost {cost} exceeds the usable rate-limit budget {self.derivatives.capacity - floor:g}"
            )
        if priority:
            return await self._wait_and_take(self.derivatives, cost, floor)
        async with self._lock:
            return await self._wait_and_take(self.derivatives, cost, floor)

    async def acquire_history(self, cost: int) -> float:
        """Wait until ``cost`` history-pool tokens are available, then spend them (spec §5.2)."""
        if cost > self.history.capacity:
            raise ValueError(f"history cost {cost} exceeds the pool of {self.history.capacity:g}")
        async with self._history_lock:
            return await self._wait_and_take(self.history, cost, 0.0)

    async def _wait_and_take(self, bucket: TokenBucket, cost: float, floor: float) -> float:
        waited = 0.0
        while True:
            wait = bucket.wait_time(cost, floor)
            if wait <= 0:
                bucket.take(cost)
                return waited
            await self._sleep(wait)
            waited += wait

    def note_exceeded(self, retry_after_s: float | None, *, history: bool = False) -> None:
        """The exchange answered "limit exceeded": empty the pool (for ``retry_after_s`` when known)."""
        (self.history if history else self.derivatives).drain(retry_after_s or 0.0)
