"""Candle history of the paper exchange, served by the charts API (spec §6).

Owns: ``CandleStore``: 1-minute OHLCV bars per tick type (``trade`` from trade prints / last price, ``mark``
from the mark price, ``spot`` = index price) and symbol, built from market ticks, aggregated on request to
1m, 5m, 15m, 30m, 1h, 4h, 12h, 1d, 1w. Bars are keyed by open time (epoch ms); volume is in contracts for
``trade`` and 0 for ``mark``/``spot`` (spec §6). Keeps at most ``max_minutes`` bars per series.
The 24 h ticker statistics (``stats_24h``, asked for on every ticker) come from a sliding window kept
per symbol (``_Window``), O(1) amortised per call instead of a scan of the whole history.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from kraken_tui.domain.timeunits import DAY_MS, MINUTE_MS

__all__ = ["RESOLUTIONS_MS", "TICK_TYPES", "CandleStore"]

TICK_TYPES = ("mark", "spot", "trade")
RESOLUTIONS_MS = {
    "1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS, "12h": 720 * MINUTE_MS, "1d": 1440 * MINUTE_MS, "1w": 10080 * MINUTE_MS,
}
_WEEK_OFFSET_MS = 4 * DAY_MS  # epoch day 0 is a Thursday; weekly bars open on Monday 00:00 UTC




class _Window:
    """The closed 1-minute trade bars of the last 24 h (every bar but the newest, which still changes):
    (key, open, volume) in order, a running volume sum and monotonic deques for the high and the low."""

    __slots__ = ("bars", "dirty", "highs", "last_key", "lows", "since_key", "vol")

    def __init__(self) -> None:
        self.bars: deque[tuple[int, float, float]] = deque()
        self.highs: deque[tuple[int, float]] = deque()
        self.lows: deque[tuple[int, float]] = deque()
        self.vol = 0.0
        self.last_key = -1
        self.since_key = -1
        self.dirty = True

    def push(self, key: int, bar: list[float]) -> None:
        self.bars.append((key, bar[0], bar[4]))
        self.vol += bar[4]
        while self.highs and self.highs[-1][1] <= bar[1]:
            self.highs.pop()
        self.highs.append((key, bar[1]))
        while self.lows and self.lows[-1][1] >= bar[2]:
            self.lows.pop()
        self.lows.append((key, bar[2]))
        self.last_key = key

    def evict(self, since_key: int) -> None:
        self.since_key = since_key
        bars = self.bars
        while bars and bars[0][0] < since_key:
            self.vol -= bars.popleft()[2]
        while self.highs and self.highs[0][0] < since_key:
            self.highs.popleft()
        while self.lows and self.lows[0][0] < since_key:
            self.lows.popleft()
        if not bars:
            self.vol = 0.0  # no drift carried over an empty window


class CandleStore:
    """1-minute bars: ``series[(tick_type, symbol)]`` = OrderedDict(open_ms -> [o, h, l, c, volume])."""

    def __init__(self, max_minutes: int = 43_200) -> None:
        self.max_minutes = max_minutes
        self.series: dict[tuple[str, str], OrderedDict[int, list[float]]] = {}
        self._windows: dict[str, _Window] = {}

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
                if tick_type == "trade" and self.max_minutes <= DAY_MS // MINUTE_MS + 1:
                    self._windows.pop(symbol, None)  # a window longer than the history: rebuild
            return
        if tick_type == "trade" and key != next(reversed(bars)) and symbol in self._windows:
            self._windows[symbol].dirty = True  # a closed bar changed (late tick): rebuild the window
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
        at most ``limit`` (without ``from_ms``: the newest ``limit`` bars up to ``to_ms``, so a ``count``-only
        request reads the recent history; with it: the oldest, for paging by ``from``); returns (bars, more)
        where ``more`` says the range holds more bars (spec §6 ``more_candles``). Each bar is (open_ms, open, high, low, close, volume).

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
        keys_out = keys[-limit:] if from_ms is None and limit > 0 else keys[:limit]
        rows = [(k, *out[k]) for k in keys_out]
        return rows, len(keys) > limit  # type: ignore[return-value]

    def stats_24h(self, symbol: str, now_ms: int) -> tuple[float, float, float, float] | None:
        """(open, high, low, volume) of the trade series over the last 24 h, or None without bars.

        The window holds the 1-minute bars whose open time is at or after the minute of ``now_ms`` - 24 h;
        kept incrementally (module docstring), equal to a scan of those bars up to float rounding of the
        volume sum.
        """
        bars = self.series.get(("trade", symbol))
        if not bars:
            return None
        since = now_ms - DAY_MS
        since_key = since - since % MINUTE_MS
        newest = next(reversed(bars))
        w = self._windows.get(symbol)
        if w is None or w.dirty or since_key < w.since_key or (w.bars and w.bars[0][0] not in bars):
            w = self._windows[symbol] = _Window()
            w.dirty = False
            w.last_key = since_key - 1
        if newest > w.last_key:
            fresh = []
            for key in reversed(bars):
                if key <= w.last_key or key < since_key:
                    break
                if key != newest:
                    fresh.append(key)
            for key in reversed(fresh):
                w.push(key, bars[key])
        w.evict(since_key)
        if newest < since_key:
            return None
        last = bars[newest]
        if w.bars:
            return (w.bars[0][1], max(w.highs[0][1], last[1]), min(w.lows[0][1], last[2]), w.vol + last[4])
        return last[0], last[1], last[2], last[4]
