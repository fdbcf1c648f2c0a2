"""Candle -> tick expansion: intra-bar order, tick times, trade sizes, quote, index from spot bars."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.domain import Candle, Side
from kraken_tui.paper.sources.candles import expand_candles, intrabar_path, quote_around


def test_open_then_nearer_extreme_then_other_then_close():
    # open 100 is 2 from the low (98) and 5 from the high (105): low first.
    assert intrabar_path(Candle(0, 100, 105, 98, 104)) == (100, 98, 105, 104)
    # open 100 is 1 from the high (101) and 10 from the low (90): high first.
    assert intrabar_path(Candle(0, 100, 101, 90, 95)) == (100, 101, 90, 95)
    # tie: up bar (close >= open) goes low first, down bar high first.
    assert intrabar_path(Candle(0, 100, 102, 98, 101)) == (100, 98, 102, 101)
    assert intrabar_path(Candle(0, 100, 102, 98, 99)) == (100, 102, 98, 99)


def test_tick_times_sizes_sides_and_quote():
    bar = Candle(ts_ms=60_000, open=100.0, high=105.0, low=98.0, close=104.0, volume=8.0)
    ticks = list(expand_candles("PF_XBTUSD", [bar], 60_000, spread_bps=2.0, depth_usd=1000.0))
    # times: t, t + 60 000/4, t + 60 000/2, t + 3*60 000/4
    assert [t.ts_ms for t in ticks] == [60_000, 75_000, 90_000, 105_000]
    assert [t.last for t in ticks] == [100, 98, 105, 104]
    assert all(t.mark_price == t.last == t.index_price for t in ticks)
    assert all(t.trade_size == 2.0 for t in ticks)  # volume 8 / 4
    # first tick BUY; 98 < 100 SELL; 105 > 98 BUY; 104 < 105 SELL
    assert [t.trade_side for t in ticks] == [Side.BUY, Side.SELL, Side.BUY, Side.SELL]
    # 2 bp total spread at 100: half = 100 * 2 / 2 / 1e4 = 0.01 -> 99.99 / 100.01; size 1000/100 = 10
    assert ticks[0].bid == pytest.approx(99.99) and ticks[0].ask == pytest.approx(100.01)
    assert ticks[0].bid_size == pytest.approx(10.0) and ticks[0].ask_size == pytest.approx(10.0)


def test_inverse_quote_size_is_usd_contracts():
    # PI_ contract = 1 USD: 250 000 USD depth = 250 000 contracts whatever the price
    assert quote_around("PI_XBTUSD", 50_000.0, 1.0, 250_000.0)[2] == 250_000.0
    # linear: 250 000 / 50 000 = 5 contracts (BTC)
    assert quote_around("PF_XBTUSD", 50_000.0, 1.0, 250_000.0)[2] == 5.0


def test_zero_volume_bar_gives_quote_only_ticks():
    ticks = list(expand_candles("PF_X", [Candle(0, 1, 1, 1, 1, 0.0)], 60_000))
    assert all(t.trade_size is None and t.trade_side is None for t in ticks)


def test_index_from_spot_candles_on_the_same_grid():
    fut = Candle(0, 100, 105, 98, 104, 4)
    spot = Candle(0, 99, 103, 97, 102, 0)  # 2 from low, 4 from high -> O L H C = 99 97 103 102
    ticks = list(expand_candles("PF_X", [fut], 60_000, index_candles={0: spot}, index_bar_ms=60_000))
    assert [t.index_price for t in ticks] == [99, 97, 103, 102]
    assert [t.mark_price for t in ticks] == [100, 98, 105, 104]


@given(st.lists(st.tuples(st.floats(1, 1e5), st.floats(0, 1e3), st.floats(0, 1e3), st.floats(0, 1)),
                min_size=1, max_size=20))
def test_hypothesis_ticks_stay_in_bar_range_and_time_order(rows):
    candles = []
    for i, (o, up, down, frac) in enumerate(rows):
        lo, hi = max(o - down, 0.5), o + up
        candles.append(Candle(i * 60_000, o, hi, lo, lo + (hi - lo) * frac, 1.0))
    ticks = list(expand_candles("PF_X", candles, 60_000))
    assert len(ticks) == 4 * len(candles)
    assert all(a.ts_ms < b.ts_ms for a, b in zip(ticks, ticks[1:], strict=False))
    for c, group in zip(candles, (ticks[i:i + 4] for i in range(0, len(ticks), 4)), strict=True):
        assert group[0].last == c.open and group[3].last == c.close
        assert {group[1].last, group[2].last} == {c.high, c.low}
        assert all(t.bid < t.last < t.ask for t in group)
