"""A yes/no question as a modal screen (y confirms, n or Escape declines) and the quit prompt (y quits and
leaves the account as it is, f flattens then quits, n or Escape stays). Keys only: the answers have no
buttons, and the console never takes a click, a paste or a burst of typed keys as an answer.

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from enum import StrEnum

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["ConfirmScreen", "QuitChoice", "QuitScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Ask ``question``; dismisses with True on ``y``, False on ``n``/Escape.

    Args:
        title: one line, e.g. "Quit the console?".
        body: what happens and what stays (plain text or Rich Text, several lines).
        yes: the label of the confirming choice ("quit", "reset").
        danger: draw the dialog in the loss colour.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; background: $background 60%; }
    ConfirmScreen > Vertical { width: 76; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmScreen.danger > Vertical { border: thick $error; }
    ConfirmScreen #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmScreen #confirm-keys { margin-top: 1; color: $kt-muted; }
    """

    def __init__(self, title: str, body: str | Text, *, yes: str = "yes", danger: bool = False) -> None:
        super().__init__(classes="danger" if danger else "")
        self._title = title
        self._body = body
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="confirm-title")
            yield Static(self._body, id="confirm-body")
            yield Static(f"y = {self._yes}    n / Esc = cancel", id="confirm-keys")

    def action_answer(self, value: bool) -> None:
        """Close the dialog with ``value``."""
        self.dismiss(value)


class QuitChoice(StrEnum):
    """The quit prompt's answers."""

    QUIT = "quit"
    """Quit; positions and orders stay as they are."""
    FLATTEN = "flatten"
    """Flatten the account, then quit once it is verified flat."""


class QuitScreen(ConfirmScreen):
    """The quit prompt: a ``ConfirmScreen`` ("Quit the console?", y = quit) with a third answer, ``f`` =
    flatten, then quit. Dismisses with True for y and f (``choice`` says which), False on ``n``/Escape.

    Args:
        body: what stays open and what quitting stops (several lines).
    """

    BINDINGS = [Binding("f", "flatten_first", "Flatten, then quit", id="quit.flatten")]

    def __init__(self, body: str | Text) -> None:
        super().__init__("Quit the console?", body, yes="quit")
        self.choice: QuitChoice | None = None
        """The answer: ``QuitChoice.QUIT`` or ``QuitChoice.FLATTEN``; None until answered or on cancel."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="confirm-title")
            yield Static(self._body, id="confirm-body")
            yield Static("y = quit as it is   f = flatten, then quit   n / Esc = cancel",
                         id="confirm-keys")

    def action_answer(self, value: bool) -> None:
        """y (True) quits as it is; n/Escape (False) cancels."""
        self.choice = QuitChoice.QUIT if value else None
        self.dismiss(value)

    def action_flatten_first(self) -> None:
        """f: flatten, then quit."""
        self.choice = QuitChoice.FLATTEN
        self.dismiss(True)
