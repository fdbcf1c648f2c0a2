"""Replay file formats: detection, strict parsing, and DataFileError naming file, line and field."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.errors import DataFileError
from kraken_tui.paper.sources.replay_files import (
    detect_format,
    infer_bar_ms,
    iter_ws_recording,
    read_candles,
    read_funding_csv,
    to_epoch_ms,
)

HDR = "time,open,high,low,close,volume\n"


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_detects_the_four_shared_formats(shared_data):
    assert detect_format(shared_data("kraken/pf_xbtusd_1m_2025-08.csv")) == "charts_csv"
    assert detect_format(shared_data("kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv")) == "ohlcvt_csv"
    assert detect_format(shared_data("kraken/kraken_futures_ws_v1_2021-07-22.jsonl")) == "ws_jsonl"


def test_charts_csv_in_seconds_matches_the_shared_file(shared_data):
    candles = read_candles(shared_data("kraken/pf_xbtusd_1m_2025-08.csv"))
    assert len(candles) == 500  # SOURCES.md table
    # first row: 1756561260,108495,108512,108495,108512,0.1979 -> seconds * 1000
    assert candles[0].ts_ms == 1_756_561_260_000
    assert (candles[0].open, candles[0].high, candles[0].low, candles[0].close) == (108495, 108512, 108495, 108512)
    assert infer_bar_ms(candles) == 60_000


def test_ohlcvt_with_gaps_and_bar_from_smallest_step(shared_data):
    candles = read_candles(shared_data("kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv"))
    assert len(candles) == 25_901  # SOURCES.md
    assert infer_bar_ms(candles) == 300_000
    assert max(b.ts_ms - a.ts_ms for a, b in zip(candles, candles[1:], strict=False)) == 80 * 60_000


def test_charts_json_in_ms_with_string_numbers(tmp_path):
    doc = {"candles": [{"time": 1731715200000, "open": "91069", "high": "91373.5", "low": "90956",
                        "close": "91045.5", "volume": "319499"},
                       {"time": 1731718800000, "open": "91045.5", "high": "91488.5", "low": "91045.5",
                        "close": "91415", "volume": 2407}], "more_candles": False}
    p = _write(tmp_path, "c.json", json.dumps(doc, indent=2))
    assert detect_format(p) == "charts_json"
    c = read_candles(p)
    assert [x.ts_ms for x in c] == [1731715200000, 1731718800000]
    assert c[0].high == 91373.5 and c[1].volume == 2407
    assert infer_bar_ms(c) == 3_600_000


def test_ms_and_seconds_rule():
    assert to_epoch_ms(1_756_561_260) == 1_756_561_260_000
    assert to_epoch_ms(1_756_561_260_000) == 1_756_561_260_000
    assert to_epoch_ms(1626994927.139662) == 1626994927140


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        ("60,abc,2,1,1.5,3", "open", "expected a number"),
        ("60,1,2,1,nan,3", "close", "finite"),
        ("60,1,2,1,inf,3", "close", "finite"),
        ("60,1.5,1,2,1.5,3", "high", "below"),  # high < low
        ("60,1,3,1.5,2,3", "low", "above"),  # low above open
        ("60,1,2,1,1.5,-1", "volume", ">= 0"),
        ("60,0,2,0,1,1", "open", "> 0"),
        ("60.5,1,2,1,1.5,3", "time", "integer"),
    ],
)
def test_bad_csv_rows_name_file_line_and_field(tmp_path, row, field, why):
    p = _write(tmp_path, "bad.csv", HDR + "0,1,2,1,1.5,3\n" + row + "\n")
    with pytest.raises(DataFileError) as ei:
        read_candles(p)
    err = ei.value
    assert (err.path, err.line, err.field) == (str(p), 3, field)
    assert why in err.reason and str(p) in str(err)


@pytest.mark.parametrize(("second", "what"), [("120", "duplicate"), ("60", "out-of-order")])
def test_unsorted_or_duplicate_times_are_rejected(tmp_path, second, what):
    p = _write(tmp_path, "o.csv", f"120,1,2,1,1.5,3\n{second},1,2,1,1.5,3\n")
    with pytest.raises(DataFileError) as ei:
        read_candles(p)
    assert ei.value.line == 2 and ei.value.field == "time" and what in ei.value.reason


def test_wrong_column_count_and_bad_json_candle(tmp_path):
    p = _write(tmp_path, "x.csv", "60,1,2,1,1.5\n")
    with pytest.raises(DataFileError, match=r"x\.csv:1: expected 7 columns"):
        read_candles(p)
    p = _write(tmp_path, "x.json", json.dumps({"candles": [{"time": 1, "open": "1", "high": "x", "low": "1",
                                                             "close": "1", "volume": "0"}]}))
    with pytest.raises(DataFileError) as ei:
        read_candles(p)
    assert ei.value.field == "candles[0].high"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(junk=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60))
def test_hypothesis_junk_line_is_a_data_file_error_or_a_valid_candle(tmp_path, junk):
    junk = junk.replace("\r", " ").replace("\n", " ")
    p = _write(tmp_path, "j.csv", HDR + "60,1,2,1,1.5,3\n" + junk + "\n")
    try:
        candles = read_candles(p)
    except DataFileError as err:
        assert err.path == str(p) and err.line in (2, 3)
    else:  # a blank line or a genuinely valid row
        assert all(math.isfinite(c.close) and c.low <= c.high for c in candles)


@settings(max_examples=100, deadline=None)
@given(o=st.floats(1, 1e6), h=st.floats(1, 1e6), lo=st.floats(1, 1e6), c=st.floats(1, 1e6),
       v=st.floats(0, 1e6))
def test_hypothesis_candle_invariants(tmp_path_factory, o, h, lo, c, v):
    p = tmp_path_factory.mktemp("h") / "h.csv"
    p.write_text(HDR + f"60,{o!r},{h!r},{lo!r},{c!r},{v!r}\n", encoding="utf-8")
    valid = h >= max(o, c, lo) and lo <= min(o, c)
    if valid:
        (candle,) = read_candles(p)
        assert candle.high == h and candle.low == lo
    else:
        with pytest.raises(DataFileError) as ei:
            read_candles(p)
        assert ei.value.field in ("high", "low")


def test_funding_csv_shared_file(shared_data):
    rates = read_funding_csv(shared_data("kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"))
    assert len(rates) == 8758  # SOURCES.md
    assert rates[0].ts_ms == 1755072000000 and rates[0].funding_rate == 1.4566086111111e-05
    assert rates[0].symbol == "BTC/USD:BTC"


@pytest.mark.parametrize(
    ("row", "field"),
    [("1755072000001,X,0.0001,v", "ts"), ("1755072000000,X,abc,v", "funding_rate"),
     ("1755072000000,X,NaN,v", "funding_rate"), ("1755072000000,X,1.5,v", "funding_rate")],
)
def test_bad_funding_rows(tmp_path, row, field):
    p = _write(tmp_path, "f.csv", "ts,symbol,funding_rate,venue\n" + row + "\n")
    with pytest.raises(DataFileError) as ei:
        read_funding_csv(p)
    assert (ei.value.line, ei.value.field) == (2, field)


def test_funding_duplicate_hour_rejected(tmp_path):
    p = _write(tmp_path, "f.csv", "ts,funding_rate\n3600000,0.0001\n3600000,0.0002\n")
    with pytest.raises(DataFileError, match="duplicate"):
        read_funding_csv(p)


def test_ws_recording_lines(shared_data):
    lines = list(iter_ws_recording(shared_data("kraken/kraken_futures_ws_v1_2021-07-22.jsonl")))
    assert len(lines) == 7179  # SOURCES.md: 1 connect + 3 out + 7175 in
    assert [sum(1 for x in lines if x.direction == d) for d in ("connect", "out", "in")] == [1, 3, 7175]
    assert lines[0].ts_ms == 1626994927140  # 1626994927.139662 s rounded to ms


@pytest.mark.parametrize(
    ("line", "field"),
    [('{"ts":"x","dir":"in","msg":{}}', "ts"), ('{"ts":1,"dir":"sideways","msg":{}}', "dir"),
     ('{"ts":1,"dir":"in","msg":[1]}', "msg"), ("not json", None)],
)
def test_ws_recording_bad_lines(tmp_path, line, field):
    p = _write(tmp_path, "r.jsonl", '{"ts":1,"dir":"connect","url":"u"}\n' + line + "\n")
    with pytest.raises(DataFileError) as ei:
        list(iter_ws_recording(p))
    assert (ei.value.line, ei.value.field) == (2, field)


def test_unknown_and_empty_files(tmp_path):
    with pytest.raises(DataFileError, match="empty"):
        detect_format(_write(tmp_path, "e.csv", "\n\n"))
    with pytest.raises(DataFileError, match="unknown format"):
        detect_format(_write(tmp_path, "u.txt", "hello,world\n"))
    with pytest.raises(DataFileError, match="not found"):
        detect_format(tmp_path / "missing.csv")
