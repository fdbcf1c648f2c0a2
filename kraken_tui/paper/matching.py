"""Market state per symbol and the matching rules of the paper exchange.

Owns: ``PaperMarket`` (latest quote, last trade, mark and index price, funding rates by hour, feed sequence
numbers, its multi-level ``paper.book.DepthBook``), ``protection_limit`` (``mkt`` = IOC 1% through the
market, spec §4.10), ``taker_fills`` (a marketable order walks the opposite side of the book level by level up
to its limit: one execution per level, so its average price is the size-weighted price of the levels taken and
slippage comes from depth) and ``maker_fill`` (a resting limit fills as maker, at its own price, when the
market trades or quotes through it). Sizes taken are consumed until the source moves the book again.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kraken_tui.domain import Instrument, Side, TriggerSignal
from kraken_tui.domain.instruments import price_decimals
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper.book import DepthBook
from kraken_tui.paper.orders import PaperOrder
from kraken_tui.paper.sources.base import MarketTick

__all__ = ["PaperMarket", "fillable", "maker_fill", "protection_limit", "taker_fills"]

PROTECTION = Decimal("0.01")
MAX_FUNDING_HISTORY = 24 * 400


def _d(x: float) -> Decimal:
    return Decimal(repr(x))


@dataclass(slots=True)
class PaperMarket:
    """Latest market of one symbol (floats, as market data; USD prices, contract sizes, UTC ms)."""

    symbol: str
    ts_ms: int = 0
    last: float | None = None
    last_size: float | None = None
    last_ts_ms: int | None = None
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    mark: float | None = None
    index: float | None = None
    index_from_source: bool = False
    funding_rates: list[tuple[int, float]] = field(default_factory=list)
    charged_rates: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Hour start (UTC ms) -> (relative rate, absolute rate) the exchange settled funding at."""
    trade_seq: int = 0
    book_seq: int = 0
    book: DepthBook = field(default_factory=lambda: DepthBook("", 1e-8, 0.0))
    """The multi-level book; ``PaperExchange`` gives each market one on its instrument's tick and lot grid."""

    def apply(self, tick: MarketTick) -> None:
        """Take every field the tick carries; missing fields keep their previous value. Mark falls back to
        the mid (then last) and index to the mark when a source never provides them."""
        self.ts_ms = max(self.ts_ms, tick.ts_ms)
        quoted = False
        for name in ("bid", "ask", "bid_size", "ask_size"):
            v = getattr(tick, name)
            if v is not None:
                setattr(self, name, v)
                quoted = True
        if tick.depth is not None:
            self.book.set_recorded(tick.depth[0], tick.depth[1])
        elif quoted:
            self.book.set_quote(self.bid, self.bid_size, self.ask, self.ask_size)
        if tick.last is not None:
            self.last = tick.last
            if tick.trade_size is not None:
                self.last_size = tick.trade_size
                self.last_ts_ms = tick.ts_ms
        if tick.mark_price is not None:
            self.mark = tick.mark_price
        elif self.bid is not None and self.ask is not None:
            self.mark = (self.bid + self.ask) / 2
        elif self.last is not None:
            self.mark = self.last
        if tick.index_price is not None:
            self.index = tick.index_price
            self.index_from_source = True
        elif not self.index_from_source:
            self.index = self.mark

    @property
    def has_price(self) -> bool:
        """True once a mark price is known."""
        return self.mark is not None

    def signal_price(self, signal: TriggerSignal | None) -> float | None:
        """The price a trigger watches: mark, index or last (spec §4.10 ``triggerSignal``)."""
        if signal is TriggerSignal.INDEX:
            return self.index
        if signal is TriggerSignal.LAST:
            return self.last if self.last is not None else self.mark
        return self.mark

    def set_funding_rate(self, hour_start_ms: int, relative_rate: float) -> None:
        """Record the relative hourly rate for the hour starting at ``hour_start_ms`` (a later announcement for
        the same hour replaces it; the last ``MAX_FUNDING_HISTORY`` hours are kept)."""
        key = hour_start_ms - hour_start_ms % HOUR_MS
        i = bisect.bisect_left(self.funding_rates, (key, -math.inf))
        if i < len(self.funding_rates) and self.funding_rates[i][0] == key:
            self.funding_rates[i] = (key, relative_rate)
        else:
            self.funding_rates.insert(i, (key, relative_rate))
        if len(self.funding_rates) > MAX_FUNDING_HISTORY:
            del self.funding_rates[: len(self.funding_rates) - MAX_FUNDING_HISTORY]

    def funding_rate_for(self, hour_start_ms: int) -> float:
        """Relative rate of the hour starting at ``hour_start_ms``: the latest rate announced for that hour or
        an earlier one; 0 when none is known."""
        i = bisect.bisect_right(self.funding_rates, (hour_start_ms, math.inf))
        return self.funding_rates[i - 1][1] if i > 0 else 0.0


def protection_limit(inst: Instrument, side: Side, market: PaperMarket) -> Decimal | None:
    """Limit price of a ``mkt`` order: 1% through the opposite quote (else last/mark), on the tick grid."""
    ref = (market.ask if side is Side.BUY else market.bid) or market.last or market.mark
    if ref is None:
        return None
    p = _d(ref) * (1 + PROTECTION if side is Side.BUY else 1 - PROTECTION)
    return inst.round_price(p, rounding=ROUND_FLOOR if side is Side.BUY else ROUND_CEILING).max(inst.tick_size)


def _available(size: float | None, inst: Instrument, remaining: Decimal) -> Decimal:
    if size is None:
        return remaining
    return min(remaining, inst.round_size(_d(max(size, 0.0))))


