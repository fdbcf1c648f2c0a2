"""Positions panel: symbol, side (arrow + word), size, entry, mark, unrealized P&L (USD and %),
leverage, liquidation price and distance.

Units: prices USD, size contracts, uPnL USD and percent of entry notional, leverage x, distance percent
of mark. Must not import: the engine's internals (only ``engine.facade``), the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.domain import PositionSide
from kraken_tui.engine.facade import PositionView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.table import Cell, KeyedTable

__all__ = ["PositionsPanel", "position_cells"]

COLUMNS = (("Symbol", "symbol", 10), ("Side", "side", 8), ("Size", "size", 6), ("Entry", "entry", 9),
           ("Mark", "mark", 9), ("uPnL $", "upnl", 9), ("uPnL %", "upnl_pct", 7), ("Lev", "lev", 5),
           ("Liq", "liq", 9), ("Dist", "dist", 6))


def position_cells(p: PositionView, pal: Palette) -> tuple[Cell, ...]:
    """One row of the positions table."""
    long = p.side is PositionSide.LONG
    side = pal.signed(("▲ LONG" if long else "▼ SHORT"), 1 if long else -1, bold=True)
    symbol = p.symbol + (" ext" if p.external else "")
    dist = Text(fmt.pct(p.liq_distance), style=f"bold {pal.short}" if p.risk_level.alerting else "")
    return (symbol, side, fmt.size(p.size), fmt.price(p.entry_price), fmt.price(p.mark_price),
            pal.signed(fmt.signed_money(p.upnl_usd), p.upnl_usd), pal.signed(fmt.pct(p.upnl_pct / 100, 2, True), p.upnl_pct),
            f"{p.leverage_x:.1f}x", fmt.price(p.liq_price), dist)


class PositionsPanel(Panel):
    """Open positions, one row per symbol (updated in place)."""

    page = 1

    def __init__(self) -> None:
        super().__init__("Positions", id="positions")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="positions-table")
        yield Static("no open positions", id="positions-empty", classes="empty")

    def show(self, frame: Frame) -> None:
        positions = frame.snap.positions
        self.query_one(KeyedTable).sync([(p.symbol, position_cells(p, frame.palette)) for p in positions],
                                        force=frame.force)
        self.query_one("#positions-empty").display = not positions
        self.border_subtitle = f"{len(positions)} open" if positions else ""
