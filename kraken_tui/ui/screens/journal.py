"""The journal screen: closed trades (sortable, filterable), statistics (Sharpe and Sortino only over
``journal_data.RATIO_MIN_SPAN_DAYS``), daily and weekly net P&L, the equity curve and the drawdown chart on
a time axis, trade detail and CSV export, under the console's status bar (kept live).

Live: every ``POLL_S`` seconds the screen looks at the journal file (and its WAL); when it changed, it reads
the trades again off the event loop. With the cursor on the first row the list refreshes at once; otherwise
the title says "N new trades, n to show them" so the rows do not move under the cursor.
Owns: the screen's keys and layout. Every journal read, filter, sort and statistic runs in a worker
thread (``journal_data``); the event loop only swaps in the result, so the engine is never held up.
Keys: Esc back, / filter, s next sort column, o flip order, Enter detail, e export CSV, c charts, n show
new trades.
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

from kraken_tui.engine.facade import EngineSnapshot
from kraken_tui.journal.stats import Summary
from kraken_tui.journal.trades import Trade
from kraken_tui.ui import format as fmt
from kraken_tui.ui import journal_data as jd
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.screens.trade_detail import TradeDetailScreen
from kraken_tui.ui.widgets.status import StatusBar
from kraken_tui.ui.widgets.trade_list import HEADER, TradeList

__all__ = ["POLL_S", "JournalScreen", "periods_text", "stats_text"]

#: How often the screen looks for new trades in the journal file, seconds.
POLL_S = 1.0


def _opt(v: object, f: str = "{:.2f}") -> str:
    return "-" if v is None else f.format(v)


def stats_text(s: Summary, shown: int, total: int, ratios: bool = True) -> Text:
    """Statistics of the shown trades in three lines (money USD). ``ratios`` False: Sharpe and Sortino say
    "n/a" (the trades span less than ``journal_data.RATIO_MIN_SPAN_DAYS``)."""
    t = Text()
    t.append(f"{shown:,} of {total:,} trades", style="bold")
    t.append(f"   wins {s.wins:,}  losses {s.losses:,}  win rate {fmt.pct(s.win_rate)}"
             f"   profit factor {_opt(s.profit_factor)}   expectancy {fmt.signed_money(s.expectancy_usd)} USD/trade\n")
    t.append(f"net {fmt.signed_money(s.net_pnl_usd)} USD  gross {fmt.signed_money(s.gross_pnl_usd)}  "
             f"fees {fmt.money(s.fees_usd)}  funding {fmt.signed_money(s.funding_usd)}"
             f"   avg win {fmt.signed_money(s.avg_win_usd)}  avg loss {fmt.signed_money(s.avg_loss_usd)} USD\n")
    t.append(f"max drawdown {fmt.money(s.max_drawdown_usd)} USD ({fmt.pct(s.max_drawdown_pct, 2)})")
    if ratios:
        t.append(f"   sharpe {_opt(s.sharpe)}  sortino {_opt(s.sortino)}")
    else:
        t.append(f"   sharpe n/a  sortino n/a (under {jd.RATIO_MIN_SPAN_DAYS} days of trades)")
    return t


def periods_text(daily: Sequence[jd.PeriodPnl], weekly: Sequence[jd.PeriodPnl], pal: Palette,
                 days: int = 7, weeks: int = 4) -> Text:
    """Net P&L (USD, after fees and funding) of the last ``days`` UTC days and ``weeks`` ISO weeks that had
    exits, two lines, oldest first."""
    t = Text()
    for name, rows, n in (("daily P&L USD ", daily, days), ("weekly P&L USD", weekly, weeks)):
        t.append(f"{name} ", style=pal.muted)
        if not rows:
            t.append("no trades", style=pal.muted)
        for p in rows[-n:]:
            t.append(f" {p.label[5:] if name.startswith('daily') else p.label} ")
            t.append_text(pal.signed(fmt.signed_money(p.net_usd), p.net_usd))
        if name.startswith("daily"):
            t.append("\n")
    return t


def _tick_label(v: float) -> str:
    """A y tick: two decimals with thousands separators, never "-0.00"."""
    text = f"{v:,.2f}"
    return "0.00" if text == "-0.00" else text


def time_ticks(first_ms: int, last_ms: int, count: int = 4) -> list[tuple[int, str]]:
    """Up to ``count`` evenly spaced x ticks (UTC ms, label) from ``first_ms`` to ``last_ms``: ``MM-DD HH:MM``
    labels, or ``HH:MM`` when everything is within one UTC day; one tick when both are equal."""
    if last_ms <= first_ms:
        return [(first_ms, fmt.ymd_hms_utc(first_ms)[5:])]
    same_day = fmt.ymd_utc(first_ms) == fmt.ymd_utc(last_ms)
    out = []
    for k in range(count):
        t = first_ms + (last_ms - first_ms) * k // (count - 1)
        full = fmt.ymd_hms_utc(t)
        out.append((t, full[11:] if same_day else full[5:]))
    return out


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
        Binding("n", "show_new", "New trades", id="journal.new"),
    ]
    DEFAULT_CSS = """
    JournalScreen #journal-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    JournalScreen #journal-stats { height: 3; padding: 0 1; }
    JournalScreen #journal-periods { height: 2; padding: 0 1; }
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
        self.pending: tuple[jd.JournalView, list[Trade], Summary, jd.Curve] | None = None
        """Newer trades read while the cursor was away from the top: shown with ``n``."""
        self._file_sig: tuple[tuple[int, int], ...] | None = None
        self._reloading = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="journal-title")
        yield Static(id="journal-stats")
        yield Static(id="journal-periods")
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
        self.set_interval(POLL_S, self.poll, name="journal-poll")

    def show_status(self, snap: EngineSnapshot, wall_ms: int, pal: Palette, *, armed_s: float, flatten_key: str,
                    reset_key: str, resume_key: str) -> None:
        """Draw the console's status bar on this screen (the app's refresh calls it while the journal is open)."""
        self.query_one(StatusBar).show(snap, wall_ms, pal, armed_s=armed_s, flatten_key=flatten_key,
                                       reset_key=reset_key, resume_key=resume_key)

    def file_signature(self) -> tuple[tuple[int, int], ...]:
        """(mtime ns, size) of the journal file and its WAL (missing files count as (0, 0))."""
        out = []
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((0, 0))
        return tuple(out)

    def poll(self) -> None:
        """Read the journal again (off the event loop) when its file changed since the last read."""
        if self._reloading or self.view is None or self.file_signature() == self._file_sig:
            return
        self._reloading = True
        self.reload()

    @work(thread=True, group="journal-poll", name="journal-reload")
    def reload(self) -> None:
        """Read the trades again (thread); show them or offer them (``_fresh``)."""
        try:
            view = jd.load_journal(self.path)
            sig = self.file_signature()  # after the read: reading may touch the WAL
        except Exception:  # a write in progress or a transient lock: the next poll tries again
            self.app.call_from_thread(self._reloaded, None)
            return
        result = self._compute(view, self.filter, self.sort_key, self.reverse)
        self.app.call_from_thread(self._reloaded, sig)
        self.app.call_from_thread(self._fresh, view, *result)

    def _reloaded(self, sig: tuple[tuple[int, int], ...] | None) -> None:
        self._reloading = False
        if sig is not None:
            self._file_sig = sig

    def _fresh(self, view: jd.JournalView, trades: list[Trade], stats: Summary, curve: jd.Curve) -> None:
        old = self.view
        if old is not None and len(view.trades) == len(old.trades) and view.open_symbols == old.open_symbols:
            return
        tl = self.query_one(TradeList)
        if old is None or (tl.cursor == 0 and tl.has_focus):
            self.pending = None
            self._show(view, trades, stats, curve)
            return
        self.pending = (view, trades, stats, curve)
        self._title()

    def action_show_new(self) -> None:
        """Show the trades read since the list was last drawn."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._show(*pending)

    # ------------------------------------------------------------------ workers
    @work(thread=True, exclusive=True, group="journal", name="journal-load")
    def load(self) -> None:
        """Read the journal (thread) and show it."""
        try:
            view = jd.load_journal(self.path)
        except Exception as exc:  # JournalError and anything sqlite raises: show, never crash the console
            self.app.call_from_thread(self._failed, f"cannot read the journal: {exc}")
            return
        sig = self.file_signature()  # after the read: reading may touch the WAL
        result = self._compute(view, self.filter, self.sort_key, self.reverse)
        self.app.call_from_thread(self._reloaded, sig)
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
        if self.pending is not None and self.view is not None:
            n = len(self.pending[0].trades) - len(self.view.trades)
            t.append(f"   {n:,} new trade{'s' if n != 1 else ''}, n to show them", style="bold")
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
        self.query_one("#journal-stats", Static).update(
            stats_text(stats, len(trades), len(view.trades), jd.ratios_shown(trades)))
        self.query_one("#journal-periods", Static).update(
            periods_text(jd.period_pnl(trades, "day"), jd.period_pnl(trades, "week"), self._palette()))
        self.query_one(TradeList).set_trades(trades, self._palette())
        self._plot(curve, view.starting_equity_usd)

    def _plot(self, curve: jd.Curve, start: Decimal | None) -> None:
        eq = self.query_one("#equity-plot", PlotextPlot)
        dd = self.query_one("#drawdown-plot", PlotextPlot)
        times = curve.ts_ms if len(curve.ts_ms) == len(curve.x) else []
        for widget, ys, title in ((eq, curve.equity, "Equity, USD (closed trades)"),
                                  (dd, [v * 100 for v in curve.drawdown], "Drawdown, % below peak")):
            plt = widget.plt
            plt.clear_data()
            plt.clear_figure()
            plt.title(title)
            if times:
                xs = [t / 1000 for t in times]
                plt.plot(xs, ys, marker="braille")
                ticks = time_ticks(times[0], times[-1])
                plt.xticks([t / 1000 for t, _ in ticks], [label for _, label in ticks])
                lo, hi = min(ys), max(ys)
                if hi - lo < 1e-9:
                    lo, hi = lo - 1, hi + 1
                yt = [lo + (hi - lo) * k / 3 for k in range(4)]
                plt.yticks(yt, [_tick_label(v) for v in yt])
            plt.xlabel("exit time, UTC")
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
        self.filter, bad = jd.parse_filter_terms(event.value)
        if bad:  # the valid terms still apply; the bad ones are named
            self.notify(f"filter: not understood: {' '.join(bad)} (terms: {jd.FILTER_SYNTAX})", severity="warning")
        self.filter_text = " ".join(w for w in event.value.split() if w not in bad)
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
