"""Help screen: every operator key (as currently mapped), what it does, and where the log and the
journal are. Escape, q or ? closes it. Drawn over the live dashboard; on a short terminal it scrolls
(arrows, PgUp/PgDn) and its bottom border says "more" while there is more below.

Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """The key reference.

    Args:
        keys: (key as shown, what it does) pairs, in display order.
        log_file: the console's log file path.
        journal: the journal file path (or None when unknown).
    """

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > VerticalScroll { width: 96; max-width: 98%; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, keys: list[tuple[str, str]], log_file: str, journal: str | None) -> None:
        super().__init__()
        self.keys = keys
        self._log_file = log_file
        self._journal = journal

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column("key", style="bold", no_wrap=True, width=12)
        table.add_column("what", ratio=1)
        for key, what in self.keys:
            table.add_row(key, what)
        with VerticalScroll(id="help-body"):
            yield Static(Text("kraken-tui keys", style="bold"))
            yield Static(table)
            yield Static(Text.assemble(
                ("\nLog file  ", "bold"), self._log_file,
                ("\nJournal   ", "bold"), self._journal or "-",
                "\n\nKeys are remapped in config.toml [keymap] (binding id = \"key\"). Every action is also in "
                "the command palette (ctrl+p). To leave the console running, detach tmux (ctrl-b d). "
                "Esc closes this help.",
            ))

    def on_mount(self) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        body.focus()
        self.watch(body, "scroll_y", self._scrolled, init=False)
        self.call_after_refresh(self.update_hint)

    def _scrolled(self, _y: float) -> None:
        self.update_hint()

    def on_resize(self) -> None:
        self.call_after_refresh(self.update_hint)

    def update_hint(self) -> bool:
        """Show "▼ more" on the bottom border while the help continues below. Returns True when it does."""
        body = self.query_one("#help-body", VerticalScroll)
        more = body.max_scroll_y > 0 and body.scroll_y < body.max_scroll_y
        body.border_subtitle = "▼ more: ↓ / PgDn" if more else ""
        return more

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
