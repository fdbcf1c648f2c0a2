"""P&L panel: equity at mark (with change since start and the last account report's figure, labelled),
today's realized (gross: before fees and funding; the journal's Net is after them) and unrealized P&L, fees
and funding today, drawdown from peak, and an equity sparkline
over the marked series with a fixed minimum span and its min/max labels (one line).

Units: USD; drawdown percent of peak equity; the sparkline's span at least ``MIN_SPAN_FRACTION`` of equity.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.engine.facade import AccountView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel, update_text

__all__ = ["MIN_SPAN_FRACTION", "PnlPanel", "equity_series", "pnl_text", "spark_text"]

#: The sparkline's vertical span is at least this fraction of the mean equity (0.01 = 1 %), so a small step
#: (e.g. -0.03 %) draws as a small step, not as a cliff from the bottom to the top.
MIN_SPAN_FRACTION = 0.01
_BLOCKS = "▁▂▃▄▅▆▇█"


def pnl_text(a: AccountView, pal: Palette) -> Text:
    """The P&L lines (labels 11 wide, one figure per line so it fits a narrow panel). Equity, "vs start" and
    Drawdown use the equity at mark (``AccountView.marked_equity_usd``); the last account report's equity is
    shown after it, labelled "report", when it differs."""
    t = Text()
    equity = a.marked_equity_usd

    def label(name: str) -> None:
        t.append(f"{name:<11}", style=pal.muted)

    label("Equity")
    t.append(f"{fmt.money(equity)} USD", style="bold")
    if a.equity_at_mark_usd is not None and a.equity_usd != a.equity_at_mark_usd:
        t.append(f"  report {fmt.money(a.equity_usd)}", style=pal.muted)
    if a.starting_equity_usd:
        change = equity - a.starting_equity_usd
        t.append("\n")
        label("  vs start")
        t.append_text(pal.signed(f"{fmt.arrow(change)} {fmt.signed_money(change)} USD "
                                 f"({fmt.pct(float(change / a.starting_equity_usd), 2, True)})", change))
    t.append("\n")
    label("Realized")
    t.append_text(pal.signed(fmt.signed_money(a.realized_pnl_today_usd), a.realized_pnl_today_usd))
    t.append(" USD gross today", style=pal.muted)  # before fees and funding (the journal's Net is after them)
    t.append("\n")
    label("Unrealized")
    t.append_text(pal.signed(fmt.signed_money(a.unrealized_pnl_usd), a.unrealized_pnl_usd))
    t.append(" USD at mark", style=pal.muted)
    t.append("\n")
    label("Fees")
    t.append(fmt.signed_money(-a.fees_today_usd))
    t.append(" USD", style=pal.muted)
    t.append("  funding ", style=pal.muted)
    t.append_text(pal.signed(fmt.signed_money(a.funding_today_usd), a.funding_today_usd))
    t.append(" USD today", style=pal.muted)
    t.append("\n")
    label("Drawdown")
    t.append(fmt.pct(a.drawdown_pct / 100, 2))
    t.append(f" (peak {fmt.money(a.peak_equity_usd)} USD)", style=pal.muted)
    return t


def equity_series(a: AccountView, points: int = 240) -> list[float]:
    """The equity curve to draw (USD): the last ``points`` - 1 history points (equity at mark per bar) and the
    equity at mark now as the newest point."""
    values = [v for _, v in a.equity_history[-(points - 1):]] if points > 1 else []
    if a.equity_at_mark_usd is not None or a.equity_usd:
        values.append(float(a.marked_equity_usd))
    return values


def spark_text(values: Sequence[float], width: int, pal: Palette,
               min_span_fraction: float = MIN_SPAN_FRACTION) -> Text:
    """One line of ``width`` cells: a block sparkline of the newest values, then "min X max Y" (USD, whole
    dollars). The vertical span is max(max - min, ``min_span_fraction`` x mean), centred on the data, so a
    change smaller than the minimum span stays a small step. No values give "no equity yet"."""
    vals = list(values)
    if not vals:
        return Text("no equity yet", style=pal.muted)
    shown = vals[-max(1, width - 24):]
    lo, hi = min(shown), max(shown)
    mean = sum(shown) / len(shown)
    span = max(hi - lo, abs(mean) * min_span_fraction, 1e-9)
    base = (lo + hi) / 2 - span / 2
    top = len(_BLOCKS) - 1
    blocks = "".join(_BLOCKS[max(0, min(top, round((v - base) / span * top)))] for v in shown)
    t = Text(blocks, style=pal.accent)
    t.append(f" min {fmt.money(lo, 0)} max {fmt.money(hi, 0)}", style=pal.muted)
    return t


class PnlPanel(Panel):
    """Account P&L and the equity sparkline."""

    page = 1

    def __init__(self) -> None:
        super().__init__("P&L", id="pnl")
        self._last: Text | None = None
        self._last_spark: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="pnl-text")
        yield Static(id="equity-spark")

    def show(self, frame: Frame) -> None:
        a = frame.snap.account
        text = pnl_text(a, frame.palette)
        if frame.force or text != self._last:
            update_text(self.query_one("#pnl-text", Static), text)
            self._last = text
        spark_widget = self.query_one("#equity-spark", Static)
        width = spark_widget.content_region.width or 40
        spark = spark_text(equity_series(a), width, frame.palette)
        if frame.force or spark != self._last_spark:
            update_text(spark_widget, spark)
            self._last_spark = spark

    def plain(self) -> str:
        """What the panel shows, as plain text (figures, then the sparkline lines)."""
        return "\n".join(t.plain for t in (self._last, self._last_spark) if t is not None)
