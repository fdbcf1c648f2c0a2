"""Candle -> tick expansion for replays: the documented intra-bar path and the synthetic quote around it.

Owns: ``intrabar_path`` (the order of the four prices inside a bar), ``expand_candles`` (bars -> trade
prints with mark, index and a quote), ``quote_around`` (the synthetic bid/ask and sizes, also used by
the synthetic source).

Intra-bar order: open, then the nearer of high/low to the open, then the other,
then close. A tie (open equally far from high and low) goes low first when the bar closes at or
above its open (O-L-H-C, the usual up-bar path) and high first otherwise. Tick times inside a bar of
length B ms opening at t: open at t, second at t + B/4, third at t + B/2, close at t + 3B/4 (integer
ms, floor). Each tick is a trade print at that price of ``volume / 4`` contracts (0 volume -> no
trade size, a quote-only tick); the taker side is BUY when the price is at or above the previous
tick's price, SELL when below (the very first tick is BUY).

Every tick sets ``last`` = ``mark_price`` = the path price. ``index_price`` is the matching tick of
a spot (index) candle series for the same symbol when one is given (a spot bar with the same open
time, expanded with the same rule; spec §6 "spot candles = index price", §8.4); otherwise the path
price. The quote is ``bid = last * (1 - spread_bps/2/1e4)``, ``ask = last * (1 + spread_bps/2/1e4)``
(default total spread 1 bp), each side holding ``depth_usd`` of notional: ``depth_usd / price``
contracts for linear products, ``depth_usd`` contracts for inverse PI_/FI_ products (1 contract =
1 USD, spec §8.2).

Must not import: textual, websockets, aiohttp, the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from kraken_tui.domain import Candle, Side
from kraken_tui.paper.sources.base import MarketTick

__all__ = ["DEFAULT_DEPTH_USD", "DEFAULT_SPREAD_BPS", "expand_candles", "intrabar_path", "is_inverse", "quote_around"]

DEFAULT_SPREAD_BPS = 1.0
DEFAULT_DEPTH_USD = 250_000.0


def is_inverse(symbol: str) -> bool:
    """True for inverse contracts (PI_ perpetual, FI_ dated), whose contract is 1 USD (spec §8.1-§8.2)."""
    return symbol.upper().startswith(("PI_", "FI_"))


def quote_around(symbol: str, price: float, spread_bps: float = DEFAULT_SPREAD_BPS,
                 depth_usd: float = DEFAULT_DEPTH_USD) -> tuple[float, float, float, float]:
    """Synthetic quote around ``price`` (USD): returns ``(bid, ask, bid_size, ask_size)``.

    ``bid/ask = price * (1 -/+ spread_bps / 2 / 1e4)``; sizes in contracts holding ``depth_usd`` each
    (``depth_usd / price`` for linear, ``depth_usd`` for inverse). Example: price 100 000, 1 bp ->
    bid 99 995, ask 100 005; 250 000 USD depth -> 2.5 contracts of PF_XBTUSD.
    """
    half = price * spread_bps / 2.0 / 1e4
    size = depth_usd if is_inverse(symbol) else depth_usd / price
    return price - half, price + half, size, size


def intrabar_path(c: Candle) -> tuple[float, float, float, float]:
    """The four prices of a bar in replay order: open, nearer extreme, other extreme, close."""
    up = c.high - c.open
    down = c.open - c.low
    if down < up or (down == up and c.close >= c.open):
        return c.open, c.low, c.high, c.close
    return c.open, c.high, c.low, c.close


def _offsets(bar_ms: int) -> tuple[int, int, int, int]:
    return 0, bar_ms // 4, bar_ms // 2, (3 * bar_ms) // 4


def expand_candles(
    symbol: str,
    candles: Iterable[Candle],
    bar_ms: int,
    *,
    index_candles: Mapping[int, Candle] | None = None,
    index_bar_ms: int | None = None,
    spread_bps: float = DEFAULT_SPREAD_BPS,
    depth_usd: float = DEFAULT_DEPTH_USD,
) -> Iterator[MarketTick]:
    """Expand bars into four MarketTicks each (module docstring for the order, times and sizes).

    Args:
        symbol: the perpetual the ticks are for.
        candles: trade candles in strictly increasing time.
        bar_ms: bar length, ms (> 0).
        index_candles: spot candles by open time (ms); the index of each tick comes from the spot bar
            that opened at the same time, expanded with the same rule; else index = last.
        index_bar_ms: bar length of the spot series (defaults to ``bar_ms``); must equal ``bar_ms``
            for the tick times to line up, else the spot bar's close is used for all four ticks.

    Yields:
        MarketTick with last, mark_price, index_price, bid/ask and sizes, and a trade print.
    """
    if bar_ms <= 0:
        raise ValueError(f"bar_ms must be > 0, got {bar_ms}")
    offs = _offsets(bar_ms)
    same_grid = index_bar_ms in (None, bar_ms)
    prev_price: float | None = None
    for c in candles:
        path = intrabar_path(c)
        spot = index_candles.get(c.ts_ms) if index_candles else None
        if spot is None:
            idx_path = path
        elif same_grid:
            idx_path = intrabar_path(spot)
        else:
            idx_path = (spot.close,) * 4
        size = c.volume / 4.0 if c.volume > 0 else None
        for off, price, idx in zip(offs, path, idx_path, strict=True):
            bid, ask, bsz, asz = quote_around(symbol, price, spread_bps, depth_usd)
            side = Side.BUY if prev_price is None or price >= prev_price else Side.SELL
            prev_price = price
            yield MarketTick(
                symbol=symbol, ts_ms=c.ts_ms + off, last=price, bid=bid, ask=ask, bid_size=bsz, ask_size=asz,
                mark_price=price, index_price=idx, trade_size=size, trade_side=side if size else None,
            )
