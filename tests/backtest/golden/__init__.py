"""A hand-checked golden backtest: 40 hand-made 15-minute PF_XBTUSD candles, ``sma_cross`` fast 2 / slow 4.

Files (this directory):
- ``candles.csv``: the input, OHLCVT CSV (no header; ``time`` in epoch seconds, UTC), written by hand: each
  bar opens at the previous close, high/low 50 USD beyond the body; closes fall 100 USD a bar, then rise,
  fall, rise and fall 300 USD a bar in runs of eight, so the SMA(2)/SMA(4) crosses land on known bars.
- ``trades.csv``: the expected closed trades, the journal's trades-CSV columns
  (``kraken_tui.journal.export.TRADES_CSV_HEADER``).

Run settings (``settings_and_rows``): maker 2 / taker 5 bps, slippage 10 bps, constant funding 1e-4 per
hour, 10 000 USD, fixed sizing 50 % of equity (``RiskConfig.fixed_fraction_pct``), notional cap 1e6 USD,
operator limits out of reach. tests/backtest/test_golden_trades.py compares a run with ``trades.csv`` and
shows the hand computation of its trades.

Regenerate ``trades.csv`` (only after checking by hand that a changed trade list is right):
``python -m tests.backtest.golden --write`` (without ``--write`` it prints the rows; no data directory needed).
"""

from __future__ import annotations

import csv
from pathlib import Path

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.config import OperatorConfig, RiskConfig
from kraken_tui.journal.export import TRADES_CSV_HEADER

from .._util import run_rows, settings_for

HERE = Path(__file__).resolve().parent
CANDLES = HERE / "candles.csv"
TRADES = HERE / "trades.csv"

#: 2025-01-01T00:00:00Z, the first bar's open (on the hour, so funding settles every fourth bar)
START_S = 1_735_689_600
BAR_S = 900
#: the closes of the 40 bars, USD (the fixture's only free choice; opens, highs and lows follow)
CLOSES = (
    [100_000 - 100 * i for i in range(6)]                # 0-5: 100 000 .. 99 500, a slow fall
    + [99_700 + 300 * i for i in range(8)]               # 6-13: 99 700 .. 101 800, rise
    + [101_500 - 300 * i for i in range(8)]              # 14-21: 101 500 .. 99 400, fall
    + [99_700 + 300 * i for i in range(8)]               # 22-29: 99 700 .. 101 800, rise
    + [101_500 - 300 * i for i in range(10)]             # 30-39: 101 500 .. 98 800, fall
)


def candle_lines() -> list[str]:
    """The fixture's CSV lines: open = previous close (the first bar opens at its close), high/low 50 USD
    beyond the body, volume 1, one trade."""
    out = []
    prev = CLOSES[0]
    for i, close in enumerate(CLOSES):
        o = prev
        out.append(f"{START_S + i * BAR_S},{o},{max(o, close) + 50},{min(o, close) - 50},{close},1,1\n")
        prev = close
    return out


def settings_and_rows(path: Path = CANDLES):
    """(BacktestSettings, rows) of the golden run over ``path``."""
    risk = RiskConfig(sizing="fixed", fixed_fraction_pct=50, max_position_notional_usd=1e6)
    return settings_for(path, "sma_cross", {"fast": 2, "slow": 4}, fees=(2.0, 5.0), slippage_bps=10.0,
                        funding=FundingSchedule.constant_rate(1e-4, "golden"), risk=risk,
                        operator=OperatorConfig(daily_loss_limit_pct=100, equity_floor_pct=0.01))


def run_trade_rows(path: Path = CANDLES) -> list[tuple[str, ...]]:
    """The trades-CSV rows of the golden run's closed trades."""
    s, rows = settings_and_rows(path)
    return run_rows(s, rows)[1]


def read_expected() -> list[tuple[str, ...]]:
    """``trades.csv`` without its header."""
    with TRADES.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == tuple(TRADES_CSV_HEADER), rows[0]
    return [tuple(r) for r in rows[1:]]


def write(rows: list[tuple[str, ...]]) -> None:
    """Write ``trades.csv`` (header + rows)."""
    with TRADES.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRADES_CSV_HEADER)
        w.writerows(rows)
