"""The multi-level order book of one paper market (spec §4.4 ``orderbook``, §7.7 ``book``).

Owns: ``DepthBook``. Two origins:
- **recorded**: a replay of WebSocket captures hands over the recorded book (``set_recorded``: levels as
  recorded, best first, at most ``MAX_RECORDED_LEVELS`` per side);
- **modelled**: any other source gives a top of book (bid, ask and their sizes; ``set_quote``). The model keeps
  that top level exactly and adds ``MODEL_LEVELS - 1`` deeper levels per side, ``step`` apart, with sizes that
  grow away from the mid: size_k = top size x (1 + GROWTH x k) x jitter_k, jitter_k in [0.75, 1.25]
  deterministic per (symbol, side, price) so an unchanged price keeps its size between ticks. ``step`` is the
  larger of one tick and ``STEP_BPS`` of the price, on the tick grid. [INFERRED] Crypto perpetual books show
  roughly linear size growth with distance over the first levels; the constants give about 10 x the top size
  within 10 bps of the touch for PF_XBTUSD, the order of magnitude of Kraken's public book.
Without a size (sources that give none) the top level has unlimited size and there is no depth (the
behaviour of a top-of-book simulator); a quoted size of 0 means no liquidity on that side at all. Takers consume levels (``take``); consumed size stays gone until the
source moves the book again. Levels are built lazily, only when something reads or takes them.
Prices are USD floats on the tick grid, sizes contracts, as market data (``paper.matching``).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

__all__ = ["DepthBook", "GROWTH", "MODEL_LEVELS", "STEP_BPS"]

MODEL_LEVELS = 25
MAX_RECORDED_LEVELS = 200
GROWTH = 0.35
STEP_BPS = 0.5
Level = list[float]  # [price, size]; size math.inf = unlimited


class DepthBook:
    """The L2 book of one symbol (module docstring). ``tick`` is the instrument's tick size (USD), ``lot`` its
    lot size (contracts; modelled sizes are whole lots, 0 = no rounding)."""

    __slots__ = ("symbol", "tick", "lot", "_digits", "_seed", "_quote", "_recorded", "_bids", "_asks", "_dirty")

    def __init__(self, symbol: str, tick: float, lot: float) -> None:
        self.symbol, self.tick, self.lot = symbol, tick, lot
        self._digits = max(0, -int(math.floor(math.log10(tick)))) + 2 if tick > 0 else 8
        self._seed = zlib.crc32(symbol.encode())
        self._quote: tuple[float | None, float | None, float | None, float | None] = (None, None, None, None)
        self._recorded: tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]] | None = None
        self._bids: list[Level] = []
        self._asks: list[Level] = []
        self._dirty = False

    def set_quote(self, bid: float | None, bid_size: float | None, ask: float | None, ask_size: float | None) -> None:
        """The source's top of book (USD, contracts); the deeper levels are modelled."""
        self._quote = (bid, bid_size, ask, ask_size)
        self._recorded = None
        self._dirty = True

    def set_recorded(self, bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]]) -> None:
        """A recorded book: (price, size) levels, best first (bids descending, asks ascending)."""
        self._recorded = (bids[:MAX_RECORDED_LEVELS], asks[:MAX_RECORDED_LEVELS])
        self._dirty = True

    def _jitter(self, side: int, price: float) -> float:
        h = (int(round(price / self.tick)) * 2654435761 + side * 40503 + self._seed) & 0xFFFF
        return 0.75 + 0.5 * h / 0xFFFF

    def _model(self, top: float | None, size: float | None, sign: int) -> list[Level]:
        if top is None:
            return []
        if size is None:
            return [[top, math.inf]]
        if size <= 0:  # a quote with nothing behind it: no liquidity on this side
            return []
        step = max(self.tick, math.ceil(top * STEP_BPS / 10_000 / self.tick) * self.tick)
        out: list[Level] = [[top, size]]
        lot = self.lot
        for k in range(1, MODEL_LEVELS):
            price = round(top + sign * k * step, self._digits)
            if price <= 0:
                break
            q = size * (1 + GROWTH * k) * self._jitter(sign, price)
            if lot > 0:
                q = max(1, math.floor(q / lot)) * lot
            if q > 0:
                out.append([price, q])
        return out

    def _build(self) -> None:
        if self._recorded is not None:
            self._bids = [[p, s] for p, s in self._recorded[0] if s > 0]
            self._asks = [[p, s] for p, s in self._recorded[1] if s > 0]
        else:
            bid, bsz, ask, asz = self._quote
            self._bids = self._model(bid, bsz, -1)
            self._asks = self._model(ask, asz, +1)
        self._dirty = False

    def levels(self) -> tuple[list[Level], list[Level]]:
        """(bids best first, asks best first) as [price, size] lists (size ``math.inf`` = unlimited). The
        returned lists are the book's own: read them, do not change them."""
        if self._dirty:
            self._build()
        return self._bids, self._asks

    def best(self, buy_side: bool) -> Level | None:
        """The best bid (``buy_side``) or best ask, or None."""
        bids, asks = self.levels()
        side = bids if buy_side else asks
        return side[0] if side else None

    def take(self, buy: bool, limit: float, qty: float) -> list[tuple[float, float]]:
        """A taker buying (``buy``) or selling up to ``qty`` contracts at prices no worse than ``limit`` walks
        the asks (bids) best first and consumes them: [(price, size taken)] per level, in order."""
        bids, asks = self.levels()
        side = asks if buy else bids
        out: list[tuple[float, float]] = []
        while qty > 0 and side:
            price, size = side[0]
            if (buy and price > limit) or (not buy and price < limit):
                break
            got = min(size, qty)
            out.append((price, got))
            qty -= got
            if got >= size:
                side.pop(0)
            else:
                side[0][1] = size - got
        return out
