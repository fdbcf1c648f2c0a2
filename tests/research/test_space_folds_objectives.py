"""The space file (research.space), the walk-forward layout (research.folds) and the window metrics
(research.objectives), on hand-made inputs."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_tui.backtest.runner import BacktestResult
from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.errors import ConfigError
from kraken_tui.research.folds import make_folds
from kraken_tui.research.objectives import (
    WindowStats,
    constraint_values,
    metrics,
    objective_value,
    window_stats,
)
from kraken_tui.research.space import apply, load_space, parse_space

REPO = Path(__file__).resolve().parents[2]


def test_example_space_file_parses():
    space = load_space(REPO / "optimize.example.toml")
    assert [r.key for r in space.ranges] == ["strategy.fast", "strategy.slow", "risk.fixed_fraction_pct"]
    slow = space.ranges[1]
    assert (slow.kind, slow.low, slow.high, slow.step) == ("int", 10, 160, 2)
    assert space.study["objective"] == "sharpe" and space.constraints["min_trades"] == 5


@pytest.mark.parametrize(("doc", "key"), [
    ({"strategy": {"fast": {"type": "integer", "low": 1, "high": 2}}}, "strategy.fast.type"),
    ({"strategy": {"fast": {"type": "int", "low": 5, "high": 2}}}, "strategy.fast.high"),
    ({"strategy": {"fast": {"type": "int", "low": 1.5, "high": 2}}}, "strategy.fast.low"),
    ({"strategy": {"fast": {"type": "int", "low": 1, "high": 2, "stpe": 1}}}, "strategy.fast.stpe"),
    ({"strategy": {"x": {"type": "categorical", "choices": []}}}, "strategy.x.choices"),
    ({"risk": {"no_such_key": {"type": "float", "low": 1, "high": 2}}}, "risk.no_such_key"),
    ({"study": {"objective": "sharp"}}, "study.objective"),
    ({"study": {"folds": 0}}, "study.folds"),
    ({"constraints": {"max_drawdown_pct": 0}}, "constraints.max_drawdown_pct"),
    ({"strategi": {}}, "strategi"),
])
def test_bad_space_is_refused_naming_the_key(doc, key):
    with pytest.raises(ConfigError) as ei:
        parse_space(doc, "s.toml")
    assert ei.value.key == key and "s.toml" in str(ei.value)


def test_apply_merges_values_and_validates_config_keys():
    params, risk, exits = apply({"strategy.fast": 7, "risk.fixed_fraction_pct": 5.0, "exits.stop_loss_pct": 1.5},
                                {"slow": 30}, RiskConfig(), ExitsConfig())
    assert params == {"slow": 30, "fast": 7}
    assert risk.fixed_fraction_pct == 5.0 and exits.stop_loss_pct == 1.5
    with pytest.raises(ConfigError) as ei:
        apply({"risk.fixed_fraction_pct": 500.0}, {}, RiskConfig(), ExitsConfig())
    assert ei.value.key == "risk.fixed_fraction_pct"


def test_folds_anchored_and_rolling():
    a = make_folds(0, 400, 3, "anchored")  # 4 segments of 100
    assert [(f.train_start_ms, f.train_end_ms, f.test_start_ms, f.test_end_ms) for f in a] == [
        (0, 100, 100, 200), (0, 200, 200, 300), (0, 300, 300, 400)]
    r = make_folds(0, 500, 3, "rolling", train_segments=2)  # 5 segments of 100
    assert [(f.train_start_ms, f.train_end_ms, f.test_start_ms, f.test_end_ms) for f in r] == [
        (0, 200, 200, 300), (100, 300, 300, 400), (200, 400, 400, 500)]
    for f in a + r:  # no test bar in its own train window
        assert f.train_end_ms <= f.test_start_ms
    with pytest.raises(ConfigError):
        make_folds(0, 400, 0)


def _ws(returns, step_ms=60_000, **kw):
    return WindowStats("PF_XBTUSD", 0, step_ms * len(returns), 10_000.0,
                       10_000.0 * math.prod(1 + r for r in returns), list(returns), step_ms, **kw)


def test_metrics_by_hand():
    # returns +1%, -1%, +2%, 0% per minute: mean 0.005, sample sd = sqrt((0.005^2 + 0.015^2 + 0.015^2 + 0.005^2)/3)
    r = [0.01, -0.01, 0.02, 0.0]
    w = _ws(r, trades=4, wins=2, losses=1, win_sum_usd=300.0, loss_sum_usd=-100.0, fees_usd=4.0, gross_pnl_usd=204.0)
    m = metrics([w])
    sd = math.sqrt((0.005 ** 2 + 0.015 ** 2 + 0.015 ** 2 + 0.005 ** 2) / 3)
    ppy = 365 * 1440
    assert m["sharpe_per_period"] == pytest.approx(0.005 / sd)
    assert m["sharpe"] == pytest.approx(0.005 / sd * math.sqrt(ppy))
    assert m["sortino"] == pytest.approx(0.005 / math.sqrt(0.01 ** 2 / 4) * math.sqrt(ppy))
    assert m["max_drawdown_pct"] == pytest.approx(1.0)  # 1.01 -> 0.9999: 1% from the peak
    assert m["calmar"] == pytest.approx(0.005 * ppy / 0.01)
    assert m["profit_factor"] == 3.0 and m["win_rate"] == 0.5 and m["trades"] == 4
    assert m["net_pnl_usd"] == pytest.approx(10_000 * (1.01 * 0.99 * 1.02) - 10_000)
    assert objective_value(m, "profit_factor") == 3.0
    assert constraint_values(m, 5, 0.5) == [1.0, pytest.approx(0.5)]


def test_metrics_undefined_ratios_are_none():
    m = metrics([_ws([0.0, 0.0, 0.0])])
    assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None and m["profit_factor"] is None
    assert objective_value(m, "sharpe") is None


def test_window_stats_cuts_the_warmup_prefix():
    res = BacktestResult(starting_equity_usd=Decimal(10_000))
    res.curve = [(60_000, 10_000.0), (120_000, 10_000.0), (180_000, 10_100.0), (240_000, 9_998.0),
                 (240_000, 9_999.0)]  # the final mark appended by Backtest.finish at the last close
    ws = window_stats(res, [], "PF_XBTUSD", 120_000, 240_000)
    assert ws.start_equity_usd == 10_000.0 and ws.final_equity_usd == 9_999.0
    assert ws.returns == pytest.approx([0.01, 9_999 / 10_100 - 1])
    assert ws.step_ms == 60_000


def test_take_profit_scale_multiplies_the_ladder_and_is_checked(tmp_path):
    from kraken_tui.config import ExitsConfig, RiskConfig
    from kraken_tui.errors import ConfigError
    from kraken_tui.research.space import apply, load_space

    f = tmp_path / "s.toml"
    f.write_text('[exits.take_profit_scale]\ntype = "float"\nlow = 0.25\nhigh = 3.0\n', encoding="utf-8")
    assert [r.name for r in load_space(f).ranges] == ["take_profit_scale"]
    exits = ExitsConfig(take_profit_pct=[2.0, 5.0, 8.0, 12.0])
    _, _, e = apply({"exits.take_profit_scale": 0.5, "exits.stop_loss_pct": 1.0}, {}, RiskConfig(), exits)
    assert e.take_profit_pct == [1.0, 2.5, 4.0, 6.0] and e.stop_loss_pct == 1.0
    import pytest

    with pytest.raises(ConfigError, match="exits.take_profit_scale"):
        apply({"exits.take_profit_scale": 0}, {}, RiskConfig(), exits)
    f.write_text('[exits.take_profit_sale]\ntype = "float"\nlow = 0.25\nhigh = 3.0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="exits.take_profit_sale"):
        load_space(f)
