"""The base of every dashboard panel and the per-tick ``Frame`` they draw from.

Owns: ``Frame`` (one engine snapshot, the wall clock and the palette, handed to every panel on each
refresh tick) and ``Panel`` (a bordered container with a title, a page number for small terminals,
and ``show(frame)``).
Must not import: the engine's internals (only ``engine.facade``), the journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.containers import Vertical

from kraken_tui.engine.facade import EngineSnapshot
from kraken_tui.ui.palette import Palette

__all__ = ["Frame", "Panel"]


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

    def show(self, frame: Frame) -> None:
        """Draw ``frame`` (called at [ui] refresh_hz inside ``App.batch_update``)."""
        raise NotImplementedError
