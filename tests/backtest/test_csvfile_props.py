"""The candle CSV reader against its line-by-line reference on generated files.

For generated CSV texts (clean, and subtly broken: NaN, inf, blank lines, CRLF, bare CR, bad field counts,
out-of-order times, header variants, 7-column OHLCVT files, odd number spellings) the chunked reader gives the
reference's rows (same values, same types, -0.0 kept) or the reference's ``DataFileError`` (message, line,
field), with numpy's fast path and with the pure-Python one. numpy's field parser is checked against
``float`` on random strings, a clean file must really go through the numpy path, and the reader still works
with numpy made unavailable.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.errors import DataFileError
from kraken_tui.paper.sources import candle_csv as csvfile
from kraken_tui.paper.sources.candle_csv import _Lines, _slow_block, csv_chunks

HEADERS = [
    "time,open,high,low,close,volume", "Timestamp,Open,High,Low,Close,Volume", '"time","open","high","low","close","volume"',
    " time , open , high , low , close , volume ", "volume,close,low,high,open,time", "time,open,high,low,close,volume,trades",
    "time,open,high,low,close,trades,volume", "time,open,high,low,close", "open,high,low,close,volume",
    "time,open,high,low,close,volume,a,b",
]
ODD = [
    "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "-1", "0", "-0", "-0.0", "", " ", "1_000",
    "\u0661\u0662", "1.5\xa0", "\xa01.5", "0x10", "1e3", "170.0", "1.7e12", "1754000000.5", "abc", '"5"', "5#", "#5",
    "+5", " 5 ", "\t5", "5\x0c", "5\x1c", "9007199254740993", "99999999999999999999", "1.0000000000000000000001",
    "0.1e1", ".5", "5.", "1E5", "+.5e-1", "5\x00", "\u20135", "5\u2028", "1754000000000", "1754000060", "١.٥",
]
NUMBER = st.one_of(
    st.integers(1, 200_000).map(str),
    st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.17e}"),
    st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: f"+{x:.3f}"),
    st.integers(1, 10**30).map(lambda k: f"1.{k}"),
    st.sampled_from(ODD),
)


@st.composite
def csv_files(draw) -> tuple[bytes, bool, int | None]:
    """(file bytes, header flag, stop_ms) with mostly valid rows and a few broken ones."""
    header = draw(st.booleans())
    if header:
        head = draw(st.sampled_from(HEADERS))
        names = [x.strip().strip('"').lower().replace("timestamp", "time") for x in head.split(",")]
    else:
        head = None
        names = ["time", "open", "high", "low", "close", "volume"] + draw(st.sampled_from([[], ["trades"], ["trades"],
                                                                                           ["a", "b"]]))
    ms = draw(st.booleans())
    unit = 1000 if ms else 1
    t = t0 = draw(st.integers(0, 2_000_000_000)) * unit
    lines = [] if head is None else [head]
    n = draw(st.integers(0, 80))
    # one kind of defect at a few rows (the rest clean, so most blocks reach the fast path); blank lines apart
    kind = draw(st.sampled_from(["none", "none", "field", "time", "order", "count", "rule", "respell"]))
    bad = set(draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3))) if kind != "none" else set()
    blanks = draw(st.sampled_from([0, 0, 10]))  # 1 in blanks rows followed by a blank or odd line
    for i in range(n):
        hit = i in bad
        t += (draw(st.sampled_from([1, 0, -1, -60])) if hit and kind == "order" else 60) * unit
        lo = draw(st.integers(1, 100_000))
        o, c = lo + draw(st.integers(0, 50)), lo + draw(st.integers(0, 50))
        h = max(o, c) + draw(st.integers(0, 50))
        if hit and kind == "rule":
            o, h, lo, c = draw(st.sampled_from([(h + 1, h, lo, c), (o, h, o + 1, c), (o, min(o, c) - 1 or 1, lo, c),
                                                (o, h, lo, lo - 1), (o, h, lo, h + 1)]))
        vals = {"time": str(t), "open": str(o), "high": str(h), "low": str(lo), "close": str(c),
                "volume": draw(st.sampled_from(["0", "1.5", "0.1979", "12", "-0.0", "0e0"])), "trades": "7"}
        if hit and kind == "time":
            vals["time"] = draw(st.sampled_from([f"{t}.5", f"{t}.0", f"{t}e0", f"{t}\x1c", f"{t}\x1f", f" {t}\xa0",
                                                 f"+{t}", f"0{t}", f"{t}_0", f"{t / 10}e1", f"{t}.0000000000000001"]))
        fields = [vals.get(name, "3") for name in names]
        k = draw(st.integers(0, len(fields) - 1))
        if hit and kind == "field":
            fields[k] = draw(NUMBER)
        elif hit and kind == "respell":
            fields[k] = draw(st.sampled_from([f" {fields[k]}", f"+{fields[k]}", f"{fields[k]}.000", f"{fields[k]}e0",
                                              f"0{fields[k]}", f"{fields[k]}\t", f"{fields[k]}\x1c"]))
        elif hit and kind == "count":
            fields = fields[:-1] if draw(st.booleans()) else [*fields, "1"]
        lines.append(",".join(fields))
        if blanks and draw(st.integers(1, blanks)) == 1:
            lines.append(draw(st.sampled_from(["", "", " ", "\t", "#", ",", "\x0c"])))
    seps = draw(st.sampled_from([["\n"], ["\r\n"], ["\n", "\r\n"], ["\n", "\n", "\n", "\r"]]))
    text = "".join(ln + draw(st.sampled_from(seps)) for ln in lines)
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")
    data = text.encode()
    stop = None
    if draw(st.integers(0, 3)) == 0:
        stop = (t0 + draw(st.integers(-1, n + 1)) * 60 * unit) * (1 if ms else 1000)
    if draw(st.integers(0, 19)) == 0 and data and b"\r" not in data:
        k = draw(st.integers(0, len(data) - 1))
        data = data[:k] + b"\xff" + data[k:]  # not UTF-8
    return data, header, stop


def _outcome(fn):
    """('ok', rows as reprs: values, int/float and -0.0 all compared) or ('err', message, line, field)."""
    try:
        return "ok", [tuple(map(repr, row)) for row in fn()]
    except DataFileError as exc:
        return "err", str(exc), exc.line, exc.field
    except ValueError as exc:  # must not happen (a time "5\x1c" once crashed both paths); kept to compare alike
        return "crash", type(exc).__name__, str(exc)


def _reference(path: Path, data: bytes, header: bool, stop: int | None):
    """Every line through the line-by-line parser."""
    return list(zip(*_slow_block(_Lines(str(path), header, stop), data), strict=True))


def _reader(path: Path, header: bool, stop: int | None):
    return [row for cols in csv_chunks(path, header, stop_ms=stop) for row in zip(*cols, strict=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([40, 100, 333, 1 << 16]))
def test_reader_gives_the_line_by_line_rows_or_error(case, block):
    """numpy path == pure-Python path == line-by-line reference. A line that is not UTF-8 is reported when its
    block is decoded (before an earlier bad row of the same block, as before numpy): compared path to path only."""
    data, header, stop = case
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        path = Path(d) / "c.csv"
        path.write_bytes(data)
        mp.setattr(csvfile, "BLOCK_BYTES", block)
        got = _outcome(lambda: _reader(path, header, stop))
        mp.setattr(csvfile, "_np", None)
        assert got == _outcome(lambda: _reader(path, header, stop))
    if b"\xff" not in data:
        assert got == _outcome(lambda: _reference(path, data, header, stop))


FIELD_CHARS = st.sampled_from(list("0123456789+-.eE_ \t\r\x0b\x0c\x1c\xa0\u2000\u0661xXpPinfatyINFATY,#\"\x00"))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(FIELD_CHARS, max_size=30), NUMBER,
                 st.floats().map(repr), st.floats().map(lambda x: f" {x:+.25e}\t"),
                 st.from_regex(r"\A[ \t]*[+-]?[0-9]{0,25}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,4})?[ \t]*\Z")))
def test_numpy_field_parser_agrees_with_float(field):
    """Whatever loadtxt accepts as a float, ``float`` accepts with the same bits (the fast path's premise)."""
    try:
        got = np.loadtxt(io.StringIO(f"1,{field}\n"), dtype=np.float64, delimiter=",", comments=None,
                         quotechar=None, ndmin=2)
    except ValueError:
        return
    if got.shape != (1, 2) or any(c.decode() in field for c in csvfile._NP_DECLINE):
        return  # a comma or newline in the field (the shape check) or a character the reader declines
    assert repr(float(got[0, 1])) == repr(float(field))


PLAIN_FIELD = st.one_of(
    st.from_regex(r"\A[0-9]{0,20}(\.[0-9]{0,20})?\Z"),
    st.integers(0, 2**53 + 5).map(str),
    st.floats(0.0, 1e12, allow_nan=False).map(repr).filter(lambda x: "e" not in x),
    st.tuples(st.integers(0, 2**53 + 2), st.integers(0, 19)).map(
        lambda mk: (lambda d, k: (d[:-k] + "." + d[-k:]) if k else d)(str(mk[0]).rjust(mk[1] + 1, "0"), mk[1])),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.lists(PLAIN_FIELD, min_size=2, max_size=2), min_size=1, max_size=6))
