"""Market data for analytics (floats): tickers, public trades, books, candles, funding rates (spec §4.3-§7.7).

Part of ``kraken_tui.domain`` (import from there). Units as stated in the package docstring.
Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraken_tui.domain.fastinit import fast_init
from kraken_tui.domain.values import Side

__all__ = ["BookDelta", "BookLevel", "BookSnapshot", "Candle", "FundingRate", "PublicTrade", "Ticker"]


@fast_init
@dataclass(frozen=True, slots=True)
class Ticker:
    """Latest market summary for one symbol (REST tickers §4.3, WS ticker §7.3).

    Prices in USD; sizes in contracts; ``funding_rate`` and ``funding_rate_prediction`` are relative
    rates per hour (fractions); the ``_abs`` variants are Kraken's absolute rates (USD per contract
    per hour for PF_). Any field the source lacks is None.
    """

    symbol: str
    ts_ms: int | None = None
    last: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    funding_rate: float | None = None
    funding_rate_prediction: float | None = None
    funding_rate_abs: float | None = None
    funding_rate_prediction_abs: float | None = None
    next_funding_ts_ms: int | None = None
    open_interest: float | None = None
    volume_24h: float | None = None
    suspended: bool = False
    post_only: bool = False

    @property
    def basis_bps(self) -> float | None:
        """(mark - index) / index in basis points, or None when either is missing."""
        if self.mark_price is None or not self.index_price:
            return None
        return (self.mark_price - self.index_price) / self.index_price * 1e4


@fast_init
@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A public trade print (WS trade §7.6). ``side`` is the taker side; size in contracts."""

    symbol: str
    ts_ms: int
    price: float
    size: float
    side: Side
    seq: int | None = None
    trade_id: str | None = None
    kind: str = "fill"  # fill | liquidation | partialLiquidation | termination | block


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level: price in USD, size in contracts."""

    price: float
    size: float


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Full book (WS book_snapshot §7.7). ``bids`` descending, ``asks`` ascending; zero sizes dropped."""

    symbol: str
    seq: int
    ts_ms: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One level update (WS book §7.7): ``size`` is the new absolute size, 0 removes the level."""

    symbol: str
    seq: int
    ts_ms: int
    side: Side  # BUY = bid side, SELL = ask side
    price: float
    size: float


@fast_init
@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV bar. ``ts_ms`` is the bar's *open* time (UTC ms); prices USD; volume in contracts."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One hourly funding rate (spec §4.5, §8.3).

    Attributes:
        ts_ms: start of the hour the rate applies to.
        funding_rate: relative rate per hour (fraction; positive = longs pay shorts).
        funding_rate_abs: Kraken's absolute rate, when known.
    """

    symbol: str
    ts_ms: int
    funding_rate: float
    funding_rate_abs: float | None = None
