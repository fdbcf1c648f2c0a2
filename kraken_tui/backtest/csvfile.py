"""The backtest's name for the candle CSV parser: ``kraken_tui.paper.sources.candle_csv`` (the one parser of
charts and OHLCVT CSV files, shared with the replay source). Nothing is defined here.
Must not import: textual, the engine.
"""

from __future__ import annotations

from kraken_tui.paper.sources.candle_csv import BLOCK_BYTES, csv_chunks

__all__ = ["BLOCK_BYTES", "csv_chunks"]
