"""The backtest equals the engine's policy driven bar by bar through the PaperExchange object (same data)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.journal.export import trade_csv_row

from ._util import FUNDING, NO_OPERATOR, PF_1M, PF_5M, SPOT_1H, run_rows, settings_for
from .paper_reference import PaperReference


def _reference(settings, rows):
    ref = PaperReference(settings)
    for row in rows:
        ref.bar(row)
    return [trade_csv_row(t) for t in ref.trades()], ref


CASES = [
    ("sma_cross", PF_1M, {}, {}),
    ("ema_cross", PF_5M, {"min_confidence": 0.4}, {}),
    ("mean_reversion", PF_1M, {"exit_at_middle": False}, {}),
    ("ema_cross", SPOT_1H, {"min_confidence": 0.4}, {"n": 6000}),
]


@pytest.mark.parametrize(("strategy", "data", "params", "opts"), CASES, ids=[f"{c[0]}-{c[1].split('/')[-1]}" for c in CASES])
def test_backtest_equals_paper_exchange_driven_bar_by_bar(shared_data, strategy, data, params, opts):
    path = shared_data(data)
    funding = FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD") if "pf_" in data else \
        FundingSchedule.constant_rate(2e-4, "test")
    # tight exits so stops, take-profits, trailing and time exits all happen on this data
    exits = ExitsConfig(stop_loss_pct=0.3, take_profit_pct=[0.2, 0.4, 0.6], take_profit_fraction_pct=30,
                        trailing_activate_pct=0.25, trailing_distance_pct=0.15, time_exit_h=1,
                        time_exit_min_profit_pct=0.05)
    kw = dict(fees=(2.0, 5.0), slippage_bps=1.5, funding=funding, exits=exits, operator=NO_OPERATOR,
              risk=RiskConfig(max_position_notional_usd=50_000, cost_atr_multiple=0, expected_slippage_bps=0,
                              cost_edge_multiple=1))  # the cost check of fees alone on tp1 (0.2 %)
    s, rows = settings_for(path, strategy, params, **kw)
    rows = list(itertools.islice(rows, opts.get("n", 10**9)))
    res, mine, _ = run_rows(s, rows)
    s2, _ = settings_for(path, strategy, params, **kw)
    ref, _ = _reference(s2, rows)
    assert len(mine) >= 5
    assert mine == ref
    reasons = {r[-1] for r in mine}
    if strategy != "sma_cross":
        assert len(reasons) >= 2, reasons


def _crash_rows(n_down: int = 30, crash_low: float = 0.3) -> list[tuple]:
    """Synthetic 1h bars: a decline then a rise (SMA 2/5 cross up -> long at 1x), then a bar whose low is
    ``crash_low`` USD (from ~1000 USD: a 99.97% wick), then a recovery."""
    rows, t, px = [], 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000, 1000.0
    for i in range(n_down + 12):
        px = px - 5 if i < n_down else px + 8
        rows.append((t, px, px + 1, px - 1, px, 1.0))
        t += 3_600_000
    rows.append((t, px, px + 1, crash_low, px - 2, 1.0))
    for _ in range(5):
        t += 3_600_000
        rows.append((t, px, px + 1, px - 1, px, 1.0))
    return rows


def test_liquidation_from_the_adverse_extreme_equals_paper_exchange(tmp_path):
    """A 1x long whose bar wicks to 0.03% of its price is liquidated at the wick (the mark), as the paper
    exchange does; the fills and trades equal the reference's."""
    rows = _crash_rows()
    path = tmp_path / "crash.csv"
    path.write_text("".join(f"{r[0] // 1000},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},1\n" for r in rows))
    risk = RiskConfig(sizing="fixed", fixed_fraction_pct=100, max_position_notional_usd=10**9,
                      max_capital_deployed_pct=100, liquidation_buffer_pct=0)
    kw = dict(fees=(2.0, 5.0), slippage_bps=1.0, risk=risk, operator=NO_OPERATOR, balance=1_000.0)
    s, _ = settings_for(path, "sma_cross", {"fast": 2, "slow": 5}, **kw)
    res, mine, trades = run_rows(s, rows)
    s2, _ = settings_for(path, "sma_cross", {"fast": 2, "slow": 5}, **kw)
    ref, _ = _reference(s2, rows)
    assert res.liquidations >= 1
    liq = [t for t in trades if t.exit_reason == "liquidation"]
    assert len(liq) == 1 and liq[0].side.value == "long"
    assert liq[0].exit_price == Decimal("0.3")  # the wick's low is the mark the account is liquidated at
    assert mine == ref
