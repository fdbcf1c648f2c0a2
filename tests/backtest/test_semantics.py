"""Bar semantics of the backtest on hand-built candles, checked against hand-computed fills and money.

One signal (long or short) at the close of bar 0; PF_XBTUSD (tick 1 USD, lot 0.0001); starting equity
10 000 USD; risk sizing 1% at a 2% stop -> 100 USD / 2 000 USD = 0.05 BTC (5 000 USD notional) at 100 000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.runner import Backtest, quote_at
from kraken_tui.config import ExitsConfig
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.paper.instruments import default_instrument
from kraken_tui.paper.matching import on_tick_grid
from kraken_tui.paper.sources.base import MarketTick

from ._util import NO_OPERATOR, settings_for

H = 3_600_000
T0 = 1_750_000_000_000 - 1_750_000_000_000 % H
EXITS = ExitsConfig(stop_loss_pct=2, take_profit_pct=[2], take_profit_fraction_pct=100, trailing_activate_pct=40,
                    trailing_distance_pct=2, time_exit_h=0)


def _run(tmp_path, bars, side="long", *, fees=(0.0, 0.0), slippage_bps=0.0, funding=None):
    path = tmp_path / "bars.csv"
    path.write_text("".join(f"{(T0 + i * H) // 1000},{o},{h},{lo},{c},1,1\n" for i, (o, h, lo, c) in enumerate(bars)))
    s, rows = settings_for(path, "ema_cross", fees=fees, slippage_bps=slippage_bps, exits=EXITS,
                           operator=NO_OPERATOR, funding=funding)
    trades = []
    bt = Backtest(s, on_trade=trades.append)
    want = SignalSide(side)

    def on_candle(symbol, tf, candle, view):
        return Signal(symbol, want, 1.0, "test", ts_ms=candle.ts_ms + H) if candle.ts_ms == T0 else None

    bt.strategy.on_candle = on_candle
    bt.run(rows)
    return bt.finish(), trades


def test_market_fill_at_next_open_plus_slippage_and_stop_first_when_both_inside_a_bar(tmp_path):
    # bar 1 opens 100 000: the long fills at 100 000 x (1 + 10 bps) = 100 100; the stop is 2% below the fill,
    # 98 098, the take profit 2% above, 102 102. Bar 2 spans both: the stop (adverse) fills first.
    bars = [(100_000, 100_000, 100_000, 100_000), (100_000, 100_500, 99_500, 100_000),
            (100_000, 103_000, 97_000, 100_000), (100_000, 100_000, 100_000, 100_000)]
    res, trades = _run(tmp_path, bars, slippage_bps=10)
    (t,) = trades
    assert t.entry_price == Decimal(100_100)
    # sized at the decision (mark = close 100 000, stop 98 000): 100 USD / 2 000 USD = 0.05 BTC
    assert t.size == Decimal("0.05")
    # stop at 98 098 is a market order: minus 10 bps slippage = 97 999.9 -> tick down = 97 999
    assert t.exit_price == Decimal(97_999) and t.exit_reason == "stop"
    assert t.gross_pnl_usd == Decimal("0.05") * (97_999 - 100_100)
    assert t.entry_ts_ms == T0 + H and t.exit_ts_ms == T0 + 2 * H


def test_short_stop_first_too(tmp_path):
    bars = [(100_000,) * 4, (100_000, 100_000, 100_000, 100_000), (100_000, 103_000, 97_000, 100_000),
            (100_000,) * 4]
    _, (t,) = _run(tmp_path, bars, side="short")
    assert t.side.value == "short" and t.exit_reason == "stop"
    assert t.entry_price == 100_000 and t.exit_price == 102_000 and t.size == Decimal("0.05")


def test_gap_through_stop_fills_at_the_open(tmp_path):
    bars = [(100_000,) * 4, (100_000,) * 4, (95_000, 96_000, 94_000, 95_500), (95_500,) * 4]
    _, (t,) = _run(tmp_path, bars)
    assert t.exit_price == 95_000 and t.exit_reason == "stop"


def test_take_profit_fills_at_its_limit_as_maker(tmp_path):
    bars = [(100_000,) * 4, (100_000,) * 4, (100_000, 103_000, 99_000, 101_000), (101_000,) * 4]
    _, (t,) = _run(tmp_path, bars, fees=(2.0, 5.0))
    assert t.exit_price == 102_000 and t.exit_reason == "tp1"
    # fees: taker 5 bps on 0.05 x 100 000 = 2.5, maker 2 bps on 0.05 x 102 000 = 1.02
    assert t.fees_usd == Decimal("2.5") + Decimal("1.02")
    assert t.net_pnl_usd == Decimal("0.05") * 2_000 - Decimal("3.52")


def test_limit_needs_a_trade_through_it(tmp_path):
    # high exactly at the take-profit: not through it, no fill
    bars = [(100_000,) * 4, (100_000,) * 4, (100_000, 102_000, 99_000, 101_000), (101_000,) * 4]
    res, trades = _run(tmp_path, bars)
    assert trades == [] and res.open_position is not None


@pytest.mark.parametrize("side,sign", [("long", -1), ("short", 1)])
def test_funding_longs_pay_positive_rates(tmp_path, side, sign):
    # held through bars 1..3: the tops of hour at bar 2 and bar 3 opens settle on 0.05 BTC at the previous
    # close (100 000): payment = -signed size x rate x price = -/+ 0.05 x 1e-4 x 100 000 = -/+ 0.5 USD each
    bars = [(100_000,) * 4] * 4 + [(100_000, 110_000, 90_000, 100_000)]
    res, trades = _run(tmp_path, bars, side=side, funding=FundingSchedule.constant_rate(1e-4, "t"))
    (t,) = trades
    assert res.funding_payments == 3
    assert t.funding_usd == sign * Decimal("1.5")
    assert t.net_pnl_usd == t.gross_pnl_usd + sign * Decimal("1.5")


def test_quote_at_matches_paper_on_tick_grid():
    for sym in ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"):
        inst = default_instrument(sym)
        for price in (0.37, 12.345, 1999.99, 2500.05, 108_495.0, 108_495.5, 16_943.7):
            for bps in (0.0, 1.0, 7.5):
                k = bps / 1e4
                t = on_tick_grid(MarketTick(sym, 0, bid=price * (1 - k), ask=price * (1 + k)), inst)
                assert quote_at(inst, price, bps) == (Decimal(repr(t.bid)), Decimal(repr(t.ask)))
