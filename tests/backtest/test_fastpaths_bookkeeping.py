"""The per-trade bookkeeping's fast paths equal the shared code they stand for (whole runs: see
test_bookkeeping_oracle.py).

- ``Fills.book_ft`` (``domain.money.linear_fill`` with the contract size bound) books as the paper exchange's
  ``PaperPosition.apply_fill`` and ``fee_amount`` do: same position, entry, realised P&L, fee and balance, as
  exact Decimal text, over random fill sequences.
- ``Trades.report`` writes the fingerprint line with ``f"{d!s}"``: that is ``f"{d}"`` for every Decimal.
- The lazily built ``result.last_trades`` equal the ``Trade`` objects ``on_trade`` receives.
- ``Decisions._sig_prefix`` + time is ``engine.execution.make_signal_id``; ``Fills.quote`` (memoised) is
  ``settings.quote_at``.
- ``report.summary_of`` skips its sort only when the rows are already in (exit, entry) order.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.report import summary_of
from kraken_tui.backtest.runner import Backtest, BacktestResult, BacktestSettings, quote_at
from kraken_tui.domain import FillType, Side
from kraken_tui.domain.money import fee_amount
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.journal.stats import summarize_rows_with_breakdowns
from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.instruments import default_instrument

from ._util import PF_1M, settings_for


def _bt(**kw) -> Backtest:
    inst = default_instrument("PF_XBTUSD")
    s = BacktestSettings(instrument=inst, strategy="sma_cross", strategy_params={}, timeframe="1m", bar_ms=60_000,
                         funding=FundingSchedule.constant_rate(0.0, "t"), **kw)
    return Backtest(s)


_sizes = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("5"), places=4)
_prices = st.one_of(st.decimals(min_value=Decimal("1"), max_value=Decimal("200000"), places=1),
                    st.decimals(min_value=Decimal("0.5"), max_value=Decimal("99"), places=3))
_bps = st.sampled_from([Decimal("0"), Decimal("5"), Decimal("2.0"), Decimal("-1"), Decimal("7.5")])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _sizes, _prices, _bps, st.booleans()), min_size=1, max_size=12))
def test_book_equals_paper_account_apply_fill_and_fee_amount(fills):
    bt = _bt()
    inst = bt.inst
    ref = PaperPosition(inst.symbol)
    balance = bt.state.balance
    for k, (buy, size, price, bps, close_all) in enumerate(fills):
        side = Side.BUY if buy else Side.SELL
        if close_all and ref.size != 0:  # exercise the return to zero (and the trade report) too
            side = Side.SELL if ref.size > 0 else Side.BUY
            size = abs(ref.size)
        ts = 1_000 + k
        realized = ref.apply_fill(inst, size * (1 if side is Side.BUY else -1), price, ts)
        fee = fee_amount(inst, size, price, bps)
        balance = balance + (realized - fee)
        bt.fills.book_ft(side, size, price, FillType.TAKER, None, ts, bps)
        got = bt.state.position
        assert (str(got.size), str(got.entry_price), got.fill_ts_ms) == (str(ref.size), str(ref.entry_price), ts)
        assert str(bt.state.balance) == str(balance)
        if bt.state.cur_fills:
            assert str(bt.state.cur_fills[-1][6]) == str(fee)
        assert (bt.state.pos_f, bt.state.entry_f, bt.state.bal_f) == (float(ref.size), float(ref.entry_price), float(balance))


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [Decimal("0E-12"), Decimal("-0"), Decimal("1E+5"), Decimal("1.0E-10"), Decimal("-0.000"), Decimal("sNaN")]))
def test_decimal_str_conversion_equals_format(d):
    assert f"{d!s}" == f"{d}"


def test_lazy_last_trades_equal_on_trade_trades(shared_data):
    s, rows = settings_for(shared_data(PF_1M), "sma_cross", {"fast": 3, "slow": 7}, fees=(2.0, 5.0),
                           slippage_bps=1.0, funding=FundingSchedule.constant_rate(1e-4, "t"))
    seen: list = []
    eager = Backtest(s, on_trade=seen.append)
    eager.run(rows)
    res_e = eager.finish()
    s2, rows2 = settings_for(shared_data(PF_1M), "sma_cross", {"fast": 3, "slow": 7}, fees=(2.0, 5.0),
                             slippage_bps=1.0, funding=FundingSchedule.constant_rate(1e-4, "t"))
    lazy = Backtest(s2)
    lazy.run(rows2)
    res_l = lazy.finish()
    assert len(seen) > 20 and any(t.funding_usd != 0 for t in seen)
    assert list(res_l.last_trades) == list(res_e.last_trades) == seen[-10:]
    assert [type(t) for t in res_l.last_trades] == [type(seen[0])] * 10
    assert res_l.rows == res_e.rows and res_l.fingerprint == res_e.fingerprint


@pytest.mark.parametrize("run_id", ["backtest", "bt-20250830-abcdef", "x", ""])
def test_signal_prefix_equals_make_signal_id(run_id):
    bt = _bt(run_id=run_id)
    assert bt.decisions._sig_prefix is not None
    for ts in (0, 60_000, 1_756_512_000_000, 10**15):
        assert bt.decisions._sig_prefix + str(ts) == make_signal_id(run_id, bt.symbol, ts)


@pytest.mark.parametrize("slip", [0.0, 1.0, 7.5])
def test_memoised_quote_equals_quote_at(slip):
    bt = _bt(slippage_bps=slip)
    rnd = random.Random(7)
    prices = [round(rnd.uniform(100, 150_000), rnd.choice([0, 1, 2])) for _ in range(300)] + [0.5, 117_000.0]
    for p in prices * 2:  # the second pass reads the memo
        bid, ask = bt.fills.quote(p)
        want = quote_at(bt.inst, p, slip)
        assert (str(bid), str(ask)) == (str(want[0]), str(want[1]))


def test_summary_of_sorts_rows_that_are_not_in_exit_order():
    rows = [(2_000, 1_500, "long", "PF_XBTUSD", "s", 5.0, 5.0, 0.0, 0.0, 0.0, 0.0),
            (2_000, 1_000, "short", "PF_XBTUSD", "s", -3.0, -3.0, 0.0, 0.0, 0.0, 0.0),  # same exit, earlier entry
            (90_000_000, 3_000, "long", "PF_XBTUSD", "s", 2.0, 2.5, 0.5, 0.0, 0.0, 0.0),
            (5_000, 4_000, "short", "PF_XBTUSD", "s", -7.0, -7.0, 0.0, 0.0, 0.0, 0.0)]  # exits out of order
    start = Decimal("100")
    for rs in (rows, rows[2:], sorted(rows)):
        res = BacktestResult(starting_equity_usd=start)
        res.rows = list(rs)
        assert summary_of(res) == summarize_rows_with_breakdowns(sorted(rs, key=lambda r: (r[0], r[1])), start)
    # the drawdown depends on the order: unsorted it would differ (so the check above can fail)
    res = BacktestResult(starting_equity_usd=start)
    res.rows = list(rows)
    assert summary_of(res)[0] != summarize_rows_with_breakdowns(rows, start)[0]
