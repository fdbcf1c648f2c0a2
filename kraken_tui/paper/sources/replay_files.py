"""Replay input files: format detection and strict parsers (candles, funding CSV, WS recordings).

Owns: turning the files ``--replay`` and ``--funding`` accept (README "Commands") into
domain values, or a ``DataFileError`` naming the file, the 1-based line and the field.

Formats (detected from the content, never from the file name):
- ``ws_jsonl``: recorded Kraken Futures WS v1 traffic, one JSON object per line
  ``{"ts": <epoch s float>, "dir": "connect"|"out"|"in", "msg": {...}}`` (the format of
  ``kraken-tui record``).
- ``charts_csv``: charts-API candles as CSV with a header naming ``time,open,high,low,close,volume``.
- ``charts_json``: the charts API's response ``{"candles": [{"time": ms, "open": "..", ...}],
  "more_candles": bool}`` (spec §6).
- ``ohlcvt_csv``: Kraken's downloadable OHLCVT CSV, ``time,open,high,low,close,volume,trades`` with
  no header; missing intervals (gaps) are normal.

Candle rules (every format): times are the bar's open; a time below 1e11 is epoch seconds, otherwise
epoch ms (1e11 s would be the year 5138, 1e11 ms is 1973); prices must be finite and > 0, volume
finite and >= 0, ``high >= max(open, close)`` and ``low <= min(open, close)``; times must be strictly
increasing: an unsorted or duplicated time is REJECTED (a silently reordered capture hides a broken
file). Blank lines are skipped.

Bounds (every reader): a line longer than ``MAX_LINE_BYTES``, a whole-file JSON document larger than
``MAX_JSON_FILE_BYTES``, JSON nested deeper than the interpreter's recursion limit and bytes that are not
UTF-8 are refused with a ``DataFileError`` naming ``file:line`` (exit code 2); memory stays bounded by
those sizes whatever the file holds.

Funding CSV (``ts,symbol,funding_rate,venue``, as CCXT's ``fetchFundingRateHistory`` exports): ``ts`` is the
UTC epoch-ms start of the hour the rate applies to (seconds accepted by the same 1e11 rule) and must
be an exact hour; ``funding_rate`` is Kraken's *relative* funding rate per hour (a fraction, e.g.
1.4566e-05; spec §8.3 "relative"); |rate| >= 1 is refused as not a fraction; ``symbol`` is optional.

Must not import: textual, websockets, aiohttp, the engine.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kraken_tui.domain import Candle, FundingRate
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.errors import DataFileError
from kraken_tui.paper.sources.candle_csv import (
    MAX_LINE_BYTES,
    check_time_order,
    iter_text_lines,
    parse_number,
    read_csv_candles,
    to_epoch_ms,
    validate_candle,
)

__all__ = [
    "HOUR_MS",
    "MAX_JSON_FILE_BYTES",
    "MAX_LINE_BYTES",
    "ReplayFormat",
    "WsRecordLine",
    "detect_format",
    "infer_bar_ms",
    "iter_ws_recording",
    "read_candles",
    "read_funding_csv",
    "to_epoch_ms",
]

ReplayFormat = Literal["ws_jsonl", "charts_csv", "charts_json", "ohlcvt_csv"]


MAX_JSON_FILE_BYTES = 64 << 20
"""Largest charts-API JSON document read whole, bytes (one charts response holds at most a few thousand
candles, well under 1 MB)."""


def _open_text(path: Path, limit: int = MAX_JSON_FILE_BYTES) -> str:
    """The whole file as text, at most ``limit`` bytes (bounded memory).

    Raises:
        DataFileError: missing, unreadable, larger than ``limit``, or not UTF-8 (naming the line).
    """
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except FileNotFoundError:
        raise DataFileError(str(path), "file not found") from None
    except OSError as exc:
        raise DataFileError(str(path), f"cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise DataFileError(str(path), f"file larger than {limit} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise DataFileError(str(path), f"not UTF-8 text (byte {col})", line=line) from None


def _json(path: str, line: int | None, text: str) -> Any:
    """``json.loads`` with the errors a data file can cause as ``DataFileError`` naming ``path:line``:
    invalid JSON, and nesting deeper than the interpreter's recursion limit (~1000 levels; no replay format
    nests more than 5)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"invalid JSON ({exc.msg})", line=exc.lineno if line is None else line) from None
    except RecursionError:
        raise DataFileError(path, "JSON nested too deeply", line=line) from None


