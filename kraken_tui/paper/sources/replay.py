"""ReplaySource: recorded WS traffic and candle files, plus hourly funding, merged in time and paced.

Owns: the ``--replay`` argument grammar (``ReplayInput``), the mapping of candle files and funding
files onto perpetual symbols, the funding-event schedule, and the merged, paced event stream.

``--replay`` grammar (README "Commands"): ``PATH`` | ``PATH@SYMBOL`` |
``PATH@SYMBOL:index``. A WS recording needs no symbol (its products are mapped by ``--symbol-map``).
A candle file trades as ``SYMBOL`` when given, else as the destination of the single ``--symbol-map``
given; anything else is a ``ConfigError`` naming ``--replay``. ``:index`` marks a *spot* candle file
as the index-price series of ``SYMBOL`` (spec §6: spot candles are the index); it needs a trade
candle file for the same symbol.

Funding (``--funding``, spec §8.3): each row is the relative hourly rate of the hour starting at its
``ts``. The file's symbol goes through ``--symbol-map``, then the ccxt aliases ``BTC/USD:BTC`` ->
``PI_XBTUSD`` and ``ETH/USD:ETH`` -> ``PI_ETHUSD`` (the symbols of CCXT's Kraken Futures funding exports), then
``--symbol-map`` again; if the result is not a replayed symbol and exactly one symbol is replayed,
the rates apply to it (e.g. PI_XBTUSD's rate as the stand-in for PF_XBTUSD, which has no public
history). A ``FundingEvent`` is emitted for every whole UTC hour inside the replay span (first to
last tick, inclusive) from the first row at or before that hour: a GAP in the file is filled by
CARRYING FORWARD the previous hour's rate (``funding_carried`` counts them); hours before the file's
first row get no event. At equal ``ts_ms`` a funding event comes before the ticks of that instant. Without ``--funding``, a
WS recording's full ``ticker`` messages supply the hourly funding (``ws_ticks``); a replay of candle files only
books the constant ``funding_rate`` per hour on every replayed symbol when one is given (the runtime gives
``DEFAULT_FUNDING_RATE`` = 1e-5, the backtest's default, unless ``--funding-rate`` says otherwise), and
``funding_describe`` says which funding applies (announced at start).
Must not import: textual, websockets, aiohttp, the engine.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_tui.domain import Candle, FundingRate
from kraken_tui.errors import ConfigError, DataFileError, ProtocolError
from kraken_tui.paper.sources import replay_files as rf
from kraken_tui.paper.sources.base import FundingEvent, MarketEvent, MarketTick
from kraken_tui.paper.sources.candles import DEFAULT_DEPTH_USD, DEFAULT_SPREAD_BPS, expand_candles
from kraken_tui.paper.sources.pacing import Pacer, paced
from kraken_tui.paper.sources.ws_ticks import TickBuilder

__all__ = ["CCXT_ALIASES", "DEFAULT_FUNDING_RATE", "ReplayInput", "ReplaySource", "funding_events", "parse_symbol_map"]

#: Relative funding rate per hour a candle replay books without ``--funding`` (the backtest's default).
DEFAULT_FUNDING_RATE = 1e-5

log = logging.getLogger(__name__)

CCXT_ALIASES = {"BTC/USD:BTC": "PI_XBTUSD", "ETH/USD:ETH": "PI_ETHUSD"}


def parse_symbol_map(items: Iterable[str]) -> dict[str, str]:
    """``["XBTUSD=PF_XBTUSD", ...]`` -> ``{"XBTUSD": "PF_XBTUSD"}`` (upper-cased).

    Raises:
        ConfigError: key ``--symbol-map`` for an item that is not ``SRC=DST`` with both non-empty.
    """
    out: dict[str, str] = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ConfigError("--symbol-map", item, "SRC=DST, e.g. XBTUSD=PF_XBTUSD")
        out[src.strip().upper()] = dst.strip().upper()
    return out


@dataclass(frozen=True, slots=True)
class ReplayInput:
    """One ``--replay`` argument: file, optional symbol, and whether it is an index (spot) series."""

    path: Path
    symbol: str | None = None
    index: bool = False

    @classmethod
    def parse(cls, arg: str | Path) -> ReplayInput:
        """Parse ``PATH``, ``PATH@SYMBOL`` or ``PATH@SYMBOL:index`` (the last ``@`` splits).

        Raises:
            ConfigError: key ``--replay`` for an empty path or symbol or an unknown ``:role``.
        """
        if isinstance(arg, Path):
            return cls(arg)
        path, sep, sym = arg.rpartition("@")
        if not sep or "/" in sym or not path:
            return cls(Path(arg))
        sym, _, role = sym.partition(":")
        if not sym.strip() or role not in ("", "index"):
            raise ConfigError("--replay", arg, "PATH, PATH@SYMBOL or PATH@SYMBOL:index")
        return cls(Path(path), sym.strip().upper(), role == "index")


def funding_events(rates: Sequence[FundingRate], symbol: str, start_ms: int, end_ms: int) -> tuple[list[FundingEvent], int]:
    """FundingEvents for every hour that starts in ``[floor_hour(start_ms), end_ms]`` (module docstring: carry
    forward). The hour containing the first tick is included: the exchange settles at the top of an hour with the
    rate of the hour that just ended (spec §8.3), so without it the first settlement of a replay would book nothing.

    Returns:
        (events in time order, number of hours whose rate was carried forward over a gap).
    """
    times = [r.ts_ms for r in rates]
    hour = start_ms - start_ms % rf.HOUR_MS  # floor: the hour the replay starts in
    out: list[FundingEvent] = []
    carried = 0
    while hour <= end_ms:
        i = bisect.bisect_right(times, hour) - 1
        if i >= 0:
            carried += times[i] != hour
            out.append(FundingEvent(symbol, hour, rates[i].funding_rate))
        hour += rf.HOUR_MS
    return out, carried


@dataclass
class _Stream:
    """One replayed file: a factory of its tick iterator, its symbols and its span."""

    make: Callable[[], Iterator[MarketEvent]]
    symbols: set[str]
    first_ms: int
    last_ms: int


class ReplaySource:
    """A MarketSource over recorded files (module docstring for the rules).

    Args:
        inputs: ``--replay`` arguments (strings in the CLI grammar, or ``ReplayInput``).
        funding_path: optional hourly funding CSV.
        symbol_map: source symbol -> perpetual (``parse_symbol_map``).
        speed: multiple of real time, or None for max (see ``pacing.parse_speed``).
        symbols: keep only these perpetuals from WS recordings (None = every product seen).
        spread_bps, depth_usd: the synthetic quote around candle prices (``candles`` module).
        clock, sleep: injectable for tests (see ``pacing.Pacer``).

    All files are read and validated here, so a bad file fails before the first event.

    Raises:
        DataFileError: a malformed file (file, line, field).
        ConfigError: a candle file with no symbol, an index file with no trade file, an unmappable
            funding symbol, or nothing to replay.
    """

    name = "replay"
    synthetic = False

    def __init__(
        self,
        inputs: Sequence[str | ReplayInput],
        *,
        funding_path: Path | None = None,
        symbol_map: Mapping[str, str] | None = None,
        speed: float | None = 1.0,
        symbols: Iterable[str] | None = None,
        spread_bps: float = DEFAULT_SPREAD_BPS,
        depth_usd: float = DEFAULT_DEPTH_USD,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
        funding_rate: float | None = None,
    ) -> None:
        if not inputs:
            raise ConfigError("--replay", "", "at least one recording or candle file")
        self.symbol_map = {k.upper(): v.upper() for k, v in (symbol_map or {}).items()}
        self._keep = list(symbols) if symbols is not None else None
        self._pacer_args: dict[str, Any] = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
        self.speed = speed
        self._closed = False
        self._funding_path = funding_path
        self.seq_gaps = 0
        parsed = [i if isinstance(i, ReplayInput) else ReplayInput.parse(i) for i in inputs]
        self._streams = self._candle_streams(parsed, spread_bps, depth_usd)
        self._streams += [self._ws_stream(i.path) for i in parsed if rf.detect_format(i.path) == "ws_jsonl"]
        syms: set[str] = set().union(*(s.symbols for s in self._streams))
        if not syms:
            raise ConfigError("--replay", ", ".join(str(i.path) for i in parsed), "files that yield market data")
        self.symbols: tuple[str, ...] = tuple(sorted(syms))
        self.start_ms = min(s.first_ms for s in self._streams)
        self.end_ms = max(s.last_ms for s in self._streams)
        self.funding: list[FundingEvent] = []
        self.funding_carried = 0
        self.funding_describe = "from the recording's ticker messages"
        if funding_path is not None:
            self._load_funding(Path(funding_path))
            self.funding_describe = f"{funding_path} ({len(self.funding)} hourly payments in the replay span)"
        elif funding_rate is not None and not any(rf.detect_format(i.path) == "ws_jsonl" for i in parsed):
            rate = funding_rate
            for sym in self.symbols if rate else ():  # a rate of 0 pays nothing: no events
                events, _ = funding_events([FundingRate(sym, self.start_ms, rate)], sym, self.start_ms, self.end_ms)
                self.funding.extend(events)
            self.funding.sort(key=lambda e: e.ts_ms)
            self.funding_describe = f"constant {rate:g} per hour"
        elif not any(rf.detect_format(i.path) == "ws_jsonl" for i in parsed):
            self.funding_describe = "none"

    # ------------------------------------------------------------------ loading

    def _candle_symbol(self, inp: ReplayInput) -> str:
        if inp.symbol:
            return self.symbol_map.get(inp.symbol, inp.symbol)
        if len(self.symbol_map) == 1:
            return next(iter(self.symbol_map.values()))
        raise ConfigError("--replay", str(inp.path),
                          "PATH@SYMBOL (or a single --symbol-map SRC=DST): a candle file carries no symbol")

    def _candle_streams(self, inputs: list[ReplayInput], spread_bps: float, depth_usd: float) -> list[_Stream]:
        trade: dict[str, list[tuple[list[Candle], int]]] = {}
        index: dict[str, tuple[list[Candle], int]] = {}
        for inp in inputs:
            fmt = rf.detect_format(inp.path)
            if fmt == "ws_jsonl":
                if inp.index:
                    raise ConfigError("--replay", f"{inp.path}@{inp.symbol}:index", "a spot candle file for :index")
                continue
            candles = rf.read_candles(inp.path, fmt)
            sym = self._candle_symbol(inp)
            entry = (candles, rf.infer_bar_ms(candles))
            if inp.index:
                index[sym] = entry
            else:
                trade.setdefault(sym, []).append(entry)
        for sym in index:
            if sym not in trade:
                raise ConfigError("--replay", f"@{sym}:index", f"a trade candle file for {sym} as well")
        streams = []
        for sym, entries in trade.items():
            for candles, bar_ms in entries:
                idx = index.get(sym)
                idx_map = {c.ts_ms: c for c in idx[0]} if idx else None

                def make(sym: str = sym, candles: list[Candle] = candles, bar_ms: int = bar_ms,
                         idx_map: dict[int, Candle] | None = idx_map,
                         idx: tuple[list[Candle], int] | None = idx) -> Iterator[MarketTick]:
                    return expand_candles(sym, candles, bar_ms, index_candles=idx_map,
                                          index_bar_ms=idx[1] if idx else None,
                                          spread_bps=spread_bps, depth_usd=depth_usd)

                streams.append(_Stream(make, {sym}, candles[0].ts_ms, candles[-1].ts_ms + (3 * bar_ms) // 4))
        return streams

    def _ws_ticks(self, path: Path, builder: TickBuilder) -> Iterator[MarketEvent]:
        from kraken_tui.kraken.ws_parse import parse_ws_message

        for line in rf.iter_ws_recording(path):
            if line.direction != "in" or line.msg is None:  # msg is None on connect lines only
                continue
            try:
                event = parse_ws_message(line.msg)
            except ProtocolError as exc:
                raise DataFileError(str(path), f"{exc.source}: {exc.reason}", line=line.line,
                                    field=f"msg.{exc.field}" if exc.field else "msg") from None
            yield from builder.feed(event, line.ts_ms)
        self.seq_gaps += builder.seq_gaps

    def _builder(self) -> TickBuilder:
        # a --funding file is the funding source; otherwise a recording's own ticker rates are
        return TickBuilder(self.symbol_map, self._keep, funding_from_ticker=self._funding_path is None)

    def _ws_stream(self, path: Path) -> _Stream:
        """Validate the whole recording now (one pass) and learn its symbols and span."""
        builder = self._builder()
        first = last = None
        for tick in self._ws_ticks(path, builder):
            first = tick.ts_ms if first is None else first
            last = tick.ts_ms
        self.seq_gaps = 0
        if first is None or last is None:
            return _Stream(lambda: iter(()), set(), 2**62, 0)
        return _Stream(lambda: self._ws_ticks(path, self._builder()),
                       set(builder.seen), first, last)

    def funding_symbol(self, file_symbol: str) -> str:
        """The replayed perpetual a funding file's symbol applies to (module docstring).

        Raises:
            ConfigError: key ``--funding`` when no replayed symbol matches.
        """
        s = file_symbol.upper()
        s = self.symbol_map.get(s, s)
        s = CCXT_ALIASES.get(s, s)
        s = self.symbol_map.get(s, s)
        if s in self.symbols:
            return s
        if len(self.symbols) == 1:
            log.info("funding rates of %s applied to %s, the only replayed symbol", file_symbol or "<file>",
                     self.symbols[0])
            return self.symbols[0]
        raise ConfigError("--funding", file_symbol, f"a symbol among {', '.join(self.symbols)} (use --symbol-map)")

    def _load_funding(self, path: Path) -> None:
        rates = rf.read_funding_csv(path)
        by_symbol: dict[str, list[FundingRate]] = {}
        for r in rates:
            by_symbol.setdefault(r.symbol, []).append(r)
        for file_sym, rows in by_symbol.items():
            sym = self.funding_symbol(file_sym)
            events, carried = funding_events(rows, sym, self.start_ms, self.end_ms)
            self.funding.extend(events)
            self.funding_carried += carried
        self.funding.sort(key=lambda e: e.ts_ms)
        if self.funding_carried:
            log.warning("%s: %d hour(s) missing in the funding file; previous rate carried forward",
                        path, self.funding_carried)

    # ------------------------------------------------------------------ MarketSource

    def iter_events(self) -> Iterator[MarketEvent]:
        """All events in time order, unpaced (funding first at equal ``ts_ms``). Used by ``events``."""
        streams: list[Iterable[MarketEvent]] = [iter(self.funding)]
        streams += [s.make() for s in self._streams]
        return heapq.merge(*streams, key=lambda e: (e.ts_ms, 0 if isinstance(e, FundingEvent) else 1))

    def events(self) -> AsyncIterator[MarketEvent]:
        """Yield the merged events paced at ``speed`` (MarketSource.events); ends at the data's end."""
        return paced(self.iter_events(), Pacer(self.speed, **self._pacer_args), lambda: self._closed)

    async def close(self) -> None:
        """Stop the stream at the next event."""
        self._closed = True
