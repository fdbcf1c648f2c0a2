"""Level-2 order books rebuilt from the Kraken Futures ``book`` feed, with sequence checks (spec §7.7).

Owns: ``OrderBook`` (one product: snapshot, then deltas whose ``seq`` must be prev + 1; a gap makes
the book invalid until the next snapshot) and ``OrderBooks`` (one book per product, fed with parsed
``BookSnapshotEvent``/``BookDeltaEvent``). Prices are USD floats used exactly as dict keys (the same
JSON number always gives the same float); sizes are contracts. No Kraken JSON is read here.
Must not import: websockets, httpx, textual, the engine.
"""

from __future__ import annotations

import heapq

from kraken_tui.domain import BookDelta, BookLevel, BookSnapshot, Side
from kraken_tui.kraken.ws_events import BookDeltaEvent, BookSnapshotEvent, SeqGap

__all__ = ["OrderBook", "OrderBooks"]


class OrderBook:
    """The book of one product (spec §7.7): ``apply_snapshot`` then ``apply_delta`` per message.

    ``valid`` is False before the first snapshot and after a sequence gap; deltas that arrive while
    invalid are ignored (counted in ``ignored_deltas``) because the book cannot be trusted until a new
    snapshot. ``seq`` is the last applied sequence number, ``ts_ms`` the last message time (UTC ms).
    """

    __slots__ = (
        "_asks",
        "_best_ask",
        "_best_bid",
        "_bids",
        "ignored_deltas",
        "seq",
        "symbol",
        "ts_ms",
        "valid",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._best_bid: float | None = None
        self._best_ask: float | None = None
        self.seq: int | None = None
        self.ts_ms: int | None = None
        self.valid = False
        self.ignored_deltas = 0

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        """Replace the whole book with ``snap`` (zero-size levels skipped) and make it valid."""
        self._bids = {lv.price: lv.size for lv in snap.bids if lv.size > 0}
        self._asks = {lv.price: lv.size for lv in snap.asks if lv.size > 0}
        self._best_bid = max(self._bids) if self._bids else None
        self._best_ask = min(self._asks) if self._asks else None
        self.seq = snap.seq
        self.ts_ms = snap.ts_ms
        self.valid = True

    def apply_delta(self, delta: BookDelta) -> SeqGap | None:
        """Set one level to its new absolute size (0 removes it), checking ``seq == prev + 1``.

        Returns:
            None when applied (or ignored because the book is already invalid); a ``SeqGap`` when the
            sequence is not prev + 1 (a jump, or a repeated/older seq): the book is then invalid and
            needs a fresh snapshot (resubscribe).
        """
        if not self.valid or self.seq is None:
            self.ignored_deltas += 1
            return None
        expected = self.seq + 1
        if delta.seq != expected:
            self.valid = False
            self.ignored_deltas += 1
            return SeqGap(symbol=self.symbol, expected_seq=expected, got_seq=delta.seq)
        self.seq = delta.seq
        self.ts_ms = delta.ts_ms
        price, size = delta.price, delta.size
        if delta.side is Side.BUY:
            if size > 0:
                self._bids[price] = size
                if self._best_bid is None or price > self._best_bid:
                    self._best_bid = price
            elif self._bids.pop(price, None) is not None and price == self._best_bid:
                self._best_bid = max(self._bids) if self._bids else None
        else:
            if size > 0:
                self._asks[price] = size
                if self._best_ask is None or price < self._best_ask:
                    self._best_ask = price
            elif self._asks.pop(price, None) is not None and price == self._best_ask:
                self._best_ask = min(self._asks) if self._asks else None
        return None

    def invalidate(self) -> None:
        """Mark the book untrusted (e.g. after a disconnect) until the next snapshot."""
        self.valid = False

    def best_bid(self) -> BookLevel | None:
        """Highest bid (USD, contracts), None when the bid side is empty."""
        p = self._best_bid
        return None if p is None else BookLevel(p, self._bids[p])

    def best_ask(self) -> BookLevel | None:
        """Lowest ask (USD, contracts), None when the ask side is empty."""
        p = self._best_ask
        return None if p is None else BookLevel(p, self._asks[p])

    def mid(self) -> float | None:
        """(best bid + best ask) / 2 in USD, None when a side is empty."""
        if self._best_bid is None or self._best_ask is None:
            return None
        return (self._best_bid + self._best_ask) / 2

    def spread(self) -> float | None:
        """best ask - best bid in USD (negative means a crossed book), None when a side is empty."""
        if self._best_bid is None or self._best_ask is None:
            return None
        return self._best_ask - self._best_bid

    def depth(self, levels: int = 10) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
        """The top ``levels`` of each side: (bids descending, asks ascending)."""
        bids = heapq.nlargest(levels, self._bids)
        asks = heapq.nsmallest(levels, self._asks)
        return (
            tuple(BookLevel(p, self._bids[p]) for p in bids),
            tuple(BookLevel(p, self._asks[p]) for p in asks),
        )

    def levels(self, side: Side) -> dict[float, float]:
        """A copy of one side, price (USD) -> size (contracts); ``Side.BUY`` = bids."""
        return dict(self._bids if side is Side.BUY else self._asks)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol}, seq={self.seq}, valid={self.valid}, "
            f"bid={self._best_bid}, ask={self._best_ask}, levels={len(self)})"
        )


class OrderBooks:
    """One ``OrderBook`` per product, fed with parsed book events (spec §7.7)."""

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}

    def apply(self, event: BookSnapshotEvent | BookDeltaEvent) -> SeqGap | None:
        """Apply a snapshot or delta to its product's book; returns a ``SeqGap`` on a sequence gap."""
        if isinstance(event, BookSnapshotEvent):
            self.get_or_create(event.snapshot.symbol).apply_snapshot(event.snapshot)
            return None
        return self.get_or_create(event.delta.symbol).apply_delta(event.delta)

    def get_or_create(self, symbol: str) -> OrderBook:
        """The book of ``symbol`` (upper-case), created empty and invalid when new."""
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(symbol)
        return book

    def get(self, symbol: str) -> OrderBook | None:
        """The book of ``symbol`` (case-insensitive), or None when none was ever seen."""
        return self._books.get(symbol.upper())

    def invalidate_all(self) -> None:
        """Mark every book untrusted (after a disconnect) until its next snapshot."""
        for book in self._books.values():
            book.invalidate()

    def symbols(self) -> list[str]:
        """Products with a book, sorted."""
        return sorted(self._books)
