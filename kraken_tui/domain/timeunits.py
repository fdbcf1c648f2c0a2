"""Time units in milliseconds: every timestamp in kraken_tui is UTC epoch milliseconds (``_ms``).

Owns: ``MINUTE_MS``, ``HOUR_MS`` (Kraken perpetual funding settles at the top of each UTC hour, Kraken
Support "Linear Multi-Collateral Perpetual Contract Specifications") and ``DAY_MS`` (UTC days).
Must not import: anything.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "SECOND_MS"]

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000
