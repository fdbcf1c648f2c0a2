"""Backtest inputs: candles streamed from a file, the hourly funding schedule, and the date-range flags.

Owns: ``open_candles`` (a ``CandleStream``: bar length and timeframe learnt from the first bars, then
rows streamed one by one, never the whole file in memory), ``FundingSchedule`` (relative hourly rates
from a funding CSV or one constant rate) and ``parse_time_flag`` (``--from`` / ``--to``).

Formats are the replay formats (README "Commands", ``--replay``), detected from the content by
``paper.sources.replay_files.detect_format``:
- OHLCVT CSV (no header, ``time,open,high,low,close,volume,trades``, gaps allowed) and charts CSV (header
  naming ``time,open,high,low,close,volume``): streamed line by line with the replay parser's rules
  (time < 1e11 is epoch seconds else ms; prices finite and > 0; volume finite and >= 0;
  ``low <= open, close <= high``; times strictly increasing). A bad row raises ``DataFileError`` naming the
  file, the 1-based line and the field.
- charts JSON (``{"candles": [...]}``, spec §6): parsed whole by ``replay_files.read_candles`` (the charts
  API returns at most a few thousand candles per response, so this stays small).
- Kraken Futures WS v1 JSON lines (a recording): the trade prints of ``symbol`` are aggregated into closed
  candles of ``timeframe`` by ``engine.candles.CandleBuilder`` (empty bars are not invented).
``CandleStream.rows`` is a ``columns.CandleRows``: an iterator of plain tuples ``(ts_ms, open, high, low,
close, volume)`` (floats, USD, UTC ms of the bar's open) that also hands out column chunks (``take``), which
is what the backtest's loop reads (CSV chunks come from ``paper.sources.candle_csv.csv_chunks``, the one candle CSV parser).

Funding CSV: ``replay_files.read_funding_csv`` (``ts,symbol,funding_rate[,venue]``; ts = start of the hour
the relative rate applies to). Rate lookup for an hour: the latest row at or before it (a gap carries the
previous rate forward, as the replay does); 0 before the first row.
Must not import: textual, the paper exchange's server, aiohttp.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kraken_tui.domain import FundingRate
from kraken_tui.engine.candles import TIMEFRAMES, CandleBuilder
from kraken_tui.errors import ConfigError, DataFileError
from kraken_tui.paper.sources import replay_files as rf
from kraken_tui.paper.sources.candle_csv import csv_chunks

from .columns import CandleRow, CandleRows, chunked, windowed

__all__ = ["CandleRow", "CandleStream", "FundingSchedule", "open_candles", "parse_time_flag", "timeframe_of"]

_PEEK_BARS = 64


def parse_time_flag(flag: str, text: str) -> int:
    """``--from`` / ``--to`` value (ISO-8601 date or date-time; no offset = UTC) -> epoch ms.

    Raises:
        ConfigError: not ISO-8601 (names ``flag``; exit code 2).
    """
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise ConfigError(flag, text, "an ISO-8601 UTC time, e.g. 2020-01-01 or 2020-01-01T12:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // _ONE_MS


_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def timeframe_of(bar_ms: int) -> str | None:
    """The strategy timeframe name ("1m".."4h") whose length is ``bar_ms``, or None."""
    for name, ms in TIMEFRAMES.items():
        if ms == bar_ms:
            return name
    return None


# ---------------------------------------------------------------------------------------------- others


def _json_rows(path: Path) -> Iterator[CandleRow]:
    for c in rf.read_candles(path, "charts_json"):
        yield (c.ts_ms, c.open, c.high, c.low, c.close, c.volume)


def _ws_rows(path: Path, symbol: str, timeframe: str) -> Iterator[CandleRow]:
    """Closed ``timeframe`` candles of ``symbol``'s trade prints in a WS recording."""
    from kraken_tui.errors import ProtocolError
    from kraken_tui.kraken.ws_events import TradeEvent, TradeSnapshotEvent
    from kraken_tui.kraken.ws_parse import parse_ws_message

    builder = CandleBuilder(symbol, [timeframe], history=2, fill_gaps=False)
    seen: set[str] = set()
    for line in rf.iter_ws_recording(path):
        if line.direction != "in" or line.msg is None or "trade" not in str(line.msg.get("feed", "")):
            continue
        try:
            ev = parse_ws_message(line.msg)
        except ProtocolError as exc:
            raise DataFileError(str(path), f"{exc.source}: {exc.reason}", line=line.line) from None
        trades = ev.trades if isinstance(ev, TradeSnapshotEvent) else (ev.trade,) if isinstance(ev, TradeEvent) else ()
        for tr in sorted(trades, key=lambda x: x.ts_ms):
            seen.add(tr.symbol)
            if tr.symbol.upper() != symbol:
                continue
            for cc in builder.add_trade(tr.ts_ms, tr.price, tr.size):
                k = cc.candle
                yield (k.ts_ms, k.open, k.high, k.low, k.close, k.volume)
    if symbol not in {s.upper() for s in seen}:
        raise ConfigError("--symbol", symbol, f"a product traded in {path} ({', '.join(sorted(seen)) or 'none'})")


@dataclass
class CandleStream:
    """An open candle file: ``fmt``, the bar length ``bar_ms`` (smallest step among the first bars),
    its ``timeframe`` name, the first bar's open ``first_ms``, and ``rows`` (an iterator of ``CandleRow``
    over the whole file, the first bars included, filtered to ``[from_ms, to_ms)``)."""

    path: Path
    fmt: str
    bar_ms: int
    timeframe: str
    rows: CandleRows
    first_ms: int | None = None
    notes: list[str] = field(default_factory=list)


