"""Seeded funding-rate history before a synthetic market's first hour (spec §4.5, §8.3).

Owns: ``backfill``. A synthetic market starts with no past, yet clients (and ``historicalfundingrates``,
which Kraken answers with about a year of hourly rows) expect history. The backfill is an AR(1) process on the
relative hourly rate: r[h] = mu + phi * (r[h-1] - mu) + sigma * e, e ~ N(0, 1), clamped to the synthetic
source's cap, with mu = 1e-5 (+0.0876 %/yr per hour ~ the positive carry perpetuals usually show), phi = 0.9,
sigma = 1e-5 [INFERRED: a plausible calm-market series, not fitted to Kraken data]. Deterministic per
(seed, symbol). The rows are announcements (``PaperMarket.funding_rates``) for hours already past: nothing is
charged for them.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import random

from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper.matching import PaperMarket

__all__ = ["BACKFILL_HOURS", "backfill"]

BACKFILL_HOURS = 30 * 24
MU, PHI, SIGMA, CAP = 1e-5, 0.9, 1e-5, 0.0025


def backfill(market: PaperMarket, first_ms: int, seed: int, hours: int = BACKFILL_HOURS) -> int:
    """Announce ``hours`` seeded relative rates for the hours before the one holding ``first_ms`` (UTC ms),
    skipping hours the market already knows. Returns the number of rows added."""
    rng = random.Random(f"funding-backfill:{seed}:{market.symbol}")
    start = first_ms - first_ms % HOUR_MS - hours * HOUR_MS
    known = {ts for ts, _ in market.funding_rates}
    rate, added = MU, 0
    for h in range(hours):
        rate = min(max(MU + PHI * (rate - MU) + SIGMA * rng.gauss(0.0, 1.0), -CAP), CAP)
        ts = start + h * HOUR_MS
        if ts not in known:
            market.set_funding_rate(ts, rate)
            added += 1
    return added
