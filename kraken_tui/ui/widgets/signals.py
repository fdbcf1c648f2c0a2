"""Signals panel: time, symbol, side, confidence, and what became of the signal (the action and the
strategy's reason, or "rejected: <risk gate reason>") in a column taking the rest of the panel's width,
cut with an ellipsis. When the newest signal's text does not fit, a detail line under the table shows it
in full, wrapped ("latest 12:05:00 PF_ETHUSD: rejected: ..."); the full reason is also in the Events
panel. A compact column set (side as an arrow) leaves the reason more room in narrow panels. The running
strategy's name is on the status bar; another (an external signal) is named in the row. Newest at the bottom.

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from kraken_tui.engine.facade import SignalView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel, update_text
from kraken_tui.ui.widgets.table import FLEX, Cell, KeyedTable

__all__ = ["SignalsPanel", "signal_action", "signal_cells", "signal_key"]

COLUMNS = (("Time", "time", 9), ("Symbol", "symbol", 10), ("Side", "side", 8), ("Conf", "conf", 5),
           ("Action / reason", "action", FLEX))
COMPACT = (("Time", "time", 9), ("Symbol", "symbol", 10), ("S", "side", 2), ("Conf", "conf", 5),
           ("Action / reason", "action", FLEX))


def signal_key(s: SignalView) -> str:
    """Row key: a signal is identified by its time, symbol, strategy and side."""
    return f"{s.ts_ms}|{s.symbol}|{s.strategy}|{s.side}"


def signal_action(s: SignalView, pal: Palette, running: str | None = None) -> Text:
    """What became of the signal: "rejected: <reason>" or the action and the strategy's reason (one line of
    Text, not cut)."""
    if s.rejection_reason:
        action = Text(f"rejected: {s.rejection_reason}", style=pal.warn)
    else:
        action = Text(s.action)
        if s.reason:
            action.append(f"  {s.reason}", style=pal.muted)
    if s.strategy and s.strategy != running:
        action.append(f"  ({s.strategy})", style=pal.muted)
    return action


def signal_cells(s: SignalView, pal: Palette, running: str | None = None, compact: bool = False) -> tuple[Cell, ...]:
    """One row of the signals table; the signal's strategy is named only when it is not ``running`` (the
    engine's strategy, on the status bar), e.g. an external signal. ``compact``: the side as an arrow."""
    words = {"long": ("▲ long", 1), "short": ("▼ short", -1)}.get(s.side)
    if words is None:
        side = Text("·" if compact else f"· {s.side}")
    else:
        side = pal.signed(words[0][0] if compact else words[0], words[1])
    action = signal_action(s, pal, running)
    action.no_wrap = True
    action.overflow = "ellipsis"
    return (fmt.hhmmss_utc(s.ts_ms), s.symbol, side, f"{s.confidence:.2f}", action)


class SignalsPanel(Panel):
    """Recent strategy signals."""

    page = 3

    def __init__(self) -> None:
        super().__init__("Signals", id="signals")
        self._detail: Text | None = None

    DEFAULT_CSS = """
    SignalsPanel KeyedTable { height: 1fr; }
    SignalsPanel #signals-detail { height: auto; max-height: 3; display: none; }
    """

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, follow=True, id="signals-table", variants=[COMPACT], flex_room=32)
        yield Static(id="signals-detail")

    def show(self, frame: Frame) -> None:
        table = self.query_one(KeyedTable)
        compact = table.variant > 0
        signals = frame.snap.signals
        rows = [(signal_key(s), signal_cells(s, frame.palette, frame.snap.strategy, compact)) for s in signals]
        table.sync(rows, force=frame.force)
        detail = self.query_one("#signals-detail", Static)
        room = table.fit_flex(table.size.width) if table.size.width else None
        if not signals or room is None:
            detail.display = False
            return
        last = signals[-1]
        action = signal_action(last, frame.palette, frame.snap.strategy)
        if action.cell_len < room:
            detail.display = False
            return
        line = Text(f"latest {fmt.hhmmss_utc(last.ts_ms)} {last.symbol}: ", style=frame.palette.muted)
        line.append_text(action)
        if frame.force or line != self._detail:  # the same line again: nothing to draw (a layout pass when wrapped)
            update_text(detail, line)
            self._detail = line
        detail.display = True
