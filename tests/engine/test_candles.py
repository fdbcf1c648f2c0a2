"""CandleBuilder: UTC alignment, closing rules, gaps, late prints, warm-up, and agreement with real candles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import Candle
from kraken_tui.engine.candles import CandleBuilder, bar_open_ms, timeframe_ms
from kraken_tui.errors import ProtocolError

from ._data import PF_1H, PF_1M, PF_5M, read_candles

M = 60_000  # one minute in ms
T0 = 1_756_512_000_000  # 2025-08-30 00:00:00 UTC


def test_bar_alignment_is_utc_epoch_based():
    # 2025-08-30 05:17:42.5 UTC -> 4h bar opens at 04:00, 1h at 05:00, 5m at 05:15
    ts = T0 + 5 * 3_600_000 + 17 * M + 42_500
    assert bar_open_ms(ts, timeframe_ms("4h")) == T0 + 4 * 3_600_000
    assert bar_open_ms(ts, timeframe_ms("1h")) == T0 + 5 * 3_600_000
    assert bar_open_ms(ts, timeframe_ms("5m")) == T0 + 5 * 3_600_000 + 15 * M
    with pytest.raises(ValueError, match="unknown timeframe"):
        timeframe_ms("2m")


def test_trades_build_ohlcv_and_close_on_next_bar():
    b = CandleBuilder("PF_XBTUSD", ["1m"])
    assert b.add_trade(T0 + 1_000, 100.0, 1.0) == []
    assert b.add_trade(T0 + 20_000, 103.0, 2.0) == []
    assert b.add_trade(T0 + 40_000, 99.0, 0.5) == []
    assert b.add_trade(T0 + 59_999, 101.0, 1.5) == []
    out = b.add_trade(T0 + M, 102.0, 1.0)  # first print of the next minute closes the first
    assert len(out) == 1 and out[0].timeframe == "1m"
    # O = first 100, H = 103, L = 99, C = last 101, V = 1 + 2 + 0.5 + 1.5 = 5
    assert out[0].candle == Candle(T0, 100.0, 103.0, 99.0, 101.0, 5.0)
    assert out[0].partial is True  # the first print came 1 s after the bar opened
    assert b.forming("1m") == Candle(T0 + M, 102.0, 102.0, 102.0, 102.0, 1.0)


def test_out_of_order_print_inside_bar_keeps_latest_close_and_late_print_is_dropped():
    b = CandleBuilder("X", ["1m"])
    b.add_trade(T0, 100.0, 1.0)
    b.add_trade(T0 + 30_000, 105.0, 1.0)
    b.add_trade(T0 + 10_000, 95.0, 1.0)  # older than the last print, same bar: counts for H/L/V, not close
    out = b.add_trade(T0 + M, 100.0, 1.0)
    assert out[0].candle == Candle(T0, 100.0, 105.0, 95.0, 105.0, 3.0)
    assert out[0].partial is False  # first print exactly at the bar open
    assert b.add_trade(T0 + 50_000, 1.0, 9.0) == []  # belongs to a closed bar: dropped, counted
    assert b.late_updates == 1
    assert b.candles("1m")[-1].low == 95.0


def test_gap_is_filled_with_flat_candles():
    b = CandleBuilder("X", ["1m"])
    b.add_trade(T0, 100.0, 1.0)
    out = b.add_trade(T0 + 3 * M + 5, 110.0, 1.0)  # minutes 1 and 2 had no trade
    assert [(c.candle.ts_ms - T0) // M for c in out] == [0, 1, 2]
    assert [c.filled for c in out] == [False, True, True]
    assert out[1].candle == Candle(T0 + M, 100.0, 100.0, 100.0, 100.0, 0.0)  # flat at the previous close


def test_gap_not_filled_when_disabled_or_too_long():
    b = CandleBuilder("X", ["1m"], fill_gaps=False)
    b.add_trade(T0, 100.0)
    assert len(b.add_trade(T0 + 3 * M, 101.0)) == 1
    b2 = CandleBuilder("X", ["1m"], max_fill_bars=2)
    b2.add_trade(T0, 100.0)
    out = b2.add_trade(T0 + 10 * M, 101.0)  # 9 empty minutes > 2: no invention, counted once
    assert len(out) == 1 and b2.gaps_skipped == 1
    assert b2.advance(T0 + 30 * M)[0].candle.ts_ms == T0 + 10 * M
    b2.advance(T0 + 40 * M)
    assert b2.gaps_skipped == 2  # the silence after minute 10 is a second long gap


def test_advance_closes_quiet_bars_and_fills():
    b = CandleBuilder("X", ["1m", "5m"])
    b.add_trade(T0 + 1_000, 100.0, 1.0)
    assert b.advance(T0 + M - 1) == []
    out = b.advance(T0 + 5 * M)  # minute 0 closes, minutes 1..4 are empty, the 5m bar ends too
    assert [(c.timeframe, (c.candle.ts_ms - T0) // M, c.filled) for c in out] == [
        ("1m", 0, False),
        ("1m", 1, True),
        ("1m", 2, True),
        ("1m", 3, True),
        ("1m", 4, True),
        ("5m", 0, False),
    ]
    assert b.advance(T0 + 5 * M) == []  # idempotent


def test_four_hour_bars_and_multi_timeframe_order():
    b = CandleBuilder("X", ["4h", "1m", "1h"])
    assert b.timeframes == ("1m", "1h", "4h")
    b.add_trade(T0 + 3 * 3_600_000 + 59 * M, 100.0)  # 03:59
    out = b.add_trade(
        T0 + 4 * 3_600_000, 101.0
    )  # 04:00 closes the 03:59 minute, the 03:00 hour, the 00:00 4h bar
    assert [(c.timeframe, c.candle.ts_ms) for c in out] == [
        ("1m", T0 + 3 * 3_600_000 + 59 * M),
        ("1h", T0 + 3 * 3_600_000),
        ("4h", T0),
    ]


def test_add_candle_rejects_larger_source():
    b = CandleBuilder("X", ["1m", "5m"])
    with pytest.raises(ValueError, match="cannot build 1m candles from 5m"):
        b.add_candle(Candle(T0, 1, 1, 1, 1), "5m")


def test_1m_candles_aggregate_to_the_real_5m_and_1h_candles(shared_data):
    one = read_candles(shared_data(PF_1M))
    ref = {("5m", c.ts_ms): c for c in read_candles(shared_data(PF_5M))}
    ref.update({("1h", c.ts_ms): c for c in read_candles(shared_data(PF_1H))})
    b = CandleBuilder("PF_XBTUSD", ["1m", "5m", "1h"])
    full = 0
    for c in one:
        for cc in b.add_candle(c, "1m"):
            if cc.timeframe == "1m":
                assert cc.candle == c
                continue
            r = ref[(cc.timeframe, cc.candle.ts_ms)]
            if cc.partial:  # the file starts at 13:41, inside a 5m and a 1h bar
                assert cc.candle.open != r.open
                continue
            assert (cc.candle.open, cc.candle.high, cc.candle.low, cc.candle.close) == (
                r.open,
                r.high,
                r.low,
                r.close,
            )
            assert cc.candle.volume == pytest.approx(r.volume, rel=1e-12)
            full += 1
    assert full == 99 + 8  # SOURCES.md: 107 fully covered 5m and 1h candles match
    assert len(b.candles("1m")) == 500


def test_warm_up_then_live_trades(shared_data):
    hist = read_candles(shared_data(PF_1M))[:10]
    b = CandleBuilder("PF_XBTUSD", ["1m"])
    now = hist[-1].ts_ms + 30_000  # the last charts candle is still forming
    closed = b.warm_up("1m", hist, now_ms=now)
    assert closed == hist[:-1] and list(b.candles("1m")) == hist[:-1]
    out = b.add_trade(now, hist[-1].high + 5, 0.1)
    assert out == []
    out = b.add_trade(hist[-1].ts_ms + M, 1.0, 0.0)
    assert out[0].candle.high == hist[-1].high + 5 and out[0].candle.open == hist[-1].open
    assert out[0].candle.volume == pytest.approx(hist[-1].volume + 0.1)


def test_warm_up_rejects_bad_history():
    b = CandleBuilder("PF_XBTUSD", ["5m"])
    with pytest.raises(ProtocolError, match=r"charts PF_XBTUSD 5m.*candle #1 time .* not aligned") as ei:
        b.warm_up("5m", [Candle(T0, 1, 1, 1, 1), Candle(T0 + M, 1, 1, 1, 1)])
    assert ei.value.field == "time"
    with pytest.raises(ProtocolError, match="not after"):
        b.warm_up("5m", [Candle(T0 + 5 * M, 1, 1, 1, 1), Candle(T0, 1, 1, 1, 1)])
    b.add_trade(T0, 1.0)
    with pytest.raises(ValueError, match="before any update"):
        b.warm_up("5m", [Candle(T0, 1, 1, 1, 1)])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20 * M), st.floats(1, 1e6), st.floats(0, 100)), min_size=1, max_size=60)
)
def test_random_trades_give_consistent_candles(trades):
    trades.sort(key=lambda t: t[0])
    b = CandleBuilder("X", ["1m", "5m"])
    closed = []
    for ts, px, sz in trades:
        closed += b.add_trade(T0 + ts, px, sz)
    closed += b.advance(T0 + 30 * M)
    for tf in ("1m", "5m"):
        cs = [c.candle for c in closed if c.timeframe == tf]
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in cs)
        assert all(c.ts_ms % timeframe_ms(tf) == 0 for c in cs)
        assert [c.ts_ms for c in cs] == sorted({c.ts_ms for c in cs})  # ascending, no duplicates
        assert [c.ts_ms for c in cs] == list(
            range(cs[0].ts_ms, cs[-1].ts_ms + 1, timeframe_ms(tf))
        )  # contiguous
        assert sum(c.volume for c in cs) == pytest.approx(sum(t[2] for t in trades), abs=1e-6)
