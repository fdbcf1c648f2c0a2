"""Liquidation panel: per position a distance bar (full at 25 % away from mark) with its LOW..CRITICAL
label, and the account margin ratio (maintenance margin / margin equity; 100 % = liquidation).

Units: distances percent of mark. Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.engine.facade import AccountView, PositionView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.table import Cell, KeyedTable

__all__ = ["LiquidationPanel", "liquidation_cells", "margin_text"]

BAR_WIDTH = 12
COLUMNS = (("Symbol", "symbol", 10), ("Distance", "bar", BAR_WIDTH + 1), ("Dist", "dist", 7), ("Level", "level", 10))


def liquidation_cells(p: PositionView, pal: Palette) -> tuple[Cell, ...]:
    """One row: symbol, bar, distance, level."""
    colour = pal.short if p.risk_level.alerting else pal.warn if p.risk_level.value == "MEDIUM" else pal.long
    bar = Text(fmt.bar(p.liq_distance, BAR_WIDTH), style=colour)
    dist = fmt.pct(p.liq_distance) if p.liq_distance is not None else "none"
    return (p.symbol, bar, dist, pal.risk(p.risk_level))


def margin_text(a: AccountView, pal: Palette) -> Text:
    """Account margin ratio line."""
    t = Text("Margin ratio ", style=pal.muted)
    if a.margin_ratio is None:
        t.append("-")
    else:
        style = pal.short if a.margin_ratio >= 0.8 else pal.warn if a.margin_ratio >= 0.5 else ""
        t.append(fmt.pct(a.margin_ratio), style=style)
    t.append("  (100% = liquidation)", style=pal.muted)
    t.append("\nAvailable    ", style=pal.muted)
    t.append(f"{fmt.money(a.available_margin_usd)} USD")
    return t


class LiquidationPanel(Panel):
    """Distance to liquidation of every position."""

    page = 2

    def __init__(self) -> None:
        super().__init__("Liquidation", id="liquidation")
        self._last: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="margin-text")
        yield KeyedTable(COLUMNS, id="liquidation-table")

    def show(self, frame: Frame) -> None:
        snap = frame.snap
        self.query_one(KeyedTable).sync([(p.symbol, liquidation_cells(p, frame.palette)) for p in snap.positions],
                                        force=frame.force)
        text = margin_text(snap.account, frame.palette)
        if frame.force or text != self._last:
            self.query_one("#margin-text", Static).update(text)
            self._last = text
