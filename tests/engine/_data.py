"""Tiny CSV candle reader for engine tests (the real replay parsers live in kraken_tui/paper/sources/)."""

from __future__ import annotations

import csv
from pathlib import Path

from kraken_tui.domain import Candle


def read_candles(path: Path) -> list[Candle]:
    """Rows ``time(s),open,high,low,close,volume[,trades]``; a header row is skipped if present."""
    out = []
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if not row or not row[0].isdigit():
                continue
            out.append(Candle(int(row[0]) * 1000, *(float(x) for x in row[1:6])))
    return out


PF_1M = "kraken/pf_xbtusd_1m_2025-08.csv"
PF_5M = "kraken/pf_xbtusd_5m_2025-08.csv"
PF_1H = "kraken/pf_xbtusd_1h_2025-08.csv"
ETH_5M = "kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv"
