"""Deduplication and rate limit of notifications.

Owns: ``Throttle``: the same key is admitted once within ``dedupe_s`` seconds, and at most ``max_per_minute``
keys are admitted in any sliding 60 s window. Times are a monotonic clock in seconds (injectable for tests).
Must not import: textual, the paper exchange, the UI.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Admission of notifications (module docstring).

    Attributes:
        duplicates: keys refused as repeats within the dedupe window. limited: keys refused by the cap.
    """

    def __init__(self, dedupe_s: float, max_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.dedupe_s, self.max_per_minute, self.clock = dedupe_s, max_per_minute, clock
        self._last: dict[str, float] = {}
        self._sent: deque[float] = deque()
        self.duplicates = 0
        self.limited = 0

    def admit(self, key: str) -> bool:
        """True when ``key`` may be sent now (and count it as sent); False for a duplicate or over the cap."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.dedupe_s:
            self.duplicates += 1
            return False
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.max_per_minute:
            self.limited += 1
            return False
        self._sent.append(now)
        self._last[key] = now
        if len(self._last) > 1000:  # forget keys outside the window
            self._last = {k: t for k, t in self._last.items() if now - t < self.dedupe_s}
        return True
