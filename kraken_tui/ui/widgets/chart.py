"""The price chart: candles of one symbol with its trades' entries (▲) and exits (▼), the resting stop and
take-profit levels as lines and the liquidation price, drawn with textual-plotext.

Owns: ``PriceChart`` (the widget), ``TradeMark`` (an entry or exit to mark), ``ChartLevels`` (the price lines) and
``place_marks`` (which candle each mark falls in). Units: prices USD, times UTC epoch ms (a candle's ``ts_ms`` is
its open time, Kraken Futures docs, charts API v1 "OHLC").

Layout rules:
- The x axis is the candle's index in the drawn window (0 = oldest shown); a mark sits on the candle whose
  interval ``[ts_ms, ts_ms + timeframe)`` holds its time. Marks outside the drawn candles are not drawn and the
  title says how many.
- As many candles as fit (about 2 columns each): the newest ones at 120x40 and, fewer, at 80x24; under 24 columns
  or 6 rows only the title is shown (what would be drawn, in words).
- The y range covers the drawn candles, the marks, the stop and the take-profits; the liquidation price is drawn
  when it lies within the candles' range widened by their height, otherwise the title gives it ("off chart").
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from textual_plotext import PlotextPlot

from kraken_tui.domain import Candle

__all__ = ["ENTRY_GLYPH", "EXIT_GLYPH", "ChartLevels", "PriceChart", "TradeMark", "place_marks"]

ENTRY_GLYPH = "▲"
EXIT_GLYPH = "▼"
#: Columns one candle takes (its body and a gap).
COLS_PER_CANDLE = 2
#: Columns of the y axis labels and frame.
_AXIS_COLS = 12


@dataclass(frozen=True, slots=True)
class TradeMark:
    """An entry or exit to mark: when (UTC ms), at what price (USD), and the position's side ("long"/"short")."""

    ts_ms: int
    price: float
    kind: Literal["entry", "exit"]
    side: str = "long"


@dataclass(frozen=True, slots=True)
class ChartLevels:
    """Price lines (USD; None / empty when absent): the resting stop, the take-profits, the liquidation price and
    the open position's entry."""

    stop: float | None = None
    take_profits: tuple[float, ...] = ()
    liquidation: float | None = None
    entry: float | None = None


@dataclass(frozen=True, slots=True)
class PlacedMark:
    """A mark drawn at candle index ``x`` (0 = oldest drawn) and ``price`` with ``glyph``."""

    x: int
    price: float
    glyph: str
    mark: TradeMark


def place_marks(candles: Sequence[Candle], timeframe_ms: int, marks: Sequence[TradeMark]) -> tuple[list[PlacedMark], int]:
    """Each mark on the candle whose interval holds its time: (the placed marks, how many fell outside the candles).

    Raises:
        ValueError: ``timeframe_ms`` is not positive.
    """
    if timeframe_ms <= 0:
        raise ValueError(f"timeframe_ms must be positive, got {timeframe_ms}")
    index = {c.ts_ms: i for i, c in enumerate(candles)}
    placed: list[PlacedMark] = []
    missed = 0
    for m in marks:
        i = index.get(m.ts_ms - m.ts_ms % timeframe_ms)
        if i is None:
            missed += 1
            continue
        placed.append(PlacedMark(i, m.price, ENTRY_GLYPH if m.kind == "entry" else EXIT_GLYPH, m))
    return placed, missed


