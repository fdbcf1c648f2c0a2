"""What a strategy says and what it may look at: ``Signal``, ``SignalSide``, ``Strategy``, ``MarketView``.

Owns: the Signal value (symbol, side long|short|flat, confidence 0..1, reason, features), the small
Strategy protocol every strategy implements, the read-only MarketView protocol a strategy reads market
state through (closed candles per timeframe and price series, mark, index, basis), ``BuilderMarketView``
(a MarketView over ``CandleBuilder``s plus the latest mark/index, used by tests, the benchmark and the
backtest), and the basis guard.

Meaning of a signal: ``long`` opens a long (a buy), ``short`` opens a short (a sell), ``flat``
asks to hold no position. Whether and how much to trade is the risk gate's job, not the strategy's.

Price series (spec §6, §8.4): "trade" = the perpetual's own trade candles, "spot" = the index price
candles (the charts API's ``spot`` tick type), "mark" = mark price candles. A strategy reads one series
("spot signals, futures execution": read the index, trade the perpetual).

Must not import: textual, numpy, the Kraken wire modules, the risk or execution modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from kraken_tui.domain import Candle

from .candles import CandleBuilder

__all__ = [
    "BuilderMarketView",
    "MarketView",
    "PriceSeries",
    "Signal",
    "SignalSide",
    "Strategy",
    "basis_bps",
    "basis_guard",
]

PriceSeries = Literal["trade", "spot", "mark"]


class SignalSide(StrEnum):
    """The position a signal asks for: ``long`` (buy), ``short`` (sell) or ``flat`` (none)."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"

    @property
    def sign(self) -> int:
        """+1 long, -1 short, 0 flat."""
        return 1 if self is SignalSide.LONG else -1 if self is SignalSide.SHORT else 0


@dataclass(frozen=True, slots=True)
class Signal:
    """One strategy decision.

    Attributes:
        symbol: the perpetual to act on (e.g. "PF_XBTUSD").
        side: long, short or flat.
        confidence: 0..1 (1 = as sure as the strategy ever is).
        reason: one human line saying why (shown in the UI and journaled).
        features: the numbers behind the decision (indicator values, prices in USD), for the journal.
        ts_ms: time of the candle close (UTC ms) or of the external message; None if unknown.
        strategy: name of the strategy that produced it.

    Raises:
        ValueError: confidence not a finite number in 0..1, empty symbol, or a non-finite feature.
    """

    symbol: str
    side: SignalSide
    confidence: float
    reason: str
    features: Mapping[str, float] = field(default_factory=dict)
    ts_ms: int | None = None
    strategy: str = ""

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("Signal.symbol must not be empty")
        if not isinstance(self.side, SignalSide):
            object.__setattr__(self, "side", SignalSide(self.side))
        c = self.confidence
        if c.__class__ is float and 0.0 <= c <= 1.0:
            pass  # the common case, checked cheaply (a float in 0..1 is finite)
        elif (
            isinstance(c, bool)
            or not isinstance(c, int | float)
            or not math.isfinite(c)
            or not 0.0 <= c <= 1.0
        ):
            raise ValueError(f"Signal.confidence must be a number in 0..1, got {c!r}")
        for k, v in self.features.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"Signal.features[{k!r}] is not finite: {v!r}")


    @staticmethod
    def unchecked(symbol: str, side: SignalSide, confidence: float, reason: str, features: Mapping[str, float],
                  ts_ms: int | None, strategy: str) -> Signal:
        """``Signal(symbol, side, confidence, reason, features, ts_ms=ts_ms, strategy=strategy)`` without
        ``__init__``/``__post_init__`` (a third of the cost), for batch paths that have already established, for
        all their signals at once, what ``__post_init__`` checks: a non-empty symbol, ``side`` a SignalSide,
        ``confidence`` a float in 0..1 and every float feature finite. Equal (``==``) to the checked Signal."""
        sig = _new(Signal)
        _set_symbol(sig, symbol)
        _set_side(sig, side)
        _set_confidence(sig, confidence)
        _set_reason(sig, reason)
        _set_features(sig, features)
        _set_ts_ms(sig, ts_ms)
        _set_strategy(sig, strategy)
        return sig


_new = object.__new__
(_set_symbol, _set_side, _set_confidence, _set_reason, _set_features, _set_ts_ms, _set_strategy) = (
    Signal.__dict__[k].__set__ for k in ("symbol", "side", "confidence", "reason", "features", "ts_ms", "strategy"))
# ^ the slot descriptors' setters (the frozen class refuses __setattr__); tests check these are all its fields


