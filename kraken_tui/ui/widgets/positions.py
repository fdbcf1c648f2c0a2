"""Positions panel: symbol, side (arrow + word), size, entry, mark, unrealized P&L (USD and %),
estimated liquidation price (whole dollars from 1,000 up) and distance, leverage, and a note for a
position reconciliation adopted from the exchange (external: the engine places no stop or take-profits
for it; counted in the panel subtitle too, since the note column is off-screen at 80 columns).

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

#: Most important first: at 80 columns everything up to Dist is visible; Lev and the note are cut.
COLUMNS = (("Symbol", "symbol", 10), ("Side", "side", 8), ("Size", "size", 7), ("Entry", "entry", 10),
           ("Mark", "mark", 10), ("uPnL $", "upnl", 10), ("uPnL %", "upnl_pct", 8), ("Liq ~", "liq", 9),
           ("Dist", "dist", 7), ("Lev", "lev", 6), ("Note", "note", 30))


def position_cells(p: PositionView, pal: Palette) -> tuple[Cell, ...]:
    """One row of the positions table."""
    long = p.side is PositionSide.LONG
    side = pal.signed(("▲ LONG" if long else "▼ SHORT"), 1 if long else -1, bold=True)
    note = Text("EXTERNAL (no engine stop/TPs)", style=f"bold {pal.warn}") if p.external else ""
    dist = Text(fmt.pct(p.liq_distance), style=f"bold {pal.short}" if p.risk_level.alerting else "")
    return (p.symbol, side, fmt.size(p.size), fmt.price(p.entry_price), fmt.price(p.mark_price),
            pal.signed(fmt.signed_money(p.upnl_usd), p.upnl_usd), pal.signed(fmt.pct(p.upnl_pct / 100, 2, True), p.upnl_pct),
            fmt.approx_price(p.liq_price), dist, f"{p.leverage_x:.1f}x", note)


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
        external = sum(1 for p in positions if p.external)
        self.border_subtitle = (f"{len(positions)} open" + (f", {external} EXTERNAL" if external else "")
                                if positions else "")
