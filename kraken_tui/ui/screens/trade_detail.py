"""Trade detail dialog: entry and exit times, hold time, size, P&L split into gross, fees and funding, exit
reason, R-multiple, MAE/MFE in USD and % of the entry notional, the stop and take-profits used, every fill of
the trade (a reversal fill shown as the part that belongs to this trade) and the signal that opened it.
Esc closes it.

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
from kraken_tui.ui.journal_data import TradeDetail, excursion_pct, hold_ms, r_multiple

__all__ = ["TradeDetailScreen", "detail_text", "duration"]


def duration(ms: int) -> str:
    """A hold time: ``45s``, ``12m 05s``, ``3h 07m``, ``2d 04h``."""
    s = max(0, ms) // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600:02d}h"


def detail_text(d: TradeDetail) -> Text:
    """The summary lines of a trade; a flatten's exit names its source (``flatten (ctl flatten)``)."""
    t = d.trade
    source = flatten_source_of(d.fills[-1].cli_ord_id) if t.exit_reason == "flatten" and d.fills else None
    reason = f"{t.exit_reason} ({source})" if source else t.exit_reason
    arrow = "▲" if t.side.value == "long" else "▼"
    out = Text(f"{t.symbol} {arrow} {t.side.value} {fmt.size(t.size)}\n", style="bold")
    out.append(f"entry {fmt.price(t.entry_price)} USD at {iso_ms(t.entry_ts_ms)}\n"
               f"exit  {fmt.price(t.exit_price)} USD at {iso_ms(t.exit_ts_ms)}   held {duration(hold_ms(t))}   "
               f"exit reason: {reason}\n"
               f"gross {fmt.signed_money(t.gross_pnl_usd)} USD  fees {fmt.money(t.fees_usd)} USD  "
               f"funding {fmt.signed_money(t.funding_usd)} USD (paid {fmt.money(t.funding_paid_usd)}, "
               f"received {fmt.money(t.funding_received_usd)})\n")
    out.append(f"net   {fmt.signed_money(t.net_pnl_usd)} USD", style="bold")
    stops, tps = d.stops, d.take_profits
    r = r_multiple(t, stops[0] if stops else None)
    out.append(f"   R {'n/a (no stop)' if r is None else f'{r:+.2f}'}   strategy {t.strategy or '-'}\n")
    out.append(f"MAE {fmt.signed_money(t.mae_usd)} USD ({fmt.pct(excursion_pct(t, t.mae_usd), 2, True)})   "
               f"MFE {fmt.signed_money(t.mfe_usd)} USD ({fmt.pct(excursion_pct(t, t.mfe_usd), 2, True)}) "
               f"of the entry notional\n")
    stop_text = " -> ".join(fmt.price(p) for p in stops) if stops else "none journaled"
    tp_text = ", ".join(fmt.price(p) for p in tps) if tps else "none journaled"
    out.append(f"stop {stop_text}   take-profits {tp_text}\n")
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
    parts = d.parts if len(d.parts) == len(d.fills) else [f.size for f in d.fills]
    for f, part in zip(d.fills, parts, strict=True):
        split = part != f.size  # a reversal fill: only this trade's part, its fee pro rata
        size = f"{fmt.size(part)} of {fmt.size(f.size)}" if split else fmt.size(f.size)
        fee = None if f.fee is None else (f.fee * part / f.size if split and f.size else f.fee)
        table.add_row(iso_ms(f.ts_ms), ("▲ " if f.side.value == "buy" else "▼ ") + f.side.value, size,
                      fmt.price(f.price), fmt.money(fee) if fee is not None else "-",
                      f.fill_type.value + (" (reversal, split)" if split else ""), f.cli_ord_id or f.order_id)
    return table


class TradeDetailScreen(ModalScreen[None]):
    """One trade in full."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="detail.close"),
                Binding("k", "chart", "Price chart", id="detail.chart")]
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
            yield Static(Text("k = price chart of this trade    Esc = close", style="dim"))

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)

    def action_chart(self) -> None:
        """The trade's price chart: its candles around entry and exit (``ui.screens.chart``)."""
        from kraken_tui.ui.screens.chart import ChartScreen

        self.app.push_screen(ChartScreen(lambda: getattr(self.app, "engine", None), trade=self.detail.trade))
