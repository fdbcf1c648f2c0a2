"""``research.resample``: longer bars from a candle file by the engine's CandleBuilder, hand-computed."""

from __future__ import annotations

import pytest

from kraken_tui.backtest.data import open_candles
from kraken_tui.research.resample import main, resample

M5 = 300_000
T = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # on the hour (UTC)


def test_three_5m_bars_make_one_15m_bar_and_an_unfinished_bar_is_dropped():
    rows = [(T, 10.0, 12.0, 9.0, 11.0, 1.0), (T + M5, 11.0, 15.0, 10.0, 14.0, 2.0),
            (T + 2 * M5, 14.0, 14.5, 8.0, 9.5, 3.0), (T + 3 * M5, 9.5, 20.0, 9.0, 19.0, 4.0)]
    # open of the first, highest high, lowest low, close of the last, summed volume; the 4th bar's 15m is unfinished
    assert list(resample(rows, "5m", "15m")) == [(T, 10.0, 15.0, 8.0, 9.5, 6.0)]
    # a gap: the bar is built from what there is (no invented bar in between)
    gap = [rows[0], rows[1], rows[2], (T + 6 * M5, 1.0, 2.0, 0.5, 1.5, 1.0), (T + 7 * M5, 1.5, 1.6, 1.4, 1.5, 1.0),
           (T + 8 * M5, 1.5, 1.5, 1.5, 1.5, 1.0)]
    assert [r[0] for r in resample(gap, "5m", "15m")] == [T, T + 6 * M5]


def test_bad_timeframes_are_refused():
    with pytest.raises(ValueError, match="cannot build 15m bars from 1h bars"):
        list(resample([], "1h", "15m"))
    with pytest.raises(ValueError, match="unknown timeframe '7m'"):
        list(resample([], "5m", "7m"))


def test_the_command_writes_a_file_the_backtest_reads(shared_data, tmp_path):
    src = shared_data("kraken/pf_xbtusd_5m_2025-08.csv")
    out = tmp_path / "xbt_1h.csv"
    assert main([str(src), "--timeframe", "1h", "--out", str(out)]) == 0
    stream = open_candles(out, symbol="PF_XBTUSD")
    bars = list(stream.rows)
    five = list(open_candles(src, symbol="PF_XBTUSD").rows)
    assert stream.timeframe == "1h" and 38 <= len(bars) <= 42
    first = [r for r in five if bars[1][0] <= r[0] < bars[1][0] + 3_600_000]
    assert len(first) == 12 and bars[1][1:5] == (first[0][1], max(r[2] for r in first), min(r[3] for r in first),
                                                 first[-1][4])
    assert main([str(src), "--timeframe", "1m", "--out", str(tmp_path / "x.csv")]) == 2
