"""Candle CSV files (charts CSV with a header, OHLCVT CSV without): the one parser, read as validated column
chunks.

Owns: ``csv_chunks`` (the parser: column chunks, used by the backtest's streaming reader), ``read_csv_candles``
(the same parser's rows as ``domain.Candle`` objects, used by the replay source) and the candle rules every
candle format shares (``validate_candle``, ``parse_number``, ``check_time_order``, ``to_epoch_ms``): time
< 1e11 is epoch seconds else ms; prices finite and > 0; volume finite and >= 0; ``low <= open, close <=
high``; times strictly increasing; a bad row raises ``DataFileError`` naming the file, the 1-based line and
the field. Formats: Kraken Futures docs "Charts" candles (``time,open,high,low,close,volume`` with a header)
and Kraken's downloadable OHLCVT files (``time,open,high,low,close,volume,trades``, no header).

Two paths give the same rows. The fast one takes a block of ~64 KB of whole lines and parses it column-wise:
with numpy, a block of plain decimals only (digits and at most one point per field, as Kraken's files write
them) is read as a float matrix by ``_plain_matrix`` (whole-array digit arithmetic, exact: the same bits as
``float``); any other block by ``numpy.loadtxt`` (it converts every field with CPython's
``PyOS_string_to_double``, the function ``float(str)`` uses, so an accepted field has ``float``'s value; it
refuses underscores, non-ASCII digits and anything else ``float`` might read differently) and the rules are
checked on whole columns; without numpy, the block is split once and each column converted with
``map(int|float)``. Any doubt at all (a bare ``\\r``, a field the parser refuses, a row with another number
of fields, a time that is not an integer below 2**53, a non-finite extra column, a rule broken, the block
holding the header or ``stop_ms``) sends the whole block to the slow path: the same lines decoded as UTF-8
and checked one by one exactly as before (``_Lines.feed``), which accepts what the rules accept and raises
the precise error otherwise. The fast path accepts a subset of what the slow path accepts, with the same
values (tests/backtest/test_csvfile_props.py compares both on generated files).
Must not import: textual, the engine, the backtest.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Iterator
from itertools import islice, repeat
from operator import le, lt, mul
from pathlib import Path
from types import ModuleType
from typing import Any

from kraken_tui.domain import Candle
from kraken_tui.domain.candle_columns import ArrayColumns
from kraken_tui.errors import DataFileError

_UNSET: Any = object()
#: The fast path's numpy, imported on first need (``_numpy``); None = missing (tests set it to None to force
#: the pure-Python fast path).
_np: ModuleType | None = _UNSET
#: Blocks smaller than this take the pure-Python fast path unless numpy is already loaded: a small file (a
#: whole file in one short block) is parsed without paying numpy's import (about 0.1 s); same values.
NP_MIN_BYTES = 32 << 10


def _numpy(size: int) -> ModuleType | None:
    """numpy for a block of ``size`` bytes, or None for the pure-Python path (module docstring)."""
    global _np
    if _np is _UNSET:
        if size < NP_MIN_BYTES and "numpy" not in sys.modules:
            return None
        try:  # the fast path's parser; the pure-Python one below is the fallback when numpy is missing
            import numpy
        except ImportError:  # pragma: no cover - numpy is a dependency; tests cover the fallback
            numpy = None  # type: ignore[assignment]
        _np = numpy
    return _np

__all__ = [
    "BLOCK_BYTES",
    "MAX_LINE_BYTES",
    "Columns",
    "check_time_order",
    "csv_chunks",
    "iter_text_lines",
    "parse_number",
    "read_csv_candles",
    "to_epoch_ms",
    "validate_candle",
]

#: One chunk of bars, column-wise: (ts_ms, open, high, low, close, volume), equal-length lists (ints UTC ms
#: of the bar open, floats USD / volume).
Columns = tuple[list[int], list[float], list[float], list[float], list[float], list[float]]

_INF = math.inf
_MS_THRESHOLD = 100_000_000_000
_FIELDS = ("time", "open", "high", "low", "close", "volume")
_DEFAULT_IDX = (0, 1, 2, 3, 4, 5)
_EXACT_INT = float(2**53)  # float times below this are integers exactly (int(float(s)) == int(s))
#: loadtxt strips these around a number (Py_UNICODE_ISSPACE), ``float``/``int`` refuse them: such blocks go slow.
_NP_DECLINE = (b"\x1c", b"\x1d", b"\x1e", b"\x1f")
BLOCK_BYTES = 1 << 16
MAX_LINE_BYTES = 8 << 20
"""Longest line any replay, candle or funding file may hold, bytes (a recorded book snapshot is ~100 KB): a
longer one is refused with its line number instead of being read whole into memory."""


def iter_text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line)`` of a UTF-8 text file, the line without its ``\n`` (and a trailing
    ``\r``), reading at most ``MAX_LINE_BYTES`` per line, so memory stays bounded whatever the file holds.

    Raises:
        DataFileError: file missing or unreadable, a line longer than ``MAX_LINE_BYTES``, or a line that is
            not UTF-8 (naming the line and the byte offset within it).
    """
    p = str(path)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise DataFileError(p, "file not found") from None
    except OSError as exc:
        raise DataFileError(p, f"cannot read ({exc.strerror})") from None
    with fh:
        lineno = 0
        while True:
            try:
                raw = fh.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise DataFileError(p, f"cannot read ({exc.strerror})", line=lineno + 1) from None
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES:
                raise DataFileError(p, f"line longer than {MAX_LINE_BYTES} bytes", line=lineno)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFileError(p, f"not UTF-8 text (byte {exc.start})", line=lineno) from None
            if text.endswith("\n"):
                text = text[:-1]
            yield lineno, text[:-1] if text.endswith("\r") else text


