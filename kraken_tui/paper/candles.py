"""Candle history of the paper exchange, served by the charts API (spec §6).

Owns: ``CandleStore``: 1-minute OHLCV bars per tick type (``trade`` from trade prints / last price, ``mark``
from the mark price, ``spot`` = index price) and symbol, built from market ticks, aggregated on request to
1m, 5m, 15m, 30m, 1h, 4h, 12h, 1d, 1w. Bars are keyed by open time (epoch ms); volume is in contracts for
``trade`` and 0 for ``mark``/``spot`` (spec §6). Keeps at most ``max_minutes`` bars per series.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["RESOLUTIONS_MS", "TICK_TYPES", "CandleStore"]

TICK_TYPES = ("mark", "spot", "trade")
MINUTE_MS = 60_000
RESOLUTIONS_MS = {
    "1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS, "12h": 720 * MINUTE_MS, "1d": 1440 * MINUTE_MS, "1w": 10080 * MINUTE_MS,
}
_WEEK_OFFSET_MS = 4 * 86_400_000  # epoch day 0 is a Thursday; weekly bars open on Monday 00:00 UTC


class CandleStore:
    """1-minute bars: ``series[(tick_type, symbol)]`` = OrderedDict(open_ms -> [o, h, l, c, volume])."""

    def __init__(self, max_minutes: int = 43_200) -> None:
        self.max_minutes = max_minutes
        self.series: dict[tuple[str, str], OrderedDict[int, list[float]]] = {}

    def _add(self, tick_type: str, symbol: str, ts_ms: int, price: float, volume: float) -> None:
        bars = self.series.setdefault((tick_type, symbol), OrderedDict())
        key = ts_ms - ts_ms % MINUTE_MS
        bar = bars.get(key)
        if bar is None:
            if bars and key < next(reversed(bars)):
                return  # out-of-order tick for an older minute: ignored
            bars[key] = [price, price, price, price, volume]
            if len(bars) > self.max_minutes:
                bars.popitem(last=False)
            return
        bar[1] = max(bar[1], price)
        bar[2] = min(bar[2], price)
        bar[3] = price
        bar[4] += volume

    def add_tick(self, symbol: str, ts_ms: int, last: float | None, trade_size: float | None, mark: float | None,
                 index: float | None) -> None:
        """Record one tick: ``last`` (+ ``trade_size`` contracts) into ``trade``, ``mark``, ``index`` into ``spot``."""
        if last is not None:
            self._add("trade", symbol, ts_ms, last, trade_size or 0.0)
        if mark is not None:
            self._add("mark", symbol, ts_ms, mark, 0.0)
        if index is not None:
            self._add("spot", symbol, ts_ms, index, 0.0)

    def symbols(self, tick_type: str) -> list[str]:
        """Symbols with bars of ``tick_type``."""
        return sorted({s for t, s in self.series if t == tick_type})

    def query(self, tick_type: str, symbol: str, resolution: str, from_ms: int | None, to_ms: int | None,
              limit: int = 2000) -> tuple[list[tuple[int, float, float, float, float, float]], bool]:
        """Bars of ``resolution`` whose open time is in [from_ms, to_ms] (both optional, inclusive), ascending,
        at most ``limit``; returns (bars, more) where ``more`` says the range holds more bars (spec §6
        ``more_candles``). Each bar is (open_ms, open, high, low, close, volume).

        Raises:
            KeyError: unknown resolution.
        """
        step = RESOLUTIONS_MS[resolution]
        offset = _WEEK_OFFSET_MS if resolution == "1w" else 0
        out: dict[int, list[float]] = {}
        for key, (o, h, low, c, v) in self.series.get((tick_type, symbol), {}).items():
            start = key - (key - offset) % step
            if (from_ms is not None and start < from_ms) or (to_ms is not None and start > to_ms):
                continue
            bar = out.get(start)
            if bar is None:
                out[start] = [o, h, low, c, v]
            else:
                bar[1], bar[2], bar[3], bar[4] = max(bar[1], h), min(bar[2], low), c, bar[4] + v
        keys = sorted(out)
        rows = [(k, *out[k]) for k in keys[:limit]]
        return rows, len(keys) > limit  # type: ignore[return-value]

    def stats_24h(self, symbol: str, now_ms: int) -> tuple[float, float, float, float] | None:
        """(open, high, low, volume) of the trade series over the last 24 h, or None without bars."""
        bars = self.series.get(("trade", symbol))
        if not bars:
            return None
        since = now_ms - 86_400_000
        rows = [b for k, b in bars.items() if k >= since - since % MINUTE_MS]
        if not rows:
            return None
        return rows[0][0], max(r[1] for r in rows), min(r[2] for r in rows), sum(r[4] for r in rows)
