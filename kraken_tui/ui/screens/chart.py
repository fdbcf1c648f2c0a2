"""The price chart screen, full size: one symbol's candles, live, with its trades and its position's levels; or one
closed trade from the journal, with the candles around its entry and exit.

Owns: ``ChartScreen``, ``live_inputs`` and ``trade_inputs`` (what the chart shows, from the engine's snapshot, the
journal's trades and the candles). Candles come from the engine's candle store (``EngineControl.chart_candles``);
the screen never calls the exchange. Keys: ``1`` ``2`` ``3`` ``4`` = 1m / 5m / 15m / 1h, ``n`` the next traded
symbol (live chart), Escape back. The flatten keys work here as everywhere (``ui.operator_keys``).
Live chart: redrawn every second; marks are the open position's entry and the journal's closed trades of the
symbol (re-read every 10 s); lines are the resting stop, the take-profits, the entry and the liquidation price.
Trade chart: the trade's entry (▲) and exit (▼), with candles from a little before the entry to a little after the
exit (when the engine still holds them; otherwise the title says so).
Must not import: the engine's internals, the journal's writer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from kraken_tui.domain import Candle
from kraken_tui.engine.facade import CHART_TIMEFRAMES, EngineSnapshot
from kraken_tui.ui.widgets.chart import ChartLevels, PriceChart, TradeMark

if TYPE_CHECKING:
    from kraken_tui.engine.facade import EngineControl
    from kraken_tui.journal.trades import Trade

__all__ = ["ChartScreen", "live_inputs", "timeframe_for", "trade_inputs"]

log = logging.getLogger(__name__)

_TF_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}
#: Seconds between rereads of the journal's closed trades on the live chart.
_JOURNAL_EVERY_S = 10.0


def _f(x: Decimal | None) -> float | None:
    return float(x) if x is not None else None


def live_inputs(snap: EngineSnapshot, symbol: str, trades: Sequence[Trade]) -> tuple[list[TradeMark], ChartLevels]:
    """The live chart's marks (the open position's entry, the closed trades' entries and exits) and lines (the
    position's stop, take-profits, entry and liquidation price) for ``symbol``."""
    marks: list[TradeMark] = []
    for t in trades:
        if t.symbol != symbol:
            continue
        marks.append(TradeMark(t.entry_ts_ms, float(t.entry_price), "entry", t.side.value))
        marks.append(TradeMark(t.exit_ts_ms, float(t.exit_price), "exit", t.side.value))
    pos = next((p for p in snap.positions if p.symbol == symbol), None)
    if pos is None:
        return marks, ChartLevels()
    if pos.opened_ts_ms is not None:
        marks.append(TradeMark(pos.opened_ts_ms, float(pos.entry_price), "entry", pos.side.value))
    ours = [o for o in snap.orders if o.symbol == symbol]
    stop = next((o.stop_price for o in ours if o.purpose == "stop" and o.stop_price is not None), pos.stop_price)
    tps = tuple(sorted(float(o.limit_price) for o in ours if o.purpose.startswith("tp") and o.limit_price is not None))
    return marks, ChartLevels(_f(stop), tps, _f(pos.liq_price), float(pos.entry_price))


def timeframe_for(duration_ms: int) -> str:
    """The shortest chart timeframe that shows a trade lasting ``duration_ms`` in at most 30 candles (entry and
    exit both fit at 80 columns)."""
    return next((tf for tf in CHART_TIMEFRAMES if duration_ms / _TF_MS[tf] <= 30), CHART_TIMEFRAMES[-1])


