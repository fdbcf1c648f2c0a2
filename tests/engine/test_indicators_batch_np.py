"""The numpy kernels (engine.batch_np) and the pure-Python fallbacks of the batch paths give exactly the
floats and Signals of the one-bar-at-a-time paths (``==``, never approximately).

Hypothesis draws random walks with flat runs and equal fast/slow SMAs (ties are where a cross test could
differ), at price scales from 1e-3 to 1e5, cut into random chunks long enough (up to 300 bars) for the numpy
path (``MIN_BATCH`` bars and more) and short ones for the Python path; every test runs with numpy on and off.
"""

from __future__ import annotations

import math
import random
from itertools import accumulate
from operator import add
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain import Candle
from kraken_tui.engine import batch_np
from kraken_tui.engine.indicators import ATR, SMA
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.engine.strategies import build_strategy


@pytest.fixture(params=[True, False], ids=["numpy", "python"])
def use_numpy(request):
    old = batch_np.set_enabled(request.param)
    yield request.param
    batch_np.set_enabled(old)


FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # use_numpy is set once for all examples
STEPS = st.sampled_from([-1.0, -0.5, 0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 0.1, -0.1])


@st.composite
def walks(draw, max_bars: int = 700):
    """(rows, cuts): 1m candles (ts, o, h, l, c, v) of a positive random walk, and chunk lengths."""
    steps = draw(st.lists(STEPS, max_size=max_bars))
    scale = draw(st.sampled_from([1e-3, 1.0, 37.0, 1e5]))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    x, rows = 100.0, []
    for i, s in enumerate(steps):
        x = max(1.0, x + s)
        c = x * scale
        rows.append((i * 60_000, c, c + rnd.random() * scale, c - rnd.random() * 0.5 * scale, c, 1.0))
    cuts = draw(st.lists(st.one_of(st.integers(0, 5), st.integers(60, 300)), min_size=1, max_size=30))
    return rows, cuts


def _chunks(n: int, cuts: list[int]):
    i, k = 0, 0
    while i < n:
        j = min(n, i + (cuts[k % len(cuts)] or 1))
        yield i, j
        i, k = j, k + 1


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.floats(-1e12, 1e12, allow_nan=False) | st.sampled_from([1e-9, 1e16, -1e16, 3.3]),
                   max_size=2000))
def test_numpy_add_accumulate_is_sequential_left_to_right(xs):
    # the premise of the numpy SMA: no pairwise summation in accumulate (it would round differently here)
    assert np.add.accumulate(np.array(xs, dtype=np.float64)).tolist() == list(accumulate(xs, add))


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=walks(), period=st.integers(1, 40), atr_period=st.integers(2, 30))
def test_sma_and_atr_update_many_equal_update(use_numpy, data, period, atr_period):
    rows, cuts = data
    xs = [r[4] for r in rows]
    a, b = SMA(period), SMA(period)
    one = [a.update(x) for x in xs]
    many: list = []
    for i, j in _chunks(len(xs), cuts):
        many += b.update_many(xs[i:j])
    assert many == one
    assert (b.value, b._total, list(b._window)) == (a.value, a._total, list(a._window))  # noqa: SLF001
    a2, b2 = ATR(atr_period), ATR(atr_period)
    one = [a2.update(Candle(*r)) for r in rows]
    many = []
    for i, j in _chunks(len(rows), cuts):
        part = rows[i:j]
        many += b2.update_many([r[2] for r in part], [r[3] for r in part], [r[4] for r in part])
    assert many == one
    assert (b2.value, b2._seed_sum, b2._count, b2._prev_close) == (  # noqa: SLF001
        a2.value, a2._seed_sum, a2._count, a2._prev_close)  # noqa: SLF001


def test_numpy_paths_are_taken_and_match_python_on_a_long_series():
    rng = random.Random(3)
    xs = [100.0 + rng.choice([-1.0, 0.0, 1.0]) * rng.random() for _ in range(5000)]
    highs, lows = [x + 0.7 for x in xs], [x - 0.3 for x in xs]
    old = batch_np.set_enabled(True)
    try:
        assert batch_np.numpy_or_none() is np
        with_np = (SMA(20).update_many(xs), ATR(14).update_many(highs, lows, xs))
        batch_np.set_enabled(False)
        assert batch_np.numpy_or_none() is None
        without = (SMA(20).update_many(xs), ATR(14).update_many(highs, lows, xs))
    finally:
        batch_np.set_enabled(old)
    assert with_np == without
    assert with_np[0][19] == sum(xs[:20]) / 20  # hand check: the first SMA is the plain mean (sequential sum)


