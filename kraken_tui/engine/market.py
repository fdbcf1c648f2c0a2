"""Live market state per symbol: latest quote, funding, basis, and the candle builders strategies read.

Owns: ``MarketState`` (an ``engine.signals.MarketView``: it extends ``BuilderMarketView`` and owns one
``CandleBuilder`` per symbol and price series) and ``SeriesCandle`` (a closed candle tagged with its symbol
and series). Fed with domain ``Ticker`` and ``PublicTrade`` objects (spec §7.3, §7.6) and warmed up from
charts API candles (spec §6). Every update returns the candles it closed so the caller runs the strategy.

Series (spec §6, §8.4): "trade" candles from public trade prints, "spot" candles from the ticker's index
price, "mark" (optional) from the ticker's mark price. Index/mark updates carry no volume.
Hot path: one ticker or trade update is plain float/attribute work plus ``CandleBuilder`` (no pydantic,
no Decimal); see ``bench`` for timings.
Units: prices USD (float), funding rates relative per hour (fraction; positive = longs pay, spec §8.3),
times UTC epoch ms. Must not import: textual, the client, the journal, risk or execution modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kraken_tui.domain import Candle, PublicTrade, Ticker
from kraken_tui.domain.timeunits import HOUR_MS

from .candles import TIMEFRAMES, CandleBuilder, ClosedCandle
from .facade import MarketStateView
from .signals import BuilderMarketView, PriceSeries

__all__ = ["MarketState", "SeriesCandle"]


@dataclass(frozen=True, slots=True)
class SeriesCandle:
    """A candle that just closed: ``symbol``, price ``series`` and the builder's ``ClosedCandle``."""

    symbol: str
    series: PriceSeries
    closed: ClosedCandle

    @property
    def timeframe(self) -> str:
        """Timeframe name ("5m", ...)."""
        return self.closed.timeframe

    @property
    def candle(self) -> Candle:
        """The closed candle (open time ``ts_ms``)."""
        return self.closed.candle


class _Quote:
    """Latest non-candle state of one symbol (mutable, updated in place on the hot path)."""

    __slots__ = (
        "mark", "index", "last", "bid", "ask", "funding_rate", "predicted_rate", "next_funding_ts_ms",
        "last_update_ms", "suspended", "trade", "spot", "mark_builder", "funding_hours",
    )

    def __init__(self) -> None:
        self.mark: float | None = None
        self.index: float | None = None
        self.last: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.funding_rate: float | None = None
        self.predicted_rate: float | None = None
        self.next_funding_ts_ms: int | None = None
        self.last_update_ms: int | None = None
        self.suspended = False
        self.trade: CandleBuilder | None = None
        self.spot: CandleBuilder | None = None
        self.mark_builder: CandleBuilder | None = None
        self.funding_hours: dict[int, float] = {}  # hour start (UTC ms) -> last relative rate seen in it


#: Hours of ticker funding rates kept per symbol (``MarketState.funding_rate_at``).
FUNDING_HOURS_KEPT = 48


def _record_funding(hours: dict[int, float], ts_ms: int, rate: float) -> None:
    """Keep ``rate`` as the rate of the hour of ``ts_ms`` (the last one seen in an hour wins); keeps the last
    ``FUNDING_HOURS_KEPT`` hours."""
    hour = ts_ms - ts_ms % HOUR_MS
    if hour not in hours and len(hours) >= FUNDING_HOURS_KEPT:
        del hours[min(hours)]
    hours[hour] = rate


def _tag(symbol: str, series: PriceSeries, closed: list[ClosedCandle]) -> list[SeriesCandle]:
    return [SeriesCandle(symbol, series, c) for c in closed]


