"""The dashboard screen: status bar, eight live panels and the footer.

Owns: layout (a grid on large terminals; on small ones - narrower than 120 columns or shorter than
36 rows - the panels form three pages, switched with the page key) and handing each refresh
``Frame`` to every panel. The refresh timer itself lives in the app.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from kraken_tui.ui.keys import bindings
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.events import EventsPanel
from kraken_tui.ui.widgets.funding import FundingPanel
from kraken_tui.ui.widgets.liquidation import LiquidationPanel
from kraken_tui.ui.widgets.market import MarketPanel
from kraken_tui.ui.widgets.orders import OrdersPanel
from kraken_tui.ui.widgets.pnl import PnlPanel
from kraken_tui.ui.widgets.positions import PositionsPanel
from kraken_tui.ui.widgets.signals import SignalsPanel
from kraken_tui.ui.widgets.status import StatusBar

__all__ = ["DashboardScreen", "PAGES", "layout_for"]

#: Three panel columns from this size up (columns, rows); two columns from MEDIUM_*; below, pages.
WIDE_WIDTH, WIDE_HEIGHT = 160, 40
MEDIUM_WIDTH, MEDIUM_HEIGHT = 100, 34
#: Page number -> title (the panels declare their page).
PAGES = {1: "Positions Market P&L", 2: "Risk Funding Orders", 3: "Signals Events"}


def layout_for(width: int, height: int) -> str:
    """``wide`` (three columns), ``medium`` (two) or ``compact`` (pages) for a terminal size."""
    if width >= WIDE_WIDTH and height >= WIDE_HEIGHT:
        return "wide"
    if width >= MEDIUM_WIDTH and height >= MEDIUM_HEIGHT:
        return "medium"
    return "compact"


class DashboardScreen(Screen):
    """The main screen."""

    DEFAULT_CSS = """
    DashboardScreen #grid { grid-size: 3; grid-columns: 1fr 1fr 1fr; grid-rows: auto auto 1fr 1fr; height: 1fr; }
    DashboardScreen #positions { column-span: 3; height: auto; max-height: 12; min-height: 4; }
    DashboardScreen #market { column-span: 3; height: auto; }
    DashboardScreen.medium #grid { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto auto 1fr 1fr 1fr; }
    DashboardScreen.medium #positions, DashboardScreen.medium #market { column-span: 2; }
    DashboardScreen #pages { display: none; height: 1; padding: 0 1; }
    DashboardScreen.compact #pages { display: block; }
    DashboardScreen.compact #grid { grid-size: 1; grid-columns: 1fr; grid-rows: auto auto 1fr; }
    DashboardScreen.compact #positions, DashboardScreen.compact #market { column-span: 1; max-height: 100%; }
    DashboardScreen.compact Panel { height: auto; max-height: 100%; padding: 0; }
    DashboardScreen.compact #events, DashboardScreen.compact #signals { height: 1fr; }
    Panel .empty { color: $text-muted; }
    #equity-spark { height: 1; }
    """

    BINDINGS = bindings("dashboard")

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.page = 1
        self.compact = False
        self.layout_name = "wide"

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="pages")
        with Grid(id="grid"):
            yield PositionsPanel()
            yield MarketPanel()
            yield PnlPanel()
            yield LiquidationPanel()
            yield FundingPanel()
            yield OrdersPanel()
            yield SignalsPanel()
            yield EventsPanel()
        yield Footer()

    @property
    def panels(self) -> list[Panel]:
        """The eight panels."""
        return list(self.query(Panel))

    def on_resize(self, event: events.Resize) -> None:
        self.set_layout(layout_for(event.size.width, event.size.height))

    def set_layout(self, layout: str) -> None:
        """Switch to the ``wide``, ``medium`` or ``compact`` layout."""
        self.layout_name = layout
        self.compact = layout == "compact"
        for name in ("wide", "medium", "compact"):
            self.set_class(name == layout, name)
        self._apply_page()

    def action_next_page(self) -> None:
        """The page key."""
        self.next_page()

    def next_page(self) -> None:
        """Show the next page of panels (paged layout only)."""
        self.page = self.page % len(PAGES) + 1
        self._apply_page()

    def _apply_page(self) -> None:
        for panel in self.panels:
            panel.display = (not self.compact) or panel.page == self.page
        bar = Text()
        for n, title in PAGES.items():
            style = "bold reverse" if n == self.page else "dim"
            bar.append(f" {n} {title} ", style=style)
            bar.append(" ")
        key_for = getattr(self.app, "key_for", None)
        key = key_for("page") if key_for else "tab"
        bar.append(f" {key} next", style="dim")
        self.query_one("#pages", Static).update(bar)

    def show(self, frame: Frame, *, armed_s: float, flatten_key: str, reset_key: str, resume_key: str = "r") -> None:
        """Draw one refresh."""
        self.query_one(StatusBar).show(frame.snap, frame.wall_ms, frame.palette, armed_s=armed_s,
                                       flatten_key=flatten_key, reset_key=reset_key, resume_key=resume_key,
                                       force=frame.force)
        for panel in self.panels:
            panel.show(frame)
