"""The portfolio backtest: two symbols sharing one account. Known fills, the shared equity, margin and the
risk limits (leverage cap, max positions), checked against numbers worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.portfolio import PortfolioBacktest, PortfolioMarket, PortfolioSettings
from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.engine.signals import SignalSide
from kraken_tui.engine.strategies import STRATEGIES, StrategyBase
from kraken_tui.errors import ConfigError
from kraken_tui.paper.instruments import default_instrument

H = 3_600_000
T = 1_700_000_000_000 - 1_700_000_000_000 % H


class Scripted(StrategyBase):
    """Signals at given bar closes: ``SCRIPT[(symbol, close_ms)] = side``."""

    name = "scripted"
    PARAMS = ()
    SCRIPT: ClassVar[dict[tuple[str, int], SignalSide]] = {}

    def on_candle(self, symbol, timeframe, candle, view):
        side = self.SCRIPT.get((symbol, candle.ts_ms + self._tf_ms))
        return None if side is None else self.signal(symbol, side, 1.0, "script", {}, candle)


@pytest.fixture(autouse=True)
def _scripted(monkeypatch):
    monkeypatch.setitem(STRATEGIES, "scripted", Scripted)
    monkeypatch.setattr(Scripted, "SCRIPT", {
        ("PF_XBTUSD", T + H): SignalSide.LONG, ("PF_ETHUSD", T + H): SignalSide.SHORT,
        ("PF_XBTUSD", T + 3 * H): SignalSide.FLAT, ("PF_ETHUSD", T + 3 * H): SignalSide.FLAT})


def _rows(prices):
    return [(T + i * H, o, max(o, c), min(o, c), c, 1.0) for i, (o, c) in enumerate(prices)]


XBT = _rows([(100, 100), (100, 110), (110, 120), (120, 120)])
ETH = _rows([(50, 50), (50, 40), (40, 40), (40, 40)])


#: Protective exits out of reach of these bars (moves of 10 to 20 %): the shared-account rules alone.
FAR_EXITS = ExitsConfig(stop_loss_pct=50, take_profit_pct=[50], trailing_activate_pct=1000, time_exit_h=0)


def _settings(rate=0.0, exits=FAR_EXITS, **risk):
    r = {"fixed_fraction_pct": 50.0, "leverage_cap": 0.8, "max_position_notional_usd": 1e9,
         "max_capital_deployed_pct": 100.0, "max_open_positions": 2, **risk}
    fund = FundingSchedule.constant_rate(rate, "test")
    return PortfolioSettings(
        markets=[PortfolioMarket(default_instrument("PF_XBTUSD"), XBT, fund),
                 PortfolioMarket(default_instrument("PF_ETHUSD"), ETH, fund)],
        strategy="scripted", strategy_params={}, timeframe="1h", bar_ms=H, taker_fee_bps=10.0, slippage_bps=0.0,
        starting_balance_usd=10_000.0, risk=RiskConfig(**r), operator=OperatorConfig(), exits=exits)


def test_two_symbols_share_equity_leverage_and_margin():
    bt = PortfolioBacktest(_settings())
    res = bt.run_until(T + 2 * H)
    # bar 1 opens: XBT long 10 000 x 50 % = 5 000 USD at 100 -> 50 contracts, fee 5.00; the shared equity is
    # then 9 995, so ETH gets min(50 % x 9 995, 0.8 x 9 995 - 5 000 held) = 2 996 USD at 50 -> 59.92 short, fee 2.996
    assert bt.pos["PF_XBTUSD"].size == Decimal("50") and bt.pos["PF_ETHUSD"].size == Decimal("-59.920")
    assert res.fees_usd == Decimal("7.996")
    # one equity: 10 000 - 7.996 + XBT 50 x (110 - 100) + ETH -59.92 x (40 - 50) at bar 1's close
    assert res.curve[-1] == (T + 2 * H, pytest.approx(10_000 - 7.996 + 500 + 599.2))
    # one margin: initial margin at entry, 1 % of 5 000 (XBT) + 2 % of 2 996 (ETH)
    assert res.max_margin_usd == Decimal("50") + Decimal("59.920")
    assert res.max_notional_usd == Decimal("5000") + Decimal("2996.000")
    res = bt.run_until(None)
    # bar 3 opens: both closed; XBT +20 x 50 = 1 000, fee 6.00; ETH +10 x 59.92 = 599.2, fee 2.3968
    assert [(t.symbol, t.side.value, t.gross_pnl_usd, t.fees_usd) for t in res.trades] == [
        ("PF_XBTUSD", "long", Decimal("1000"), Decimal("11.000")),
        ("PF_ETHUSD", "short", Decimal("599.200"), Decimal("5.3928000"))]
    assert res.balance_usd == Decimal("11582.8072") and res.final_equity_usd == pytest.approx(11582.8072)
    assert res.refused == 0


def test_funding_is_paid_from_the_shared_balance():
    res = PortfolioBacktest(_settings(rate=1e-4)).run_until(None)
    # hour T+1h..T+2h: XBT long 50 at 110 pays 0.55, ETH short 59.92 at 40 receives 0.23968; the next hour at
    # 120 and 40: pays 0.60, receives 0.23968 (positions closed at T+3h's open, after that hour's funding)
    assert res.funding_usd == Decimal("-0.55") - Decimal("0.60") + 2 * Decimal("0.23968")
    assert res.balance_usd == Decimal("11582.8072") + res.funding_usd


def test_max_open_positions_counts_both_symbols():
    res = PortfolioBacktest(_settings(max_open_positions=1)).run_until(None)
    assert res.refused == 1 and [t.symbol for t in res.trades] == ["PF_XBTUSD"]
    # the leverage cap alone: 0.5 x leaves room for XBT only (5 000 USD), ETH's entry rounds to nothing
    res = PortfolioBacktest(_settings(leverage_cap=0.5)).run_until(None)
    assert res.refused == 1 and [t.symbol for t in res.trades] == ["PF_XBTUSD"]


def test_bad_portfolios_are_named():
    s = _settings()
    s.markets.append(s.markets[0])
    with pytest.raises(ConfigError, match="one candle file per symbol"):
        PortfolioBacktest(s)
    s.markets[:] = [PortfolioMarket(default_instrument("PI_XBTUSD"), XBT, FundingSchedule.constant_rate(0, "t"))]
    with pytest.raises(ConfigError, match="PF_"):
        PortfolioBacktest(s)


def test_optimize_scores_the_files_as_one_account(shared_data, tmp_path, capsys):
    """``optimize --portfolio``: two symbols in one account (the XBT 5m file also stands in for ETH); a
    mixed-timeframe portfolio exits 2 naming --portfolio."""
    import json

    from kraken_tui.cli import main

    pytest.importorskip("optuna")
    f5 = shared_data("kraken/pf_xbtusd_5m_2025-08.csv")
    base = ["optimize", "--strategy", "sma_cross", "--folds", "2", "--trials", "6", "--json", "--portfolio",
            "--storage", str(tmp_path / "s.sqlite3")]
    code = main([*base, "--candles", f"{f5}@PF_XBTUSD", f"{f5}@PF_ETHUSD"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    doc = json.loads(cap.out)
    assert doc["portfolio"] is True and len(doc["files"]) == 2
    assert doc["in_sample"]["trades"] > 0
    f1 = shared_data("kraken/pf_xbtusd_1m_2025-08.csv")
    assert main([*base, "--candles", f"{f5}@PF_XBTUSD", f"{f1}@PF_ETHUSD"]) == 2
    assert "--portfolio" in capsys.readouterr().err


def _bars(rows):
    """(open, high, low, close) per hour from T."""
    return [(T + i * H, o, h, lo, c, 1.0) for i, (o, h, lo, c) in enumerate(rows)]


def test_stops_and_take_profits_of_the_single_symbol_backtest_run_on_the_shared_account():
    """Protective exits placed after each entry (``[exits]``): XBT's stop and ETH's take-profit fill inside bar 1,
    by the single-symbol backtest's walk (long: open -> low -> high; short: open -> high -> low)."""
    s = _settings(exits=ExitsConfig(stop_loss_pct=2, take_profit_pct=[2.0], take_profit_fraction_pct=100,
                                    trailing_activate_pct=1000, time_exit_h=0))
    s.markets[0].rows = _bars([(100, 100, 100, 100), (100, 100.5, 97, 99), (99, 99, 99, 99), (99, 99, 99, 99)])
    s.markets[1].rows = _bars([(50, 50, 50, 50), (50, 50.2, 48.5, 48.8), (48.8, 48.8, 48.8, 48.8),
                               (48.8, 48.8, 48.8, 48.8)])
    res = PortfolioBacktest(s).run_until(None)
    # entries as above: XBT 50 long at 100 (fee 5.00), ETH 59.92 short at 50 (fee 2.996)
    # XBT: stop at 100 x (1 - 2 %) = 98 reached on the way to the low 97: 50 x -2 = -100, taker fee 50 x 98 x 10 bps
    # ETH: take-profit at 50 x (1 - 2 %) = 49.0, the low 48.5 goes through it: 59.92 x 1 = +59.92, maker fee
    # 59.92 x 49 x 2 bps = 0.587216
    assert [(t.symbol, t.exit_reason, t.exit_price, t.gross_pnl_usd, t.fees_usd) for t in res.trades] == [
        ("PF_XBTUSD", "stop", Decimal(98), Decimal(-100), Decimal("9.9")),
        ("PF_ETHUSD", "tp1", Decimal("49.0"), Decimal("59.92"), Decimal("3.583216"))]
    assert res.balance_usd == Decimal("9946.436784") == Decimal(10_000) + sum(t.net_pnl_usd for t in res.trades)
    assert res.fees_usd == Decimal("13.483216") and res.final_equity_usd == pytest.approx(9946.436784)


