"""Batch paths of the indicators and of ``sma_cross`` equal their one-bar-at-a-time paths exactly.

``SMA.update_many`` / ``ATR.update_many`` against ``update`` and ``SmaCross.on_candles`` against ``on_candle``:
same outputs (``==`` on floats, not approximately), same state afterwards, over random chunkings, on random
walks with many equal prices (ties are where a cross test could differ) and on the real 1m and 1h series.
"""

from __future__ import annotations

import random

import pytest

from kraken_tui.backtest.data import open_candles
from kraken_tui.domain import Candle
from kraken_tui.engine.indicators import ATR, SMA
from kraken_tui.engine.strategies import build_strategy


def _chunks(n: int, rng: random.Random):
    i = 0
    while i < n:
        k = rng.randint(0, 40)
        yield i, i + k
        i += k


def _walk(rng: random.Random, n: int) -> list[tuple[int, float, float, float, float, float]]:
    x, rows = 100.0, []
    for i in range(n):
        x = max(1.0, x + rng.choice([-1.0, 0.0, 0.0, 0.5, 1.0, 0.1]))
        rows.append((i * 60_000, x, x + rng.random(), x - rng.random() * 0.5, x, 1.0))
    return rows


@pytest.mark.parametrize("seed", range(20))
def test_sma_and_atr_update_many_equal_update(seed):
    rng = random.Random(seed)
    rows = _walk(rng, rng.randint(0, 300))
    xs = [r[4] * rng.choice([1.0, 1e-3, 1e3]) for r in rows]
    period = rng.randint(1, 30)
    a, b = SMA(period), SMA(period)
    one = [a.update(x) for x in xs]
    many: list = []
    for i, j in _chunks(len(xs), rng):
        many += b.update_many(xs[i:j])
    assert many == one
    assert (b.value, b._total, list(b._window)) == (a.value, a._total, list(a._window))  # noqa: SLF001
    period = rng.randint(2, 30)
    a2, b2 = ATR(period), ATR(period)
    one = [a2.update(Candle(*r)) for r in rows]
    many = []
    for i, j in _chunks(len(rows), rng):
        part = rows[i:j]
        many += b2.update_many([r[2] for r in part], [r[3] for r in part], [r[4] for r in part])
    assert many == one
    assert (b2.value, b2._seed_sum, b2._count, b2._prev_close) == (  # noqa: SLF001
        a2.value, a2._seed_sum, a2._count, a2._prev_close)  # noqa: SLF001


def test_sma_update_many_hand_computed():
    s = SMA(3)
    assert s.update_many([1.0, 2.0, 3.0, 4.0]) == [None, None, 2.0, 3.0]
    assert s.update_many([8.0]) == [5.0]


def _signals_one_by_one(strategy, rows):
    out = []
    for i, r in enumerate(rows):
        sig = strategy.on_candle("PF_XBTUSD", "1m", Candle(*r), None)
        if sig is not None:
            out.append((i, sig))
    return out


def _signals_batched(strategy, rows, rng):
    out = []
    for i, j in _chunks(len(rows), rng):
        cols = tuple(list(c) for c in zip(*rows[i:j], strict=True)) or ([], [], [], [], [], [])
        out += [(i + k, sig) for k, sig in strategy.on_candles("PF_XBTUSD", "1m", cols, None)]
    return out


@pytest.mark.parametrize("seed", range(30))
def test_sma_cross_on_candles_equals_on_candle_on_random_walks(seed):
    rng = random.Random(seed)
    fast = rng.randint(1, 8)
    params = {"fast": fast, "slow": fast + rng.randint(1, 10)}
    rows = _walk(rng, rng.randint(0, 400))
    one = _signals_one_by_one(build_strategy("sma_cross", params, timeframe="1m"), rows)
    many = _signals_batched(build_strategy("sma_cross", params, timeframe="1m"), rows, rng)
    assert many == one


def test_sma_cross_on_candles_equals_on_candle_on_real_candles(shared_data):
    rows = list(open_candles(shared_data("kraken/pf_xbtusd_1m_2025-08.csv"), symbol="PF_XBTUSD").rows)
    for params in ({"fast": 10, "slow": 20}, {"fast": 2, "slow": 3}):
        one = _signals_one_by_one(build_strategy("sma_cross", params, timeframe="1m"), rows)
        many = _signals_batched(build_strategy("sma_cross", params, timeframe="1m"), rows, random.Random(7))
        assert len(one) > 10 and many == one
