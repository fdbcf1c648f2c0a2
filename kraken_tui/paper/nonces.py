"""Nonce checks of the paper exchange's private REST calls (spec §2.2 "Nonce", §3.3 errors).

Owns: ``NonceGuard``. Kraken: "A continuously incrementing integer … Our system tolerates nonces that are out
of order for a brief period of time"; errors ``nonceDuplicate`` and ``nonceBelowThreshold``.
[GAP] The tolerance is not published. The paper exchange accepts, per API key, a nonce that was not used before
and is above the smallest of the last ``WINDOW`` accepted nonces (so a few requests racing each other may arrive
out of order); a nonce at or below that threshold is ``nonceBelowThreshold``. Non-integer nonces are checked
for duplicates only. A request without a nonce is accepted (the header is optional in Kraken's signing).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from collections import deque

__all__ = ["NonceGuard", "WINDOW"]

WINDOW = 100


class NonceGuard:
    """Remembers accepted nonces per key and judges new ones (module docstring)."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[int]] = {}
        self._seen: dict[str, set[str]] = {}
        self._order: dict[str, deque[str]] = {}

    def check(self, key: str, nonce: str) -> str | None:
        """None and remember ``nonce`` when it is acceptable, else ``nonceDuplicate`` / ``nonceBelowThreshold``."""
        if not nonce:
            return None
        seen = self._seen.setdefault(key, set())
        if nonce in seen:
            return "nonceDuplicate"
        recent = self._recent.setdefault(key, deque(maxlen=WINDOW))
        if nonce.isdigit():
            value = int(nonce)
            if len(recent) == WINDOW and value <= min(recent):
                return "nonceBelowThreshold"
            recent.append(value)
        order = self._order.setdefault(key, deque())
        seen.add(nonce)
        order.append(nonce)
        if len(order) > 100_000:
            seen.discard(order.popleft())
        return None
