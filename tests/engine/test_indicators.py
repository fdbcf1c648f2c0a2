"""Streaming indicators: hand-computed examples, TA-Lib agreement on real candles, and properties."""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import Candle
from kraken_tui.engine.indicators import ATR, EMA, MACD, RSI, SMA, BBands

from ._data import ETH_5M, PF_1M, read_candles

REL = 1e-9


# ----------------------------------------------------------------------------- hand-computed


def test_sma_hand_example():
    s = SMA(3)
    assert [s.update(x) for x in (1.0, 2.0, 3.0, 10.0)] == [None, None, 2.0, 5.0]  # (1+2+3)/3, (2+3+10)/3


def test_ema_seeds_with_sma_then_smooths():
    e = EMA(3)  # k = 2 / (3 + 1) = 0.5
    out = [e.update(x) for x in (2.0, 4.0, 6.0, 10.0)]
    # seed = (2+4+6)/3 = 4; next = (10 - 4) * 0.5 + 4 = 7
    assert out == [None, None, 4.0, 7.0]


def test_rsi_wilder_hand_example():
    r = RSI(2)
    out = [r.update(x) for x in (10.0, 11.0, 10.5, 12.0)]
    # changes +1, -0.5 -> avg gain 0.5, avg loss 0.25 -> RSI = 100*0.5/0.75 = 66.666...
    # next change +1.5: gain = (0.5*1 + 1.5)/2 = 1.0, loss = (0.25*1 + 0)/2 = 0.125 -> 100*1/1.125 = 88.888...
    assert out[:2] == [None, None]
    assert out[2] == pytest.approx(200 / 3, rel=1e-12)
    assert out[3] == pytest.approx(800 / 9, rel=1e-12)


def test_rsi_flat_series_is_zero_like_talib():
    r = RSI(3)
    out = [r.update(5.0) for _ in range(6)]
    assert out[3:] == [0.0, 0.0, 0.0] == list(talib.RSI(np.full(6, 5.0), 3)[3:])  # gain + loss == 0 -> 0


def test_atr_hand_example():
    a = ATR(2)
    candles = [
        Candle(0, 10, 11, 9, 10),
        Candle(1, 10, 12, 10, 11),
        Candle(2, 11, 11.5, 8, 9),
        Candle(3, 9, 9.5, 9, 9.2),
    ]
    out = [a.update(c) for c in candles]
    # TR1 = max(12-10, |10-12|, |10-10|) = 2; TR2 = max(3.5, |11-11.5|, |11-8|) = 3.5 -> ATR = (2+3.5)/2 = 2.75
    # TR3 = max(0.5, |9-9.5|, |9-9|) = 0.5 -> ATR = (2.75*1 + 0.5)/2 = 1.625
    assert out == [None, None, 2.75, 1.625]


def test_bbands_hand_example():
    b = BBands(4, 2.0, 2.0)
    out = [b.update(x) for x in (1.0, 2.0, 3.0, 4.0)]
    # mean 2.5, population variance = (2.25+0.25+0.25+2.25)/4 = 1.25 -> stdev 1.1180339887
    mid, sd = 2.5, math.sqrt(1.25)
    assert out[3] == pytest.approx((mid + 2 * sd, mid, mid - 2 * sd), rel=1e-12)


def test_macd_alignment_fast_ema_seeded_at_slow_minus_one():
    m = MACD(2, 3, 2)
    out = [m.update(x) for x in (1.0, 2.0, 4.0, 8.0, 16.0)]
    # slow EMA(3): seed at bar 2 = (1+2+4)/3 = 7/3; fast EMA(2) seeded on bars 1..2 = (2+4)/2 = 3 (TA-Lib alignment)
    # bar 2 macd = 3 - 7/3 = 2/3
    # bar 3: fast = (8-3)*2/3 + 3 = 19/3; slow = (8-7/3)*0.5 + 7/3 = 31/6; macd = 19/3 - 31/6 = 7/6
    # signal EMA(2) seed = (2/3 + 7/6)/2 = 11/12 at bar 3 -> hist = 7/6 - 11/12 = 1/4
    assert out[:3] == [None, None, None]
    assert out[3] == pytest.approx((7 / 6, 11 / 12, 1 / 4), rel=1e-12)


def test_bbands_keeps_tiny_variance_like_talib_08():
    b = BBands(2)
    assert b.update(2.0) is None
    # mean 2.000005, pop sd = 0.000005 -> upper = 2.000005 + 2 * 0.000005 = 2.000015 (TA-Lib 0.8 gives the same)
    assert b.update(2.00001).upper == pytest.approx(2.000015, rel=1e-12)


def test_bbands_after_a_price_jump_has_no_cancellation_error():
    got = _run(BBands(2), [1451.0, 1.9, 2.0])
    # window (1.9, 2.0): mean 1.95, pop sd 0.05 -> upper 2.05, lower 1.85 (found by hypothesis: was 2.0499999978)
    assert got[2] == pytest.approx((2.05, 1.95, 1.85), rel=1e-12)


def test_bbands_exact_where_talib_cancels():
    # found by hypothesis: TA-Lib's running sums give 2.4999847 for the window (1, 2) after 371101
    got = _run(BBands(2), [372.65234375, 371101.0, 1.0, 2.0])
    assert got[3] == pytest.approx((2.5, 1.5, 0.5), rel=1e-12)


