"""Candles as column chunks: what the backtest's bar loop consumes, and the row iterator around them.

Owns: ``Columns`` (one chunk: six equal-length lists ``(ts_ms, open, high, low, close, volume)``, floats USD,
ints UTC ms of the bar open), ``CandleRows`` (an iterator of ``CandleRow`` tuples over a stream of chunks that
also hands out whole chunks with ``take``, so a caller may mix both), ``chunked`` (row iterator -> chunks)
and ``windowed`` (keep bars whose open is in ``[from_ms, to_ms)``).
A chunk holds a few thousand bars at most, so memory stays flat however long the file is.
Must not import: textual, the engine, the paper exchange (``paper.sources.candle_csv``, the CSV parser, is not
part of the exchange).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from kraken_tui.paper.sources.candle_csv import Columns

__all__ = ["CHUNK_BARS", "CandleRow", "CandleRows", "Columns", "chunked", "windowed"]

#: One bar: (open time UTC ms, open, high, low, close USD, volume).
CandleRow = tuple[int, float, float, float, float, float]
#: Bars per chunk built from a row iterator.
CHUNK_BARS = 4096
_EMPTY: Columns = ([], [], [], [], [], [])


def chunked(rows: Iterable[CandleRow], size: int = CHUNK_BARS) -> Iterator[Columns]:
    """Column chunks of at most ``size`` bars from an iterable of ``CandleRow`` (order kept)."""
    it = iter(rows)
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield tuple(list(col) for col in zip(*block, strict=True))  # type: ignore[misc]


def windowed(chunks: Iterable[Columns], from_ms: int | None, to_ms: int | None) -> Iterator[Columns]:
    """The chunks cut to bars whose open time is in ``[from_ms, to_ms)`` (times strictly increase); stops
    reading at the first bar at or after ``to_ms``."""
    for cols in chunks:
        ts = cols[0]
        lo = 0 if from_ms is None else bisect.bisect_left(ts, from_ms)
        hi = len(ts) if to_ms is None else bisect.bisect_left(ts, to_ms)
        if lo < hi:
            yield cols if (lo, hi) == (0, len(ts)) else tuple(c[lo:hi] for c in cols)  # type: ignore[misc]
        if hi < len(ts):
            return


class CandleRows:
    """An iterator of ``CandleRow`` over a stream of ``Columns`` chunks.

    ``next()`` yields one bar at a time; ``take(max_bars)`` returns the next bars (at most ``max_bars``, at
    most one chunk) as ``Columns`` and None at the end, which is how the backtest's loop reads them without
    building a tuple per bar. ``peek(n)`` returns the first ``n`` bars as rows without consuming them.
    ``started`` turns true at the first ``next``/``take``; ``reopen`` (set by ``data.open_candles``:
    ``(path, keyword arguments)``) says how to open the same stream again (``backtest.prefetch``'s reader
    process does), None when it cannot be.
    """

    def __init__(self, chunks: Iterable[Columns]) -> None:
        self._chunks = iter(chunks)
        self._cols: Columns = _EMPTY
        self._pos = 0
        self.started = False
        self.reopen: tuple[str, dict[str, Any]] | None = None

    def __iter__(self) -> CandleRows:
        return self

    def __next__(self) -> CandleRow:
        self.started = True
        cols, pos = self._cols, self._pos
        while pos >= len(cols[0]):
            cols = self._cols = next(self._chunks)
            pos = 0
        self._pos = pos + 1
        return (cols[0][pos], cols[1][pos], cols[2][pos], cols[3][pos], cols[4][pos], cols[5][pos])

    def take(self, max_bars: int | None = None) -> Columns | None:
        """The next bars as columns (at most ``max_bars``; None = the rest of the current chunk), or None
        when the stream is exhausted."""
        self.started = True
        cols, pos = self._cols, self._pos
        while pos >= len(cols[0]):
            nxt = next(self._chunks, None)
            if nxt is None:
                self._cols, self._pos = _EMPTY, 0
                return None
            cols, pos = nxt, 0
        n = len(cols[0])
        end = n if max_bars is None else min(n, pos + max_bars)
        if pos == 0 and end == n:
            self._cols, self._pos = _EMPTY, 0
            return cols
        self._cols, self._pos = cols, end
        return tuple(c[pos:end] for c in cols)  # type: ignore[return-value]

    def peek(self, n: int) -> list[CandleRow]:
        """The first ``n`` bars (fewer at the end of the stream) as rows, left in the stream."""
        cols, pos = self._cols, self._pos
        parts = [tuple(c[pos:] for c in cols)]
        have = len(cols[0]) - pos
        while have < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            parts.append(nxt)
            have += len(nxt[0])
        merged = tuple(list(itertools.chain.from_iterable(p[i] for p in parts)) for i in range(6))
        self._cols, self._pos = merged, 0  # type: ignore[assignment]
        return list(zip(*(c[:n] for c in merged), strict=True))
