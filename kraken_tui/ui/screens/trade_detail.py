"""Trade detail dialog: entry and exit, size, P&L split into gross, fees and funding, exit reason,
MAE/MFE, every fill of the trade and the signal that opened it. Esc closes it.

Units: prices USD, sizes contracts, money USD, times UTC. Must not import: the engine.
"""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kraken_tui.journal.export import iso_ms
from kraken_tui.journal.records import flatten_source_of
from kraken_tui.ui import format as fmt
from kraken_tui.ui.journal_data import TradeDetail

__all__ = ["TradeDetailScreen", "detail_text"]


def detail_text(d: TradeDetail) -> Text:
    """The summary lines of a trade; a flatten's exit names its source (``flatten (ctl flatten)``)."""
    t = d.trade
    source = flatten_source_of(d.fills[-1].cli_ord_id) if t.exit_reason == "flatten" and d.fills else None
    reason = f"{t.exit_reason} ({source})" if source else t.exit_reason
    arrow = "▲" if t.side.value == "long" else "▼"
    out = Text(f"{t.symbol} {arrow} {t.side.value} {fmt.size(t.size)}\n", style="bold")
    out.append(f"entry {fmt.price(t.entry_price)} at {iso_ms(t.entry_ts_ms)}\n"
               f"exit  {fmt.price(t.exit_price)} at {iso_ms(t.exit_ts_ms)}   exit reason: {reason}\n"
               f"gross {fmt.signed_money(t.gross_pnl_usd)}  fees {fmt.money(t.fees_usd)}  "
               f"funding {fmt.signed_money(t.funding_usd)} (paid {fmt.money(t.funding_paid_usd)}, "
               f"received {fmt.money(t.funding_received_usd)})\n")
    out.append(f"net   {fmt.signed_money(t.net_pnl_usd)} USD", style="bold")
    out.append(f"   MAE {fmt.signed_money(t.mae_usd)}  MFE {fmt.signed_money(t.mfe_usd)}   "
               f"strategy {t.strategy or '-'}\n")
    s = d.signal
    if s is None:
        out.append("signal: none journaled (manual, external or reconciled)\n")
    else:
        out.append(f"signal: {iso_ms(s.ts_ms)} {s.strategy} {s.side} confidence {s.confidence:.2f}: {s.reason}; "
                   f"{s.action}" + (f" ({s.rejection_reason})" if s.rejection_reason else "") + "\n")
    return out


def fills_table(d: TradeDetail) -> Table:
    """The trade's fills."""
    table = Table(box=None, padding=(0, 1), header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("time (UTC)", "left"), ("side", "left"), ("size", "right"), ("price", "right"), ("fee", "right"),
        ("type", "left"), ("order", "left"))
    for col, justify in columns:
        table.add_column(col, justify=justify, no_wrap=True)
    for f in d.fills:
        table.add_row(iso_ms(f.ts_ms), ("▲ " if f.side.value == "buy" else "▼ ") + f.side.value, fmt.size(f.size),
                      fmt.price(f.price), fmt.money(f.fee) if f.fee is not None else "-", f.fill_type.value,
                      f.cli_ord_id or f.order_id)
    return table


class TradeDetailScreen(ModalScreen[None]):
    """One trade in full."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="detail.close"),
                Binding("v", "chart", "Price chart", id="detail.chart")]
    DEFAULT_CSS = """
    TradeDetailScreen { align: center middle; background: $background 60%; }
    TradeDetailScreen > VerticalScroll { width: 110; max-width: 98%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, detail: TradeDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(detail_text(self.detail))
            yield Static(Text(f"fills ({len(self.detail.fills)})", style="bold"))
            yield Static(fills_table(self.detail))
            yield Static(Text("v = price chart of this trade    Esc = close", style="dim"))

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)

    def action_chart(self) -> None:
        """The trade's price chart: its candles around entry and exit (``ui.screens.chart``)."""
        from kraken_tui.ui.screens.chart import ChartScreen

        self.app.push_screen(ChartScreen(lambda: getattr(self.app, "engine", None), trade=self.detail.trade))