def to_epoch_ms(value: float) -> int:
    """Epoch seconds or ms -> epoch ms by the 1e11 rule (module docstring). Rounds to the nearest ms."""
    return int(round(value * 1000)) if abs(value) < _MS_THRESHOLD else int(round(value))


def parse_number(path: str, line: int | None, field: str, raw: Any) -> float:
    """``raw`` (text, stripped, or a number) as a finite float, else ``DataFileError`` naming ``path``, the
    1-based ``line`` (None for JSON) and ``field``."""
    if isinstance(raw, bool):
        raise DataFileError(path, f"expected a number, got {raw!r}", line=line, field=field)
    try:
        v = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise DataFileError(path, f"expected a number, got {raw!r}", line=line, field=field) from None
    if not math.isfinite(v):
        raise DataFileError(path, f"not a finite number: {raw!r}", line=line, field=field)
    return v


def validate_candle(path: str, line: int | None, values: dict[str, Any], prefix: str = "") -> Candle:
    """Validate one row (field -> raw value) into a Candle by the candle rules (module docstring), or raise
    ``DataFileError`` naming the file, line and field. ``prefix`` qualifies JSON field names."""
    got = {f: parse_number(path, line, prefix + f, values.get(f)) for f in _FIELDS}
    t = got["time"]
    if t != int(t) or t < 0:
        raise DataFileError(path, f"expected a non-negative integer time, got {values.get('time')!r}",
                            line=line, field=prefix + "time")
    for f in ("open", "high", "low", "close"):
        if got[f] <= 0:
            raise DataFileError(path, f"price must be > 0, got {values.get(f)!r}", line=line, field=prefix + f)
    if got["volume"] < 0:
        raise DataFileError(path, f"volume must be >= 0, got {values.get('volume')!r}", line=line,
                            field=prefix + "volume")
    o, h, lo, c = got["open"], got["high"], got["low"], got["close"]
    if h < max(o, c, lo):
        raise DataFileError(path, f"high {h} is below open/low/close ({o}/{lo}/{c})", line=line, field=prefix + "high")
    if lo > min(o, c):
        raise DataFileError(path, f"low {lo} is above open/close ({o}/{c})", line=line, field=prefix + "low")
    return Candle(ts_ms=to_epoch_ms(int(t)), open=o, high=h, low=lo, close=c, volume=got["volume"])