def _money(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"


@dataclass(slots=True)
class _Drawn:
    """What the last draw put on the chart (tests and the screen's caption read it)."""

    candles: list[Candle] = field(default_factory=list)
    marks: list[PlacedMark] = field(default_factory=list)
    missed: int = 0
    liquidation_drawn: bool = False
    title: str = ""


class PriceChart(PlotextPlot):
    """Candles with trade marks and price lines (module docstring). Call ``show`` with the data; it redraws on
    resize. ``drawn`` says what the last draw contains (candles, placed marks, whether the liquidation line fit)."""

    DEFAULT_CSS = "PriceChart { height: 1fr; width: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self._title = ""
        self._tf_ms = 60_000
        self._candles: list[Candle] = []
        self._marks: list[TradeMark] = []
        self._levels = ChartLevels()
        self._centre = False
        self.drawn = _Drawn()

    def show(self, title: str, timeframe_ms: int, candles: Sequence[Candle], marks: Sequence[TradeMark] = (),
             levels: ChartLevels | None = None, *, centre_on_marks: bool = False) -> None:
        """Draw ``candles`` (oldest first, one timeframe of ``timeframe_ms``) titled ``title`` with ``marks`` and
        ``levels``. When more candles are given than fit, the newest are drawn, or with ``centre_on_marks`` those
        around the marks (a closed trade's chart)."""
        self._title, self._tf_ms, self._centre = title, timeframe_ms, centre_on_marks
        self._candles, self._marks = list(candles), list(marks)
        self._levels = levels or ChartLevels()
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def capacity(self) -> int:
        """How many candles fit across the widget now."""
        return max(1, (self.size.width - _AXIS_COLS) // COLS_PER_CANDLE)

    def _window(self, n: int) -> list[Candle]:
        """The ``n`` candles drawn: the newest, or with ``centre_on_marks`` those centred on the marks' span."""
        cs = self._candles
        if len(cs) <= n:
            return cs
        if self._centre and self._marks:
            placed, _ = place_marks(cs, self._tf_ms, self._marks)
            if placed:
                mid = (min(p.x for p in placed) + max(p.x for p in placed)) // 2
                start = max(0, min(len(cs) - n, mid - n // 2))
                return cs[start:start + n]
        return cs[-n:]

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        lv = self._levels
        small = self.size.width < 24 or self.size.height < 6
        candles = self._window(1 if small else self.capacity())
        placed, missed = place_marks(candles, self._tf_ms, self._marks)
        parts = [self._title]
        if candles:
            parts.append(f"last {_money(candles[-1].close)}")
        if lv.stop is not None:
            parts.append(f"stop {_money(lv.stop)}")
        if lv.take_profits:
            parts.append("TP " + " ".join(_money(p) for p in lv.take_profits))
        liq_drawn = False
        if candles:
            lows = [c.low for c in candles] + [p.price for p in placed]
            highs = [c.high for c in candles] + [p.price for p in placed]
            lows += [x for x in (lv.stop, lv.entry, *lv.take_profits) if x is not None]
            highs += [x for x in (lv.stop, lv.entry, *lv.take_profits) if x is not None]
            lo, hi = min(lows), max(highs)
            span = max(hi - lo, abs(hi) * 1e-4, 1e-9)
            if lv.liquidation is not None and lo - span <= lv.liquidation <= hi + span:
                lo, hi, liq_drawn = min(lo, lv.liquidation), max(hi, lv.liquidation), True
            pad = (hi - lo) * 0.04 or span * 0.04
            lo, hi = lo - pad, hi + pad
        if lv.liquidation is not None:
            parts.append(f"liq {_money(lv.liquidation)}" + ("" if liq_drawn else " (off chart)"))
        if missed:
            parts.append(f"{missed} mark{'s' if missed > 1 else ''} outside the window")
        if not candles:
            parts.append("no candles yet")
        title = "  ".join(parts)
        self.drawn = _Drawn(candles, placed, missed, liq_drawn, title)
        plt.title(title)
        if small or not candles:
            self.refresh()
            return
        xs: list[float] = [float(i) for i in range(len(candles))]
        ohlc = {"Open": [c.open for c in candles], "Close": [c.close for c in candles],
                "High": [c.high for c in candles], "Low": [c.low for c in candles]}
        plt.candlestick(xs, ohlc)  # type: ignore[arg-type]  # plotext takes numbers here; its stub says dates
        last = len(candles) - 1
        for price, color, label in ((lv.stop, "red", "stop"), (lv.entry, "blue", "entry"),
                                    (lv.liquidation if liq_drawn else None, "magenta", "liq")):
            if price is not None:
                plt.hline(price, color)
                plt.text(label, last, price, color=color, alignment="right")
        for i, tp in enumerate(lv.take_profits, 1):
            plt.hline(tp, "green")
            plt.text(f"tp{i}", last, tp, color="green", alignment="right")
        for p in placed:
            color = "green" if (p.mark.kind == "entry") == (p.mark.side == "long") else "red"
            plt.scatter([p.x], [p.price], marker=p.glyph, color=color)
        plt.xlim(-0.5, max(last, 1) + 0.5)
        plt.ylim(lo, hi)
        step = max(1, len(candles) // 6)
        ticks = list(range(0, len(candles), step))
        plt.xticks([float(i) for i in ticks], [_hhmm(candles[i].ts_ms) for i in ticks])
        self.refresh()


def _hhmm(ts_ms: int) -> str:
    """``HH:MM`` (UTC) of ``ts_ms``; ``MM-DD HH:MM`` would not fit under each candle group."""
    s = ts_ms // 1000
    return f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}"
