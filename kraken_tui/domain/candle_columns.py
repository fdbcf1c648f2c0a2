"""Candle columns that also carry their values as numpy arrays.

Owns: ``ArrayColumns``, one chunk of bars as the six equal-length lists ``(ts_ms, open, high, low, close,
volume)`` (ints UTC ms of the bar open; floats USD, volume in contracts) plus ``arrays``, the same six columns as
numpy arrays (int64, then five float64) holding the same values. A reader that parsed a block into arrays
hands both out, so the batch indicator paths (``engine.indicators.ATR.update_many``, ``SMA.update_array`` in
``engine.strategies.sma_cross``) and the backtest's reader process use the arrays instead of converting the
lists back. Anything that takes plain ``Columns`` takes these unchanged (it is a tuple of the six lists).
Must not import: numpy (the arrays are built by the reader that has it), anything outside the stdlib.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ArrayColumns", "column_arrays", "hlc_arrays"]

_ListColumns = tuple[list[int], list[float], list[float], list[float], list[float], list[float]]


class ArrayColumns(_ListColumns):
    """``(ts_ms, open, high, low, close, volume)`` lists with ``arrays``: the same six columns as numpy arrays
    (``ts_ms`` int64, the others float64), element for element equal to the lists (``arrays[i].tolist() ==
    self[i]``). Slicing gives a plain tuple (no arrays)."""

    arrays: tuple[Any, Any, Any, Any, Any, Any]

    def __new__(cls, lists: _ListColumns, arrays: tuple[Any, Any, Any, Any, Any, Any]) -> ArrayColumns:
        """Raises ValueError unless there are six lists and six arrays."""
        if len(lists) != 6 or len(arrays) != 6:
            raise ValueError(f"six columns and six arrays expected, got {len(lists)} and {len(arrays)}")
        obj = super().__new__(cls, lists)
        obj.arrays = arrays
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return ArrayColumns, (tuple(self), self.arrays)


def column_arrays(cols: Any) -> tuple[Any, Any, Any, Any, Any, Any] | None:
    """``cols.arrays`` when ``cols`` is an ``ArrayColumns``, else None (plain ``Columns``)."""
    return cols.arrays if type(cols) is ArrayColumns else None


def hlc_arrays(cols: Any) -> tuple[Any, Any, Any] | None:
    """``(high, low, close)`` float64 arrays of an ``ArrayColumns`` (what ``engine.indicators.ATR.update_many``
    takes as ``arrays``), else None."""
    a = column_arrays(cols)
    return None if a is None else (a[2], a[3], a[4])
