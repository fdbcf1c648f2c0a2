"""``KeyedTable``: a DataTable updated in place by row key (no clear-and-refill per tick).

Owns: the diff between what the table shows and the rows wanted now: rows whose key is gone are
removed, only changed cells are updated (fixed column widths, ``update_width=False``), new keys are
appended (so newest rows arrive at the bottom, in arrival order).
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

__all__ = ["Cell", "Column", "KeyedTable"]

Cell = str | Text
Column = tuple[str, str, int]
"""(label, key, width in cells)."""


class KeyedTable(DataTable):
    """A read-only table synchronised from ``(row key, cells)`` lists.

    Args:
        columns: (label, column key, width) per column; widths are fixed so a tick never re-lays out. There
            is no cell padding: each width includes the one-cell gap to the next column.
        follow: keep the last row in view when rows are added (logs of signals/events).
    """

    DEFAULT_CSS = """
    KeyedTable { height: auto; max-height: 100%; scrollbar-size-horizontal: 0; scrollbar-size-vertical: 1; }
    """

    def __init__(self, columns: Sequence[Column], *, follow: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False, zebra_stripes=False, cell_padding=0)
        self._columns_spec = tuple(columns)
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._follow = follow
        self.can_focus = False

    def on_mount(self) -> None:
        for label, key, width in self._columns_spec:
            self.add_column(label, key=key, width=width)

    @property
    def keys(self) -> list[str]:
        """Row keys currently shown, in display order."""
        return list(self._cells)

    def cells(self, key: str) -> tuple[Cell, ...]:
        """The cells last set for row ``key`` (KeyError when absent)."""
        return self._cells[key]

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]], *, force: bool = False) -> int:
        """Make the table show ``rows``. Returns how many cells or rows changed (0 = nothing to draw).

        ``force`` rewrites every cell (after a theme change recoloured them).
        """
        wanted = {key: tuple(cells) for key, cells in rows}
        changes = 0
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
            changes += 1
        col_keys = [c[1] for c in self._columns_spec]
        added = False
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                added = True
                changes += 1
            elif force or old != cells:
                for col, before, after in zip(col_keys, old, cells, strict=True):
                    if force or before != after:
                        self.update_cell(key, col, after, update_width=False)
                        changes += 1
            self._cells[key] = cells
        if added and self._follow:
            self.scroll_end(animate=False)
        return changes