def test_liquidation_is_on_the_shared_account(monkeypatch):
    """XBT long 100 contracts at 100 and ETH long 199.8 at 50 (2x): ETH's fall to 30 costs 3,996; XBT's bar to 41
    costs 5,900 more. Equity at that vertex, 9,980.01 - 5,900 - 3,996 = 84.01 USD, is below the maintenance
    margin of both positions (0.5 % of 10,000 + 1 % of 9,990 = 149.90): liquidated. The same XBT bars alone
    leave 4,090 USD against 50: no liquidation. (No protective exits: the strategy says so.)"""
    monkeypatch.setattr(Scripted, "protective_exits", False, raising=False)
    def settings(n_positions):
        s = _settings(fixed_fraction_pct=100, leverage_cap=5.0, max_capital_deployed_pct=100.0,
                      max_open_positions=n_positions)
        s.markets[0].rows = _bars([(100, 100, 100, 100), (100, 100, 100, 100), (100, 100, 41, 45), (45, 45, 45, 45)])
        s.markets[1].rows = _bars([(50, 50, 50, 50), (50, 50, 30, 30), (30, 30, 30, 30), (30, 30, 30, 30)])
        s.operator = OperatorConfig(daily_loss_limit_pct=0, equity_floor_pct=0)
        return s

    Scripted.SCRIPT = {("PF_XBTUSD", T + H): SignalSide.LONG, ("PF_ETHUSD", T + H): SignalSide.LONG}
    bt = PortfolioBacktest(settings(2))
    bt.run_until(T + 2 * H)
    assert bt.pos["PF_XBTUSD"].size == Decimal(100) and bt.pos["PF_ETHUSD"].size == Decimal("199.8")
    assert bt.result.balance_usd == Decimal("9980.01")
    res = bt.run_until(None)
    assert res.liquidations >= 1 and bt.pos["PF_XBTUSD"].size == 0
    xbt = next(t for t in res.trades if t.symbol == "PF_XBTUSD")
    assert xbt.exit_reason == "liquidation" and xbt.exit_price == Decimal(41) and xbt.gross_pnl_usd == Decimal(-5900)
    alone = PortfolioBacktest(settings(1)).run_until(None)
    assert alone.liquidations == 0 and alone.refused == 1 and alone.trades == []


