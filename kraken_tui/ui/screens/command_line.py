"""The console's one-line prompts: the ``:`` command line (``:buy PF_XBTUSD 0.01 mkt``) and the short questions of
the row actions (how much to close, where to move the stop, what to edit).

Owns: ``CommandLineScreen``, a modal with one text box: Enter dismisses with the text, Escape with None. The words
are those of ``control.order_grammar`` (the same as ``kraken-tui ctl``). Inside this text box an upper-case ``F``
never types: it is the flatten key (two presses within 2 s flatten, as everywhere), so symbols are typed in lower
case (the grammar upper-cases them); ctrl+f works too. Nothing typed here is sent without the confirmation that
follows it.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["CommandInput", "CommandLineScreen"]


class CommandInput(Input):
    """The command line's text box: the operator keys treat an upper-case ``F`` here as the flatten key, never as
    text (``types_flatten_key`` False; ``ui.operator_keys``)."""

    types_flatten_key = False


class CommandLineScreen(ModalScreen[str | None]):
    """Ask for one line.

    Args:
        title: the question ("Command", "Close part of PF_XBTUSD long 0.02").
        hint: what may be typed (shown under the box).
        prefix: shown before the box (":" for the command line).
        value: the initial text.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    CommandLineScreen { align: center bottom; background: $background 40%; }
    CommandLineScreen > Vertical { width: 100%; height: auto; border: round $primary; background: $surface;
        padding: 0 1; }
    CommandLineScreen #cmd-title { text-style: bold; }
    CommandLineScreen #cmd-hint { color: $text-muted; }
    """

    def __init__(self, title: str, hint: str, *, prefix: str = "", value: str = "") -> None:
        super().__init__(id="command-line")
        self._title, self._hint, self._prefix, self._value = title, hint, prefix, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="cmd-title")
            yield CommandInput(value=self._value, placeholder=self._prefix + " type here (lower case)", id="cmd-input")
            yield Static(self._hint + "    Enter = preview and confirm    Esc = cancel    F F = flatten",
                         id="cmd-hint")

    def on_mount(self) -> None:
        self.query_one(CommandInput).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Escape: nothing."""
        self.dismiss(None)