def test_atr_update_many_with_nan_falls_back_to_pythons_max():
    rows = [(i * 60_000, 10.0, 11.0 + i % 3, 9.0, 10.0 + i % 2, 1.0) for i in range(200)]
    rows[100] = (100 * 60_000, 10.0, math.nan, 9.0, 10.0, 1.0)  # numpy's maximum would differ from max here
    a, b = ATR(14), ATR(14)
    # a plain object carries the NaN (ATR.update reads only high, low and close)
    one = [a.update(SimpleNamespace(high=r[2], low=r[3], close=r[4])) for r in rows]  # type: ignore[arg-type]
    many = b.update_many([r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows])
    assert list(map(repr, many)) == list(map(repr, one))


def _one_by_one(strategy, rows):
    return [(i, s) for i, r in enumerate(rows) if (s := strategy.on_candle("PF_XBTUSD", "1m", Candle(*r), None))]


def _batched(strategy, rows, cuts):
    out = []
    for i, j in _chunks(len(rows), cuts):
        cols = tuple(list(c) for c in zip(*rows[i:j], strict=True))
        out += [(i + k, sig) for k, sig in strategy.on_candles("PF_XBTUSD", "1m", cols, None)]
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=walks(1500), fast=st.integers(1, 12), gap=st.integers(1, 15))
def test_sma_cross_on_candles_equals_on_candle(use_numpy, data, fast, gap):
    rows, cuts = data
    params = {"fast": fast, "slow": fast + gap}
    one = _one_by_one(build_strategy("sma_cross", params, timeframe="1m"), rows)
    b = build_strategy("sma_cross", params, timeframe="1m")
    many = _batched(b, rows, cuts)
    assert many == one
    a = build_strategy("sma_cross", params, timeframe="1m")
    _one_by_one(a, rows)
    if rows:
        sa, sb = a.state("PF_XBTUSD"), b.state("PF_XBTUSD")
        assert (sa.prev, sa.fast.value, sa.slow.value) == (sb.prev, sb.fast.value, sb.slow.value)


def test_sma_cross_long_flat_runs_and_ties_give_no_signal_until_a_strict_cross(use_numpy):
    # 300 equal closes: fast == slow (difference 0) on every bar; the rise from a tie at bar 300 is no cross
    # (0 < 0 is false); the fall at bar 305 is one; then a flat run again (ties, no signal).
    closes = [50.0] * 300 + [51.0, 52.0, 53.0, 54.0, 55.0] + [40.0] * 200
    rows = [(i * 60_000, c, c + 0.5, c - 0.5, c, 1.0) for i, c in enumerate(closes)]
    s = build_strategy("sma_cross", {"fast": 3, "slow": 5}, timeframe="1m")
    many = _batched(s, rows, [128])
    assert [(i, sig.side) for i, sig in many] == [(305, SignalSide.SHORT)]
    assert many == _one_by_one(build_strategy("sma_cross", {"fast": 3, "slow": 5}, timeframe="1m"), rows)
    # (54+55+40)/3 = 49.67 and (52+53+54+55+40)/5 = 50.8
    assert many[0][1].reason == "SMA(3) 49.67 crossed below SMA(5) 50.80"
    assert many[0][1].features == {"sma_fast": 149.0 / 3, "sma_slow": 50.8, "close": 40.0}


def test_signal_unchecked_equals_signal_and_sets_every_field():
    args = ("PF_XBTUSD", SignalSide.SHORT, 0.5, "why", {"a": 1.5}, 1_700_000_000_000, "sma_cross")
    fast = Signal.unchecked(*args)
    slow = Signal(*args[:5], ts_ms=args[5], strategy=args[6])
    assert fast == slow and type(fast) is Signal
    assert {f for f in Signal.__dataclass_fields__} == {  # a new field must be set by unchecked too
        "symbol", "side", "confidence", "reason", "features", "ts_ms", "strategy"}
    with pytest.raises(AttributeError):
        fast.confidence = 1.0  # type: ignore[misc]


