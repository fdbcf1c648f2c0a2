"""Resample a candle file to a longer timeframe (e.g. 5m -> 15m or 1h) for the timeframe studies of docs/research.md.

Owns: ``resample`` (bars -> bars of ``timeframe``) and ``main`` (``python -m kraken_tui.research.resample IN
--timeframe 1h --out OUT``). The bars are aggregated by the engine's own ``engine.candles.CandleBuilder``
(``add_candle``: open of the first sub-bar, highest high, lowest low, close of the last, summed volume; UTC-aligned
bars; an empty bar is not invented: ``fill_gaps`` off), so a strategy sees in a backtest on the resampled file the
bars it builds itself from the source file. A last bar that the source file does not complete is dropped.
Output: charts CSV ``time,open,high,low,close,volume`` (time in UTC seconds), a format ``kraken-tui backtest``,
``optimize`` and ``--replay`` read.
Exit codes: 0 written; 2 a bad file or timeframe (names it).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from kraken_tui.backtest.columns import CandleRow
from kraken_tui.domain import Candle
from kraken_tui.engine.candles import TIMEFRAMES, CandleBuilder, timeframe_ms

__all__ = ["main", "resample"]


def resample(rows: Iterable[CandleRow], source_timeframe: str, timeframe: str) -> Iterator[CandleRow]:
    """The bars of ``timeframe`` built from ``rows`` (``(open_ms, open, high, low, close, volume)``, USD, oldest
    first) of ``source_timeframe`` (module docstring).

    Raises:
        ValueError: ``timeframe`` unknown, or not a multiple of ``source_timeframe``.
    """
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}")
    if timeframe_ms(timeframe) % timeframe_ms(source_timeframe):
        raise ValueError(f"cannot build {timeframe} bars from {source_timeframe} bars")
    b = CandleBuilder("resample", (timeframe,), history=2, fill_gaps=False)
    for r in rows:
        for cc in b.add_candle(Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]), source_timeframe):
            c = cc.candle
            yield (c.ts_ms, c.open, c.high, c.low, c.close, c.volume)


def main(argv: list[str] | None = None) -> int:
    """``python -m kraken_tui.research.resample`` (module docstring)."""
    from kraken_tui.backtest.data import open_candles
    from kraken_tui.errors import DataFileError

    ap = argparse.ArgumentParser(prog="python -m kraken_tui.research.resample", description=__doc__.splitlines()[0])
    ap.add_argument("candles", type=Path, help="candle file (charts CSV/JSON or OHLCVT CSV)")
    ap.add_argument("--timeframe", required=True, help="bar length to build: " + ", ".join(TIMEFRAMES))
    ap.add_argument("--out", required=True, type=Path, help="charts CSV to write")
    a = ap.parse_args(argv)
    try:
        stream = open_candles(a.candles, symbol="PF_XBTUSD")
        n = 0
        with open(a.out, "w", encoding="utf-8") as fh:
            fh.write("time,open,high,low,close,volume\n")
            for ts, o, h, lo, c, v in resample(stream.rows, stream.timeframe, a.timeframe):
                fh.write(f"{ts // 1000},{o!r},{h!r},{lo!r},{c!r},{v!r}\n")
                n += 1
    except (DataFileError, ValueError, OSError) as exc:
        sys.stderr.write(f"resample: {exc}\n")
        return 2
    sys.stderr.write(f"resample: {n} {a.timeframe} bars from {a.candles.name} ({stream.timeframe}) -> {a.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