def check_time_order(path: str, line: int | None, field: str, prev_ms: int | None, ts_ms: int) -> None:
    """Raise ``DataFileError`` unless ``ts_ms`` is after ``prev_ms`` (times strictly increase)."""
    if prev_ms is not None and ts_ms <= prev_ms:
        what = "duplicate" if ts_ms == prev_ms else "out-of-order"
        raise DataFileError(path, f"{what} time {ts_ms} ms (previous {prev_ms} ms); times must strictly increase",
                            line=line, field=field)


class _Slow(Exception):
    """The fast path declines a block."""


class _Lines:
    """Line-by-line parsing state (header, column order, width, last time, line number)."""

    def __init__(self, path: str, header: bool, stop_ms: int | None) -> None:
        self.p, self.header, self.stop_ms = path, header, stop_ms
        self.idx: tuple[int, ...] = _DEFAULT_IDX
        self.width: int | None = None
        self.prev = -1
        self.lineno = 0
        self.stopped = False
        #: ``_plain_matrix``'s working array, kept between blocks (reused instead of allocated per block)
        self.scratch: list[Any] = [None]

    def feed(self, text: str) -> Columns:
        """Parse the lines of ``text`` (rules in the module docstring); stops at ``stop_ms``."""
        p, idx = self.p, self.idx
        out: Columns = ([], [], [], [], [], [])
        for line in io.StringIO(text, newline=""):
            self.lineno += 1
            parts = line.split(",")
            width = self.width
            try:
                if width is None or len(parts) != width:
                    raise ValueError  # first data line or header: the checks below decide
                t = int(parts[idx[0]])
                o, h, lo = float(parts[idx[1]]), float(parts[idx[2]]), float(parts[idx[3]])
                c, v = float(parts[idx[4]]), float(parts[idx[5]])
                if not (0.0 < lo <= o <= h < _INF and lo <= c <= h and 0.0 <= v < _INF and t >= 0):
                    raise ValueError
                if width == 7:
                    float(parts[6])
            except (ValueError, IndexError):
                if not line.strip():
                    continue
                if self.header and width is None:
                    names = [x.strip().strip('"').lower() for x in line.split(",")]
                    if names and names[0] == "timestamp":
                        names[0] = "time"
                    missing = [f for f in _FIELDS if f not in names]
                    if missing:
                        raise DataFileError(p, f"header lacks column(s) {', '.join(missing)}",
                                            line=self.lineno) from None
                    idx = self.idx = tuple(names.index(f) for f in _FIELDS)
                    self.width = len(names)
                    continue
                if width is None:
                    width = self.width = len(parts)
                    if width not in (6, 7):
                        raise DataFileError(
                            p, f"expected 7 columns (time,open,high,low,close,volume,trades), got {width}",
                            line=self.lineno) from None
                t, o, h, lo, c, v = _slow_row(p, self.lineno, parts, idx, width)
            ts = t * 1000 if t < _MS_THRESHOLD else t
            if ts <= self.prev:
                what = "duplicate" if ts == self.prev else "out-of-order"
                raise DataFileError(p, f"{what} time {ts} ms (previous {self.prev} ms); times must strictly increase",
                                    line=self.lineno, field="time")
            self.prev = ts
            if self.stop_ms is not None and ts >= self.stop_ms:
                self.stopped = True
                break
            out[0].append(ts)
            for col, x in zip(out[1:], (o, h, lo, c, v), strict=True):
                col.append(x)
        return out

    def fast(self, block: bytes) -> Columns:
        """Parse a block of whole ``\\n``-terminated lines column-wise, or raise ``_Slow``."""
        if self.width is None or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n")):
            raise _Slow
        return self._fast_py(block) if _numpy(len(block)) is None else self._fast_np(block)

    def _fast_np(self, block: bytes) -> Columns:
        """``fast`` with numpy (module docstring): one float matrix, the rules on whole columns."""
        np, width, idx = _numpy(len(block)), self.width, self.idx
        assert np is not None and width is not None  # fast() checked both
        a = _plain_matrix(np, block, width, self.scratch)
        if a is None:
            if block.isspace() or any(map(block.__contains__, _NP_DECLINE)):
                raise _Slow  # loadtxt warns on a block without rows; it strips what float() keeps
            try:
                a = np.loadtxt(io.StringIO(block.decode()), dtype=np.float64, delimiter=",", comments=None,
                               quotechar=None, ndmin=2)
            except (ValueError, UnicodeDecodeError):
                raise _Slow from None
        if a.shape[1] != width:
            raise _Slow
        t, o, h, lo, c, v = (a[:, i] for i in idx)
        # the row rule on whole columns; min/max/minimum/maximum propagate NaN and comparisons with NaN are
        # false, so NaN fails here too
        if not (lo.min() > 0.0 and h.max() < _INF and v.min() >= 0.0 and v.max() < _INF
                and np.all(lo <= np.minimum(o, c)) and np.all(np.maximum(o, c) <= h)
                and t.min() >= 0.0 and t.max() < _EXACT_INT and np.all(np.floor(t) == t)):
            raise _Slow
        if width > 6 and not np.all(np.isfinite(a[:, [j for j in range(width) if j not in idx]])):
            raise _Slow
        ti = t.astype(np.int64)
        ts = np.where(ti < _MS_THRESHOLD, ti * 1000, ti)
        first, last = int(ts[0]), int(ts[-1])
        if not (first > self.prev and np.all(ts[1:] > ts[:-1])):
            raise _Slow
        stop = self.stop_ms
        if stop is not None and last >= stop:
            raise _Slow  # the slow path stops exactly at the first bar at or after stop_ms
        self.prev = last
        self.lineno += int(np.count_nonzero(np.frombuffer(block, np.uint8) == 10))  # blank lines count too
        lists = (ts.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist())
        return ArrayColumns(lists, (ts, o, h, lo, c, v))

    def _fast_py(self, block: bytes) -> Columns:
        """``fast`` without numpy: ``map(int|float)`` per column, the rules with C-level loops."""
        width = self.width
        assert width is not None
        if not block.isascii():
            raise _Slow  # bytes in a column no rule reads must still be UTF-8: the slow path decodes them
        lines = block.split(b"\n")
        lines.pop()  # after the last newline
        if set(map(bytes.count, lines, repeat(b","))) != {width - 1}:
            raise _Slow  # a blank line or a row with another number of fields
        flat = b",".join(lines).split(b",")
        idx = self.idx
        try:
            t = list(map(int, flat[idx[0]::width]))
            o, h, lo, c, v = (list(map(float, flat[i::width])) for i in idx[1:])
            if width == 7:
                list(map(float, flat[6::7]))
        except ValueError:
            raise _Slow from None
        # the row rule, column-wise: comparisons with NaN are false, so NaN fails here too
        if not (all(map(le, lo, o)) and all(map(le, o, h)) and all(map(le, lo, c)) and all(map(le, c, h))
                and min(lo) > 0.0 and max(h) < _INF and all(map(le, repeat(0.0), v)) and max(v) < _INF
                and min(t) >= 0):
            raise _Slow
        if max(t) < _MS_THRESHOLD:
            ts = list(map(mul, t, repeat(1000)))
        elif min(t) >= _MS_THRESHOLD:
            ts = t
        else:
            ts = [x * 1000 if x < _MS_THRESHOLD else x for x in t]
        if not (ts[0] > self.prev and all(map(lt, ts, islice(ts, 1, None)))):
            raise _Slow
        stop = self.stop_ms
        if stop is not None and ts[-1] >= stop:
            raise _Slow  # the slow path stops exactly at the first bar at or after stop_ms
        self.prev = ts[-1]
        self.lineno += len(lines)
        return ts, o, h, lo, c, v


