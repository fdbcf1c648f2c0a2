"""The dashboard screen: status bar, eight live panels and the footer.

Owns: layout by terminal width and height, and handing each refresh ``Frame`` to every panel (the
refresh timer itself lives in the app). Layouts (``layout_for``):
- ``wide`` (>= 160 x 40): three columns: Positions and Market across; P&L, Risk, Funding; Orders over two
  columns beside Events (two rows high); Signals over two columns.
- ``strip`` (>= 180 columns, fewer than 40 rows): three columns, two rows of panels: P&L, Risk, Funding;
  Orders, Signals, Events.
- ``medium`` (>= 100 x 40): two columns: Positions and Market across; P&L, Risk; Funding, Events; Orders
  across (8 rows: a stop and four take-profits without scrolling); Signals across.
- ``paged`` (>= 100 x 24, not the above): two columns on two pages: Positions, Market, P&L, Risk and
  Funding; then Orders, Signals and Events across the full width.
- ``compact`` (smaller): one column on three pages (``Panel.page``), switched with the page key.
Tables pick the column set that fits their panel (``widgets.table.KeyedTable`` variants), so no column is
cut off at any of these sizes.
Zoom and hide (``[ui] zoom`` / ``hidden_panels`` at start; keys z and v): a zoomed panel is drawn alone over
the whole grid; a hidden panel is left out of the layout (the paged layouts give its room to the others,
the grids leave its cell empty so the other panels keep their places); it can still be zoomed, and shown
again.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from kraken_tui.config import PANEL_IDS
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

__all__ = ["LAYOUT_PAGES", "PAGES", "DashboardScreen", "layout_for"]

#: Three panel columns from this size up (columns, rows).
WIDE_WIDTH, WIDE_HEIGHT = 160, 40
#: Three columns in two rows of panels from this width on a terminal shorter than ``WIDE_HEIGHT``.
STRIP_WIDTH = 180
#: Two columns from this size up; two columns on two pages from ``PAGED_HEIGHT`` rows; below, one column on
#: three pages.
MEDIUM_WIDTH, MEDIUM_HEIGHT = 100, 40
PAGED_HEIGHT = 24
#: Page number -> title on the one-column layout (the panels declare their page).
PAGES = {1: "Positions Market P&L", 2: "Risk Funding Orders", 3: "Signals Events"}
#: Paged layouts: page number -> (title, panel ids); a layout not listed shows every panel at once.
LAYOUT_PAGES: dict[str, dict[int, tuple[str, frozenset[str]]]] = {
    "paged": {1: ("Positions Market P&L Risk Funding",
                   frozenset({"positions", "market", "pnl", "liquidation", "funding"})),
               2: ("Orders Signals Events", frozenset({"orders", "signals", "events"}))},
}


def layout_for(width: int, height: int) -> str:
    """``wide``, ``strip``, ``medium``, ``paged`` or ``compact`` (module docstring) for a terminal size in
    cells."""
    if width >= WIDE_WIDTH and height >= WIDE_HEIGHT:
        return "wide"
    if width >= STRIP_WIDTH and height >= PAGED_HEIGHT:
        return "strip"
    if width >= MEDIUM_WIDTH and height >= MEDIUM_HEIGHT:
        return "medium"
    if width >= MEDIUM_WIDTH and height >= PAGED_HEIGHT:
        return "paged"
    return "compact"


class DashboardScreen(Screen):
    """The main screen."""

    DEFAULT_CSS = """
    DashboardScreen #grid { grid-size: 3; grid-columns: 1fr 1fr 1fr; grid-rows: auto auto 1fr 1fr 1fr; height: 1fr; }
    DashboardScreen #positions { column-span: 3; height: auto; max-height: 12; min-height: 4; }
    DashboardScreen #market { column-span: 3; height: auto; }
    DashboardScreen.wide #orders, DashboardScreen.wide #signals { column-span: 2; }
    DashboardScreen.wide #events { row-span: 2; }
    DashboardScreen.strip #grid { grid-rows: auto auto 1fr 1fr; }
    DashboardScreen.medium #grid { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto auto auto 1fr 8 1fr; }
    DashboardScreen.medium #positions, DashboardScreen.medium #market { column-span: 2; }
    DashboardScreen.medium #orders, DashboardScreen.medium #signals { column-span: 2; }
    DashboardScreen.medium #pnl, DashboardScreen.medium #liquidation { height: auto; min-height: 9; }
    DashboardScreen.paged #grid { grid-size: 2; grid-columns: 1fr 1fr; grid-rows: auto auto auto 1fr; }
    DashboardScreen.paged.page-2 #grid { grid-rows: 1fr 1fr 1fr; }
    DashboardScreen.paged #positions, DashboardScreen.paged #market { column-span: 2; }
    DashboardScreen.paged #funding, DashboardScreen.paged #orders { column-span: 2; }
    DashboardScreen.paged #signals, DashboardScreen.paged #events { column-span: 2; }
    DashboardScreen.paged #pnl, DashboardScreen.paged #liquidation { height: auto; min-height: 9; }
    DashboardScreen.zoomed #grid { grid-size: 1; grid-columns: 1fr; grid-rows: 1fr; }
    DashboardScreen #pages { display: none; height: 1; padding: 0 1; }
    DashboardScreen.zoomed #pages { display: block; }
    DashboardScreen.compact #pages, DashboardScreen.paged #pages { display: block; }
    DashboardScreen.compact #grid { grid-size: 1; grid-columns: 1fr; grid-rows: auto auto 1fr; }
    DashboardScreen.compact #positions, DashboardScreen.compact #market { column-span: 1; max-height: 100%; }
    DashboardScreen.compact Panel { height: auto; max-height: 100%; padding: 0; }
    DashboardScreen.compact #events, DashboardScreen.compact #signals { height: 1fr; }
    DashboardScreen.compact.page-3 #grid { grid-rows: 1fr 1fr; }

    Panel .empty { color: $kt-muted; }
    #equity-spark { height: 1; }
    """

    BINDINGS = [
        *bindings("dashboard"),
        # the page bar numbers its pages: the digit shows that page (the page key steps through them)
        *(Binding(str(n), f"show_page({n})", f"Page {n}", show=False, id=f"page.{n}") for n in (1, 2, 3)),
    ]

    def __init__(self, *, zoom: str = "", hidden: tuple[str, ...] = ()) -> None:
        super().__init__(id="dashboard")
        self.page = 1
        self.compact = False
        self.layout_name = "wide"
        self.zoomed: str | None = zoom or None
        """Id of the panel drawn alone (None: the layout)."""
        self.hidden: set[str] = set(hidden)
        """Ids of the panels left out of the layout."""

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
        """Switch to the ``wide``, ``strip``, ``medium``, ``paged`` or ``compact`` layout (module docstring)."""
        if layout != self.layout_name and self.page > len(self._pages(layout)):
            self.page = 1
        self.layout_name = layout
        self.compact = layout == "compact"
        for name in ("wide", "strip", "medium", "paged", "compact"):
            self.set_class(name == layout, name)
        grid = self.query_one("#grid", Grid)
        events_panel = self.query_one(EventsPanel)
        # grid cells fill in order: Events goes beside Orders (wide, two rows high) or beside Funding (medium)
        if layout == "wide":
            grid.move_child(events_panel, before=self.query_one(SignalsPanel))
        elif layout == "medium":
            grid.move_child(events_panel, after=self.query_one(FundingPanel))
        else:
            grid.move_child(events_panel, after=self.query_one(SignalsPanel))
        self._apply_page()

    @staticmethod
    def _pages(layout: str) -> dict[int, str]:
        paged = LAYOUT_PAGES.get(layout)
        if paged is not None:
            return {n: title for n, (title, _ids) in paged.items()}
        return PAGES if layout == "compact" else {1: ""}

    def action_next_page(self) -> None:
        """The page key."""
        self.next_page()

    def action_show_page(self, n: int) -> None:
        """A digit key: show page ``n`` of a paged layout (numbered as in the page bar); ignored when the layout
        has no page ``n``, is not paged, or a panel is zoomed."""
        pages = self._pages(self.layout_name)
        if self.zoomed is None and len(pages) > 1 and n in pages:
            self.page = n
            self._apply_page()

    def next_page(self) -> None:
        """Show the next page of panels (paged layouts only)."""
        self.page = self.page % len(self._pages(self.layout_name)) + 1
        self._apply_page()

    def action_focus_events(self) -> None:
        """The events key: focus the Events log (turning to its page on a paged layout)."""
        panel = self.query_one(EventsPanel)
        for _ in range(3):
            if panel.display or self.zoomed is not None:
                break
            self.next_page()
        panel.focus_log()

    def action_zoom_panel(self) -> None:
        """The zoom key."""
        self.zoom_next()

    def zoom_next(self) -> str | None:
        """Zoom the panel after the zoomed one (the first when none); past the last, back to the layout.
        Returns the zoomed panel's id (None: the layout)."""
        ids = list(PANEL_IDS)
        at = ids.index(self.zoomed) + 1 if self.zoomed in ids else 0
        self.zoomed = ids[at] if at < len(ids) else None
        self._apply_page()
        return self.zoomed

    def action_hide_panel(self) -> None:
        """The hide key."""
        self.toggle_hidden()

    def toggle_hidden(self) -> bool | None:
        """Hide the zoomed panel from the layout (and end the zoom), or show it again when it was hidden.
        Returns True when it is now hidden, False when shown, None without a zoomed panel."""
        if self.zoomed is None:
            self.notify("Zoom a panel first (z), then v hides or shows it.", timeout=4)
            return None
        panel_id = self.zoomed
        hide = panel_id not in self.hidden
        if hide:
            self.hidden.add(panel_id)
        else:
            self.hidden.discard(panel_id)
        self.zoomed = None
        self._apply_page()
        return hide

    def _on_page(self, panel: Panel) -> bool:
        if self.zoomed is not None:
            return panel.id == self.zoomed
        if panel.id in self.hidden and (self.compact or self.layout_name in LAYOUT_PAGES):
            return False  # one panel per row: the others take its room
        paged = LAYOUT_PAGES.get(self.layout_name)
        if paged is not None:
            return panel.id in paged[self.page][1]
        return (not self.compact) or panel.page == self.page

    def _apply_page(self) -> None:
        self.set_class(self.zoomed is not None, "zoomed")
        for panel in self.panels:
            panel.display = self._on_page(panel)
            # in the grid layouts a hidden panel leaves its cell empty, so the other panels keep their places
            panel.visible = self.zoomed is not None or panel.id not in self.hidden
            zoom = panel.id == self.zoomed
            panel.styles.column_span = 1 if zoom else None
            panel.styles.row_span = 1 if zoom else None
            panel.styles.max_height = "100%" if zoom else None
            panel.styles.height = "1fr" if zoom else None
        key_for = getattr(self.app, "key_for", None)
        if self.zoomed is not None:
            title = next((str(p.border_title) for p in self.panels if p.id == self.zoomed), self.zoomed)
            state = "hidden from the layout" if self.zoomed in self.hidden else "in the layout"
            zkey, vkey = (key_for("zoom"), key_for("hide")) if key_for else ("z", "v")
            self.query_one("#pages", Static).update(Text.assemble(
                (f" zoom: {title} ", "bold reverse"), f"  ({state})  ", (f"{zkey} next  {vkey} hide/show", "dim")))
            return
        pages = self._pages(self.layout_name)
        for n in (1, 2, 3):
            self.set_class(n == self.page and len(pages) > 1, f"page-{n}")
        bar = Text()
        for n, title in pages.items():
            style = "bold reverse" if n == self.page else "dim"
            bar.append(f" {n} {title} ", style=style)
            bar.append(" ")
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