class MarketState(BuilderMarketView):
    """Market state of the traded symbols.

    Args:
        symbols: the perpetuals tracked (e.g. "PF_XBTUSD"); updates for other symbols are ignored and
            counted in ``ignored_updates``.
        timeframes: candle timeframes built for every symbol and series (names from ``candles.TIMEFRAMES``).
        trade_timeframes: more timeframes built for the "trade" series only (the chart's,
            ``facade.CHART_TIMEFRAMES``): the index and mark series, which only strategies read, skip them
            (each timeframe costs every update a candle update).
        series: price series built: any of "trade", "spot", "mark" (default trade and spot).
        history, fill_gaps, max_fill_bars: passed to each ``CandleBuilder``.

    Raises:
        ValueError: unknown timeframe or series, or no timeframes (from ``CandleBuilder``).

    Update methods take ``now_ms`` (engine clock, UTC ms): it stamps ``last_update_ms`` and is the
    candle time when a ticker has no ``ts_ms``. They return the candles closed by the update as
    ``SeriesCandle``s, ordered by close time then timeframe.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        timeframes: Iterable[str],
        *,
        series: Iterable[PriceSeries] = ("trade", "spot"),
        history: int = 1000,
        fill_gaps: bool = True,
        max_fill_bars: int = 240,
        trade_timeframes: Iterable[str] = (),
    ) -> None:
        super().__init__()
        built = tuple(dict.fromkeys(series))
        bad = [s for s in built if s not in ("trade", "spot", "mark")]
        if bad:
            raise ValueError(f"unknown price series {bad}; expected trade, spot or mark")
        self.series: tuple[PriceSeries, ...] = built
        self.timeframes = tuple(timeframes)
        with_trade = tuple(dict.fromkeys((*self.timeframes, *trade_timeframes)))
        self.ignored_updates = 0
        self._q: dict[str, _Quote] = {}
        for sym in dict.fromkeys(symbols):
            q = self._q[sym] = _Quote()
            for s in built:
                b = CandleBuilder(sym, with_trade if s == "trade" else self.timeframes, history=history,
                                  fill_gaps=fill_gaps, max_fill_bars=max_fill_bars)
                self.add_builder(b, s)
                if s == "trade":
                    q.trade = b
                elif s == "spot":
                    q.spot = b
                else:
                    q.mark_builder = b

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols tracked, in configuration order."""
        return tuple(self._q)

    # ------------------------------------------------------------------ updates (hot path)

    def on_ticker(self, t: Ticker, now_ms: int | None = None) -> list[SeriesCandle]:
        """Apply a ticker (WS §7.3 / REST §4.3): fields that are None keep their previous value.

        The index price feeds the "spot" candles and the mark price the "mark" candles (if built), at
        ``t.ts_ms`` (else ``now_ms``; with neither, no candle is touched).
        """
        q = self._q.get(t.symbol)
        if q is None:
            self.ignored_updates += 1
            return []
        mark, index = t.mark_price, t.index_price
        if mark is not None:
            q.mark = mark
            self._mark[t.symbol] = mark
        if index is not None:
            q.index = index
            self._index[t.symbol] = index
        if t.last is not None:
            q.last = t.last
        if t.bid is not None:
            q.bid = t.bid
        if t.ask is not None:
            q.ask = t.ask
        ts = t.ts_ms if t.ts_ms is not None else now_ms
        if t.funding_rate is not None:
            q.funding_rate = t.funding_rate
            if ts is not None:
                _record_funding(q.funding_hours, ts, t.funding_rate)
        if t.funding_rate_prediction is not None:
            q.predicted_rate = t.funding_rate_prediction
        if t.next_funding_ts_ms is not None:
            q.next_funding_ts_ms = t.next_funding_ts_ms
        q.suspended = t.suspended
        q.last_update_ms = now_ms if now_ms is not None else ts
        if ts is None:
            return []
        out: list[SeriesCandle] = []
        if index is not None and q.spot is not None:
            closed = q.spot.add_trade(ts, index)
            if closed:
                out += _tag(t.symbol, "spot", closed)
        if mark is not None and q.mark_builder is not None:
            closed = q.mark_builder.add_trade(ts, mark)
            if closed:
                out += _tag(t.symbol, "mark", closed)
        return out

    def on_trade(self, tr: PublicTrade, now_ms: int | None = None) -> list[SeriesCandle]:
        """Apply a public trade print (WS §7.6): sets the last price and feeds the "trade" candles at
        ``tr.ts_ms`` with its size (contracts) as volume. Every print kind counts (fill, liquidation,
        block, ...), as it is part of the traded price series."""
        q = self._q.get(tr.symbol)
        if q is None:
            self.ignored_updates += 1
            return []
        q.last = tr.price
        q.last_update_ms = now_ms if now_ms is not None else tr.ts_ms
        if q.trade is None:
            return []
        closed = q.trade.add_trade(tr.ts_ms, tr.price, tr.size)
        return _tag(tr.symbol, "trade", closed) if closed else []

    def on_candle(
        self, symbol: str, candle: Candle, source_timeframe: str, series: PriceSeries = "trade"
    ) -> list[SeriesCandle]:
        """Feed one closed candle of ``source_timeframe`` (a backtest or replay on candles) into
        ``symbol``/``series``; its close also becomes the last (trade), index (spot) or mark price.

        Raises:
            KeyError: symbol or series not built. ValueError: see ``CandleBuilder.add_candle``.
        """
        b = self._builder(symbol, series)
        q = self._q[symbol]
        if series == "trade":
            q.last = candle.close
        elif series == "spot":
            q.index = self._index[symbol] = candle.close
        else:
            q.mark = self._mark[symbol] = candle.close
        return _tag(symbol, series, b.add_candle(candle, source_timeframe))

    def advance(self, now_ms: int) -> list[SeriesCandle]:
        """Close every bar of every symbol and series that ended at or before ``now_ms`` (call on a
        clock tick so a quiet market still produces candles)."""
        out: list[SeriesCandle] = []
        for (sym, series), b in self._builders.items():
            closed = b.advance(now_ms)
            if closed:
                out += _tag(sym, series, closed)  # type: ignore[arg-type]
        out.sort(key=lambda sc: (sc.candle.ts_ms + TIMEFRAMES[sc.timeframe], TIMEFRAMES[sc.timeframe]))
        return out

    def warm_up(
        self,
        symbol: str,
        timeframe: str,
        candles: Sequence[Candle],
        *,
        series: PriceSeries = "trade",
        now_ms: int | None = None,
    ) -> list[Candle]:
        """Load charts API history (spec §6) into ``symbol``/``series``/``timeframe`` before live
        updates; see ``CandleBuilder.warm_up``.

        Returns:
            The closed candles accepted, oldest first (the caller feeds them to the strategy).

        Raises:
            KeyError: symbol or series not built. ValueError / ProtocolError: from ``CandleBuilder.warm_up``.
        """
        return self._builder(symbol, series).warm_up(timeframe, candles, now_ms=now_ms)

    def _builder(self, symbol: str, series: PriceSeries) -> CandleBuilder:
        b = self._builders.get((symbol, series))
        if b is None:
            raise KeyError(f"{symbol}/{series} is not built (symbols {self.symbols}, series {self.series})")
        return b

    def builder(self, symbol: str, series: PriceSeries = "trade") -> CandleBuilder:
        """The ``CandleBuilder`` of ``symbol``/``series`` (e.g. for its forming candle).

        Raises:
            KeyError: symbol or series not built.
        """
        return self._builder(symbol, series)

    # ------------------------------------------------------------------ reading

    def funding_rate(self, symbol: str) -> float | None:
        """Latest relative funding rate per hour (fraction; positive = longs pay), or None."""
        q = self._q.get(symbol)
        return q.funding_rate if q is not None else None

    def funding_rate_at(self, symbol: str, hour_start_ms: int) -> float | None:
        """Relative funding rate per hour of the hour starting at ``hour_start_ms`` (UTC ms) as the tickers
        said it: the last ``funding_rate`` of a ticker stamped in that hour (Kraken Futures docs, WS "ticker":
        ``relative_funding_rate`` is the rate of the current hour; docs/kraken-futures-api.md §7.3, §8.3).
        None when no ticker of that hour carried a rate (before the run started, a ticker without funding
        fields, or more than ``FUNDING_HOURS_KEPT`` hours ago). The ``ml`` source's funding features read
        this live, as the backtest reads its funding file (``backtest.data.FundingSchedule.known_rate``)."""
        q = self._q.get(symbol)
        return q.funding_hours.get(hour_start_ms) if q is not None else None

    def seed_funding(self, symbol: str, rates: Iterable[tuple[int, float]]) -> int:
        """Add past hours' relative funding rates ``(hour_start_ms, rate)`` of ``symbol`` (Kraken Futures docs,
        "Historical funding rates": ``timestamp`` = start of the period the rate applies to; spec §4.5) to what
        ``funding_rate_at`` reads; an hour a ticker already gave keeps the ticker's rate; the latest
        ``FUNDING_HOURS_KEPT`` hours are kept. Returns the hours added (0 for a symbol not tracked)."""
        q = self._q.get(symbol)
        if q is None:
            return 0
        hours = q.funding_hours
        n = 0
        for ts, rate in sorted(rates)[-FUNDING_HOURS_KEPT:]:
            hour = ts - ts % HOUR_MS
            if hour not in hours:
                hours[hour] = rate
                n += 1
        for hour in sorted(hours)[:-FUNDING_HOURS_KEPT]:
            del hours[hour]
        return n

    def last_price(self, symbol: str) -> float | None:
        """Latest trade price (USD), or None."""
        q = self._q.get(symbol)
        return q.last if q is not None else None

    def last_update_ms(self, symbol: str) -> int | None:
        """Engine-clock time (UTC ms) of the last ticker or trade for ``symbol``, or None."""
        q = self._q.get(symbol)
        return q.last_update_ms if q is not None else None

    def suspended(self, symbol: str) -> bool:
        """True when the last ticker said the market is suspended."""
        q = self._q.get(symbol)
        return q is not None and q.suspended

    def basis_bps(self, symbol: str) -> float | None:
        """(mark - index) / index x 1e4 (spec §8.4), or None when either is unknown or index <= 0."""
        q = self._q.get(symbol)
        if q is None or q.mark is None or not q.index or q.index <= 0:
            return None
        return (q.mark - q.index) / q.index * 1e4

    def view(self, symbol: str) -> MarketStateView:
        """A frozen snapshot for the front end (``facade.MarketStateView``); all None for an unknown symbol."""
        q = self._q.get(symbol)
        if q is None:
            return MarketStateView(symbol)
        return MarketStateView(
            symbol,
            mark_price=q.mark,
            index_price=q.index,
            last_price=q.last,
            bid=q.bid,
            ask=q.ask,
            funding_rate=q.funding_rate,
            predicted_funding_rate=q.predicted_rate,
            next_funding_ts_ms=q.next_funding_ts_ms,
            basis_bps=self.basis_bps(symbol),
            last_update_ms=q.last_update_ms,
        )

    def views(self) -> tuple[MarketStateView, ...]:
        """``view`` of every tracked symbol, in configuration order."""
        return tuple(self.view(s) for s in self._q)
