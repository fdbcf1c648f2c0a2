"""Candle files read as column chunks: the CSV fast path gives the slow path's rows and errors, the row
iterator and its chunk hand-out agree, and ``Backtest.run`` gives the same result from rows or chunks."""

from __future__ import annotations

import pytest

from kraken_tui.backtest.columns import CandleRows, chunked
from kraken_tui.backtest.data import open_candles
from kraken_tui.backtest.runner import Backtest
from kraken_tui.errors import DataFileError
from kraken_tui.paper.sources import candle_csv as csvfile
from kraken_tui.paper.sources.candle_csv import _Lines, csv_chunks

from ._util import PF_1M, SPOT_1H, settings_for


def _rows(chunks):
    return [r for cols in chunks for r in zip(*cols, strict=True)]


def _slow(path, header):
    """Every line through the line-by-line parser (the reference)."""
    st = _Lines(str(path), header, None)
    return list(zip(*st.feed(path.read_bytes().decode()), strict=True))


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 700)  # many blocks, so most go through the fast path


def _write(tmp_path, text, name="c.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode())
    return p


def _body(n, sep="\n", seconds=True, extra=""):
    t0 = 1_754_000_000 if seconds else 1_754_000_000_000
    step = 60 if seconds else 60_000
    return "".join(f"{t0 + i * step},{100 + i % 7}.5,{110 + i % 7},{90 + i % 5}.25,{101 + i % 3},{i % 4}.0{extra}{sep}"
                   for i in range(n))


@pytest.mark.parametrize("case", ["charts", "crlf", "ohlcvt", "ms", "reordered", "blank_lines", "no_final_newline"])
def test_fast_path_rows_equal_slow_path(tmp_path, small_blocks, case):
    header = True
    if case == "charts":
        text = "time,open,high,low,close,volume\n" + _body(300)
    elif case == "crlf":
        text = "time,open,high,low,close,volume\r\n" + _body(300, "\r\n")
    elif case == "ohlcvt":
        header, text = False, _body(300, extra=",12")
    elif case == "ms":
        text = "time,open,high,low,close,volume\n" + _body(300, seconds=False)
    elif case == "reordered":
        rows = [ln.split(",") for ln in _body(300).splitlines()]
        text = "volume,close,low,high,open,time\n" + "".join(",".join(reversed(r)) + "\n" for r in rows)
    elif case == "blank_lines":
        text = "time,open,high,low,close,volume\n" + _body(150) + "\n \n" + _body(150).replace("17540", "17541")
    else:
        text = "time,open,high,low,close,volume\n" + _body(300).rstrip("\n")
    p = _write(tmp_path, text)
    got = _rows(csv_chunks(p, header))
    assert got == _slow(p, header)
    assert len(got) == 300
    assert got[0][0] % 1000 == 0 and all(isinstance(r[1], float) for r in got)


def test_a_bad_row_deep_in_the_file_names_its_line(tmp_path, small_blocks):
    lines = _body(300).splitlines()
    lines[250] = lines[250].replace(",", ",-", 1)  # negative open on data line 251 = file line 252
    p = _write(tmp_path, "time,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataFileError) as e:
        _rows(csv_chunks(p, True))
    assert e.value.line == 252 and e.value.field == "open"


def test_out_of_order_time_in_the_fast_path_is_reported(tmp_path, small_blocks):
    lines = _body(300).splitlines()
    lines[200], lines[201] = lines[201], lines[200]
    p = _write(tmp_path, "time,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match="out-of-order") as e:
        _rows(csv_chunks(p, True))
    assert e.value.line == 203


def test_stop_ms_stops_before_the_bar_and_reads_no_further(tmp_path, small_blocks):
    lines = _body(300).splitlines()
    lines[299] = "garbage"
    p = _write(tmp_path, "time,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    stop = (1_754_000_000 + 100 * 60) * 1000
    got = _rows(csv_chunks(p, True, stop_ms=stop))
    assert len(got) == 100 and got[-1][0] < stop


def test_candle_rows_next_take_and_peek_agree():
    rows = [(i, 1.0 + i, 2.0 + i, 0.5, 1.5 + i, 0.0) for i in range(25)]
    cr = CandleRows(chunked(rows, 7))
    assert cr.peek(10) == rows[:10]
    assert next(cr) == rows[0]
    a = cr.take(3)
    assert list(zip(*a, strict=True)) == rows[1:4]
    rest = []
    while (cols := cr.take()) is not None:
        rest += list(zip(*cols, strict=True))
    assert rest == rows[4:]
    assert cr.take() is None and list(cr) == []


@pytest.mark.parametrize("src", [PF_1M, SPOT_1H])
def test_run_from_chunks_equals_run_from_plain_rows_and_in_pieces(shared_data, src):
    s, rows = settings_for(shared_data(src), "sma_cross", fees=(2.0, 5.0), slippage_bps=1.0)
    a = Backtest(s)
    a.run(rows)
    ra = a.finish()
    b = Backtest(s)
    b.run(iter(list(open_candles(shared_data(src), symbol="PF_XBTUSD").rows)))  # plain tuples
    rb = b.finish()
    c = Backtest(s)
    stream = open_candles(shared_data(src), symbol="PF_XBTUSD").rows
    while c.run(stream, limit=333).candles % 333 == 0 and c.result.candles < ra.candles:
        pass
    rc = c.finish()
    assert ra.candles == rb.candles == rc.candles > 400
    assert ra.fingerprint == rb.fingerprint == rc.fingerprint
    assert ra.rows == rb.rows == rc.rows and ra.curve == rb.curve == rc.curve


@pytest.mark.parametrize("case", ["charts", "reordered"])
def test_fast_path_chunks_carry_arrays_equal_to_their_lists(tmp_path, small_blocks, case):
    from kraken_tui.domain.candle_columns import ArrayColumns

    pytest.importorskip("numpy")  # loaded: small blocks take the numpy path (candle_csv.NP_MIN_BYTES)
    text = _body(300)
    head = "time,open,high,low,close,volume\n"
    if case == "reordered":
        head = "volume,close,low,high,open,time\n"
        text = "".join(",".join(reversed(ln.split(","))) + "\n" for ln in text.splitlines())
    chunks = list(csv_chunks(_write(tmp_path, head + text), True))
    fast = [c for c in chunks if type(c) is ArrayColumns]
    assert len(fast) > 1, [type(c) for c in chunks]
    # every chunk's arrays are its own, equal to its lists
    for c in fast:
        assert [a.tolist() for a in c.arrays] == list(c)
        assert str(c.arrays[0].dtype) == "int64" and all(str(a.dtype) == "float64" for a in c.arrays[1:])