def trade_inputs(trade: Trade, candles: Sequence[Candle], timeframe: str) -> tuple[list[Candle], list[TradeMark]]:
    """The candles around ``trade`` (from a quarter of its duration, at least 10 candles, before its entry to as
    much after its exit) and its two marks."""
    tf = _TF_MS[timeframe]
    pad = max(10 * tf, (trade.exit_ts_ms - trade.entry_ts_ms) // 4)
    lo, hi = trade.entry_ts_ms - pad, trade.exit_ts_ms + pad
    window = [c for c in candles if lo <= c.ts_ms <= hi]
    side = trade.side.value
    return window, [TradeMark(trade.entry_ts_ms, float(trade.entry_price), "entry", side),
                    TradeMark(trade.exit_ts_ms, float(trade.exit_price), "exit", side)]


class ChartScreen(Screen[None]):
    """The chart of ``symbol`` (live), or of ``trade`` (a closed trade from the journal) when given.

    Args:
        engine: returns the engine (None before it has started: the chart says so).
        symbol: the symbol to chart (live); ignored when ``trade`` is given.
        symbols: the traded symbols ``n`` cycles through.
        trade: a closed trade to chart.
        journal: returns the journal's path (None: no trade marks on the live chart).
        load_trades: reads the journal's closed trades (blocking; the default reads ``ui.journal_data``).
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="chart.back"),
        Binding("1", "timeframe('1m')", "1m", id="chart.1m"),
        Binding("2", "timeframe('5m')", "5m", id="chart.5m"),
        Binding("3", "timeframe('15m')", "15m", id="chart.15m"),
        Binding("4", "timeframe('1h')", "1h", id="chart.1h"),
        Binding("n", "next_symbol", "Next symbol", id="chart.next"),
    ]
    DEFAULT_CSS = """
    ChartScreen { layout: vertical; }
    ChartScreen #chart-caption { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, engine: Callable[[], EngineControl | None], *, symbol: str = "",
                 symbols: Sequence[str] = (), trade: Trade | None = None,
                 journal: Callable[[], str | None] = lambda: None,
                 load_trades: Callable[[Path], Sequence[Trade]] | None = None) -> None:
        super().__init__(id="chart")
        self._engine, self._journal, self.trade = engine, journal, trade
        self.symbol = (trade.symbol if trade is not None else symbol).upper()
        self.symbols = [s.upper() for s in symbols] or [self.symbol]
        self.timeframe = timeframe_for(trade.exit_ts_ms - trade.entry_ts_ms) if trade is not None else "5m"
        self._load_trades = load_trades or _journal_trades
        self._trades: Sequence[Trade] = ()
        self._trades_read_at: float | None = None

    def compose(self) -> ComposeResult:
        yield PriceChart(id="price-chart")
        yield Static("1 2 3 4 = 1m 5m 15m 1h" + ("" if self.trade is not None else "   n = next symbol") +
                     "   Esc = back   ▲ entry  ▼ exit   F F = flatten", id="chart-caption")

    def on_mount(self) -> None:
        self.redraw()
        if self.trade is None:
            self.set_interval(1.0, self.redraw)

    def action_back(self) -> None:
        """Escape: back to where it was opened."""
        self.dismiss(None)

    def action_timeframe(self, timeframe: str) -> None:
        """Switch the candles to ``timeframe``."""
        self.timeframe = timeframe
        self.redraw()

    def action_next_symbol(self) -> None:
        """The next traded symbol (live chart only)."""
        if self.trade is None and self.symbol in self.symbols:
            self.symbol = self.symbols[(self.symbols.index(self.symbol) + 1) % len(self.symbols)]
            self._trades_read_at = None
            self.redraw()

    def _candles(self, engine: EngineControl, bars: int) -> tuple[list[Candle], str | None]:
        try:
            return list(engine.chart_candles(self.symbol, self.timeframe, bars=bars)), None
        except ValueError as exc:
            return [], str(exc)

    def _journal_trades(self) -> Sequence[Trade]:
        """The journal's closed trades, reread in a thread every ``_JOURNAL_EVERY_S`` seconds."""
        t = time.monotonic()
        if self._trades_read_at is None or t - self._trades_read_at >= _JOURNAL_EVERY_S:
            self._trades_read_at = t
            path = self._journal()
            if path:
                self.run_worker(lambda: self._read_trades(Path(path)), thread=True, group="chart-journal",
                                exclusive=True, exit_on_error=False)
        return self._trades

    def _read_trades(self, path: Path) -> None:
        try:
            self._trades = self._load_trades(path)
        except Exception as exc:  # the chart draws without trade marks; the log says why
            log.warning("chart: journal trades not read: %s", exc)
            self._trades = ()

    def redraw(self) -> None:
        """Draw the chart from the engine's state now."""
        chart = self.query_one(PriceChart)
        engine = self._engine()
        tf_ms = _TF_MS[self.timeframe]
        if engine is None:
            chart.show(f"{self.symbol} {self.timeframe}  (engine not started)", tf_ms, [])
            return
        if self.trade is not None:
            t = self.trade
            candles, err = self._candles(engine, 2000)
            window, marks = trade_inputs(t, candles, self.timeframe)
            note = "" if window else ("  " + err if err else "  the engine holds no candles of this trade's time")
            chart.show(f"{t.symbol} {self.timeframe}  trade {t.side.value} {t.size}  exit {t.exit_reason}{note}",
                       tf_ms, window, marks, centre_on_marks=True)
            return
        candles, err = self._candles(engine, 500)  # the widget draws as many of the newest as fit
        marks, levels = live_inputs(engine.snapshot(), self.symbol, self._journal_trades())
        chart.show(f"{self.symbol} {self.timeframe}" + (f"  {err}" if err else ""), tf_ms, candles, marks, levels)


def _journal_trades(path: Path) -> Sequence[Trade]:
    """The journal's closed trades (``ui.journal_data.load_journal``)."""
    from kraken_tui.ui.journal_data import load_journal

    return load_journal(path).trades
