"""Candle aggregation: trades or smaller candles -> closed OHLCV candles per timeframe, per symbol.

Owns: the timeframe table, UTC bar alignment, ``CandleBuilder`` (one per symbol and price series) and its
warm-up from ``domain.Candle`` lists fetched from the charts API (spec §6).

Rules (spec §6: ``time`` is the candle's open time in epoch ms, candles ascend by time):
- Bars are aligned to the UTC epoch: a bar of length T opens at ``ts_ms - ts_ms % T`` (4h bars open at
  00, 04, 08 ... UTC; every timeframe here divides a day, so this is also day-aligned).
- A bar closes when an update arrives in a later bar, when ``advance(now_ms)`` passes its end, or, for
  ``add_candle`` input, when the sub-candle that ends exactly at the bar's end has been added.
- Gaps (bars with no trade): with ``fill_gaps=True`` (default) each empty bar is emitted as a flat candle
  O=H=L=C=previous close, volume 0, so indicators see a contiguous, evenly spaced series (the usual
  convention; spec §6 does not say how the charts API treats quiet intervals, and Kraken's spot OHLCVT
  files omit the row).
  At most ``max_fill_bars`` flat bars are emitted per gap; a longer gap (feed outage) restarts the
  series after the gap without inventing hundreds of bars, and is counted in ``gaps_skipped``.
  With ``fill_gaps=False`` empty bars are simply absent.
- Late updates (older than a timeframe's open bar) cannot change a closed candle: each timeframe whose
  bar already closed drops it (a longer timeframe whose bar is still open takes it), and the update is
  counted once in ``late_updates``; never raised, never merged into the wrong bar.

Prices are floats in USD, volume in contracts (domain.Candle). Must not import: textual, numpy, the
Kraken wire modules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kraken_tui.domain import Candle
from kraken_tui.errors import ProtocolError

__all__ = ["TIMEFRAMES", "CandleBuilder", "ClosedCandle", "bar_open_ms", "timeframe_ms"]

#: Timeframe name -> bar length in milliseconds (spec §6 resolutions we trade on).
TIMEFRAMES: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
}


def timeframe_ms(timeframe: str) -> int:
    """Bar length of ``timeframe`` ("1m", "5m", "15m", "30m", "1h", "4h") in ms.

    Raises:
        ValueError: unknown timeframe (message lists the known ones).
    """
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}"
        ) from None


def bar_open_ms(ts_ms: int, tf_ms: int) -> int:
    """Open time (UTC epoch ms) of the bar of length ``tf_ms`` that contains ``ts_ms``."""
    return ts_ms - ts_ms % tf_ms


@dataclass(frozen=True, slots=True)
class ClosedCandle:
    """A candle that has just closed: ``timeframe`` name and the final ``candle`` (open time ``ts_ms``).
    ``filled`` is True for a flat candle invented for an empty bar (see module docstring); ``partial`` is
    True for the first bar built without warm-up history when updates began after the bar opened (its
    open/high/low/volume miss the earlier part of the bar)."""

    timeframe: str
    candle: Candle
    filled: bool = False
    partial: bool = False


class _Bar:
    """The forming bar of one timeframe (mutable; turned into a frozen Candle when it closes)."""

    __slots__ = ("ts_ms", "open", "high", "low", "close", "volume", "last_ts_ms", "partial")

    def __init__(
        self,
        ts_ms: int,
        o: float,
        h: float,
        lo: float,
        c: float,
        v: float,
        last_ts_ms: int,
        partial: bool = False,
    ) -> None:
        self.ts_ms, self.open, self.high, self.low, self.close, self.volume = ts_ms, o, h, lo, c, v
        self.last_ts_ms = last_ts_ms
        self.partial = partial

    def freeze(self) -> Candle:
        return Candle(self.ts_ms, self.open, self.high, self.low, self.close, self.volume)


class _Series:
    """History and forming bar of one timeframe."""

    __slots__ = ("name", "tf_ms", "bar", "history", "last_close", "skipped_after_ms")

    def __init__(self, name: str, tf_ms: int, history: int) -> None:
        self.name, self.tf_ms = name, tf_ms
        self.bar: _Bar | None = None
        self.history: deque[Candle] = deque(maxlen=history)
        self.last_close: Candle | None = None
        self.skipped_after_ms: int | None = None  # a too-long gap after this candle was already counted


class CandleBuilder:
    """Builds closed candles of several timeframes for one symbol and one price series.

    Args:
        symbol: the instrument (e.g. "PF_XBTUSD"), used in error messages.
        timeframes: names from ``TIMEFRAMES``.
        history: closed candles kept per timeframe (oldest dropped first).
        fill_gaps: emit flat candles for empty bars (see module docstring).
        max_fill_bars: most flat bars emitted for one gap.

    Raises:
        ValueError: unknown timeframe, empty ``timeframes``, ``history`` < 1 or ``max_fill_bars`` < 0.

    Every update method returns the candles that closed because of it, ordered by close time, then by
    timeframe (shorter first).
    """

    def __init__(
        self,
        symbol: str,
        timeframes: Iterable[str],
        *,
        history: int = 1000,
        fill_gaps: bool = True,
        max_fill_bars: int = 240,
    ) -> None:
        names = list(dict.fromkeys(timeframes))
        if not names:
            raise ValueError("CandleBuilder needs at least one timeframe")
        if history < 1 or max_fill_bars < 0:
            raise ValueError(f"history must be >= 1 and max_fill_bars >= 0, got {history}, {max_fill_bars}")
        names.sort(key=timeframe_ms)
        self.symbol = symbol
        self.fill_gaps = fill_gaps
        self.max_fill_bars = max_fill_bars
        self._series = {n: _Series(n, timeframe_ms(n), history) for n in names}
        self.late_updates = 0
        self.gaps_skipped = 0

    # ------------------------------------------------------------------ reading

    @property
    def timeframes(self) -> tuple[str, ...]:
        """The timeframes built, shortest first."""
        return tuple(self._series)

    def candles(self, timeframe: str) -> Sequence[Candle]:
        """Closed candles of ``timeframe``, oldest first (a live read-only view; do not mutate)."""
        return self._get(timeframe).history

    def forming(self, timeframe: str) -> Candle | None:
        """The not yet closed candle of ``timeframe``, or None before the first update."""
        bar = self._get(timeframe).bar
        return bar.freeze() if bar is not None else None

    def _get(self, timeframe: str) -> _Series:
        try:
            return self._series[timeframe]
        except KeyError:
            raise ValueError(
                f"{self.symbol}: timeframe {timeframe!r} is not built (have {self.timeframes})"
            ) from None

    # ------------------------------------------------------------------ updates

    def add_trade(self, ts_ms: int, price: float, size: float = 0.0) -> list[ClosedCandle]:
        """Add one trade print (``price`` USD, ``size`` contracts) at ``ts_ms`` (UTC ms).

        Returns the candles this trade closed (all bars that ended at or before ``ts_ms``).
        """
        return self._update(ts_ms, price, price, price, price, size, None)

    def add_candle(self, candle: Candle, source_timeframe: str) -> list[ClosedCandle]:
        """Add one closed candle of a smaller (or equal) ``source_timeframe`` (e.g. 1m candles -> 5m/1h).

        A bar closes as soon as the sub-candle ending at the bar's end is added, so a backtest on 1m
        candles gets its 5m candle at the same step as the 5m-ending 1m candle.

        Raises:
            ValueError: ``source_timeframe`` unknown or longer than a built timeframe.
        """
        src_ms = timeframe_ms(source_timeframe)
        for s in self._series.values():
            if s.tf_ms < src_ms or s.tf_ms % src_ms:
                raise ValueError(f"cannot build {s.name} candles from {source_timeframe} candles")
        c = candle
        return self._update(c.ts_ms, c.open, c.high, c.low, c.close, c.volume, c.ts_ms + src_ms)

    def advance(self, now_ms: int) -> list[ClosedCandle]:
        """Close every bar that ended at or before ``now_ms`` (a clock tick in a quiet market).

        With ``fill_gaps``, empty bars up to ``now_ms`` are emitted as flat candles.
        """
        out: list[ClosedCandle] = []
        for s in self._series.values():
            if s.bar is not None and s.bar.ts_ms + s.tf_ms <= now_ms:
                self._close(s, out)
            if s.bar is None:
                self._fill(s, bar_open_ms(now_ms, s.tf_ms), out)
        out.sort(key=_emit_order)
        return out

    def _update(
        self, ts_ms: int, o: float, h: float, lo: float, c: float, v: float, end_ms: int | None
    ) -> list[ClosedCandle]:
        out: list[ClosedCandle] = []
        late = False
        for s in self._series.values():
            start = bar_open_ms(ts_ms, s.tf_ms)
            bar = s.bar
            if bar is not None:
                if start < bar.ts_ms:
                    late = True
                    continue
                if start > bar.ts_ms:
                    self._close(s, out)
                    bar = None
            elif s.last_close is not None and start <= s.last_close.ts_ms:
                late = True
                continue
            if bar is None:
                self._fill(s, start, out)
                s.bar = _Bar(start, o, h, lo, c, v, ts_ms, partial=s.last_close is None and ts_ms != start)
            else:
                bar.high = max(bar.high, h)
                bar.low = min(bar.low, lo)
                if ts_ms >= bar.last_ts_ms:  # an out-of-order print inside the bar never moves the close back
                    bar.close, bar.last_ts_ms = c, ts_ms
                bar.volume += v
            if end_ms is not None and end_ms >= start + s.tf_ms:
                self._close(s, out)
        if late:
            self.late_updates += 1
        out.sort(key=_emit_order)
        return out

    def _close(self, s: _Series, out: list[ClosedCandle]) -> None:
        assert s.bar is not None
        candle = s.bar.freeze()
        partial = s.bar.partial
        s.bar = None
        s.history.append(candle)
        s.last_close = candle
        out.append(ClosedCandle(s.name, candle, partial=partial))

    def _fill(self, s: _Series, until_open_ms: int, out: list[ClosedCandle]) -> None:
        """Emit flat candles for empty bars after the last closed one and before ``until_open_ms``."""
        last = s.last_close
        if not self.fill_gaps or last is None:
            return
        missing = (until_open_ms - last.ts_ms) // s.tf_ms - 1
        if missing <= 0:
            return
        if missing > self.max_fill_bars:
            if s.skipped_after_ms != last.ts_ms:
                s.skipped_after_ms = last.ts_ms
                self.gaps_skipped += 1
            return
        px = last.close
        for i in range(1, missing + 1):
            flat = Candle(last.ts_ms + i * s.tf_ms, px, px, px, px, 0.0)
            s.history.append(flat)
            out.append(ClosedCandle(s.name, flat, filled=True))
        s.last_close = s.history[-1]

    # ------------------------------------------------------------------ warm-up

    def warm_up(
        self, timeframe: str, candles: Sequence[Candle], *, now_ms: int | None = None
    ) -> list[Candle]:
        """Load history of ``timeframe`` from the charts API (spec §6) before live updates start.

        Candles must be ascending, without duplicates, aligned to the timeframe. With ``now_ms``, a last
        candle that has not ended by ``now_ms`` becomes the forming bar (the charts API returns the
        current, incomplete bar last); without it every candle is taken as closed. Gaps between warm-up
        candles are kept as they are (never filled).

        Returns:
            The closed candles accepted, oldest first, so the caller can feed its indicators.

        Raises:
            ValueError: timeframe not built, or live updates already arrived for it.
            ProtocolError: a candle is misaligned, out of order or duplicated; the message names
                symbol, timeframe, the index of the candle and its ``time``.
        """
        s = self._get(timeframe)
        if s.bar is not None or s.history:
            raise ValueError(f"{self.symbol} {timeframe}: warm_up must come before any update")
        source = f"charts {self.symbol} {timeframe}"
        prev: int | None = None
        for i, c in enumerate(candles):
            if c.ts_ms % s.tf_ms:
                raise ProtocolError(
                    source, f"candle #{i} time {c.ts_ms} is not aligned to {timeframe}", field="time"
                )
            if prev is not None and c.ts_ms <= prev:
                raise ProtocolError(source, f"candle #{i} time {c.ts_ms} is not after {prev}", field="time")
            prev = c.ts_ms
        closed = list(candles)
        if closed and now_ms is not None and closed[-1].ts_ms + s.tf_ms > now_ms:
            last = closed.pop()
            s.bar = _Bar(last.ts_ms, last.open, last.high, last.low, last.close, last.volume, last.ts_ms)
        s.history.extend(closed)
        s.last_close = closed[-1] if closed else None
        return closed


def _emit_order(cc: ClosedCandle) -> tuple[int, int]:
    tf = TIMEFRAMES[cc.timeframe]
    return (cc.candle.ts_ms + tf, tf)