def test_plain_decimal_parser_agrees_with_float(rows):
    """The plain-decimal parser gives ``float``'s bits for every field, or declines the block (None) when a
    field is not a plain decimal it can convert exactly (empty, ``.``, two points, a mantissa beyond 2**53)."""
    block = "".join(",".join(r) + "\n" for r in rows).encode()
    got = csvfile._plain_matrix(np, block, 2)
    want = []
    for r in rows:
        for f in r:
            digits = f.replace(".", "")
            if not digits or f.count(".") > 1 or len(digits) > 18 or int(digits) > 2**53:
                assert got is None
                return
            want.append(float(f))
    assert got is not None, block
    assert [x.hex() for x in got.ravel().tolist()] == [x.hex() for x in want]


@pytest.mark.parametrize("block", [b"1,2\n3\n", b"1,2,3\n", b"1,-2\n", b"1,2e3\n", b"1, 2\n", b"1,2\r\n",
                                   b"1,\n", b",1\n", b"1,2\n\n", b"\n", b"1,+2\n", b"1,0x1\n"])
def test_plain_decimal_parser_declines_what_is_not_plain(block):
    assert csvfile._plain_matrix(np, block, 2) is None


def test_plain_decimal_parser_reads_a_charts_block():
    got = csvfile._plain_matrix(np, b"1577836800,100000,100031,99979.5,.5,4.4575\n1577836860,5.,7,1,2,0\n", 6)
    assert got.tolist() == [[1577836800.0, 100000.0, 100031.0, 99979.5, 0.5, 4.4575],
                            [1577836860.0, 5.0, 7.0, 1.0, 2.0, 0.0]]


