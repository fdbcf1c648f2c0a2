"""The backtest's trade list on a small hand-made fixture equals a trade list checked by hand.

Fixture and expected trades: tests/backtest/golden/ (``candles.csv``, ``trades.csv``; settings in its
``settings_and_rows``). Regenerate, only after checking the changed trades by hand as below:
``python -m tests.backtest.golden --write``.

Hand computation (the rules: ``kraken_tui.backtest``'s docstring; fills at the next bar's open moved by the
slippage and put on the 1 USD tick, buys up and sells down; taker fee 5 bps of the fill's notional;
funding at the top of each UTC hour = -signed size x 1e-4 x the previous bar's close; fixed size = 50 % of
equity at the deciding close / that close, rounded down to the 0.0001 lot). Bars are 15 minutes from
00:00, so bar ``i`` opens at ``i x 15`` minutes.

Trade 1, long. Closes of bars 3-7: 99 700, 99 600, 99 500, 99 700, 100 000. At bar 6 SMA(2) 99 600 <
SMA(4) 99 625; at bar 7 SMA(2) 99 850 > SMA(4) 99 700: a cross up, long signal at bar 7's close.
  size  = 10 000 x 50 % / 100 000 = 0.05
  entry = bar 8's open (02:00) 100 000 x 1.001 = 100 100 (on the tick)
  Bar 15 (close 101 200): SMA(2) 101 350 < SMA(4) 101 500, after 101 650 > 101 500 at bar 14: cross down.
  exit  = bar 16's open (04:00) 101 200 x 0.999 = 101 098.8 -> 101 098 (sell: down to the tick)
  gross = 0.05 x (101 098 - 100 100) = 49.90
  fees  = 0.05 x 100 100 x 0.0005 + 0.05 x 101 098 x 0.0005 = 2.5025 + 2.52745 = 5.02995
  funding at 03:00 (bar 11's close 101 200) and at 04:00 before the open's fills (bar 15's close 101 200):
          2 x -(0.05 x 1e-4 x 101 200) = -1.012
  net   = 49.90 - 5.02995 - 1.012 = 43.85805
Trade 2, short (the reversal at 04:00, same fill price as trade 1's exit).
  equity at bar 15's close = 10 000 - 2.5025 (entry fee) - 0.506 (03:00 funding) + 0.05 x (101 200 -
          100 100) (unrealised) = 10 051.9915; size = 10 051.9915 x 50 % / 101 200 = 0.04966... -> 0.0496
  Bar 23 (close 100 000): SMA(2) 99 850 > SMA(4) 99 700, after 99 550 < 99 700 at bar 22: cross up.
  exit  = bar 24's open (06:00) 100 000 x 1.001 = 100 100
  gross = 0.0496 x (101 098 - 100 100) = 49.5008
  fees  = 0.0496 x 101 098 x 0.0005 + 0.0496 x 100 100 x 0.0005 = 2.5072304 + 2.48248 = 4.9897104
  funding (a short receives a positive rate) at 05:00 (bar 19's close 100 000) and 06:00 (bar 23's close
          100 000): 2 x 0.0496 x 1e-4 x 100 000 = +0.992
  net   = 49.5008 - 4.9897104 + 0.992 = 45.5030896
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.backtest.runner import Backtest

from .golden import CANDLES, candle_lines, read_expected, run_trade_rows, settings_and_rows


def test_the_fixture_is_the_documented_one():
    assert CANDLES.read_text() == "".join(candle_lines())
    assert len(candle_lines()) == 40


def test_trades_equal_the_hand_checked_list():
    assert run_trade_rows() == read_expected()


def test_the_hand_computation_of_the_first_two_trades():
    """The numbers of the module docstring, against the stored list (so the file is what was checked)."""
    (e1, x1, _, side1, size1, entry1, exit1, net1, fees1, fund1, why1), (_, _, _, side2, size2, entry2, exit2, net2,
                                                                         fees2, fund2, _) = read_expected()[:2]
    assert (e1, x1, side1, why1) == ("2025-01-01T02:00:00.000Z", "2025-01-01T04:00:00.000Z", "long", "signal")
    assert (Decimal(size1), Decimal(entry1), Decimal(exit1)) == (Decimal("0.05"), 100_100, 101_098)
    assert Decimal(fees1) == Decimal("2.5025") + Decimal("2.52745")
    assert Decimal(fund1) == -2 * Decimal("0.05") * Decimal("1e-4") * 101_200
    assert Decimal(net1) == Decimal("0.05") * 998 - Decimal(fees1) + Decimal(fund1) == Decimal("43.85805")
    assert (side2, Decimal(size2), Decimal(entry2), Decimal(exit2)) == ("short", Decimal("0.0496"), 101_098, 100_100)
    assert Decimal(fees2) == Decimal("0.0496") * (101_098 + 100_100) * Decimal("0.0005")
    assert Decimal(fund2) == 2 * Decimal("0.0496") * Decimal("1e-4") * 100_000
    assert Decimal(net2) == Decimal("0.0496") * 998 - Decimal(fees2) + Decimal(fund2) == Decimal("45.5030896")


def test_the_run_ends_short_with_the_last_cross():
    s, rows = settings_and_rows()
    bt = Backtest(s)
    bt.run(rows)
    res = bt.finish()
    assert res.candles == 40 and len(res.rows) == 3
    assert res.open_position is not None and "short" in str(res.open_position)  # (side, size, entry)