def detect_format(path: Path) -> ReplayFormat:
    """Detect which replay format ``path`` holds, from its first non-blank line (module docstring).

    Raises:
        DataFileError: unreadable, empty, or none of the four formats.
    """
    path = Path(path)
    lineno, first = 0, ""
    for lineno, raw in iter_text_lines(path):  # noqa: B007 - lineno used after the loop
        if raw.strip():
            first = raw.strip()
            break
    if not first:
        raise DataFileError(str(path), "empty file")
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return "charts_json"  # a pretty-printed JSON document; read_candles validates it
        except RecursionError:
            raise DataFileError(str(path), "JSON nested too deeply", line=lineno) from None
        if isinstance(obj, dict) and "candles" in obj:
            return "charts_json"
        if isinstance(obj, dict) and "dir" in obj and "ts" in obj:
            return "ws_jsonl"
        raise DataFileError(str(path), "JSON that is neither a WS recording line nor a charts response", line=lineno)
    head = first.split(",")[0].strip().strip('"').lower()
    if head == "time" or head == "timestamp":
        return "charts_csv"
    try:
        float(head)
    except ValueError:
        raise DataFileError(
            str(path), "unknown format: expected a WS JSON-lines recording, a charts CSV/JSON or an OHLCVT CSV",
            line=lineno,
        ) from None
    return "ohlcvt_csv"


def _json_candles(path: str, text: str) -> list[Candle]:
    doc = _json(path, None, text)
    rows = doc.get("candles") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise DataFileError(path, "expected an object with a 'candles' list", field="candles")
    out: list[Candle] = []
    prev: int | None = None
    for i, row in enumerate(rows):
        prefix = f"candles[{i}]."
        if not isinstance(row, dict):
            raise DataFileError(path, f"expected an object, got {type(row).__name__}", field=f"candles[{i}]")
        c = validate_candle(path, None, row, prefix)
        check_time_order(path, None, prefix + "time", prev, c.ts_ms)
        prev = c.ts_ms
        out.append(c)
    return out