@runtime_checkable
class MarketView(Protocol):
    """Read-only market state of the symbols a strategy trades. Prices in USD.

    ``candles`` returns closed candles, oldest first (an empty sequence when none are known); the other
    readers return None when the value is not known yet.
    """

    def candles(self, symbol: str, timeframe: str, series: PriceSeries = "trade") -> Sequence[Candle]:
        """Closed candles of ``symbol``/``timeframe``/``series``, oldest first."""
        ...

    def mark_price(self, symbol: str) -> float | None:
        """Latest mark price (USD)."""
        ...

    def index_price(self, symbol: str) -> float | None:
        """Latest index (spot) price (USD)."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """A signal source. The engine calls ``on_candle`` for every closed candle of every timeframe in
    ``timeframes`` of the price series ``series``, in time order, for each traded symbol.

    Attributes:
        name: registry name ("sma_cross", ...).
        timeframe: the timeframe whose candle closes produce signals.
        timeframes: every timeframe the strategy wants candles of (includes ``timeframe``).
        series: which price series' candles it reads ("trade" or "spot").
        warmup_bars: closed candles of ``timeframe`` needed before the first possible signal.
    """

    timeframe: str
    timeframes: tuple[str, ...]
    series: PriceSeries
    warmup_bars: int

    @property
    def name(self) -> str:
        """Registry name ("sma_cross", ...); a class attribute of the built-in strategies."""
        ...

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Consume one closed candle; return a Signal or None (nothing to say on this bar)."""
        ...


def basis_bps(mark: float, index: float) -> float:
    """Basis ``(mark - index) / index`` in basis points (spec §8.4: mark = index + premium).

    Raises:
        ValueError: index not > 0, or a non-finite price.
    """
    if not (math.isfinite(mark) and math.isfinite(index)) or index <= 0:
        raise ValueError(f"basis needs finite prices and index > 0, got mark={mark!r}, index={index!r}")
    return (mark - index) / index * 10_000.0


def basis_guard(mark: float | None, index: float | None, max_basis_bps: float) -> str | None:
    """Entry check "spot signals, futures execution" (config ``risk.max_basis_bps``).

    Returns None when an entry may go ahead, else the rejection reason: the basis |mark - index| / index
    exceeds ``max_basis_bps`` (strictly), or mark or index is unknown or not positive (no entry is
    allowed on a basis it cannot measure). Exits are never blocked by this guard.

    Example: mark 100 500, index 100 000 -> 50 bps; with max 40 the reason is
    "basis 50.0 bps exceeds max 40.0 bps (mark 100500, index 100000)".
    """
    if mark is None or index is None or not math.isfinite(mark) or not math.isfinite(index):
        return f"basis unknown (mark {mark}, index {index})"
    if mark <= 0 or index <= 0:
        return f"basis unknown (mark {mark:g}, index {index:g})"
    b = basis_bps(mark, index)
    if abs(b) > max_basis_bps:
        return f"basis {b:.1f} bps exceeds max {max_basis_bps:.1f} bps (mark {mark:g}, index {index:g})"
    return None


class BuilderMarketView:
    """A ``MarketView`` backed by one ``CandleBuilder`` per (symbol, series) plus the latest mark/index.

    The owner updates it (``set_prices``, the builders); strategies only read it.
    """

    def __init__(self) -> None:
        self._builders: dict[tuple[str, str], CandleBuilder] = {}
        self._mark: dict[str, float] = {}
        self._index: dict[str, float] = {}

    def add_builder(self, builder: CandleBuilder, series: PriceSeries = "trade") -> None:
        """Serve ``builder``'s candles as ``builder.symbol`` / ``series``."""
        self._builders[(builder.symbol, series)] = builder

    def set_prices(self, symbol: str, *, mark: float | None = None, index: float | None = None) -> None:
        """Record the latest mark and/or index price (USD) of ``symbol``."""
        if mark is not None:
            self._mark[symbol] = mark
        if index is not None:
            self._index[symbol] = index

    def candles(self, symbol: str, timeframe: str, series: PriceSeries = "trade") -> Sequence[Candle]:
        """Closed candles, oldest first; empty when the symbol, series or timeframe is not built."""
        b = self._builders.get((symbol, series))
        if b is None or timeframe not in b.timeframes:
            return ()
        return b.candles(timeframe)

    def mark_price(self, symbol: str) -> float | None:
        """Latest mark price (USD) or None."""
        return self._mark.get(symbol)

    def index_price(self, symbol: str) -> float | None:
        """Latest index price (USD) or None."""
        return self._index.get(symbol)
