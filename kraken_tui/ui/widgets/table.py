"""``KeyedTable``: a DataTable updated in place by row key (no clear-and-refill per tick).

Owns: the diff between what the table shows and the rows wanted now (plus one optional ``FLEX`` column
that takes the width the fixed columns leave, refitted on resize): rows whose key is gone are
removed, only changed cells are updated (fixed column widths, ``update_width=False``), new keys are
appended (so newest rows arrive at the bottom, in arrival order).
Column sets: a table may have several variants of the same columns (same keys, shorter labels and
widths), widest first; on resize it shows the first variant that fits its width (the last one
otherwise), so no column is cut off at the panel's edge. The panel formats its cells for
``variant`` (e.g. "▲" instead of "▲ buy"); a variant change empties the rows, and the next ``sync``
refills them. A table that follows its newest rows scrolls to the end after every resize.
Cut cells: a fixed-width cell wider than its column (less its one-cell gap; the last column needs none) would
be cut at the column's edge; ``cut`` lists the ones shown now, so tests at every size can require it empty
(``FLEX`` columns end in an ellipsis by design and are not counted).
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

__all__ = ["FLEX", "MIN_FLEX", "Cell", "Column", "KeyedTable"]

Cell = str | Text
Column = tuple[str, str, int]
"""(label, key, width in cells); width ``FLEX`` (0) takes the room the other columns leave."""
ColumnSet = Sequence[Column]
#: A column width meaning "the rest of the table's width" (at least ``MIN_FLEX`` cells); one per table.
FLEX = 0
MIN_FLEX = 12


class KeyedTable(DataTable):
    """A read-only table synchronised from ``(row key, cells)`` lists.

    Args:
        columns: (label, column key, width) per column; widths are fixed so a tick never re-lays out. There
            is no cell padding: each width includes the one-cell gap to the next column.
        follow: keep the last row in view when rows are added and after a resize (logs of signals/events).
        variants: narrower column sets (same keys in the same order), widest first, tried after ``columns``
            when it does not fit the table's width.
        flex_room: cells the ``FLEX`` column needs for a column set to count as fitting (default
            ``MIN_FLEX``; e.g. more for a reason column, so a narrow panel takes the compact set).

    Raises:
        ValueError: a variant whose column keys differ from ``columns``.
    """

    DEFAULT_CSS = """
    KeyedTable { height: auto; max-height: 100%; scrollbar-size-horizontal: 0; scrollbar-size-vertical: 1; }
    """

    def __init__(self, columns: Sequence[Column], *, follow: bool = False, id: str | None = None,
                 variants: Sequence[ColumnSet] = (), flex_room: int = MIN_FLEX) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False, zebra_stripes=False, cell_padding=0)
        self._variants = (tuple(columns), *(tuple(v) for v in variants))
        keys = [c[1] for c in self._variants[0]]
        for i, v in enumerate(self._variants[1:], 1):
            if [c[1] for c in v] != keys:
                raise ValueError(f"table {id}: variant {i} has columns {[c[1] for c in v]}, expected {keys}")
        self.variant = 0
        """Index of the column set shown (0 = ``columns``)."""
        self._columns_spec = self._variants[0]
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._cut: dict[tuple[str, str], str] = {}
        self._follow = follow
        self._flex_room = flex_room
        self.can_focus = False

    @property
    def labels(self) -> list[str]:
        """The column labels shown now."""
        return [c[0] for c in self._columns_spec]

    def min_width(self, columns: ColumnSet) -> int:
        """Cells a column set needs: its fixed widths, ``flex_room`` for a flex column, one for the scrollbar."""
        return sum(w or self._flex_room for *_, w in columns) + 1

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for label, key, width in self._columns_spec:
            self.add_column(label, key=key, width=width or MIN_FLEX)

    def on_resize(self, event: events.Resize) -> None:
        self.choose_variant(event.size.width)
        self.fit_flex(event.size.width)
        if self._follow:
            self.call_after_refresh(self.scroll_end, animate=False)

    def choose_variant(self, width: int) -> int:
        """Show the first column set that fits ``width`` cells (the narrowest when none does); a change
        clears the rows (the next ``sync`` refills them formatted for it). Returns the variant's index."""
        want = next((i for i, v in enumerate(self._variants) if self.min_width(v) <= width), len(self._variants) - 1)
        if want != self.variant:
            self.variant = want
            self._columns_spec = self._variants[want]
            self.clear(columns=True)
            self._cells.clear()
            self._cut.clear()
            self._add_columns()
        return want

    def fit_flex(self, width: int) -> int | None:
        """Give the ``FLEX`` column what the fixed columns leave of ``width`` (one cell kept for the
        vertical scrollbar). Returns the flex column's width (None without one)."""
        flex = next((key for _label, key, w in self._columns_spec if w == FLEX), None)
        if flex is None:
            return None
        want = max(MIN_FLEX, width - sum(w for *_, w in self._columns_spec) - 1)
        column = self.columns[ColumnKey(flex)]
        if column.width != want:
            column.width = want
            # DataTable has no public "resize a column": recompute its virtual size and redraw.
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()
        return want

    @property
    def cut(self) -> dict[tuple[str, str], str]:
        """(row key, column key) -> the text of each cell shown now that is wider than its column (less the
        gap to the next column); empty when every cell is whole."""
        return dict(self._cut)

    def _check(self, key: str, cells: tuple[Cell, ...]) -> None:
        last = len(self._columns_spec) - 1
        for i, ((_label, col, width), cell) in enumerate(zip(self._columns_spec, cells, strict=True)):
            room = width if i == last else width - 1
            text = cell.plain if isinstance(cell, Text) else cell
            if width != FLEX and (cell.cell_len if isinstance(cell, Text) else cell_len(cell)) > room:
                self._cut[(key, col)] = text
            else:
                self._cut.pop((key, col), None)

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
            for col in [c[1] for c in self._columns_spec]:
                self._cut.pop((key, col), None)
            changes += 1
        col_keys = [c[1] for c in self._columns_spec]
        added = False
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                self._check(key, cells)
                added = True
                changes += 1
            elif force or old != cells:
                self._check(key, cells)
                for col, before, after in zip(col_keys, old, cells, strict=True):
                    if force or before != after:
                        self.update_cell(key, col, after, update_width=False)
                        changes += 1
            self._cells[key] = cells
        if added and self._follow:
            self.scroll_end(animate=False)
        return changes
