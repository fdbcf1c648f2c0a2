"""The confirmation of a manual action: exactly what will be sent (from the engine's preview, after tick and lot
rounding), and, for an opening order the risk gate refused, the typed override.

Owns: ``OrderConfirmScreen`` (a ``ConfirmScreen``: y sends, n or Escape cancels; keys only, so a click, a paste or
a burst of typed keys never confirms) and ``OverrideScreen`` (the risk gate's reason, then the symbol typed and
Enter; anything else cancels). ``sent_table`` renders a ``SentOrder`` as rows (symbol, side, size, type,
reduce-only, price, order id).
Must not import: the engine's internals (only ``engine.facade``), the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from kraken_tui.engine.facade import ManualPreview, SentOrder
from kraken_tui.ui.screens.confirm import ConfirmScreen

__all__ = ["OrderConfirmScreen", "OverrideScreen", "sent_table"]


class _Rows:
    """Field/value lines (bold field names, aligned values)."""

    def __init__(self) -> None:
        self.text = Text()

    def add_row(self, field: str, value: str) -> None:
        if self.text:
            self.text.append("\n")
        self.text.append(f"{field:<14}", style="bold")
        self.text.append(value)


def sent_table(s: SentOrder) -> Text:
    """What goes to the exchange, one field a line (fields that do not apply are left out)."""
    t = _Rows()
    t.add_row("Action", s.verb)
    t.add_row("Symbol", s.symbol)
    if s.side is not None:
        t.add_row("Side", s.side.value)
    if s.size is not None:
        t.add_row("Size", f"{s.size} contracts")
    if s.order_type:
        t.add_row("Type", s.order_type + (" (post-only)" if s.order_type == "post" else ""))
    t.add_row("Reduce-only", "yes" if s.reduce_only else "no")
    if s.limit_price is not None:
        t.add_row("Limit price", f"{s.limit_price} USD")
    if s.stop_price is not None:
        t.add_row("Trigger price", f"{s.stop_price} USD")
    if s.order_id:
        t.add_row("Order id", s.order_id)
    if s.orders:
        t.add_row("Orders", ", ".join(s.orders))
    if s.verb == "order" and not s.reduce_only:
        t.add_row("Exits", "the engine's stop and take-profits after the fill" if s.attach_exits else "none attached")
    return t.text


def _body(p: ManualPreview, extra: str = "") -> Text:
    assert p.order is not None
    out = sent_table(p.order)
    if p.notes:
        out.append("\n\n" + "\n".join(p.notes), style="italic")
    if extra:
        out.append("\n\n" + extra)
    return out


class OrderConfirmScreen(ConfirmScreen):
    """Ask before sending ``preview.order`` (y = send). ``preview`` must carry an order."""

    def __init__(self, title: str, preview: ManualPreview, *, danger: bool = False) -> None:
        super().__init__(title, _body(preview), yes="send", danger=danger)
        self.preview = preview


class OverrideScreen(ModalScreen[bool]):
    """The risk gate refused an opening order: show why and what would be sent; dismisses with True only when the
    order's symbol is typed (any case) and Enter pressed; Escape or anything else cancels."""

    BINDINGS = [Binding("escape", "decline", "Cancel", show=False)]
    DEFAULT_CSS = """
    OverrideScreen { align: center middle; background: $background 60%; }
    OverrideScreen > Vertical { width: 80; max-width: 98%; height: auto; max-height: 95%;
        border: thick $error; background: $surface; padding: 1 2; }
    OverrideScreen #override-title { text-style: bold; color: $error; margin-bottom: 1; }
    OverrideScreen #override-keys { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, preview: ManualPreview) -> None:
        super().__init__(id="override")
        assert preview.order is not None
        self.preview = preview
        self.symbol = preview.order.symbol

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("RISK GATE REFUSED THIS ORDER", id="override-title")
            yield Static(_body(self.preview, f"Why: {self.preview.gate_refusal}"), id="override-body")
            yield Input(placeholder=f"type {self.symbol.lower()} to send it anyway", id="override-answer")
            yield Static("Enter = answer    Esc = cancel (nothing is sent)", id="override-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip().upper() == self.symbol)

    def action_decline(self) -> None:
        """Escape: nothing is sent."""
        self.dismiss(False)
