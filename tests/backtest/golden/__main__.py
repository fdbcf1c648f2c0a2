"""``python -m tests.backtest.golden [--write]``: print the golden run's trade rows; ``--write`` also writes
``candles.csv`` (from ``CLOSES``) and ``trades.csv``. See the package docstring."""

from __future__ import annotations

import sys

from . import CANDLES, candle_lines, run_trade_rows, write

if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        CANDLES.write_text("".join(candle_lines()))
    for row in run_trade_rows():
        print(",".join(row))
    if "--write" in sys.argv[1:]:
        write(run_trade_rows())
