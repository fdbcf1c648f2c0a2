"""Events panel: state changes, alerts, fills, rejections and errors, each with its reason, newest at
the bottom. Fed from ``EngineSnapshot.events`` (the engine's recent events); an event is written once.
Lines show ``HH:MM:SS`` UTC; a ``-- YYYY-MM-DD --`` line is written whenever the UTC day changes, so a
replay's data-clock events never read as if they happened at the wall-clock times around them.
Continuation lines of a long event are indented under its message (hanging indent). A burst of protective
order placements for one symbol (the stop and the take-profit ladder sent after an entry) reads as one
line: "PF_ETHUSD stop 3,558.9 + 4 TPs placed" (the stop price from the open orders).
Keys (the log focused with the events key, e): arrows / PgUp / PgDn / Home / End scroll back (new lines do
not pull a scrolled-back log to the end); ``/`` searches (the log shows the events containing the text;
Escape clears); ``s`` cycles the severity filter (all, warnings and worse, errors and worse).

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, RichLog

from kraken_tui.engine.facade import EngineEvent, EventKind, OrderView, Severity
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel

__all__ = ["INDENT", "SEVERITY_FILTERS", "EventsPanel", "collapse_protective", "day_line", "event_line"]

_SEEN_MAX = 2000
#: Lines the log keeps (and re-wraps on a resize).
LOG_LINES = 500
#: At least this many events are written per refresh; beyond twice the panel's height (and this) a burst
#: is summarised in one line: it would scroll past unread, and rendering it stalls the event loop.
MIN_BURST_LINES = 20
#: Cells before an event's message ("HH:MM:SS " + the kind padded to 9 + " "): continuation lines start here.
INDENT = 19
#: The severity filter's steps: (label, lowest severity shown).
SEVERITY_FILTERS: tuple[tuple[str, Severity], ...] = (
    ("all", Severity.INFO), ("warnings+", Severity.WARNING), ("errors+", Severity.ERROR))
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}
_PROTECTIVE = {"stop", "tp1", "tp2", "tp3", "tp4", "tp5"}
_WRAP_CONSOLE = Console(width=400, color_system=None, file=None, legacy_windows=False)


def day_line(ts_ms: int, pal: Palette) -> Text:
    """``-- YYYY-MM-DD --``: the UTC day of the lines that follow."""
    return Text(f"-- {fmt.ymd_utc(ts_ms)} --", style=pal.muted)


def event_line(e: EngineEvent, pal: Palette, width: int | None = None) -> Text:
    """``HH:MM:SS kind     message`` with the severity in words for warnings and worse. With ``width``
    (cells), the message is wrapped to it with continuation lines indented by ``INDENT`` cells."""
    t = Text(fmt.hhmmss_utc(e.ts_ms) + " ", style=pal.muted)
    t.append(f"{e.kind.value:<9} ", style=pal.accent)
    body = Text()
    if e.severity is Severity.WARNING:
        body.append("WARNING ", style=f"bold {pal.warn}")
    elif e.severity in (Severity.ERROR, Severity.CRITICAL):
        body.append(f"{e.severity.value.upper()} ", style=f"bold reverse {pal.short}")
    body.append(e.message)
    if width is None or width - INDENT < 12 or t.cell_len + body.cell_len <= width:
        return t.append_text(body)
    lines = body.wrap(_WRAP_CONSOLE, width - INDENT)
    for i, line in enumerate(lines):
        if i:
            t.append("\n" + " " * INDENT)
        line.rstrip()
        t.append_text(line)
    return t


def collapse_protective(events: Sequence[EngineEvent], orders: Sequence[OrderView] = ()) -> list[EngineEvent]:
    """``events`` with each run of two or more consecutive protective-order placements (ORDER events, INFO,
    ``data`` purpose stop/tpN and status "placed") for one symbol replaced by one ORDER event: "SYMBOL stop
    PRICE + N TPs placed" (PRICE from ``orders`` by cliOrdId, left out when not found). Other events pass."""
    stops = {o.cli_ord_id: o.stop_price for o in orders if o.cli_ord_id}
    out: list[EngineEvent] = []
    run: list[EngineEvent] = []

    def protective(e: EngineEvent) -> bool:
        d = e.data or {}
        return (e.kind is EventKind.ORDER and e.severity is Severity.INFO and d.get("purpose") in _PROTECTIVE
                and d.get("status") == "placed")

    def flush() -> None:
        if len(run) < 2:
            out.extend(run)
        else:
            parts: list[str] = []
            stop = next((e for e in run if (e.data or {}).get("purpose") == "stop"), None)
            if stop is not None:
                px = stops.get(str((stop.data or {}).get("cli_ord_id") or ""))
                parts.append(f"stop {fmt.price(px)}" if px is not None else "stop")
            tps = sum(1 for e in run if str((e.data or {}).get("purpose", "")).startswith("tp"))
            if tps:
                parts.append(f"{tps} TP{'s' if tps != 1 else ''}")
            out.append(EngineEvent(run[0].ts_ms, EventKind.ORDER, f"{run[0].symbol} {' + '.join(parts)} placed",
                                   run[0].symbol, Severity.INFO, {"collapsed": len(run)}))
        run.clear()

    for e in events:
        if protective(e) and (not run or run[0].symbol == e.symbol):
            run.append(e)
            continue
        flush()
        if protective(e):
            run.append(e)
        else:
            out.append(e)
    flush()
    return out


