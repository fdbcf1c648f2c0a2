"""Positions panel: symbol, side (arrow + word), size, entry, mark, unrealized P&L (USD and %),
estimated liquidation price (whole dollars from 1,000 up; "none" when collateral covers any move) and
distance, leverage, and a note for a position reconciliation adopted from the exchange (external: the engine
places no stop or take-profits for it; counted in the panel subtitle too).
Two column sets (``table.KeyedTable`` variants), every column in both: the full one (the note takes the
width left, 102 cells at least) and a compact one for narrower panels (78 cells: side as an arrow, short
labels, the note "EXT", uPnL from 1,000 USD without cents, fewer decimals in large percentages).
Prices are shown with the decimals of the instrument's tick (``PositionView.price_decimals``); the mark by
``format.reference_price`` (the value's own decimals, up to two more than the tick's).

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
from kraken_tui.ui.widgets.table import FLEX, Cell, KeyedTable

__all__ = ["COLUMNS", "COMPACT", "PositionsPanel", "position_cells"]

#: Widths hold the widest cell with its gap: a price "100,000.50" (no tick known), a uPnL "+12,345.67",
#: a percentage "+123.45%".
COLUMNS = (("Symbol", "symbol", 10), ("Side", "side", 8), ("Size", "size", 7), ("Entry", "entry", 11),
           ("Mark", "mark", 11), ("uPnL $", "upnl", 11), ("uPnL %", "upnl_pct", 9), ("Liq ~", "liq", 9),
           ("Dist", "dist", 7), ("Lev", "lev", 6), ("Note", "note", FLEX))
COMPACT = (("Symbol", "symbol", 10), ("S", "side", 2), ("Size", "size", 7), ("Entry", "entry", 10),
           ("Mark", "mark", 11), ("uPnL $", "upnl", 8), ("uPnL%", "upnl_pct", 7), ("Liq ~", "liq", 8),
           ("Dist", "dist", 6), ("Lev", "lev", 5), ("", "note", 3))
NOTE = "EXTERNAL: no stop/TPs"


def _pct(fraction: float | None, compact: bool, signed: bool = False) -> str:
    """Percent with 2 (signed) or 1 decimals; compact: as many as fit 6 cells (2 under 10 % when signed, 1
    under 100 %, none from 100 %)."""
    if fraction is None or not compact:
        return fmt.pct(fraction, 2 if signed else 1, signed)
    a = abs(fraction)
    return fmt.pct(fraction, 2 if signed and a < 0.1 else 1 if a < 1 else 0, signed)


def position_cells(p: PositionView, pal: Palette, compact: bool = False) -> tuple[Cell, ...]:
    """One row of the positions table (``compact``: the compact column set's cells)."""
    long = p.side is PositionSide.LONG
    side = pal.signed(("▲" if long else "▼") if compact else ("▲ LONG" if long else "▼ SHORT"), 1 if long else -1,
                      bold=True)
    note = Text("EXT" if compact else NOTE, style=f"bold {pal.warn}") if p.external else ""
    dist = Text(_pct(p.liq_distance, compact), style=f"bold {pal.short}" if p.risk_level.alerting else "")
    places = 0 if compact and abs(p.upnl_usd) >= 1000 else 2
    lev = f"{p.leverage_x:.0f}x" if compact and p.leverage_x >= 10 else f"{p.leverage_x:.1f}x"
    dec = p.price_decimals
    return (p.symbol, side, fmt.size(p.size), fmt.price(p.entry_price, dec), fmt.reference_price(p.mark_price, dec),
            pal.signed(fmt.signed_money(p.upnl_usd, places), p.upnl_usd),
            pal.signed(_pct(p.upnl_pct / 100, compact, True), p.upnl_pct),
            "none" if p.liq_price is None else fmt.approx_price(p.liq_price, dec), dist, lev, note)


class PositionsPanel(Panel):
    """Open positions, one row per symbol (updated in place)."""

    page = 1

    def __init__(self) -> None:
        super().__init__("Positions", id="positions")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="positions-table", variants=[COMPACT])
        yield Static("no open positions", id="positions-empty", classes="empty")

    def show(self, frame: Frame) -> None:
        positions = frame.snap.positions
        table = self.query_one(KeyedTable)
        compact = table.variant > 0
        table.sync([(p.symbol, position_cells(p, frame.palette, compact)) for p in positions], force=frame.force)
        self.query_one("#positions-empty").display = not positions
        external = sum(1 for p in positions if p.external)
        self.set_subtitle(f"{len(positions)} open" + (f", {external} EXTERNAL" if external else "")
                          if positions else "")
