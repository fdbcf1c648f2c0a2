"""Signals panel: time, symbol, side, confidence, and what became of the signal (the action and the
strategy's reason, or "rejected: <risk gate reason>") in a column taking the rest of the panel's width,
cut with an ellipsis; the full rejection reason is also in the Events panel, which wraps. The running
strategy's name is on the status bar; another (an external signal) is named in the row. Newest at the bottom.

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from kraken_tui.engine.facade import SignalView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.table import FLEX, Cell, KeyedTable

__all__ = ["SignalsPanel", "signal_cells", "signal_key"]

COLUMNS = (("Time", "time", 9), ("Symbol", "symbol", 10), ("Side", "side", 8), ("Conf", "conf", 5),
           ("Action / reason", "action", FLEX))


def signal_key(s: SignalView) -> str:
    """Row key: a signal is identified by its time, symbol, strategy and side."""
    return f"{s.ts_ms}|{s.symbol}|{s.strategy}|{s.side}"


def signal_cells(s: SignalView, pal: Palette, running: str | None = None) -> tuple[Cell, ...]:
    """One row of the signals table; the signal's strategy is named only when it is not ``running`` (the
    engine's strategy, on the status bar), e.g. an external signal."""
    side = {"long": pal.signed("▲ long", 1), "short": pal.signed("▼ short", -1)}.get(s.side, Text(f"· {s.side}"))
    if s.rejection_reason:
        action = Text(f"rejected: {s.rejection_reason}", style=pal.warn)
    else:
        action = Text(s.action)
        if s.reason:
            action.append(f"  {s.reason}", style=pal.muted)
    if s.strategy and s.strategy != running:
        action.append(f"  ({s.strategy})", style=pal.muted)
    action.no_wrap = True
    action.overflow = "ellipsis"
    return (fmt.hhmmss_utc(s.ts_ms), s.symbol, side, f"{s.confidence:.2f}", action)


class SignalsPanel(Panel):
    """Recent strategy signals."""

    page = 3

    def __init__(self) -> None:
        super().__init__("Signals", id="signals")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, follow=True, id="signals-table")

    def show(self, frame: Frame) -> None:
        rows = [(signal_key(s), signal_cells(s, frame.palette, frame.snap.strategy)) for s in frame.snap.signals]
        self.query_one(KeyedTable).sync(rows, force=frame.force)