class EventsPanel(Panel):
    """The engine's event log. Lines are wrapped when written; when the log's width changes (terminal
    resize, layout switch), the theme changes or a filter changes, the last ``LOG_LINES`` events are
    written again."""

    page = 3
    BINDINGS = [
        Binding("slash", "search", "Search", show=False),
        Binding("s", "severity", "Severity", show=False),
        Binding("escape", "clear_search", "Clear", show=False),
    ]
    DEFAULT_CSS = """
    EventsPanel #events-search { display: none; height: 1; border: none; padding: 0; }
    EventsPanel.searching #events-search { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("Events", id="events")
        self._seen: set[tuple] = set()
        self._order: deque[tuple] = deque()
        self._pending: list[EngineEvent] = []
        self._all: deque[EngineEvent] = deque(maxlen=LOG_LINES)
        self._width = 0
        self._day = ""
        self._redraw = False
        self._orders: tuple[OrderView, ...] = ()
        self._end_y = 0.0  # where the log's end was when it was last put there (``_follow``)
        self.search = ""
        """The search text (case-insensitive; empty = every event)."""
        self.severity_step = 0
        """Index in ``SEVERITY_FILTERS``."""

    def compose(self) -> ComposeResult:
        box = Input(placeholder="search events (Enter; Escape clears)", id="events-search")
        box.can_focus = False  # only while searching: never the screen's first focus
        yield box
        log = RichLog(max_lines=LOG_LINES, min_width=20, wrap=True, markup=False, auto_scroll=True,
                      id="events-log")
        log.can_focus = False  # until the events key focuses it (``focus_log``): never the screen's first focus
        yield log

    def focus_log(self) -> None:
        """Focus the log for scrollback, search and the severity filter."""
        log = self.query_one(RichLog)
        log.can_focus = True
        log.focus()

    # ------------------------------------------------------------------ keys
    def action_search(self) -> None:
        """``/``: open the search box."""
        self.add_class("searching")
        box = self.query_one("#events-search", Input)
        box.value = self.search
        box.can_focus = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_search(event.value)
        self._close_search()

    def _close_search(self) -> None:
        self.remove_class("searching")
        self.query_one("#events-search", Input).can_focus = False
        self.query_one(RichLog).focus()

    def action_clear_search(self) -> None:
        """Escape: clear the search and close the box."""
        self.set_search("")
        self._close_search()

    def action_severity(self) -> None:
        """``s``: the next severity filter."""
        self.set_severity((self.severity_step + 1) % len(SEVERITY_FILTERS))

    def set_search(self, text: str) -> None:
        """Show only events whose line contains ``text`` (case-insensitive); "" shows every one."""
        if text.strip() != self.search:
            self.search = text.strip()
            self._redraw = True
        self._subtitle()

    def set_severity(self, step: int) -> None:
        """Show events of ``SEVERITY_FILTERS[step]``'s severity and worse."""
        self.severity_step = step
        self._redraw = True
        self._subtitle()

    def _subtitle(self) -> None:
        parts = []
        if self.severity_step:
            parts.append(SEVERITY_FILTERS[self.severity_step][0])
        if self.search:
            parts.append(f"/{self.search}")
        self.set_subtitle("  ".join(parts))

    def matches(self, e: EngineEvent) -> bool:
        """True when ``e`` passes the severity filter and the search."""
        if _RANK[e.severity] < _RANK[SEVERITY_FILTERS[self.severity_step][1]]:
            return False
        if self.search:
            hay = f"{e.kind.value} {e.severity.value} {e.symbol or ''} {e.message}".lower()
            return self.search.lower() in hay
        return True

    # ------------------------------------------------------------------ drawing
    def show(self, frame: Frame) -> None:
        for e in frame.snap.events:
            key = (e.ts_ms, e.kind, e.message, e.symbol)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._order.append(key)
            if len(self._order) > _SEEN_MAX:
                self._seen.discard(self._order.popleft())
            self._pending.append(e)
        self._orders = frame.snap.orders
        log = self.query_one(RichLog)
        # Lines are wrapped when written: wait until the log is on screen and has its width.
        width = log.scrollable_content_region.width
        if not self.display or width <= 0:
            return
        # Following the newest line unless the reader scrolled back: up from where the end was last put (a
        # panel that grew clamps the log to its new end, which also counts as at the end).
        follow = log.scroll_y >= min(self._end_y, log.max_scroll_y)
        self._write_pending(frame, log, width)
        if follow:
            self._follow(log)

    def _follow(self, log: RichLog) -> None:
        """Put the log at its end now (not after the next refresh, as RichLog's own scroll does), every
        refresh: a batch written before that refresh, or a panel that shrank, would otherwise leave the newest
        event below the panel's edge."""
        if log.scroll_y != log.max_scroll_y:
            log.scroll_end(animate=False, immediate=True, x_axis=False)
        self._end_y = log.scroll_y

    def _write_pending(self, frame: Frame, log: RichLog, width: int) -> None:
        """Write the events not yet in the log (re-wrapping what it keeps when the width, theme or filter
        changed)."""
        if self._pending:
            self._pending = collapse_protective(self._pending, self._orders)
        if self._all and (width != self._width or frame.force or self._redraw):
            log.clear()  # re-wrap (or recolour, or filter) what is kept
            self._day = ""
            self._pending[:0] = self._all
            self._all.clear()
        self._redraw = False
        self._width = width
        if not self._pending:
            return
        # One write for the whole batch: RichLog measures and wraps per write, and a fast replay brings
        # dozens of events per refresh.
        lines: list[Text] = []
        cap = max(2 * log.scrollable_content_region.height, MIN_BURST_LINES)
        shown = [e for e in self._pending if self.matches(e)]
        if len(shown) > cap:  # a burst (fast replay): more than anyone can read scrolls past
            skipped = len(shown) - cap
            lines.append(Text(f"... {skipped} more event{'s' if skipped != 1 else ''} "
                              "(every one is in the journal)", style=frame.palette.muted))
            shown = shown[skipped:]
        for e in shown[-LOG_LINES:]:
            day = fmt.ymd_utc(e.ts_ms)
            if day != self._day:
                lines.append(day_line(e.ts_ms, frame.palette))
                self._day = day
            lines.append(event_line(e, frame.palette, width))
        self._all.extend(self._pending[-LOG_LINES:])
        self._pending.clear()
        if lines:
            log.write(Text("\n").join(lines), scroll_end=False)  # ``show`` keeps the end in view
