"""Orders panel: open orders, trigger orders (stops) included: symbol, side, type, size, filled,
limit price, trigger price, reduce-only flag and the engine's purpose label.
Two column sets (``table.KeyedTable`` variants): the full one, and a compact one (side as an arrow, short
labels) for panels narrower than the full set; every column stays in both. Order types are shown
short (``take_profit`` -> ``tp``, ``trailing_stop`` -> ``trail``).

Prices are shown with the decimals of the instrument's tick (``OrderView.price_decimals``).
Units: prices USD, sizes contracts. Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from textual.app import ComposeResult

from kraken_tui.domain import Side
from kraken_tui.engine.facade import OrderView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.table import Cell, KeyedTable

__all__ = ["OrdersPanel", "order_cells"]

COLUMNS = (("Symbol", "symbol", 10), ("Side", "side", 7), ("Purpose", "purpose", 9), ("Type", "type", 6),
           ("Size", "size", 8), ("Trigger", "trigger", 11), ("Limit", "limit", 11), ("Filled", "filled", 8),
           ("RO", "ro", 2))
#: The compact set: 61 cells with the scrollbar, every column kept; widths hold a price "100,000.5", a size
#: "0.0001" and the short purposes and types.
COMPACT = (("Symbol", "symbol", 10), ("S", "side", 2), ("Purp", "purpose", 6), ("Type", "type", 6),
           ("Size", "size", 7), ("Trigger", "trigger", 10), ("Limit", "limit", 10), ("Fill", "filled", 7),
           ("RO", "ro", 2))
_SHORT_TYPES = {"take_profit": "tp", "trailing_stop": "trail", "stop": "stp"}
_SHORT_PURPOSES = {"external": "ext", "trailing": "trail", "flatten": "flat", "manual": "man", "signal": "sig"}


def order_cells(o: OrderView, pal: Palette, compact: bool = False) -> tuple[Cell, ...]:
    """One row of the orders table (``compact``: the compact column set's cells)."""
    buy = o.side is Side.BUY
    arrow = "▲" if buy else "▼"
    side = pal.signed(arrow if compact else f"{arrow} {'buy' if buy else 'sell'}", 1 if buy else -1)
    purpose = _SHORT_PURPOSES.get(o.purpose, o.purpose) if compact else o.purpose
    dec = o.price_decimals
    return (o.symbol, side, purpose, _SHORT_TYPES.get(o.order_type, o.order_type), fmt.size(o.size),
            fmt.price(o.stop_price, dec), fmt.price(o.limit_price, dec), fmt.size(o.filled),
            "RO" if o.reduce_only else "")


class OrdersPanel(Panel):
    """Resting orders, one row per order id."""

    page = 2

    def __init__(self) -> None:
        super().__init__("Orders", id="orders")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="orders-table", variants=[COMPACT])

    def show(self, frame: Frame) -> None:
        orders = frame.snap.orders
        table = self.query_one(KeyedTable)
        compact = table.variant > 0
        table.sync([(o.order_id, order_cells(o, frame.palette, compact)) for o in orders], force=frame.force)
        self.set_subtitle(f"{len(orders)} open" if orders else "none")
