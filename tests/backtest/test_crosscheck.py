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
from .peer import load_frame, sma_cross_backtest

pd = pytest.importorskip("pandas")
bt_mod = pytest.importorskip("backtesting")


def _backtesting_trades(path, fast: int, slow: int):
    df, times = load_frame(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = sma_cross_backtest(df, fast, slow).run()
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
