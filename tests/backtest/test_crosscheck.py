"""Cross-check: frictionless ``sma_cross`` reproduces backtesting.py's SmaCross trade list on real candles.

backtesting.py (trade_on_close=False: orders placed in ``next`` fill at the next bar's open) with
``position.close(); buy()/sell()`` on each SMA cross. It sizes in whole units, so it gets a huge cash
balance and a 10% size fraction (sizes then differ from ours; entry/exit bars, sides and prices are what
is compared). Its last trade, still open at the end, is left out by ``finalize_trades=False``, as ours is
(a position open at the end is not a trade).
"""

from __future__ import annotations

import warnings

import pytest

from ._util import PF_1M, PF_5M, PF_15M, run_rows, settings_for

pd = pytest.importorskip("pandas")
bt_mod = pytest.importorskip("backtesting")


def _backtesting_trades(path, fast: int, slow: int):
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    df = pd.read_csv(path)
    times = [int(t) * 1000 for t in df["time"]]
    df.index = pd.to_datetime(df["time"], unit="s", utc=True)
    df = df.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]

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
        stats = Backtest(df, SmaCross, cash=1e12, commission=0, trade_on_close=False,
                         finalize_trades=False).run()
    tr = stats._trades
    return [(int(r.EntryBar), int(r.ExitBar), "long" if r.Size > 0 else "short", float(r.EntryPrice),
             float(r.ExitPrice)) for r in tr.itertuples()], times


@pytest.mark.parametrize("data,fast,slow", [(PF_1M, 10, 20), (PF_5M, 10, 20), (PF_15M, 5, 30), (PF_1M, 3, 7)])
def test_sma_cross_reproduces_backtesting_py(shared_data, data, fast, slow):
    path = shared_data(data)
    theirs, times = _backtesting_trades(path, fast, slow)
    bar = {t: i for i, t in enumerate(times)}
    s, rows = settings_for(path, "sma_cross", {"fast": fast, "slow": slow})
    _, _, trades = run_rows(s, rows)
    mine = [(bar[t.entry_ts_ms], bar[t.exit_ts_ms], t.side.value, float(t.entry_price), float(t.exit_price))
            for t in trades]
    assert len(mine) >= 10
    assert mine == theirs