def open_candles(path: Path, *, symbol: str, ws_timeframe: str = "5m", from_ms: int | None = None,
                 to_ms: int | None = None) -> CandleStream:
    """Open a candle file for streaming (module docstring for the formats and rules).

    Args:
        path: the file.
        symbol: the perpetual traded (selects the product of a WS recording).
        ws_timeframe: bar length built from a WS recording's trades ("1m".."4h").
        from_ms, to_ms: keep bars whose open is in ``[from_ms, to_ms)`` (None = unbounded).

    Raises:
        DataFileError: unreadable, unknown format, a malformed row (file, line, field), no candles (in the
            range), or a bar length that is not a strategy timeframe (1m, 5m, 15m, 30m, 1h, 4h).
        ConfigError: a WS recording without ``symbol`` (names ``--symbol``).
    """
    path = Path(path)
    fmt = rf.detect_format(path)
    if fmt == "ws_jsonl":
        chunks = chunked(_ws_rows(path, symbol, ws_timeframe))
    elif fmt == "charts_json":
        chunks = chunked(_json_rows(path))
    else:
        chunks = csv_chunks(path, header=fmt == "charts_csv", stop_ms=to_ms)
    rows = CandleRows(windowed(chunks, from_ms, to_ms))
    head = rows.peek(_PEEK_BARS)
    if not head:
        where = " in the --from/--to range" if from_ms is not None or to_ms is not None else ""
        raise DataFileError(str(path), f"no candles{where}")
    steps = [b[0] - a[0] for a, b in itertools.pairwise(head)]
    bar_ms = min(steps) if steps else TIMEFRAMES[ws_timeframe] if fmt == "ws_jsonl" else 60_000
    if fmt == "ws_jsonl":
        bar_ms = TIMEFRAMES[ws_timeframe]
    tf = timeframe_of(bar_ms)
    if tf is None:
        raise DataFileError(str(path), f"bar length {bar_ms} ms is not a strategy timeframe "
                            f"({', '.join(TIMEFRAMES)})")
    rows.reopen = (str(path), {"symbol": symbol, "ws_timeframe": ws_timeframe, "from_ms": from_ms, "to_ms": to_ms})
    stream = CandleStream(path, fmt, bar_ms, tf, rows, head[0][0])
    if any(r[0] % bar_ms for r in head):
        stream.notes.append(f"bars are not aligned to {tf} boundaries")
    return stream


# ---------------------------------------------------------------------------------------------- funding


class FundingSchedule:
    """Relative funding rate per hour (fraction; positive = longs pay, spec §8.3) for each UTC hour.

    Build with ``constant(rate)`` or ``from_csv(path, symbol)``. ``rate_for(hour_ms)`` returns the rate
    of the hour starting at ``hour_ms``; ``describe`` says where the rates came from (shown in the report).
    """

    def __init__(self, times: list[int], rates: list[float], describe: str, constant: float | None = None) -> None:
        self._times = times
        self._rates = rates
        self.describe = describe
        self.constant = constant

    @classmethod
    def constant_rate(cls, rate: float, why: str) -> FundingSchedule:
        """Every hour pays ``rate`` (relative per hour). ``why`` names its source (flag or default)."""
        return cls([], [], f"constant {rate:g} per hour ({why})", constant=rate)

    @classmethod
    def from_csv(cls, path: Path, symbol: str) -> FundingSchedule:
        """Rates of ``symbol`` from a funding CSV. The file's symbol may be a ccxt name
        (``BTC/USD:BTC`` = PI_XBTUSD, SOURCES.md §3); a file with one symbol applies to the backtested
        symbol whatever its name (PI_XBTUSD's rates as the stand-in for PF_XBTUSD, as the replay does).

        Raises:
            DataFileError: the CSV is malformed (file, line, field).
            ConfigError: several symbols in the file and none is ``symbol`` (names ``--funding``).
        """
        from kraken_tui.paper.sources.replay import CCXT_ALIASES  # (the replay source: not needed to start)

        rows = rf.read_funding_csv(path)
        by: dict[str, list[FundingRate]] = {}
        for r in rows:
            by.setdefault(r.symbol, []).append(r)
        named = {CCXT_ALIASES.get(s.upper(), s.upper()): s for s in by}
        if symbol in named:
            src = named[symbol]
        elif len(by) == 1:
            src = next(iter(by))
        else:
            raise ConfigError("--funding", str(path), f"rates for {symbol} (the file has {', '.join(sorted(by))})")
        chosen = by[src]
        alias = CCXT_ALIASES.get(src.upper(), src or "the file")
        label = f"{src} ({alias})" if alias != src else src or "the file"
        describe = f"hourly rates of {label} from {Path(path).name}"
        if alias.upper() != symbol:
            describe += f", applied to {symbol}"
        return cls([r.ts_ms for r in chosen], [r.funding_rate for r in chosen], describe)

    def rate_for(self, hour_ms: int) -> float:
        """Relative rate of the hour starting at ``hour_ms`` (the latest row at or before it; 0 before the first)."""
        if self.constant is not None:
            return self.constant
        i = bisect.bisect_right(self._times, hour_ms)
        return self._rates[i - 1] if i else 0.0

    def known_rate(self, hour_ms: int) -> float | None:
        """Like ``rate_for``, but None outside the file's span (before its first hour or after its last: the
        file does not say); the constant rate everywhere for a constant schedule. The ``ml`` source's funding
        features read this (``engine.strategies.ml_features``)."""
        if self.constant is not None:
            return self.constant
        if not self._times or not self._times[0] <= hour_ms <= self._times[-1]:
            return None
        return self.rate_for(hour_ms)

    @property
    def span(self) -> tuple[int, int] | None:
        """(first, last) hour of the file, UTC ms; None for a constant rate."""
        return (self._times[0], self._times[-1]) if self._times else None
