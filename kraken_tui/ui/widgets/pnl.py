"""P&L panel: equity (with change since start), today's realized and unrealized P&L, fees and
funding today, drawdown from peak, and an equity sparkline.

Units: USD; drawdown percent of peak equity. Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from kraken_tui.engine.facade import AccountView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel

__all__ = ["PnlPanel", "pnl_text"]


def pnl_text(a: AccountView, pal: Palette) -> Text:
    """The P&L lines (labels 11 wide, one figure per line so it fits a narrow panel)."""
    t = Text()

    def label(name: str) -> None:
        t.append(f"{name:<11}", style=pal.muted)

    label("Equity")
    t.append(f"{fmt.money(a.equity_usd)} USD", style="bold")
    if a.starting_equity_usd:
        change = a.equity_usd - a.starting_equity_usd
        t.append("\n")
        label("  vs start")
        t.append_text(pal.signed(f"{fmt.arrow(change)} {fmt.signed_money(change)} "
                                 f"({fmt.pct(float(change / a.starting_equity_usd), 2, True)})", change))
    t.append("\n")
    label("Realized")
    t.append_text(pal.signed(fmt.signed_money(a.realized_pnl_today_usd), a.realized_pnl_today_usd))
    t.append(" today", style=pal.muted)
    t.append("\n")
    label("Unrealized")
    t.append_text(pal.signed(fmt.signed_money(a.unrealized_pnl_usd), a.unrealized_pnl_usd))
    t.append("\n")
    label("Fees")
    t.append(fmt.signed_money(-a.fees_today_usd))
    t.append("  funding ", style=pal.muted)
    t.append_text(pal.signed(fmt.signed_money(a.funding_today_usd), a.funding_today_usd))
    t.append(" today", style=pal.muted)
    t.append("\n")
    label("Drawdown")
    t.append(fmt.pct(a.drawdown_pct / 100, 2))
    t.append(f" (peak {fmt.money(a.peak_equity_usd)})", style=pal.muted)
    return t


class PnlPanel(Panel):
    """Account P&L and the equity sparkline."""

    page = 1

    def __init__(self) -> None:
        super().__init__("P&L", id="pnl")
        self._last: Text | None = None
        self._spark_key: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="pnl-text")
        yield Sparkline([], id="equity-spark")

    def show(self, frame: Frame) -> None:
        a = frame.snap.account
        text = pnl_text(a, frame.palette)
        if frame.force or text != self._last:
            self.query_one("#pnl-text", Static).update(text)
            self._last = text
        hist = a.equity_history
        key = (len(hist), hist[-1] if hist else None)
        if key != self._spark_key:
            self.query_one(Sparkline).data = [v for _, v in hist[-240:]]
            self._spark_key = key