def test_rsi_tiny_moves_are_not_rounded_to_zero():
    xs = [1.0, 1 + 1e-10, 1 + 3e-10, 1 + 2e-10]
    out = _run(RSI(2), xs)
    assert out[2] == 100.0  # two rises, no loss
    assert out[3] == pytest.approx(60.0, rel=1e-3)  # TA-Lib 0.8 gives 60 too
    assert list(talib.RSI(np.array(xs), 2)[2:]) == pytest.approx(out[2:], rel=1e-3)


@pytest.mark.parametrize(
    "cls,args", [(SMA, (0,)), (EMA, (-1,)), (RSI, (1,)), (ATR, (1,)), (BBands, (1,)), (MACD, (1, 26, 9))]
)
def test_bad_periods_raise(cls, args):
    with pytest.raises(ValueError, match="period"):
        cls(*args)


# ----------------------------------------------------------------------------- TA-Lib on real data


def _compare(ref: np.ndarray, got: list, *, abs_tol: float = 0.0) -> int:
    checked = 0
    for i, (r, g) in enumerate(zip(ref, got, strict=True)):
        if math.isnan(r):
            assert g is None, f"bar {i}: expected warm-up None, got {g}"
            continue
        assert g is not None, f"bar {i}: TA-Lib has {r}, we are still warming up"
        assert math.isclose(g, r, rel_tol=REL, abs_tol=abs_tol), f"bar {i}: {g} != TA-Lib {r}"
        checked += 1
    return checked


@pytest.fixture(params=[PF_1M, ETH_5M], ids=["pf_xbtusd_1m", "eth_spot_5m"])
def real(request, shared_data):
    candles = read_candles(shared_data(request.param))
    assert len(candles) >= 500
    cl = np.array([c.close for c in candles])
    return candles, cl, np.array([c.high for c in candles]), np.array([c.low for c in candles])


def test_sma_ema_rsi_match_talib(real):
    candles, cl, _, _ = real
    for period in (5, 20, 50):
        assert _compare(talib.SMA(cl, period), _run(SMA(period), cl)) > 400
        assert _compare(talib.EMA(cl, period), _run(EMA(period), cl)) > 400
    for period in (2, 14, 30):
        assert _compare(talib.RSI(cl, period), _run(RSI(period), cl)) > 400


def _run(ind, values):
    return [ind.update(float(x)) for x in values]


def test_atr_matches_talib(real):
    candles, cl, hi, lo = real
    for period in (5, 14):
        a = ATR(period)
        assert _compare(talib.ATR(hi, lo, cl, period), [a.update(c) for c in candles]) > 400


def test_macd_matches_talib(real):
    candles, cl, _, _ = real
    # MACD values hover around 0, so relative error is meaningless there: abs tol = price * 1e-9.
    abs_tol = float(cl.max()) * 1e-9
    for fast, slow, signal in ((12, 26, 9), (5, 35, 5)):
        got = _run(MACD(fast, slow, signal), cl)
        ref = talib.MACD(cl, fast, slow, signal)
        for k in range(3):
            assert _compare(ref[k], [None if g is None else g[k] for g in got], abs_tol=abs_tol) > 400


def test_bbands_matches_talib(real):
    candles, cl, _, _ = real
    for period, dev in ((20, 2.0), (10, 1.5)):
        got = _run(BBands(period, dev, dev), cl)
        ref = talib.BBANDS(cl, period, dev, dev, 0)  # matype 0 = SMA
        for k in range(3):
            assert _compare(ref[k], [None if g is None else g[k] for g in got]) > 400


# ----------------------------------------------------------------------------- properties

prices = st.lists(st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(min_value=2, max_value=20))
def test_random_series_match_talib(xs, period):
    arr = np.array(xs)
    assert _compare(talib.SMA(arr, period), _run(SMA(period), xs)) >= 0
    assert _compare(talib.EMA(arr, period), _run(EMA(period), xs)) >= 0
    assert _compare(talib.RSI(arr, period), _run(RSI(period), xs), abs_tol=1e-9) >= 0
    got = _run(BBands(period), xs)
    ref = talib.BBANDS(arr, period, 2.0, 2.0, 0)
    assert _compare(ref[1], [None if g is None else g.middle for g in got]) >= 0
    # TA-Lib's bands come from running sums of x and x^2: its variance carries an error up to about
    # eps * max(x)^2 (cancellation; e.g. [372.65, 371101, 1, 2] gives 2.49998 for the exact 2.5), so its
    # bands are only good to 2 * sqrt(that). Ours are checked against exact Fractions below.
    band_tol = 2 * math.sqrt(64 * sys.float_info.epsilon) * max(xs)
    assert _compare(ref[0], [None if g is None else g.upper for g in got], abs_tol=band_tol) >= 0
    assert _compare(ref[2], [None if g is None else g.lower for g in got], abs_tol=band_tol) >= 0
    for i, g in enumerate(got):
        if g is None:
            continue
        window = [Fraction(x) for x in xs[i - period + 1:i + 1]]
        mean = sum(window) / period
        sd = math.sqrt(sum((x - mean) ** 2 for x in window) / period)
        # ours roll a sum too, but without squaring: off by a few eps * max(x), never sqrt of it
        tol = 64 * sys.float_info.epsilon * max(xs)
        assert g.upper == pytest.approx(float(mean) + 2 * sd, rel=1e-12, abs=tol)
        assert g.lower == pytest.approx(float(mean) - 2 * sd, rel=1e-12, abs=tol)


@settings(max_examples=60, deadline=None)
@given(prices)
def test_rsi_stays_in_0_100(xs):
    for v in _run(RSI(3), xs):
        assert v is None or 0.0 <= v <= 100.0
