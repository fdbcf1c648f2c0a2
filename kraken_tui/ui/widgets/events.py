"""Events panel: state changes, alerts, fills, rejections and errors, each with its reason, newest at
the bottom. Fed from ``EngineSnapshot.events`` (the engine's recent events); an event is written once.
Lines show ``HH:MM:SS`` UTC; a ``-- YYYY-MM-DD --`` line is written whenever the UTC day changes, so a
replay's data-clock events never read as if they happened at the wall-clock times around them.

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from kraken_tui.engine.facade import EngineEvent, Severity
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel

__all__ = ["EventsPanel", "day_line", "event_line"]

_SEEN_MAX = 2000
#: Lines the log keeps (and re-wraps on a resize).
LOG_LINES = 500
#: At least this many events are written per refresh; beyond twice the panel's height (and this) a burst
#: is summarised in one line: it would scroll past unread, and rendering it stalls the event loop.
MIN_BURST_LINES = 20


def day_line(ts_ms: int, pal: Palette) -> Text:
    """``-- YYYY-MM-DD --``: the UTC day of the lines that follow."""
    return Text(f"-- {fmt.ymd_utc(ts_ms)} --", style=pal.muted)


def event_line(e: EngineEvent, pal: Palette) -> Text:
    """``HH:MM:SS kind     message`` with the severity in words for warnings and worse."""
    t = Text(fmt.hhmmss_utc(e.ts_ms) + " ", style=pal.muted)
    t.append(f"{e.kind.value:<9} ", style=pal.accent)
    if e.severity is Severity.WARNING:
        t.append("WARNING ", style=f"bold {pal.warn}")
    elif e.severity in (Severity.ERROR, Severity.CRITICAL):
        t.append(f"{e.severity.value.upper()} ", style=f"bold reverse {pal.short}")
    t.append(e.message)
    return t


class EventsPanel(Panel):
    """The engine's event log. Lines are wrapped when written; when the log's width changes (terminal
    resize, layout switch) or the theme changes, the last ``LOG_LINES`` events are written again."""

    page = 3

    def __init__(self) -> None:
        super().__init__("Events", id="events")
        self._seen: set[tuple] = set()
        self._order: deque[tuple] = deque()
        self._pending: list[EngineEvent] = []
        self._shown: deque[EngineEvent] = deque(maxlen=LOG_LINES)
        self._width = 0
        self._day = ""

    def compose(self) -> ComposeResult:
        yield RichLog(max_lines=LOG_LINES, min_width=20, wrap=True, markup=False, auto_scroll=True, id="events-log")

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
        log = self.query_one(RichLog)
        # Lines are wrapped when written: wait until the log is on screen and has its width.
        width = log.scrollable_content_region.width
        if not self.display or width <= 0:
            return
        if self._shown and (width != self._width or frame.force):
            log.clear()  # re-wrap (or recolour) what is shown
            self._day = ""
            self._pending[:0] = self._shown
            self._shown.clear()
        self._width = width
        if self._pending:
            # One write for the whole batch: RichLog measures and wraps per write, and a fast replay
            # brings dozens of events per refresh.
            lines: list[Text] = []
            cap = max(2 * log.scrollable_content_region.height, MIN_BURST_LINES)
            if len(self._pending) > cap:  # a burst (fast replay): more than anyone can read scrolls past
                skipped = len(self._pending) - cap
                lines.append(Text(f"... {skipped} more event{'s' if skipped != 1 else ''} "
                                  "(every one is in the journal)", style=frame.palette.muted))
                del self._pending[:skipped]
            for e in self._pending[-LOG_LINES:]:
                day = fmt.ymd_utc(e.ts_ms)
                if day != self._day:
                    lines.append(day_line(e.ts_ms, frame.palette))
                    self._day = day
                lines.append(event_line(e, frame.palette))
                self._shown.append(e)
            self._pending.clear()
            log.write(Text("\n").join(lines))
