"""Orders panel: open orders, trigger orders (stops) included: symbol, side, type, size, filled,
limit price, trigger price, reduce-only flag and the engine's purpose label.

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

COLUMNS = (("Symbol", "symbol", 10), ("Side", "side", 7), ("Purpose", "purpose", 8), ("Type", "type", 5),
           ("Size", "size", 7), ("Trigger", "trigger", 10), ("Limit", "limit", 10), ("Filled", "filled", 7),
           ("RO", "ro", 2))


def order_cells(o: OrderView, pal: Palette) -> tuple[Cell, ...]:
    """One row of the orders table."""
    buy = o.side is Side.BUY
    side = pal.signed("▲ buy" if buy else "▼ sell", 1 if buy else -1)
    return (o.symbol, side, o.purpose, o.order_type, fmt.size(o.size), fmt.price(o.stop_price),
            fmt.price(o.limit_price), fmt.size(o.filled), "RO" if o.reduce_only else "")


class OrdersPanel(Panel):
    """Resting orders, one row per order id."""

    page = 2

    def __init__(self) -> None:
        super().__init__("Orders", id="orders")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="orders-table")

    def show(self, frame: Frame) -> None:
        orders = frame.snap.orders
        self.query_one(KeyedTable).sync([(o.order_id, order_cells(o, frame.palette)) for o in orders],
                                        force=frame.force)
        self.border_subtitle = f"{len(orders)} open" if orders else "none"