#: The plain-decimal parser's limits: at most this many digits in a field (its mantissa fits an int64), and
#: mantissas up to 2**53 (exact as float64, so one correctly rounded division gives ``float``'s value).
_PLAIN_MAX_DIGITS = 18
_PLAIN_MAX_MANTISSA = 1 << 53


def _plain_matrix(np: ModuleType, block: bytes, width: int, scratch: list[Any] | None = None) -> Any:
    """The block as a (rows x ``width``) float64 matrix when every field is a plain decimal, else None.

    A plain decimal is 1 to ``_PLAIN_MAX_DIGITS`` ASCII digits with at most one ``.`` (``12``, ``12.5``, ``.5``,
    ``5.``), its digits read as an integer mantissa M <= 2**53 with f digits after the point; the field's value
    is M / 10**f in float64. Both operands are exact doubles and IEEE division is correctly rounded, so the
    value is the double nearest the decimal, which is what ``float(text)`` returns (Python's conversion is
    correctly rounded too). Any other byte (sign, exponent, space, ``\r``, letters), an empty field, a second
    point, a row with another number of fields or a longer mantissa gives None (the caller then uses
    ``numpy.loadtxt``). Works on whole arrays: one pass per rule over the block's bytes, no per-field Python;
    ``scratch`` (a one-element list) keeps its int64 working array between calls.
    tests/backtest/test_csvfile_props.py checks it against ``float`` on random fields."""
    buf = np.frombuffer(block, np.uint8)
    digit = buf - np.uint8(48)  # wraps below '0': every non-digit byte is >= 10
    is_digit = digit < 10
    is_nl = buf == 10
    is_sep = is_nl | (buf == 44)
    is_dot = buf == 46
    n_digits = int(np.count_nonzero(is_digit))
    if n_digits + int(np.count_nonzero(is_sep)) + int(np.count_nonzero(is_dot)) != len(buf):
        return None  # a byte outside 0-9 , . \n
    seps = np.flatnonzero(is_sep)
    n_fields = len(seps)
    if not n_fields or n_fields % width:
        return None
    row_ends = is_nl[seps].reshape(-1, width)
    if not row_ends[:, -1].all() or row_ends[:, :-1].any():
        return None  # a row with another number of fields
    # digits before each separator and each point: the bytes before it less the separators and points there
    dots = np.flatnonzero(is_dot)
    ends = seps - _arange(np, n_fields)  # (separators before it: its own index)
    field = None
    if len(dots):
        ends -= np.searchsorted(dots, seps)
        field = np.searchsorted(seps, dots)  # the field holding each point
        if len(field) > 1 and not (field[1:] > field[:-1]).all():
            return None  # two points in one field
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]
    counts = ends - starts
    if counts.min() < 1 or counts.max() > _PLAIN_MAX_DIGITS:
        return None
    # each digit's power of ten within its field's mantissa: digits after it in the same field
    power = np.repeat((ends - 1).astype(np.int32), counts)
    np.subtract(power, _arange(np, n_digits), out=power)
    work = scratch[0] if scratch is not None else None
    if work is None or len(work) < n_digits:
        work = np.empty(max(n_digits, 1 << 16), dtype=np.int64)
        if scratch is not None:
            scratch[0] = work
    terms = np.take(_pow10(np)[0], power, out=work[:n_digits], mode="clip")  # (clip: no buffered copy)
    np.multiply(terms, digit[is_digit], out=terms)
    mantissa = np.add.reduceat(terms, starts)
    if mantissa.max() > _PLAIN_MAX_MANTISSA:
        return None
    values = mantissa.astype(np.float64)
    if field is not None:
        # digits after the point: the field's digits less those before the point
        frac = ends[field] - (dots - field - _arange(np, len(dots)))
        values[field] = mantissa[field] / _pow10(np)[1][frac]
    return values.reshape(-1, width)