def test_batch_signals_with_a_non_finite_feature_raise_like_on_candle():
    s = build_strategy("sma_cross", {"fast": 2, "slow": 3}, timeframe="1m")
    with pytest.raises(ValueError, match="not finite"):
        s._crosses("PF_XBTUSD", [5], [True], [math.inf], [1.0], [0.0] * 6, [0] * 6)  # noqa: SLF001
    with pytest.raises(ValueError, match="symbol"):
        s._crosses("", [5], [True], [2.0], [1.0], [0.0] * 6, [0] * 6)  # noqa: SLF001


def _array_cols(rows):
    """``ArrayColumns`` of ``rows`` (the candle reader's shape: int64 times, float64 prices)."""
    from kraken_tui.domain.candle_columns import ArrayColumns

    lists = tuple(list(c) for c in zip(*rows, strict=True))
    return ArrayColumns(lists, (np.array(lists[0], dtype=np.int64),
                                *(np.array(c, dtype=np.float64) for c in lists[1:])))


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=walks(1500), atr_period=st.integers(2, 30), fast=st.integers(1, 12), gap=st.integers(1, 15))
def test_atr_and_sma_cross_given_arrays_equal_one_bar_at_a_time(monkeypatch, data, atr_period, fast, gap):
    # the numpy paths for every chunk (MIN_BATCH 1), fed the chunk's own arrays, across warm-up boundaries
    from kraken_tui.domain.candle_columns import hlc_arrays
    from kraken_tui.engine import indicators
    from kraken_tui.engine.strategies import sma_cross

    rows, cuts = data
    with monkeypatch.context() as m:
        m.setattr(indicators, "MIN_BATCH", 1)
        m.setattr(sma_cross, "MIN_BATCH", 1)
        old = batch_np.set_enabled(True)
        try:
            a, b = ATR(atr_period), ATR(atr_period)
            one = [a.update(Candle(*r)) for r in rows]
            s1 = build_strategy("sma_cross", {"fast": fast, "slow": fast + gap}, timeframe="1m")
            s2 = build_strategy("sma_cross", {"fast": fast, "slow": fast + gap}, timeframe="1m")
            sigs_one = _one_by_one(s1, rows)
            many: list = []
            sigs_many: list = []
            for i, j in _chunks(len(rows), cuts):
                cols = _array_cols(rows[i:j])
                many += b.update_many(cols[2], cols[3], cols[4], hlc_arrays(cols))
                sigs_many += [(i + k, sig) for k, sig in s2.on_candles("PF_XBTUSD", "1m", cols, None)]
        finally:
            batch_np.set_enabled(old)
    assert many == one
    assert (b.value, b._seed_sum, b._count, b._prev_close) == (  # noqa: SLF001
        a.value, a._seed_sum, a._count, a._prev_close)  # noqa: SLF001
    assert sigs_many == sigs_one


def test_atr_given_arrays_with_nan_falls_back_to_pythons_max():
    rows = [(i * 60_000, 10.0, 11.0 + i % 3, 9.0, 10.0 + i % 2, 1.0) for i in range(2000)]
    rows[1500] = (1500 * 60_000, 10.0, math.nan, 9.0, 10.0, 1.0)
    a, b = ATR(14), ATR(14)
    one = [a.update(SimpleNamespace(high=r[2], low=r[3], close=r[4])) for r in rows]  # type: ignore[arg-type]
    cols = _array_cols(rows)
    many = b.update_many(cols[2], cols[3], cols[4], cols.arrays[2:5])
    assert list(map(repr, many)) == list(map(repr, one))


def test_array_columns_are_the_lists_and_pickle_with_their_arrays():
    import pickle

    from kraken_tui.domain.candle_columns import ArrayColumns, column_arrays, hlc_arrays

    rows = [(60_000 * i, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 3.0) for i in range(4)]
    cols = _array_cols(rows)
    assert cols == tuple(list(c) for c in zip(*rows, strict=True)) and len(cols) == 6
    back = pickle.loads(pickle.dumps(cols))
    assert type(back) is ArrayColumns and back == cols
    assert [x.tolist() for x in back.arrays] == list(cols)
    assert [x.tolist() for x in hlc_arrays(cols)] == [cols[2], cols[3], cols[4]]  # type: ignore[union-attr]
    plain = tuple(cols)
    assert column_arrays(plain) is None and hlc_arrays(plain) is None
    with pytest.raises(ValueError):
        ArrayColumns(plain[:5], cols.arrays)  # type: ignore[arg-type]
