"""backtesting.py's SmaCross, the established peer for the sma_cross cross-check and the backtest bench.

backtesting.py with ``trade_on_close=False`` (orders placed in ``next`` fill at the next bar's open) and
``position.close(); buy()/sell()`` on each SMA cross. It sizes in whole units, so it gets a huge cash
balance and a 10 % size fraction; its last trade, still open at the end, is left out by
``finalize_trades=False``, as ours is. Test-only dependency (pandas, backtesting).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def load_frame(path: Path) -> tuple[Any, list[int]]:
    """A charts CSV (``time,open,high,low,close,volume``, time in s) as backtesting.py's OHLCV frame,
    plus the bar open times in UTC ms."""
    import pandas as pd

    df = pd.read_csv(path)
    times = [int(t) * 1000 for t in df["time"]]
    df.index = pd.to_datetime(df["time"], unit="s", utc=True)
    return df.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]], times


def sma_cross_backtest(df: Any, fast: int, slow: int, commission: float = 0.0) -> Any:
    """A ready ``backtesting.Backtest`` of SmaCross(fast, slow) on ``df``; call ``.run()`` on it."""
    from backtesting import Backtest, Strategy

    try:  # backtesting.py draws a tqdm progress bar when tqdm is installed (vectorbt brings it): no monitor
        import tqdm  # thread, which would outlive the run (and a live thread keeps the backtest's reader off)

        tqdm.tqdm.monitor_interval = 0
    except ImportError:
        pass
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        n1, n2 = fast, slow

        def init(self):
            self.s1 = self.I(SMA, self.data.Close, self.n1)
            self.s2 = self.I(SMA, self.data.Close, self.n2)

        def next(self):
            if crossover(self.s1, self.s2):
                self.position.close()
                self.buy(size=0.1)
            elif crossover(self.s2, self.s1):
                self.position.close()
                self.sell(size=0.1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Backtest(df, SmaCross, cash=1e12, commission=commission, trade_on_close=False, finalize_trades=False)