def _clean(tmp_path, n=3000, seconds=True):
    t0, step = (1_754_000_000, 60) if seconds else (1_754_000_000_000, 60_000)
    rows = "".join(f"{t0 + i * step},{100 + i % 7}.5,{110 + i % 7},{90 + i % 5}.25,{101 + i % 3},{i % 4}.01\n"
                   for i in range(n))
    p = tmp_path / "clean.csv"
    p.write_text("time,open,high,low,close,volume\n" + rows)
    return p


def test_a_clean_file_goes_through_the_numpy_path(tmp_path, monkeypatch):
    p = _clean(tmp_path)
    slow, fast_np = [], []
    real_slow, real_np = csvfile._slow_block, csvfile._Lines._fast_np

    def count_np(self, block):
        out = real_np(self, block)
        fast_np.append(len(out[0]))
        return out

    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(csvfile, "_slow_block", lambda st, block: slow.append(block) or real_slow(st, block))
    monkeypatch.setattr(csvfile._Lines, "_fast_np", count_np)
    monkeypatch.setattr(csvfile._Lines, "_fast_py", lambda *a: pytest.fail("pure-Python path used with numpy"))
    rows = _reader(p, True, None)
    assert len(rows) == 3000 and rows[0] == (1_754_000_000_000, 100.5, 110.0, 90.25, 101.0, 0.01)
    assert len(slow) == 1 and slow[0].startswith(b"time,")  # only the header's block
    assert sum(fast_np) == 3000 - slow[0].count(b"\n") + 1 and len(fast_np) > 20
    assert rows == _reference(p, p.read_bytes(), True, None)


