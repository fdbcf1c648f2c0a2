"""Connection health for the WebSocket client: feed liveness and the reconnect backoff.

Owns: ``FeedWatch`` - the last-message time per subscribed (feed, product_id) key and the stale
state, producing ``FeedStale`` once per silence and ``FeedResumed`` when messages return
(``ClientConfig.ws_stale_after_s``). Pure bookkeeping on a caller-supplied monotonic clock (seconds),
so it is tested without sockets or sleeps; ``backoff_delay_s`` - the reconnect delay.
Must not import: websockets, httpx, textual, the engine.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from kraken_tui.kraken.ws_events import FeedResumed, FeedStale

__all__ = ["FeedKey", "FeedWatch", "backoff_delay_s", "feed_keys"]

FeedKey = tuple[str, str | None]
"""(subscribable feed name, upper-case product id or None for feeds without products)."""


def backoff_delay_s(attempt: int, *, base_s: float, cap_s: float, u: float) -> float:
    """Reconnect delay in seconds: full jitter over a capped exponential ceiling (AWS "full jitter").

    ``u`` is uniform in [0, 1); the ceiling is ``min(cap_s, base_s * 2 ** (attempt - 1))`` for attempt >= 1.
    """
    return u * min(cap_s, base_s * 2.0 ** min(max(attempt - 1, 0), 60))


def feed_keys(feed: str, products: Iterable[str]) -> list[FeedKey]:
    """The watch keys of one subscription: one per product, or ``(feed, None)`` without products."""
    return [(feed, p) for p in products] or [(feed, None)]


class FeedWatch:
    """Silence detector. ``watched_feeds`` limits which feeds can go stale (others are only tracked).

    Args:
        stale_after_s: silence longer than this (seconds) is stale.
        watched_feeds: feed names checked for silence.
    """

    def __init__(self, stale_after_s: float, watched_feeds: Collection[str]) -> None:
        self.stale_after_s = stale_after_s
        self._watched = frozenset(watched_feeds)
        self._last: dict[FeedKey, float] = {}
        self._stale: set[FeedKey] = set()

    def track(self, keys: Iterable[FeedKey], now: float) -> None:
        """Start watching ``keys`` (already-tracked keys keep their time)."""
        for key in keys:
            self._last.setdefault(key, now)

    def forget(self, keys: Iterable[FeedKey]) -> None:
        """Stop watching ``keys`` (unsubscribed or refused)."""
        for key in keys:
            self._last.pop(key, None)
            self._stale.discard(key)

    def restart(self, now: float) -> None:
        """After a (re)connect: every key's silence counts from ``now``."""
        for key in self._last:
            self._last[key] = now

    def seen(self, key: FeedKey, now: float) -> FeedResumed | None:
        """A message of ``key`` arrived; returns ``FeedResumed`` when it had been reported stale."""
        if key not in self._last:
            return None
        self._last[key] = now
        if key in self._stale:
            self._stale.discard(key)
            return FeedResumed(feed=key[0], product_id=key[1])
        return None

    def check(self, now: float) -> list[FeedStale]:
        """Keys of watched feeds silent longer than ``stale_after_s`` and not yet reported."""
        out = []
        for key, last in self._last.items():
            silent = now - last
            if key[0] in self._watched and key not in self._stale and silent > self.stale_after_s:
                self._stale.add(key)
                out.append(FeedStale(feed=key[0], product_id=key[1], silent_for_s=round(silent, 3)))
        return out