_POW10: tuple[Any, Any] | None = None
_ARANGE: Any = None


def _arange(np: ModuleType, n: int) -> Any:
    """``numpy.arange(n)`` (int32) as a view of one array kept between blocks (grown when needed)."""
    global _ARANGE
    if _ARANGE is None or len(_ARANGE) < n:
        _ARANGE = np.arange(max(n, 1 << 17), dtype=np.int32)
    return _ARANGE[:n]


def _pow10(np: ModuleType) -> tuple[Any, Any]:
    """10**k for k in 0..18 as int64 (``_plain_matrix``'s digit weights) and as float64 (its divisors; each an
    exact double), made once."""
    global _POW10
    if _POW10 is None:
        # one 4 MB array freed at once: glibc's malloc raises its mmap threshold to the largest block freed,
        # so the parser's per-block arrays (some hundred KB each) then come from its heap instead of freshly
        # mapped pages for every block (which cost more system time than the parsing)
        freed = np.empty(1 << 22, dtype=np.uint8)
        del freed
        exact = [10**k for k in range(_PLAIN_MAX_DIGITS + 1)]
        _POW10 = (np.array(exact, dtype=np.int64), np.array([float(x) for x in exact], dtype=np.float64))
    return _POW10


def _slow_row(p: str, lineno: int, parts: list[str], idx: tuple[int, ...], width: int
              ) -> tuple[int, float, float, float, float, float]:
    """Validate one row with precise errors (the replay parser's ``_candle`` rules)."""
    if len(parts) != width:
        raise DataFileError(p, f"expected {width} columns, got {len(parts)}", line=lineno)
    values = {f: parts[i] for f, i in zip(_FIELDS, idx, strict=True)}
    c = validate_candle(p, lineno, values)
    if width == 7 and len(idx) == 6 and idx == _DEFAULT_IDX:
        parse_number(p, lineno, "trades", parts[6])
    t = int(float(values["time"].strip()))  # stripped as _num strips it (float() refuses e.g. a trailing \x1c)
    return t, c.open, c.high, c.low, c.close, c.volume