def read_candles(path: Path, fmt: ReplayFormat | None = None) -> list[Candle]:
    """Read a candle file (charts CSV, charts JSON or OHLCVT CSV) into validated, time-ordered Candles.

    Returns:
        Candles with ``ts_ms`` = bar open (UTC ms), prices USD, volume as in the file (contracts or base).

    Raises:
        DataFileError: naming file, line (CSV) or JSON path, and field, for any rule in the module docstring.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "charts_json":
        candles = _json_candles(str(path), _open_text(path))
    elif fmt in ("charts_csv", "ohlcvt_csv"):
        candles = read_csv_candles(path, header=fmt == "charts_csv")
    else:
        raise DataFileError(str(path), f"not a candle file (format {fmt})")
    if not candles:
        raise DataFileError(str(path), "no candles in file")
    return candles


def infer_bar_ms(candles: list[Candle], default_ms: int = 60_000) -> int:
    """Bar length in ms: the smallest gap between consecutive bars (gaps only lengthen steps).

    Returns ``default_ms`` (1 minute) for a single candle.
    """
    steps = [b.ts_ms - a.ts_ms for a, b in zip(candles, candles[1:], strict=False)]
    return min(steps) if steps else default_ms


def read_funding_csv(path: Path) -> list[FundingRate]:
    """Read an hourly funding CSV (``ts,symbol,funding_rate[,venue]``) into FundingRates.

    Returns:
        Rates in time order; ``funding_rate`` relative per hour (fraction); ``symbol`` as written in the
        file ("" when the column is absent; callers map it, see ``replay.funding_symbol``).

    Raises:
        DataFileError: missing columns, non-numeric/NaN/|rate| >= 1, ts not an exact UTC hour,
            duplicate or unsorted ts (rejected), or no rows.
    """
    path = Path(path)
    p = str(path)
    out: list[FundingRate] = []
    names: list[str] | None = None
    prev: int | None = None
    for lineno, text in iter_text_lines(path):
        row = next(csv.reader([text]), [])
        if not row or all(not c.strip() for c in row):
            continue
        if names is None:
            names = [c.strip().lower() for c in row]
            for need in ("ts", "funding_rate"):
                if need not in names:
                    raise DataFileError(p, f"header lacks column {need!r}", line=lineno)
            continue
        if len(row) != len(names):
            raise DataFileError(p, f"expected {len(names)} columns, got {len(row)}", line=lineno)
        values = dict(zip(names, row, strict=True))
        ts = parse_number(p, lineno, "ts", values["ts"])
        if ts != int(ts) or ts < 0:
            raise DataFileError(p, f"expected integer epoch ms, got {values['ts']!r}", line=lineno, field="ts")
        ts_ms = to_epoch_ms(int(ts))
        if ts_ms % HOUR_MS:
            raise DataFileError(p, f"{ts_ms} ms is not an exact UTC hour", line=lineno, field="ts")
        rate = parse_number(p, lineno, "funding_rate", values["funding_rate"])
        if abs(rate) >= 1:
            raise DataFileError(p, f"relative hourly rate {rate} is not a fraction (|rate| must be < 1)",
                                line=lineno, field="funding_rate")
        check_time_order(p, lineno, "ts", prev, ts_ms)
        prev = ts_ms
        out.append(FundingRate(symbol=values.get("symbol", "").strip(), ts_ms=ts_ms, funding_rate=rate))
    if not out:
        raise DataFileError(p, "no funding rows in file")
    return out


@dataclass(frozen=True, slots=True)
class WsRecordLine:
    """One line of a WS recording. ``ts_ms``: the recorder's receive/send time (UTC ms);
    ``direction``: "connect", "out" or "in"; ``msg``: the decoded message (None for connect lines)."""

    line: int
    ts_ms: int
    direction: str
    msg: dict[str, Any] | None
    url: str | None = None


def iter_ws_recording(path: Path) -> Iterator[WsRecordLine]:
    """Yield every line of a WS JSON-lines recording, validated.

    Raises:
        DataFileError: a line that is not JSON, lacks/garbles ``ts``, ``dir`` or ``msg``, or whose ``ts``
            goes backwards (unsorted lines are rejected), naming the file and line.
    """
    path = Path(path)
    p = str(path)
    prev: int | None = None
    for lineno, raw in iter_text_lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFileError(p, f"not a JSON object ({exc})", line=lineno) from None
        except RecursionError:
            raise DataFileError(p, "JSON nested too deeply", line=lineno) from None
        if not isinstance(obj, dict):
            raise DataFileError(p, "not a JSON object", line=lineno)
        ts = parse_number(p, lineno, "ts", obj.get("ts"))
        if ts < 0:
            raise DataFileError(p, f"negative time {ts}", line=lineno, field="ts")
        ts_ms = to_epoch_ms(ts)
        if prev is not None and ts_ms < prev:
            raise DataFileError(p, f"time goes backwards ({ts_ms} ms after {prev} ms)", line=lineno, field="ts")
        prev = ts_ms
        d = obj.get("dir")
        if d not in ("connect", "out", "in"):
            raise DataFileError(p, f"expected 'connect', 'out' or 'in', got {d!r}", line=lineno, field="dir")
        msg = obj.get("msg")
        if d != "connect" and not isinstance(msg, dict):
            raise DataFileError(p, "expected a JSON object", line=lineno, field="msg")
        url = obj.get("url")
        yield WsRecordLine(lineno, ts_ms, d, msg if d != "connect" else None, url if isinstance(url, str) else None)