def test_without_numpy_the_pure_python_path_reads_the_same_rows(tmp_path, monkeypatch):
    p = _clean(tmp_path, seconds=False)
    with_np = _reader(p, True, None)
    used = []
    real_py = csvfile._Lines._fast_py
    monkeypatch.setattr(csvfile, "_np", None)
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(csvfile._Lines, "_fast_py", lambda self, b: used.append(b) or real_py(self, b))
    monkeypatch.setattr(csvfile._Lines, "_fast_np", lambda *a: pytest.fail("numpy path used without numpy"))
    assert _reader(p, True, None) == with_np and len(with_np) == 3000 and len(used) > 20
    lines = p.read_text().splitlines()
    lines[2500] = lines[2500].replace(",", ",nan,", 1).rsplit(",", 1)[0]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match="not a finite number") as e:
        _reader(p, True, None)
    assert (e.value.line, e.value.field) == (2501, "open")


def _block_starts(data: bytes, block: int) -> list[int]:
    """0-based line numbers that open a block of ``csv_chunks`` (read ``block`` bytes, then to the line end)."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(data.count(b"\n", 0, pos))
        nl = data.find(b"\n", pos + block - 1)
        pos = len(data) if nl < 0 else nl + 1
    return starts


@pytest.mark.parametrize("spell", [
    "{t}.5", "{t}.0", "{t}e0", "{t}\x1c", "{t}\x1f", " {t}\xa0", "+{t}", "{t}_0", "{t}.0000000000000001", "{p}",
    "{t},", "{t}\r", "{dup}", "{back}", "", "\n{t}", "\n\n\n{t}", "\n \n{t}", "\n" * 800 + "{t}", "{t},1,1,1,0.5,1#",
    "{t},1,1,1,1,nan#", "{t},1,1,1,1,inf#", "{t},1,1,1,1,1e400#", "{t},1,1,1,1,-0.0#", "{t},1,1,1,1,1,1#*",
    "{t},1,1,1,1,-1#", "{t},1,inf,1,1,1#", "{t},0,1,0,1,1#", "{t},-1,1,-2,-1,1#", "{t},1,nan,1,1,1#",
])
@pytest.mark.parametrize("where", ["block start", "mid block"])
def test_a_respelt_row_in_a_fast_block_reads_as_the_reference(tmp_path, monkeypatch, spell, where):
    """Deterministic cases at and inside a block boundary (times that only look like integers, a time the slow
    path crashes on, a duplicate or earlier time at the block's first row, blank lines before a later error)."""
    p = _clean(tmp_path, 300)
    data = p.read_bytes()
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 700)
    k = _block_starts(data, 700)[6] + (0 if where == "block start" else 3)
    lines = data.decode().split("\n")
    t, rest = lines[k].split(",", 1)
    prev = lines[k - 1].split(",", 1)[0]
    lines[k] = spell.format(t=t, p=prev, dup=prev, back=int(prev) - 1) + "," + rest
    if "#" in spell:  # the whole row given (low above close, a non-finite or -0.0 volume, 7 fields from here on)
        lines[k] = lines[k].split("#")[0]
        if "*" in spell:
            lines[k + 1:-1] = [ln + ",1" for ln in lines[k + 1:-1]]
    if "\n" in spell:  # blank lines before this row; the error to report is further down
        lines[k + 40] = lines[k + 40].replace(",", ",-", 1)
    data = "\n".join(lines).encode()
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. loadtxt's "input contained no data" on a block of blank lines
        got = _outcome(lambda: _reader(p, True, None))
    monkeypatch.setattr(csvfile, "_np", None)
    assert got == _outcome(lambda: _reader(p, True, None)) == _outcome(lambda: _reference(p, data, True, None))


