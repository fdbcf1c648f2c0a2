"""The paper exchange's 24 h ticker statistics: the incremental window equals a scan of the bars."""

from __future__ import annotations

import random

import pytest

from kraken_tui.paper.candles import MINUTE_MS, CandleStore


def _naive(store: CandleStore, symbol: str, now_ms: int) -> tuple[float, float, float, float] | None:
    bars = store.series.get(("trade", symbol))
    if not bars:
        return None
    since = now_ms - 86_400_000
    rows = [b for k, b in bars.items() if k >= since - since % MINUTE_MS]
    if not rows:
        return None
    return rows[0][0], max(r[1] for r in rows), min(r[2] for r in rows), sum(r[4] for r in rows)


@pytest.mark.parametrize("seed,max_minutes", [(1, 43_200), (2, 43_200), (3, 600)])
def test_window_matches_scan(seed, max_minutes):
    rng = random.Random(seed)
    store = CandleStore(max_minutes=max_minutes)
    ts = 1_700_000_000_000
    price = 100.0
    for i in range(6000):
        ts += rng.choice((1_000, 20_000, 60_000, 300_000, 3_600_000 if i % 997 == 0 else 30_000))
        if rng.random() < 0.02:
            ts_tick = ts - rng.randint(1, 5) * MINUTE_MS  # a late tick for an older minute
        else:
            ts_tick = ts
        price = max(1.0, price + rng.uniform(-1, 1))
        store.add_tick("PF_X", ts_tick, price, rng.choice((0.0, 1.5, 3.0)), price, price)
        got, want = store.stats_24h("PF_X", ts), _naive(store, "PF_X", ts)
        assert (got is None) == (want is None)
        if got is not None:
            assert got[:3] == want[:3]
            assert got[3] == pytest.approx(want[3], rel=1e-9, abs=1e-6)


def test_hand_computed_window():
    store = CandleStore()
    t0 = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE_MS
    store.add_tick("PF_X", t0, 10.0, 1.0, None, None)
    store.add_tick("PF_X", t0 + 30_000, 12.0, 2.0, None, None)   # same minute: h 12, v 3
    store.add_tick("PF_X", t0 + MINUTE_MS, 8.0, 4.0, None, None)  # next minute
    assert store.stats_24h("PF_X", t0 + MINUTE_MS) == (10.0, 12.0, 8.0, 7.0)
    # 24 h later the first minute has left the window; the second is still in it
    assert store.stats_24h("PF_X", t0 + 86_400_000 + MINUTE_MS) == (8.0, 8.0, 8.0, 4.0)
    assert store.stats_24h("PF_X", t0 + 2 * 86_400_000 + MINUTE_MS) is None
    assert store.stats_24h("PF_Y", t0) is None
