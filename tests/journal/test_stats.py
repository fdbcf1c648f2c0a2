"""Statistics on hand-made trade sets; every expected figure is computed by hand in the comments."""

from __future__ import annotations

import math

import pytest

from kraken_tui.journal.stats import DAY_MS, breakdowns, daily_returns, summarize
from tests.journal.factory import D, trade

DAY = DAY_MS
# Start equity 1000 USD. Nets by exit order: +100 (day 0), -50 (day 1), +30 and -20 (day 3). Fees 1 each.
TRADES = [
    trade("100", 0, 3_600_000, symbol="PF_XBTUSD", side="long", strategy="a"),
    trade("-50", DAY, DAY + 10, symbol="PF_ETHUSD", side="short", strategy="b"),
    trade("-20", 3 * DAY, 3 * DAY + 20, symbol="PF_XBTUSD", side="short", funding="-2"),
    trade("30", 3 * DAY, 3 * DAY + 10, symbol="PF_XBTUSD", side="long", strategy="a", funding="1.5"),
]


def test_counts_rates_and_sums():
    s = summarize(TRADES, D(1000))
    assert (s.trades, s.wins, s.losses) == (4, 2, 2)
    assert s.win_rate == 0.5
    assert s.net_pnl_usd == D(60)  # 100 - 50 + 30 - 20
    assert s.fees_usd == D(4)  # 4 trades x 1
    assert s.funding_usd == D("-0.5")  # -2 + 1.5
    assert s.gross_pnl_usd == D("64.5")  # net - funding + fees = 60 + 0.5 + 4
    assert s.avg_win_usd == D(65)  # (100 + 30) / 2
    assert s.avg_loss_usd == D(-35)  # (-50 - 20) / 2
    assert s.expectancy_usd == D(15)  # 60 / 4 = 0.5 x 65 + 0.5 x -35
    assert s.profit_factor == pytest.approx(130 / 70)  # 1.857142...


def test_drawdown_usd_and_pct():
    s = summarize(TRADES, D(1000))
    # equity 1000 -> 1100 -> 1050 -> 1080 -> 1060 (exit order: +100, -50, +30, -20); peak 1100
    # drawdowns 0, 50, 20, 40 -> max 50 USD, 50 / 1100 = 4.5454...%
    assert s.max_drawdown_usd == D(50)
    assert s.max_drawdown_pct == pytest.approx(50 / 1100)
    # without a starting equity the curve starts at 0: 100, 50, 80, 60 -> 50 USD, pct unknown
    s0 = summarize(TRADES)
    assert s0.max_drawdown_usd == D(50) and s0.max_drawdown_pct is None and s0.sharpe is None


def test_daily_returns_sharpe_sortino():
    # day 0: +100 / 1000 = 0.1; day 1: -50 / 1100; day 2: no exit -> 0; day 3: (30 - 20) / 1050
    r = [0.1, -50 / 1100, 0.0, 10 / 1050]
    assert daily_returns(TRADES, D(1000)) == pytest.approx(r)
    mean = (0.1 - 0.0454545454 + 0.0 + 0.0095238095) / 4  # = 0.0160173160
    var = sum((x - mean) ** 2 for x in r) / 3  # sample variance, n - 1 = 3
    sharpe = mean / math.sqrt(var) * math.sqrt(365)
    downside = math.sqrt((50 / 1100) ** 2 / 4)  # only day 1 is negative: 0.0454545 / 2 = 0.0227273
    sortino = mean / downside * math.sqrt(365)  # 0.0160173 / 0.0227273 x 19.104973 = 13.4644
    s = summarize(TRADES, D(1000))
    assert s.sharpe == pytest.approx(sharpe)
    assert s.sortino == pytest.approx(13.4644, rel=1e-4) and s.sortino == pytest.approx(sortino)
    assert mean == pytest.approx(0.016017316, rel=1e-6)


def test_undefined_ratios_are_none():
    s = summarize([], D(1000))
    assert s.trades == 0 and s.win_rate is None and s.profit_factor is None and s.sharpe is None
    one = summarize([trade("5", 0, 10)], D(1000))
    # a single day of returns has no stdev; no loss -> no profit factor
    assert one.win_rate == 1.0 and one.profit_factor is None and one.sharpe is None and one.sortino is None
    assert summarize([trade("0", 0, 10)]).wins == 0  # exactly 0 is neither win nor loss


def test_breakdowns_long_short_symbol_strategy():
    b = breakdowns(TRADES, D(1000))
    assert b["side"]["long"].net_pnl_usd == D(130) and b["side"]["short"].net_pnl_usd == D(-70)
    assert b["symbol"]["PF_XBTUSD"].trades == 3 and b["symbol"]["PF_ETHUSD"].net_pnl_usd == D(-50)
    assert b["strategy"]["a"].wins == 2 and b["strategy"]["unknown"].losses == 1
    assert b["strategy"]["b"].trades == 1


def test_to_json_has_contract_keys():
    j = summarize(TRADES, D(1000)).to_json()
    for key in ("trades", "wins", "losses", "win_rate", "net_pnl_usd", "gross_pnl_usd", "fees_usd",
                "funding_usd", "max_drawdown_usd", "profit_factor", "sharpe"):
        assert key in j
    assert j["net_pnl_usd"] == 60.0 and isinstance(j["fees_usd"], float)