@pytest.mark.parametrize("last", ["9007199254740993", "9007199254740992", "9007199254740991", "9007199254740990.5",
                                  "99999999999999999999", "1e300"])
def test_a_time_beyond_float_precision_keeps_its_exact_value(tmp_path, monkeypatch, last):
    p = _clean(tmp_path, 300, seconds=False)
    lines = p.read_text().splitlines()
    lines[-1] = last + "," + lines[-1].split(",", 1)[1]
    data = ("\n".join(lines) + "\n").encode()
    p.write_bytes(data)
    monkeypatch.setattr(csvfile, "BLOCK_BYTES", 700)
    got = _outcome(lambda: _reader(p, True, None))
    assert got == _outcome(lambda: _reference(p, data, True, None))
    assert got[0] == "err" or got[1][-1][0] == repr(int(last) if last.isdigit() else int(float(last)))


def test_a_time_with_trailing_unicode_whitespace_is_read_not_crashed(tmp_path: Path) -> None:
    """A time like ``1754000060\x1c`` passed the replay rules (stripped) and then crashed with a bare
    ValueError; it now reads as the same bar as without the separator character."""
    p = tmp_path / "c.csv"
    p.write_bytes(b"time,open,high,low,close,volume\n1754000060\x1c,10,11,9,10.5,3\n1754000120,10,11,9,10.5,3\n")
    rows = _reader(p, True, None)
    assert [r[0] for r in rows] == [1754000060000, 1754000120000]



_PRICE = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def _candles(draw):
    """Valid candles: strictly increasing integer times (epoch seconds, or ms when ``x1000``), low <= open,
    close <= high, prices > 0, volume >= 0."""
    n = draw(st.integers(1, 300))
    t = draw(st.one_of(st.integers(0, 10**6), st.integers(1_000_000_000, 2_000_000_000)))  # near 0, or 2001..2033
    scale = draw(st.sampled_from([1, 1000]))
    out = []
    for _ in range(n):
        t += draw(st.integers(1, 10_000))
        a, b, c, d = sorted(draw(st.lists(_PRICE, min_size=4, max_size=4)))
        o, cl = (b, c) if draw(st.booleans()) else (c, b)
        out.append((t * scale, o, d, a, cl, draw(st.floats(min_value=0.0, max_value=1e12))))
    return out


_SPELL = {"repr": repr, "fixed": lambda x: f"{x:.10f}", "exponent": lambda x: f"{x:.12e}"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_candles(), st.sampled_from(sorted(_SPELL)), st.booleans(), st.booleans())
def test_written_candles_read_back_exactly(rows, spelling, header, use_numpy):
    """Round trip: candles written as CSV text (shortest ``repr``, 10 decimals, or exponent notation; charts CSV
    with a header or 7-column OHLCVT without) read back, through many small blocks, as exactly the floats
    ``float`` gives for that text and the times by the seconds/ms rule, on the numpy and the pure-Python paths."""
    fmt = _SPELL[spelling]
    lines = ["time,open,high,low,close,volume"] if header else []
    lines += [f"{t},{fmt(o)},{fmt(h)},{fmt(lo)},{fmt(c)},{fmt(v)}" + ("" if header else ",1")
              for t, o, h, lo, c, v in rows]
    want = [(t * 1000 if t < 100_000_000_000 else t, *(float(fmt(x)) for x in (o, h, lo, c, v)))
            for t, o, h, lo, c, v in rows]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "candles.csv"
        p.write_text("\n".join(lines) + "\n")
        old_np, old_block = csvfile._np, csvfile.BLOCK_BYTES
        try:
            csvfile._np = np if use_numpy else None
            csvfile.BLOCK_BYTES = 512  # many blocks: every block boundary is read back too
            got = [row for cols in csv_chunks(p, header) for row in zip(*cols, strict=True)]
        finally:
            csvfile._np, csvfile.BLOCK_BYTES = old_np, old_block
    assert got == want
    assert all(type(r[0]) is int and all(type(x) is float for x in r[1:]) for r in got)
