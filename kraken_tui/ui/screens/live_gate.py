"""The live-trading gate: a modal shown before the engine starts in ``--mode live``. The operator must
type the word ``LIVE`` (exactly, upper case) and press Enter; anything else, Escape, or an empty answer
declines, and the console then quits without starting the engine (exit code 2, README.md "Commands").

Must not import: the engine, the journal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["CONFIRM_WORD", "LiveGateScreen", "live_gate_accepts"]

#: What the operator must type to start live trading.
CONFIRM_WORD = "LIVE"


def live_gate_accepts(answer: str) -> bool:
    """True only for ``LIVE`` (surrounding spaces ignored, case sensitive: "live" is refused)."""
    return answer.strip() == CONFIRM_WORD


class LiveGateScreen(ModalScreen[bool]):
    """Ask for the typed confirmation; dismisses with True only when ``LIVE`` was typed.

    Args:
        target: where the real orders go, e.g. "Kraken Futures https://futures.kraken.com (API keys from the
            environment)".
    """

    BINDINGS = [Binding("escape", "decline", "Quit", show=False)]
    DEFAULT_CSS = """
    LiveGateScreen { align: center middle; background: $background 80%; }
    LiveGateScreen > Vertical { width: 76; max-width: 98%; height: auto; max-height: 95%;
        border: thick $error; background: $surface; padding: 1 2; }
    LiveGateScreen #live-title { text-style: bold; color: $error; margin-bottom: 1; }
    LiveGateScreen Input { margin-top: 1; }
    LiveGateScreen #live-keys { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, target: str) -> None:
        super().__init__(id="live-gate")
        self._target = target

    def compose(self) -> ComposeResult:
        body = Text()
        body.append("Orders go to ")
        body.append(self._target, style="bold")
        body.append(". Positions, fees, funding and losses are real.\n\n")
        body.append(f"Type {CONFIRM_WORD} and press Enter to start the engine. ", style="bold")
        body.append("Anything else, or Esc, quits without starting anything.")
        with Vertical():
            yield Static("LIVE TRADING WITH REAL MONEY", id="live-title")
            yield Static(body, id="live-body")
            yield Input(placeholder=f"type {CONFIRM_WORD}", id="live-answer")
            yield Static("Enter = answer    Esc = quit (paper mode is the default: run without --mode live)",
                         id="live-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(live_gate_accepts(event.value))

    def action_decline(self) -> None:
        """Escape: quit without starting."""
        self.dismiss(False)
