"""Fixed runs whose trade lists are pinned by a sha256 (``runner.fingerprint_line`` per trade): any change in
the data loading, the policy, fills, fees, slippage, funding or trade derivation changes them."""

from __future__ import annotations

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.runner import trade_fingerprint
from kraken_tui.config import OperatorConfig

from ._util import FUNDING, PF_1M, SPOT_1H, run_rows, settings_for

# ema_cross over the nine hourly years with the shipped defaults (it halts at the equity floor in 2014)
SPOT_EMA = "d424090cc35f77692da67f9ff586bf38b9193015a6bf177b192ce59ec8edf258"
# sma_cross 10/20 on the 500 PF_XBTUSD 1m candles with the real hourly funding file
PF_SMA = "5d72232f7e27615af5bae4d28ab930f002dbe831f04a4b712e8db3cde0a5adf0"


def test_fingerprint_of_fixed_runs(shared_data):
    s, rows = settings_for(shared_data(SPOT_1H), "ema_cross", fees=(2.0, 5.0), slippage_bps=1.0,
                           funding=FundingSchedule.constant_rate(1e-5, "t"), operator=OperatorConfig())
    res, csv_rows, trades = run_rows(s, rows)
    assert res.candles == 70_253 and len(trades) == 64
    assert res.fingerprint == trade_fingerprint(trades)
    assert res.fingerprint == SPOT_EMA

    s, rows = settings_for(shared_data(PF_1M), "sma_cross", fees=(2.0, 5.0), slippage_bps=1.0,
                           funding=FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD"))
    res, _, trades = run_rows(s, rows)
    assert len(trades) == 31 and res.funding_payments == 8
    assert res.fingerprint == PF_SMA
