"""The backtest's eager and lazy bookkeeping paths give the same results.

Each case runs three times: with a journal sink and ``on_trade`` (the eager path: every fill and trade
built), with ``on_trade`` only, and with neither (the lazy path: trades built only for ``last_trades``). A
sha256 over each run's whole result (rows, last trades, fingerprint, summary, curve, equity, signals,
rejections, funding, liquidations, open position, final state, notes) must be the same for all three.
What the results must be is checked elsewhere: the hand-checked trade list (test_golden_trades.py), the
fingerprints (test_fingerprint.py) and the paper-exchange reference (test_reference.py).
"""

from __future__ import annotations

import hashlib

import pytest

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.report import summary_of
from kraken_tui.backtest.runner import Backtest
from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig

from ._util import FUNDING, NO_OPERATOR, PF_1M, SPOT_5M, settings_for

CASES = ("sma_costs_funding", "sma_frictionless", "ema_protective", "mean_reversion", "operator_floor",
         "liquidation")


def _setup(case: str, data, tmp_dir):
    if case == "sma_costs_funding":
        return settings_for(data(PF_1M), "sma_cross", fees=(2.0, 5.0), slippage_bps=1.0,
                            funding=FundingSchedule.from_csv(data(FUNDING), "PF_XBTUSD"))
    if case == "sma_frictionless":
        return settings_for(data(PF_1M), "sma_cross", {"fast": 3, "slow": 7})
    if case == "ema_protective":
        exits = ExitsConfig(stop_loss_pct=1.5, take_profit_pct=[0.5, 1.0, 2.0], take_profit_fraction_pct=40,
                            trailing_activate_pct=0.4, trailing_distance_pct=0.3, time_exit_h=6)
        return settings_for(data(SPOT_5M), "ema_cross", fees=(2.0, 5.0), slippage_bps=1.0, exits=exits,
                            funding=FundingSchedule.constant_rate(1e-4, "t"), operator=NO_OPERATOR)
    if case == "mean_reversion":
        return settings_for(data(SPOT_5M), "mean_reversion", fees=(2.0, 5.0), slippage_bps=1.0,
                            funding=FundingSchedule.constant_rate(-2e-5, "t"))
    if case == "operator_floor":
        return settings_for(data(SPOT_5M), "sma_cross", {"fast": 2, "slow": 4}, fees=(20.0, 50.0),
                            slippage_bps=5.0, operator=OperatorConfig(daily_loss_limit_pct=0.5,
                                                                       equity_floor_pct=90))
    from .test_reference import _crash_rows

    rows = _crash_rows()
    path = tmp_dir / "crash.csv"
    path.write_text("".join(f"{r[0] // 1000},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},1\n" for r in rows))
    risk_cfg = RiskConfig(sizing="fixed", fixed_fraction_pct=100, max_position_notional_usd=10**9,
                          max_capital_deployed_pct=100, liquidation_buffer_pct=0)
    s, _ = settings_for(path, "sma_cross", {"fast": 2, "slow": 5}, fees=(2.0, 5.0), slippage_bps=1.0, risk=risk_cfg,
                        operator=NO_OPERATOR, balance=1_000.0)
    return s, rows


def _run(case: str, data, tmp_dir, *, sink: bool, on_trade: bool) -> tuple[str, int, int]:
    """(result digest, trades, journal records + on_trade trades seen) of one run."""
    s, rows = _setup(case, data, tmp_dir)
    recs: list = []
    trades: list = []
    bt = Backtest(s, sink=recs.append if sink else None, on_trade=trades.append if on_trade else None)
    bt.run(rows)
    res = bt.finish()
    rh = hashlib.sha256()
    overall, groups = summary_of(res)
    for part in (res.rows, list(res.last_trades), res.fingerprint, overall, groups, res.candles, res.first_ms,
                 res.last_ms, res.curve, res.max_drawdown_mtm_usd, res.final_equity_usd, res.signals, res.rejected,
                 res.funding_payments, res.funding_usd, res.liquidations, res.open_position, res.final_state,
                 res.state_reason, res.notes):
        rh.update(repr(part).encode() + b"\n")
    return rh.hexdigest(), len(res.rows), len(recs) + len(trades)


@pytest.mark.parametrize("case", CASES)
def test_eager_and_lazy_paths_give_the_same_results(shared_data, tmp_path, case):
    result, n, seen = _run(case, shared_data, tmp_path, sink=True, on_trade=True)
    assert n > 0 and seen > n
    assert _run(case, shared_data, tmp_path, sink=False, on_trade=True)[0] == result
    assert _run(case, shared_data, tmp_path, sink=False, on_trade=False)[0] == result
