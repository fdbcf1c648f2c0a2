"""The backtest's fast paths give exactly what the shared (slower) code gives.

- Trades: ``Backtest`` derives each round trip itself (``runner.Backtest._round_trip``); here the journal
  records of whole runs go through ``journal.trades.derive_trades`` and every field must be equal (prices,
  money, MAE/MFE, funding split, exit reason, signal id and strategy), with protective exits, funding and
  costs, and with a liquidation.
- The statistics row equals ``journal.tradecache.rows_of``; the hot loop's candle equals ``Candle(...)``;
  the risk gate's memoised config numbers equal ``Decimal(str(x))``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.runner import _CANDLE_NEW, Backtest
from kraken_tui.backtest.settings import stats_row
from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Candle, Fill
from kraken_tui.engine import risk
from kraken_tui.journal.records import FundingPayment, IntentRecord, SignalRecord
from kraken_tui.journal.tradecache import rows_of
from kraken_tui.journal.trades import IntentInfo, derive_trades

from ._util import FUNDING, NO_OPERATOR, PF_1M, SPOT_5M, settings_for
from .test_reference import _crash_rows


def _run_with_journal(settings, rows):
    """(trades the backtest reported, the derive_trades TradeSet of its journal records, result)."""
    recs: list = []
    trades: list = []
    bt = Backtest(settings, sink=recs.append, on_trade=trades.append)
    bt.run(rows)
    res = bt.finish()
    intents = {r.cli_ord_id: IntentInfo(r.purpose.value, r.side.value, r.signal_id)
               for r in recs if isinstance(r, IntentRecord)}
    strategies = {r.signal_id: r.strategy for r in recs if isinstance(r, SignalRecord)}
    derived = derive_trades([r for r in recs if isinstance(r, Fill)], intents=intents, strategies=strategies,
                            funding=[r for r in recs if isinstance(r, FundingPayment)])
    return trades, derived, res


@pytest.mark.parametrize("case", ["sma_costs_funding", "ema_protective", "mean_reversion_5m"])
def test_round_trips_equal_derive_trades_over_the_journal(shared_data, case):
    if case == "sma_costs_funding":
        s, rows = settings_for(shared_data(PF_1M), "sma_cross", fees=(2.0, 5.0), slippage_bps=1.0,
                               funding=FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD"))
    elif case == "ema_protective":
        exits = ExitsConfig(stop_loss_pct=1.5, take_profit_pct=[0.5, 1.0, 2.0], take_profit_fraction_pct=40,
                            trailing_activate_pct=0.4, trailing_distance_pct=0.3, time_exit_h=6)
        s, rows = settings_for(shared_data(SPOT_5M), "ema_cross", fees=(2.0, 5.0), slippage_bps=1.0, exits=exits,
                               funding=FundingSchedule.constant_rate(1e-4, "t"), operator=NO_OPERATOR)
    else:
        s, rows = settings_for(shared_data(SPOT_5M), "mean_reversion", fees=(2.0, 5.0), slippage_bps=1.0,
                               funding=FundingSchedule.constant_rate(-2e-5, "t"))
    trades, derived, res = _run_with_journal(s, rows)
    assert len(trades) > 20
    assert trades == derived.closed
    # every trade names its signal and strategy, reversals included (the entry after a reversal's close)
    assert all(t.signal_id is not None and t.strategy == s.strategy for t in trades)
    assert sum(1 for t in trades if t.exit_reason == "reverse") == 0  # closes are their own orders
    assert [r[4] for r in res.rows] == [s.strategy] * len(trades)
    if case == "ema_protective":
        reasons = {t.exit_reason for t in trades}
        assert {"stop", "trailing", "signal"} <= reasons, reasons
        assert any(t.exit_reason.startswith("tp") for t in trades)
        assert any(t.funding_paid_usd and t.funding_received_usd == 0 for t in trades)
    if res.open_position is None:
        assert derived.open == []
    else:
        (op,) = derived.open
        assert (op.side.value, op.size) == res.open_position[:2]


def test_liquidated_round_trip_equals_derive_trades(tmp_path):
    rows = _crash_rows()
    path = tmp_path / "crash.csv"
    path.write_text("".join(f"{r[0] // 1000},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},1\n" for r in rows))
    risk_cfg = RiskConfig(sizing="fixed", fixed_fraction_pct=100, max_position_notional_usd=10**9,
                          max_capital_deployed_pct=100, liquidation_buffer_pct=0)
    s, _ = settings_for(path, "sma_cross", {"fast": 2, "slow": 5}, fees=(2.0, 5.0), slippage_bps=1.0, risk=risk_cfg,
                        operator=NO_OPERATOR, balance=1_000.0)
    trades, derived, res = _run_with_journal(s, rows)
    assert res.liquidations >= 1 and [t.exit_reason for t in trades] == ["liquidation"]
    assert trades == derived.closed


def test_stats_row_equals_tradecache_rows_of(shared_data):
    s, rows = settings_for(shared_data(PF_1M), "sma_cross", fees=(2.0, 5.0), slippage_bps=1.0,
                           funding=FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD"))
    trades, _, res = _run_with_journal(s, rows)
    assert [stats_row(t) for t in trades] == rows_of(trades) == res.rows
    assert any(t.funding_usd != 0 for t in trades)


def test_hot_loop_candle_equals_candle():
    new, *setters = _CANDLE_NEW
    c = new(Candle)
    for setter, value in zip(setters, (1_700_000_000_000, 1.5, 2.5, 0.5, 2.0, 3.25), strict=True):
        setter(c, value)
    assert type(c) is Candle
    assert c == Candle(1_700_000_000_000, 1.5, 2.5, 0.5, 2.0, 3.25)
    assert (c.ts_ms, c.open, c.high, c.low, c.close, c.volume) == (1_700_000_000_000, 1.5, 2.5, 0.5, 2.0, 3.25)


@pytest.mark.parametrize("x", [2.0, 0.1, 1e-7, 5, 0, 0.0, -0.0, 1e300, float("inf"), float("nan")])
def test_memoised_config_decimal_equals_decimal_of_str(x):
    for _ in range(2):  # the second call reads the memo
        got = risk._dec(x)  # noqa: SLF001
        assert str(got) == str(Decimal(str(x)))


def test_fast_trade_constructor_equals_trade():
    from dataclasses import fields

    from kraken_tui.backtest.trades import _TRADE_FIELDS, _new_trade
    from kraken_tui.domain import PositionSide
    from kraken_tui.journal.trades import Trade

    assert _TRADE_FIELDS == tuple(f.name for f in fields(Trade))  # a new Trade field must reach _new_trade
    args = ("PF_XBTUSD", PositionSide.SHORT, Decimal("0.012"), 1_000, 61_000, Decimal("117000.5"),
            Decimal("116990"), Decimal("0.126"), Decimal("0.0140"), Decimal("-0.5"), "reverse", "bt-PF-1", "sma_cross",
            -1.5, 2.25)
    t = _new_trade(*args, Decimal("0.7"), Decimal("0.2"))
    assert t == Trade(*args, Decimal("0.7"), Decimal("0.2"))
    assert t.net_pnl_usd == Decimal("0.126") - Decimal("0.0140") + Decimal("-0.5")  # 0.112 - 0.5 = -0.388
    assert t.net_pnl_usd == Decimal("-0.388")
    assert _new_trade(*args) == Trade(*args)  # funding paid/received default to zero