def _csv(path, bars):
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{(T + i * H) // 1000},{o},{h},{lo},{c},1" for i, (o, h, lo, c) in enumerate(bars)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_backtest_portfolio_cli_hand_computed(tmp_path, capsys):
    """``backtest --candles A@PF_XBTUSD --candles B@PF_ETHUSD --portfolio --json``, frictionless, sma_cross 1/2 (a
    cross on every change of direction of the close). XBT turns up at bar 3 (long at bar 4's open 100), down at
    bar 5 (reversed at bar 6's open 103); ETH turns down at bar 3 (short at 50), up at bar 5 (reversed at 49).
    Sizes: 50 % of the one equity, within 0.8x leverage of everything held (module docstring of backtest.portfolio)."""
    import json

    from kraken_tui.cli import main

    xbt = _csv(tmp_path / "xbt.csv", [(100, 100, 100, 100), (100, 100, 99, 99), (99, 99, 98, 98), (98, 100, 98, 100),
                                      (100, 104, 100, 104), (104, 104, 103, 103), (103, 103, 103, 103),
                                      (103, 103, 103, 103)])
    eth = _csv(tmp_path / "eth.csv", [(50, 50, 50, 50), (50, 51, 50, 51), (51, 52, 51, 52), (52, 52, 50, 50),
                                      (50, 50, 48, 48), (48, 49, 48, 49), (49, 49, 49, 49), (49, 49, 49, 49)])
    cfg = tmp_path / "config.toml"
    cfg.write_text('[strategy]\nname = "sma_cross"\nsymbols = ["PF_XBTUSD", "PF_ETHUSD"]\n'
                   "[risk]\nfixed_fraction_pct = 50\nleverage_cap = 0.8\nmax_position_notional_usd = 1e9\n"
                   "max_capital_deployed_pct = 100\nmax_open_positions = 3\n"
                   "[paper]\nstarting_balance_usd = 10000\n", encoding="utf-8")
    args = ["backtest", "--config", str(cfg), "--candles", f"{xbt}@PF_XBTUSD", "--candles", f"{eth}@PF_ETHUSD",
            "--portfolio", "--param", "fast=1", "--param", "slow=2", "--fees", "0,0", "--slippage-bps", "0",
            "--funding-rate", "0", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["portfolio"] is True and doc["files"] == ["xbt.csv@PF_XBTUSD", "eth.csv@PF_ETHUSD"]
    # bar 4: XBT 50 % of 10,000 at 100 = 50 long; ETH min(5,000, 0.8 x 10,000 - 5,000 held) at 50 = 60 short
    # bar 6: XBT closes +3 x 50 = +150, ETH closes +1 x 60 = +60
    assert doc["trades"] == 2 and doc["net_pnl_usd"] == 210.0 and doc["final_equity_usd"] == 10_210.0
    assert {s: v["net_pnl_usd"] for s, v in doc["per_symbol"].items()} == {"PF_ETHUSD": 60.0, "PF_XBTUSD": 150.0}
    # reversals: XBT short 5,105 USD (50 % of 10,210) / 103 = 49.5631 (lot 0.0001) while ETH's 2,940 is still
    # held; then ETH long min(5,105, 0.8 x 10,210 - 5,104.9993) / 49 = 62.510 (lot 0.001)
    assert doc["open_positions"] == {"PF_XBTUSD": -49.5631, "PF_ETHUSD": 62.51}
    assert doc["max_notional_usd"] == pytest.approx(49.5631 * 103 + 62.51 * 49)
    assert doc["refused_entries"] == 0 and doc["liquidations"] == 0 and doc["halted"] is False
    # flags the portfolio run does not take, and files of two timeframes: exit 2 naming the flag
    assert main([*args, "--journal", str(tmp_path / "j.sqlite")]) == 2
    assert "--journal" in capsys.readouterr().err
    five = _csv(tmp_path / "five.csv", [(100, 100, 100, 100)] * 3)
    five.write_text(five.read_text().replace(f"{(T + H) // 1000}", f"{(T + 300_000) // 1000}")
                    .replace(f"{(T + 2 * H) // 1000}", f"{(T + 600_000) // 1000}"))
    assert main(["backtest", "--candles", f"{xbt}@PF_XBTUSD", "--candles", f"{five}@PF_ETHUSD", "--portfolio"]) == 2
    assert "--portfolio" in capsys.readouterr().err
