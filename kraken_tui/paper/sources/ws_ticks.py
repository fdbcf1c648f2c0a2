"""Kraken WS v1 public-feed events -> MarketTicks, shared by the live relay and the recording replay.

Owns: ``TickBuilder`` (per-symbol book top via ``kraken_tui.kraken.book.OrderBook``, last trade,
mark/index state, symbol mapping).

Rules (spec §7.3-§7.7, §8.4):
- ``ticker``: last, bid/ask and sizes, ``markPrice`` -> mark, ``index`` -> index. With
  ``funding_from_ticker``, the first ticker at or after each whole UTC hour H that carries
  ``relative_funding_rate`` also yields ``FundingEvent(H, rate)`` before its tick (the ticker's current
  relative hourly rate, spec §7.3, §8.3 [INFERRED: taken as the rate of the hour starting at H]); the
  first ticker seen only sets the hour (no event for an hour already in progress).
- ``ticker_lite`` and ``book``: bid/ask (and sizes from the book). Until a full ``ticker`` has given a
  mark for the product, mark = index = mid ((bid + ask) / 2); after that they are left None (the
  exchange keeps the ticker's values).
- ``trade``: a trade print (``trade_size``, taker ``trade_side``) at ``last`` = price.
- ``trade_snapshot``: history, not new prints: sets ``last`` from the most recent trade, no size.
- ``book_snapshot`` / ``book``: each tick they give carries the recorded book (``MarketTick.depth``, the best
  ``DEPTH_LEVELS`` per side) so the exchange matches against the recorded depth (the book is handed over
  when the top changes; deeper changes ride along with the next top change).
- ``book``: deltas must be seq-contiguous after the snapshot (``OrderBook``); on a gap the product's
  book gives no quote until the next ``book_snapshot`` and ``seq_gaps`` counts it.
- Tick time is the time the message was received (the recording's ``ts``), which is monotonic.
- Products are upper-cased and mapped through ``symbol_map`` (``PI_ETHUSD`` -> ``PF_ETHUSD``);
  when ``symbols`` is given, products that map outside it are ignored. Sizes are converted when the
  mapping crosses contract types (spec §8.2): inverse (PI_/FI_, 1 contract = 1 USD) -> linear is
  ``size / price`` base units; linear -> inverse is ``size * price`` USD contracts.
Must not import: textual, websockets, aiohttp, the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.kraken import ws_events as ev
from kraken_tui.kraken.book import OrderBook
from kraken_tui.paper.sources.base import FundingEvent, MarketEvent, MarketTick
from kraken_tui.paper.sources.candles import is_inverse

__all__ = ["DEPTH_LEVELS", "TickBuilder"]

DEPTH_LEVELS = 50
"""Levels per side of the recorded book handed to the exchange with each top-of-book change."""



class TickBuilder:
    """Turns parsed WS events (``kraken_tui.kraken.ws_events``) into MarketTicks (module docstring).

    Args:
        symbol_map: source product -> perpetual symbol (upper-case keys).
        symbols: keep only these destination symbols; None keeps all.
        funding_from_ticker: emit hourly FundingEvents from the ticker's relative rate (module docstring).
    """

    def __init__(self, symbol_map: Mapping[str, str] | None = None, symbols: Iterable[str] | None = None,
                 *, funding_from_ticker: bool = True) -> None:
        self.funding_from_ticker = funding_from_ticker
        self._funding_hour: dict[str, int] = {}
        self.symbol_map = {k.upper(): v.upper() for k, v in (symbol_map or {}).items()}
        self.symbols = frozenset(s.upper() for s in symbols) if symbols is not None else None
        self.books: dict[str, OrderBook] = {}
        self.has_ticker_mark: set[str] = set()
        self.seen: set[str] = set()
        self.seq_gaps = 0
        self._source_of: dict[str, str] = {}

    def _sym(self, product: str) -> str | None:
        sym = self.symbol_map.get(product.upper(), product.upper())
        if self.symbols is not None and sym not in self.symbols:
            return None
        self._source_of[sym] = product.upper()
        return sym

    def _size(self, sym: str, size: float | None, price: float | None) -> float | None:
        """Contracts of the source product -> contracts of ``sym`` (module docstring)."""
        src_inv, dst_inv = is_inverse(self._source_of.get(sym, sym)), is_inverse(sym)
        if size is None or src_inv == dst_inv:
            return size
        if not price:
            return None
        return size / price if src_inv else size * price

    def _quote_tick(self, sym: str, ts_ms: int, bid: float | None, ask: float | None,
                    bid_size: float | None = None, ask_size: float | None = None) -> MarketTick:
        mid = (bid + ask) / 2 if bid is not None and ask is not None and bid <= ask else None
        mark = None if sym in self.has_ticker_mark else mid
        return MarketTick(sym, ts_ms, bid=bid, ask=ask, bid_size=self._size(sym, bid_size, bid),
                          ask_size=self._size(sym, ask_size, ask),
                          mark_price=mark, index_price=mark)

    def _funding(self, sym: str, ts_ms: int, rate: float | None) -> list[MarketEvent]:
        if not self.funding_from_ticker or rate is None:
            return []
        hour = ts_ms - ts_ms % HOUR_MS
        prev = self._funding_hour.get(sym)
        self._funding_hour[sym] = hour
        return [FundingEvent(sym, hour, rate)] if prev is not None and hour > prev else []

    def feed(self, event: Any, ts_ms: int) -> list[MarketEvent]:
        """Ticks for one parsed WS event received at ``ts_ms`` (UTC ms); [] for control/other feeds."""
        if isinstance(event, ev.TickerEvent):
            t = event.ticker
            sym = self._sym(t.symbol)
            if sym is None:
                return []
            if t.mark_price is not None:
                self.has_ticker_mark.add(sym)
            self.seen.add(sym)
            out: list[MarketEvent] = self._funding(sym, ts_ms, t.funding_rate)
            out.append(MarketTick(sym, ts_ms, last=t.last, bid=t.bid, ask=t.ask,
                                  bid_size=self._size(sym, t.bid_size, t.bid), ask_size=self._size(sym, t.ask_size, t.ask),
                                  mark_price=t.mark_price, index_price=t.index_price))
            return out
        if isinstance(event, ev.TickerLiteEvent):
            sym = self._sym(event.ticker.symbol)
            if sym is None:
                return []
            self.seen.add(sym)
            return [self._quote_tick(sym, ts_ms, event.ticker.bid, event.ticker.ask)]
        if isinstance(event, ev.TradeEvent):
            tr = event.trade
            sym = self._sym(tr.symbol)
            if sym is None:
                return []
            self.seen.add(sym)
            return [MarketTick(sym, ts_ms, last=tr.price, trade_size=self._size(sym, tr.size, tr.price), trade_side=tr.side)]
        if isinstance(event, ev.TradeSnapshotEvent):
            sym = self._sym(event.symbol)
            if sym is None or not event.trades:
                return []
            self.seen.add(sym)
            latest = max(event.trades, key=lambda tr: tr.ts_ms)
            return [MarketTick(sym, ts_ms, last=latest.price)]
        if isinstance(event, ev.BookSnapshotEvent):
            snap = event.snapshot
            sym = self._sym(snap.symbol)
            if sym is None:
                return []
            book = self.books.setdefault(sym, OrderBook(sym))
            book.apply_snapshot(snap)
            self.seen.add(sym)
            return self._book_tick(sym, book, ts_ms, None)
        if isinstance(event, ev.BookDeltaEvent):
            d = event.delta
            sym = self._sym(d.symbol)
            known = self.books.get(sym) if sym else None
            if sym is None or known is None or not known.valid:
                return []
            before = _top(known)
            if known.apply_delta(d) is not None:
                self.seq_gaps += 1
                return []
            return self._book_tick(sym, known, ts_ms, before)
        return []

    def _book_tick(self, sym: str, book: OrderBook, ts_ms: int, before: Any) -> list[MarketEvent]:
        top = _top(book)
        if top == before:
            return []
        bid, ask = top
        tick = self._quote_tick(sym, ts_ms, bid.price if bid else None, ask.price if ask else None,
                                bid.size if bid else None, ask.size if ask else None)
        bids, asks = book.depth(DEPTH_LEVELS)
        depth = (tuple((lv.price, s) for lv in bids if (s := self._size(sym, lv.size, lv.price))),
                 tuple((lv.price, s) for lv in asks if (s := self._size(sym, lv.size, lv.price))))
        return [replace(tick, depth=depth)]


def _top(book: OrderBook) -> tuple[Any, Any]:
    return book.best_bid(), book.best_ask()
