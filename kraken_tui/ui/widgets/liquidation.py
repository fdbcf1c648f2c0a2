"""Liquidation panel: per position a distance bar (full at 25 % away from mark) with its LOW..CRITICAL
label, the account margin ratio (maintenance margin / margin equity; 100 % = liquidation) and the risk
headroom (``widgets.headroom``: daily loss, equity floor, leverage, margin used, open positions vs limits).

Units: distances percent of mark. Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.config import Config
from kraken_tui.engine.facade import AccountView, PositionView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel, update_text
from kraken_tui.ui.widgets.headroom import RiskLimits, headroom_lines
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
        self._last_headroom: Text | None = None
        self.limits = RiskLimits()
        """The limits the headroom is measured against (the app's configuration once mounted)."""

    def compose(self) -> ComposeResult:
        yield Static(id="margin-text")
        yield Static(id="headroom-text")
        yield KeyedTable(COLUMNS, id="liquidation-table")

    def on_mount(self) -> None:
        cfg = getattr(self.app, "cfg", None)
        if isinstance(cfg, Config):
            self.limits = RiskLimits.from_config(cfg)

    def show(self, frame: Frame) -> None:
        snap = frame.snap
        self.query_one(KeyedTable).sync([(p.symbol, liquidation_cells(p, frame.palette)) for p in snap.positions],
                                        force=frame.force)
        text = margin_text(snap.account, frame.palette)
        if frame.force or text != self._last:
            update_text(self.query_one("#margin-text", Static), text)
            self._last = text
        # five headroom lines when the panel has room for them, the margin lines and the table; else two
        height = self.content_region.height
        # the layouts where the panel's height follows its content (compact, medium, paged) and not zoomed
        paged = any(self.screen.has_class(c) for c in ("compact", "medium", "paged")) and \
            not self.screen.has_class("zoomed")
        room_lines = 5 if not paged and (not height or height >= 2 + 5 + 1 + len(snap.positions)) else 2
        widget = self.query_one("#headroom-text", Static)
        room = headroom_lines(snap, self.limits, frame.palette, room_lines, widget.content_region.width)
        if frame.force or room != self._last_headroom:
            update_text(widget, room)
            self._last_headroom = room

    def plain(self) -> str:
        """What the panel's text shows (margin and headroom lines), as plain text."""
        return "\n".join(t.plain for t in (self._last, self._last_headroom) if t is not None)
