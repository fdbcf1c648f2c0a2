"""The backtest's per-trade bookkeeping gives byte-for-byte what it gave before its fast paths.

Oracle: sha256 digests of whole runs (every journal record the sink receives, every ``on_trade`` trade,
the statistics rows, the last trades, the fingerprint, the summary and the result's other fields), stored
below. They were computed BEFORE the session-5 per-trade speed work (lazy ``Trade`` objects, the direct
reversal path at the open, cheaper intents), by running ``_digests()`` of this file against the unchanged
tree (git HEAD 67c59e8 exported to a scratch directory with ``git archive``; ``python -m
tests.backtest.test_bookkeeping_oracle`` there with ``KRAKEN_TUI_DATA`` set prints them). Never update them
to make a change pass: a different digest means the journal or the results changed.

Each case runs three times: with a journal sink and ``on_trade`` (the eager path), with ``on_trade`` only,
and with neither (the lazy path: trades are built only for ``last_trades``); the result digest must be the
same for all three and equal to the stored one, the journal digest equal to its stored one.
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

#: case -> (journal records digest, result digest); computed before the change (module docstring).
EXPECTED = {
    "sma_costs_funding": ("2c3208973493e76fd06810dcf6e87f226186b6a075f26a5b791227dfbbf4503a",
                          "697ed05246e00aa93857e2a99a53ff18c2aa1c7a8ce77fc6b291c735b46705cf"),
    "sma_frictionless": ("1414f75ae5490a0a8f325b92f1e2f10ae889b0881122169983cc72394fbd785b",
                         "d5616143e651f6c7fd59048cffb2853a25105f8fa0312a912e6f07ffa26ec72e"),
    "ema_protective": ("8ac00ed4a2a1107a5973fc143b15b6a34cbc5121b94d8346eacf3464606100c7",
                       "f184a97e89468ad0f68dbdcb1d2a27035b6c082702553099773b7de917a35946"),
    "mean_reversion": ("f021dc9c90e8d47457e261d3acfad74adf6490062fdfa7ca8a94cd2cb06ff768",
                       "4eea6e06597ba0db33c19d1d05b5992b0207ff42882a1c6907c0902a8a924269"),
    "operator_floor": ("d42460282ebdb6329361ee79d7445f11e70fdfd0b0e0668ae01009f3e2247b99",
                       "4ada224a45ff3ec4dc0a77dc812b4570b2e8fceee89c15ca334a9f68a7a8b676"),
    "liquidation": ("b9fb297fc66a378ee522f43601021ad3791f72b4cd68a3c454a38a552a6cdb16",
                    "68508b3e7900abfcd67039ca80da200416abd07adfc224bbaad492357311a708"),
}


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


def _run(case: str, data, tmp_dir, *, sink: bool, on_trade: bool) -> tuple[str, str, int]:
    """(journal digest, result digest, trades) of one run."""
    s, rows = _setup(case, data, tmp_dir)
    recs: list = []
    trades: list = []
    bt = Backtest(s, sink=recs.append if sink else None, on_trade=trades.append if on_trade else None)
    bt.run(rows)
    res = bt.finish()
    jh = hashlib.sha256()
    for r in recs:
        jh.update(repr(r).encode() + b"\n")
    for t in trades:
        jh.update(repr(t).encode() + b"\n")
    rh = hashlib.sha256()
    overall, groups = summary_of(res)
    for part in (res.rows, list(res.last_trades), res.fingerprint, overall, groups, res.candles, res.first_ms,
                 res.last_ms, res.curve, res.max_drawdown_mtm_usd, res.final_equity_usd, res.signals, res.rejected,
                 res.funding_payments, res.funding_usd, res.liquidations, res.open_position, res.final_state,
                 res.state_reason, res.notes):
        rh.update(repr(part).encode() + b"\n")
    return jh.hexdigest(), rh.hexdigest(), len(res.rows)


def _digests(data, tmp_dir) -> dict[str, tuple[str, str]]:
    return {case: _run(case, data, tmp_dir, sink=True, on_trade=True)[:2] for case in CASES}


@pytest.mark.parametrize("case", CASES)
def test_journal_and_results_equal_the_stored_digests(shared_data, tmp_path, case):
    journal, result, n = _run(case, shared_data, tmp_path, sink=True, on_trade=True)
    assert n > 0
    assert (journal, result) == EXPECTED[case]
    # without a sink (and without on_trade) the results are the same
    assert _run(case, shared_data, tmp_path, sink=False, on_trade=True)[1] == result
    assert _run(case, shared_data, tmp_path, sink=False, on_trade=False)[1] == result


if __name__ == "__main__":  # print the digests of this tree (how EXPECTED was computed)
    import tempfile
    from pathlib import Path

    from tests.conftest import require_data

    with tempfile.TemporaryDirectory() as d:
        for case, (j, r) in _digests(require_data, Path(d)).items():
            print(f'    "{case}": ("{j}", "{r}"),')
