"""The journal screen: closed trades (sortable, filterable), statistics, the equity curve and the
drawdown chart, trade detail and CSV export.

Owns: the screen's keys and layout. Every journal read, filter, sort and statistic runs in a worker
thread (``journal_data``); the event loop only swaps in the result, so the engine is never held up.
Keys: Esc back, / filter, s next sort column, o flip order, Enter detail, e export CSV, c charts.
Must not import: the engine's internals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual_plotext import PlotextPlot

from kraken_tui.journal.stats import Summary
from kraken_tui.journal.trades import Trade
from kraken_tui.ui import format as fmt
from kraken_tui.ui import journal_data as jd
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.screens.trade_detail import TradeDetailScreen
from kraken_tui.ui.widgets.trade_list import HEADER, TradeList

__all__ = ["JournalScreen", "stats_text"]


def _opt(v: object, f: str = "{:.2f}") -> str:
    return "-" if v is None else f.format(v)


def stats_text(s: Summary, shown: int, total: int) -> Text:
    """Statistics of the shown trades in three lines."""
    t = Text()
    t.append(f"{shown:,} of {total:,} trades", style="bold")
    t.append(f"   wins {s.wins:,}  losses {s.losses:,}  win rate {fmt.pct(s.win_rate)}"
             f"   profit factor {_opt(s.profit_factor)}   expectancy {fmt.signed_money(s.expectancy_usd)}\n")
    t.append(f"net {fmt.signed_money(s.net_pnl_usd)}  gross {fmt.signed_money(s.gross_pnl_usd)}  "
             f"fees {fmt.money(s.fees_usd)}  funding {fmt.signed_money(s.funding_usd)}"
             f"   avg win {fmt.signed_money(s.avg_win_usd)}  avg loss {fmt.signed_money(s.avg_loss_usd)}\n")
    t.append(f"max drawdown {fmt.money(s.max_drawdown_usd)} USD ({fmt.pct(s.max_drawdown_pct, 2)})"
             f"   sharpe {_opt(s.sharpe)}  sortino {_opt(s.sortino)}")
    return t


class JournalScreen(Screen):
    """Trades from the journal file ``path``.

    Args:
        path: the journal file (read-only use; never created here).
        export_dir: where ``e`` writes CSV files.
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="journal.back"),
        Binding("slash", "filter", "Filter", id="journal.filter"),
        Binding("s", "sort", "Sort", id="journal.sort"),
        Binding("o", "order", "Order", id="journal.order"),
        Binding("e", "export", "Export CSV", id="journal.export"),
        Binding("c", "charts", "Charts", id="journal.charts"),
    ]
    DEFAULT_CSS = """
    JournalScreen #journal-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    JournalScreen #journal-stats { height: 3; padding: 0 1; }
    JournalScreen #journal-header { height: 1; padding: 0 1; color: $kt-muted; text-style: bold; }
    JournalScreen TradeList { padding: 0 1; }
    JournalScreen #charts { height: 12; }
    JournalScreen #charts.hidden { display: none; }
    JournalScreen PlotextPlot { width: 1fr; }
    JournalScreen #journal-filter { dock: bottom; display: none; }
    JournalScreen #journal-filter.open { display: block; }
    """

    def __init__(self, path: Path, export_dir: Path) -> None:
        super().__init__(id="journal")
        self.path = path
        self.export_dir = export_dir
        self.view: jd.JournalView | None = None
        self.shown: list[Trade] = []
        self.filter = jd.TradeFilter()
        self.filter_text = ""
        self.sort_key = "exit time"
        self.reverse = True
        self.status = "loading the journal..."
        self.last_export: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="journal-title")
        yield Static(id="journal-stats")
        yield Static(HEADER, id="journal-header")
        yield TradeList(id="trades")
        with Horizontal(id="charts"):
            yield PlotextPlot(id="equity-plot")
            yield PlotextPlot(id="drawdown-plot")
        yield Input(placeholder="filter: sym:ETH long|short win|loss from:2024-07-01 to:2024-08-01 (Enter applies)",
                    id="journal-filter")
        yield Footer()

    def on_mount(self) -> None:
        self._title()
        if self.app.size.height < 30:
            self.query_one("#charts").add_class("hidden")
        self.query_one(TradeList).focus()
        self.load()

    # ------------------------------------------------------------------ workers
    @work(thread=True, exclusive=True, group="journal", name="journal-load")
    def load(self) -> None:
        """Read the journal (thread) and show it."""
        try:
            view = jd.load_journal(self.path)
        except Exception as exc:  # JournalError and anything sqlite raises: show, never crash the console
            self.app.call_from_thread(self._failed, f"cannot read the journal: {exc}")
            return
        result = self._compute(view, self.filter, self.sort_key, self.reverse)
        self.app.call_from_thread(self._show, view, *result)

    @staticmethod
    def _compute(view: jd.JournalView, flt: jd.TradeFilter, key: str, reverse: bool
                 ) -> tuple[list[Trade], Summary, jd.Curve]:
        chosen = jd.apply_filter(view.trades, flt)
        stats = jd.statistics(chosen, view.starting_equity_usd)
        curve = jd.equity_curve(chosen, view.starting_equity_usd)
        return jd.sort_trades(chosen, key, reverse), stats, curve

    @work(thread=True, exclusive=True, group="journal", name="journal-refilter")
    def refilter(self) -> None:
        """Re-apply filter and sort (thread) and show the result."""
        if self.view is None:
            return
        result = self._compute(self.view, self.filter, self.sort_key, self.reverse)
        self.app.call_from_thread(self._show, self.view, *result)

    @work(thread=True, exclusive=True, group="journal-detail", name="journal-detail")
    def detail(self, trade: Trade) -> None:
        """Read a trade's fills and signal (thread) and open the detail dialog."""
        if self.view is None:
            return
        try:
            d = jd.trade_detail(self.view, trade)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot read the trade's fills: {exc}", severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, TradeDetailScreen(d))

    @work(thread=True, exclusive=True, group="journal-export", name="journal-export")
    def export(self, trades: Sequence[Trade], path: Path) -> None:
        """Write the CSV (thread)."""
        try:
            jd.export_csv(trades, path)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.last_export = path
        self.app.call_from_thread(self.notify, f"exported {len(trades):,} trades to {path}")

    # ------------------------------------------------------------------ drawing
    def _palette(self) -> Palette:
        pal = getattr(self.app, "palette", None)
        return pal if isinstance(pal, Palette) else Palette()

    def _title(self) -> None:
        arrow = "↓" if self.reverse else "↑"
        t = Text(f"Journal  {self.path}", style="bold")
        t.append(f"   sort: {self.sort_key} {arrow}   filter: {self.filter_text or 'none'}   {self.status}",
                 style="not bold")
        self.query_one("#journal-title", Static).update(t)

    def _failed(self, message: str) -> None:
        self.status = message
        self._title()
        self.query_one("#journal-stats", Static).update(Text(message, style="bold"))
        self.notify(message, severity="error")

    def _show(self, view: jd.JournalView, trades: list[Trade], stats: Summary, curve: jd.Curve) -> None:
        self.view = view
        self.shown = trades
        opens = f"; open positions not shown: {', '.join(view.open_symbols)}" if view.open_symbols else ""
        self.status = f"{len(trades):,} shown{opens}"
        self._title()
        self.query_one("#journal-stats", Static).update(stats_text(stats, len(trades), len(view.trades)))
        self.query_one(TradeList).set_trades(trades, self._palette())
        self._plot(curve, view.starting_equity_usd)

    def _plot(self, curve: jd.Curve, start: Decimal | None) -> None:
        eq = self.query_one("#equity-plot", PlotextPlot)
        dd = self.query_one("#drawdown-plot", PlotextPlot)
        for widget, ys, title in ((eq, curve.equity, "Equity, USD (closed trades)"),
                                  (dd, [v * 100 for v in curve.drawdown], "Drawdown, % below peak")):
            plt = widget.plt
            plt.clear_data()
            plt.clear_figure()
            plt.title(title)
            if curve.x:
                plt.plot(curve.x, ys, marker="braille")
            plt.xlabel("trade #")
            widget.refresh()

    # ------------------------------------------------------------------ actions
    def action_back(self) -> None:
        """Close the filter when open, else return to the dashboard."""
        box = self.query_one("#journal-filter", Input)
        if box.has_class("open"):
            box.remove_class("open")
            self.query_one(TradeList).focus()
            return
        self.app.pop_screen()

    def action_filter(self) -> None:
        """Open the filter box."""
        box = self.query_one("#journal-filter", Input)
        box.add_class("open")
        box.value = self.filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.filter = jd.parse_filter(event.value)
        except Exception as exc:
            self.notify(str(exc), severity="warning")
            return
        self.filter_text = event.value.strip()
        event.input.remove_class("open")
        self.query_one(TradeList).focus()
        self.status = "filtering..."
        self._title()
        self.refilter()

    def action_sort(self) -> None:
        """Sort by the next column."""
        keys = list(jd.SORT_KEYS)
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.status = "sorting..."
        self._title()
        self.refilter()

    def action_order(self) -> None:
        """Flip ascending / descending."""
        self.reverse = not self.reverse
        self._title()
        self.refilter()

    def action_charts(self) -> None:
        """Show or hide the equity and drawdown charts."""
        self.query_one("#charts").toggle_class("hidden")

    def action_export(self) -> None:
        """Export the shown trades (filter and sort applied) to a CSV file in ``export_dir``."""
        if self.view is None:
            self.notify("the journal is still loading", severity="warning")
            return
        stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%d-%H%M%S")
        self.export(list(self.shown), self.export_dir / f"trades-{stamp}.csv")

    def on_trade_list_selected(self, event: TradeList.Selected) -> None:
        self.detail(event.trade)
