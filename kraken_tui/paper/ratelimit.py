"""Server-side rate limits of the paper exchange (spec §5.1, §5.2, §3.2 item 6).

Owns: ``request_cost`` (the points one request costs: the route's cost from ``paper.routes``, with the
request-dependent prices: fills with ``lastFillTime`` 25, batchorder 9 + instructions, account-log by
``count``) and ``ServerBudget`` (one ``/derivatives`` bucket and one history pool per API key).
The buckets are the client's own ``kraken_tui.kraken.ratelimit.TokenBucket`` with the same capacities and
windows (500 points per 10 s; 100 tokens per 600 s) and the cost helpers are the client's
(``batch_cost``, ``account_log_cost``), so the project's client, which waits instead of exceeding, and the
server count the same points [GAP: Kraken's refill model is undocumented; spec §5.1 suggests this bucket].
One bucket per API key (spec §5.1 [CONFLICT] per IP or per key: per key here).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from kraken_tui.kraken.ratelimit import TokenBucket, account_log_cost, batch_cost
from kraken_tui.paper.routes import POOL_DERIVATIVES, POOL_HISTORY, Route

__all__ = ["ServerBudget", "request_cost"]

DERIVATIVES_CAPACITY, DERIVATIVES_WINDOW_S = 500, 10.0
HISTORY_CAPACITY, HISTORY_WINDOW_S = 100, 600.0
FILLS_PAGED_COST = 25


def request_cost(route: Route, req: Any) -> int:
    """Points ``req`` costs on its route's pool (0 for public routes)."""
    if route.pool is None:
        return 0
    name = route.pattern.rsplit("/", 1)[-1]
    if name == "fills" and req.params.get("lastFillTime"):
        return FILLS_PAGED_COST
    if name == "batchorder":
        try:
            items = json.loads(req.params.get("json", "")).get("batchOrder")
        except (ValueError, AttributeError):
            items = None
        return batch_cost(len(items)) if isinstance(items, list) and items else route.cost
    if name == "account-log":
        raw = req.params.get("count")
        return account_log_cost(int(raw) if raw and raw.isdigit() else None)
    return route.cost


class ServerBudget:
    """Per-key buckets of both pools. ``charge`` spends or refuses.

    Args:
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, key: str, pool: str) -> TokenBucket:
        """The bucket of ``pool`` (``derivatives`` | ``history``) for API key ``key``, created full."""
        b = self._buckets.get((key, pool))
        if b is None:
            cap, window = ((DERIVATIVES_CAPACITY, DERIVATIVES_WINDOW_S) if pool == POOL_DERIVATIVES
                           else (HISTORY_CAPACITY, HISTORY_WINDOW_S))
            b = self._buckets[(key, pool)] = TokenBucket(cap, window, self._clock)
        return b

    def charge(self, key: str, pool: str, cost: int) -> int | None:
        """Spend ``cost`` points of ``key``'s ``pool``: None when spent, else the whole seconds until that cost
        would fit (the ``Retry-After`` / ``rate-limit-reset`` hint, at least 1); nothing is spent then."""
        if cost <= 0:
            return None
        b = self.bucket(key, pool)
        wait = b.wait_time(cost)
        if wait > 0:
            return max(1, math.ceil(wait))
        b.take(cost)
        return None


assert POOL_HISTORY != POOL_DERIVATIVES