def fillable(order: PaperOrder, inst: Instrument, market: PaperMarket) -> Decimal:
    """Contracts the order could take now at prices no worse than its limit, without taking them (``fok``)."""
    if order.limit_price is None:
        return Decimal(0)
    buy = order.side is Side.BUY
    bids, asks = market.book.levels()
    side = asks if buy else bids
    lim = float(order.limit_price)
    if not side:
        last = None if (market.ask if buy else market.bid) is not None else market.last
        ok = last is not None and (last <= lim if buy else last >= lim)
        return order.remaining if ok else Decimal(0)
    total = Decimal(0)
    for price, size in side:
        if (buy and price > lim) or (not buy and price < lim) or total >= order.remaining:
            break
        total += order.remaining if size == math.inf else inst.round_size(_d(size))
    return min(total, order.remaining)


def taker_fills(order: PaperOrder, inst: Instrument, market: PaperMarket) -> list[tuple[Decimal, Decimal]]:
    """[(price USD, contracts)] the order takes now, one per book level, best first; [] when not marketable.

    A buy walks the asks while ask <= limit (a sell the bids while bid >= limit), taking each level's size
    (rounded down to the lot) until the order is done; the sizes taken are consumed and the market's quote
    moves to the new best level. Without a quote, the last price stands in with unlimited size; a quote whose
    size is 0 has nothing to take.
    """
    if order.limit_price is None:
        return []
    buy = order.side is Side.BUY
    bids, asks = market.book.levels()
    side = asks if buy else bids
    if not side:
        if market.last is None or (market.ask if buy else market.bid) is not None:
            return []  # a quote with no size behind it: nothing to take
        last = _d(market.last)
        if (buy and last > order.limit_price) or (not buy and last < order.limit_price):
            return []
        return [(last, order.remaining)]
    lim = float(order.limit_price)
    remaining = order.remaining
    out: list[tuple[Decimal, Decimal]] = []
    while remaining > 0 and side:
        price, size = side[0]
        if (buy and price > lim) or (not buy and price < lim):
            break
        qty = remaining if size == math.inf else min(remaining, inst.round_size(_d(size)))
        if qty > 0:
            out.append((_d(price), qty))
            remaining -= qty
        left = size - float(qty)
        if qty <= 0 or (size != math.inf and inst.round_size(_d(max(left, 0.0))) <= 0):
            side.pop(0)
        else:
            side[0][1] = left
    top = side[0] if side else None
    if buy:
        market.ask_size = top[1] if top is not None and top[1] != math.inf else (0.0 if top is None else None)
        market.ask = top[0] if top is not None else market.ask
    else:
        market.bid_size = top[1] if top is not None and top[1] != math.inf else (0.0 if top is None else None)
        market.bid = top[0] if top is not None else market.bid
    return out


def maker_fill(order: PaperOrder, inst: Instrument, market: PaperMarket, trade: list[float] | None
               ) -> tuple[Decimal, Decimal] | None:
    """(limit price, contracts) a resting limit fills as maker on this tick, or None.

    ``trade`` is ``[price, size_left]`` of this tick's trade print (None when the tick has none). A print
    strictly through the limit (below a buy, above a sell) fills up to the size left; an opposite quote
    strictly through the limit fills up to the quoted size. The size used is consumed.
    """
    if order.limit_price is None:
        return None
    buy = order.side is Side.BUY
    lim = float(order.limit_price)
    if trade is not None and (trade[0] < lim if buy else trade[0] > lim):
        qty = _available(trade[1], inst, order.remaining)
        if qty > 0:
            trade[1] = max(0.0, trade[1] - float(qty))
            return order.limit_price, qty
    quote = market.ask if buy else market.bid
    if quote is not None and (quote < lim if buy else quote > lim):
        qsize = market.ask_size if buy else market.bid_size
        qty = _available(qsize, inst, order.remaining)
        if qty > 0:
            if qsize is not None:
                if buy:
                    market.ask_size = max(0.0, qsize - float(qty))
                else:
                    market.bid_size = max(0.0, qsize - float(qty))
            return order.limit_price, qty
    return None


def on_tick_grid(tick: MarketTick, inst: Instrument) -> MarketTick:
    """Put a source's traded and quoted prices on the instrument's tick grid, as Kraken's book and trades are
    (spec §8.2): bid rounded down, ask up, last to the nearest tick. Mark and index stay as given (Kraken's mark
    price is computed, not traded, and carries many decimals, spec §4.3 example). Synthetic and spot-candle
    sources produce off-grid prices; without this a limit order at a valid tick could never equal the quote."""
    grid = _GRIDS.get(inst.tick_size)
    if grid is None:  # (step as float, decimals of the tick size), cached: this runs on every tick
        grid = _GRIDS[inst.tick_size] = (float(inst.tick_size), price_decimals(inst.tick_size))
    step, digits = grid
    bid, ask, last = tick.bid, tick.ask, tick.last
    new_bid = None if bid is None else round(math.floor(bid / step + 1e-9) * step, digits)
    new_ask = None if ask is None else round(math.ceil(ask / step - 1e-9) * step, digits)
    new_last = None if last is None else round(round(last / step) * step, digits)
    if _same(bid, new_bid) and _same(ask, new_ask) and _same(last, new_last):
        return tick  # already on the grid (an exchange-grade source): nothing to copy
    return replace(tick, bid=new_bid, ask=new_ask, last=new_last)


_GRIDS: dict[Decimal, tuple[float, int]] = {}


def _same(old: float | None, new: float | None) -> bool:
    """The snapped value is the given one, type included (an int price stays distinguishable from a float)."""
    return old is None or (type(old) is float and old == new)
