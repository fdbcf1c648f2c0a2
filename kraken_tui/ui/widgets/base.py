"""The base of every dashboard panel and the per-tick ``Frame`` they draw from.

Owns: ``Frame`` (one engine snapshot, the wall clock and the palette, handed to every panel on each
refresh tick), ``Panel`` (a bordered container with a title, a subtitle set only when it changes, a page number
for small terminals, and ``show(frame)``) and ``update_text``: a panel's text redrawn in place, without the screen's layout pass
(which re-renders every panel) unless its height changes.
Must not import: the engine's internals (only ``engine.facade``), the journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from kraken_tui.engine.facade import EngineSnapshot
from kraken_tui.ui.palette import Palette

__all__ = ["Frame", "Panel", "text_height", "update_text"]


@dataclass(frozen=True, slots=True)
class Frame:
    """What one refresh draws: ``snap`` (engine state), ``wall_ms`` (UTC epoch ms of the console's
    clock, for the UTC clock and the dead man's switch), ``palette``, and ``force`` (redraw every cell,
    e.g. after a theme change)."""

    snap: EngineSnapshot
    wall_ms: int
    palette: Palette
    force: bool = False


class Panel(Vertical):
    """A titled dashboard panel. ``page`` groups panels on small terminals (1, 2 or 3)."""

    DEFAULT_CSS = """
    Panel { border: round $kt-border; border-title-color: $kt-muted; border-subtitle-color: $kt-muted;
            padding: 0 1; height: 1fr; }
    """

    page: int = 1

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = title
        self._subtitle_text: str | None = None

    def set_subtitle(self, text: str) -> None:
        """Set the border's subtitle (console markup). Textual repaints the whole panel on every assignment,
        even of the same text, so an unchanged subtitle is not assigned again."""
        if text != self._subtitle_text:
            self._subtitle_text = text
            self.border_subtitle = text

    def show(self, frame: Frame) -> None:
        """Draw ``frame`` (called at [ui] refresh_hz inside ``App.batch_update``)."""
        raise NotImplementedError


def text_height(content: Text | Group, width: int) -> int | None:
    """Lines ``content`` takes at ``width`` cells when none of its lines is wider (so none wraps) or a
    ``Text`` is ``no_wrap``: one per line of each ``Text`` (a ``Group``'s summed); None when a line is wider than ``width`` or a part is not
    a ``Text`` (its height then needs a layout pass)."""
    parts = content.renderables if isinstance(content, Group) else [content]
    lines = 0
    for part in parts:
        if not isinstance(part, Text):
            return None
        if part.no_wrap:  # cut at the edge, never wrapped: one line each
            lines += part.plain.count("\n") + 1
            continue
        for line in part.split("\n", allow_blank=True):
            if line.cell_len > width:
                return None
            lines += 1
    return lines


def update_text(widget: Static, content: Text | Group) -> None:
    """``widget.update(content)``, with textual's layout pass only when its height may change: a panel's text
    that keeps its number of lines at the widget's width redraws that widget alone (``Static.update`` with
    ``layout=False``), so a refresh tick that changes prices does not re-render the whole screen."""
    width = widget.content_region.width
    height = text_height(content, width) if width > 0 else None
    same = height is not None and height == getattr(widget, "_kt_text_height", None)
    widget._kt_text_height = height  # type: ignore[attr-defined]
    widget.update(content, layout=not same)