def csv_chunks(path: Path, header: bool, stop_ms: int | None = None) -> Iterator[Columns]:
    """Stream validated column chunks of a charts CSV (``header``) or an OHLCVT CSV; stops before the
    first bar whose open is at or after ``stop_ms`` (the rest of the file is not read).

    Raises:
        DataFileError: unreadable, not UTF-8, a line longer than ``MAX_LINE_BYTES``, a header without the
            six columns, or a bad row (file, line, field).
    """
    p = str(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DataFileError(p, f"cannot read ({exc.strerror})") from None
    st = _Lines(p, header, stop_ms)
    with fh:
        while not st.stopped:
            block = fh.read(BLOCK_BYTES)
            if not block:
                return
            if not block.endswith(b"\n"):
                rest = fh.readline(MAX_LINE_BYTES + 1)
                if len(rest) > MAX_LINE_BYTES:
                    line = st.lineno + block.count(b"\n") + 1
                    raise DataFileError(p, f"line longer than {MAX_LINE_BYTES} bytes", line=line)
                block += rest
            try:
                cols = st.fast(block if block.endswith(b"\n") else block + b"\n")
            except _Slow:
                cols = _slow_block(st, block)
            if cols[0]:
                yield cols


def _slow_block(st: _Lines, block: bytes) -> Columns:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = st.lineno + block.count(b"\n", 0, exc.start) + 1
        col = exc.start - (block.rfind(b"\n", 0, exc.start) + 1)
        raise DataFileError(st.p, f"not UTF-8 text (byte {col})", line=line) from None
    return st.feed(text)


def read_csv_candles(path: Path, header: bool) -> list[Candle]:
    """Every candle of a charts CSV (``header``) or an OHLCVT CSV as ``domain.Candle`` (``ts_ms`` = bar open,
    UTC ms; prices USD), parsed by ``csv_chunks``.

    Raises:
        DataFileError: as ``csv_chunks`` (file, line, field).
    """
    out: list[Candle] = []
    append = out.append
    for ts, o, h, lo, c, v in csv_chunks(Path(path), header):
        for row in zip(ts, o, h, lo, c, v, strict=True):
            append(Candle(*row))
    return out
