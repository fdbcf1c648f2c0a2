"""A trade is counted once, open to flat: partial take-profit exits are parts of one trade, for the engine's
win-rate leverage cap (``AccountWatch``/``TradeTally``), the journal's statistics (``derive_trades`` +
``summarize``) and the backtest's count (``TradeBook.report``, one report per round trip).

Hand-computed P&L (PF_XBTUSD, linear: (exit - entry) x size USD, spec §8.5):
- win: long 1 at 100 (fee 0.50), TP1 sells 0.5 at 112 (+6, fee 0.25), the stop sells 0.5 at 92 (-4, fee 0.25):
  one trade, gross +2, fees 1, net +1 -> 1 trade, 1 win (counting fills: 2 "trades", 1 win, 1 loss).
- loss: long 1 at 100 (fee 0.50), TP1 0.5 at 112 (+6, fee 0.25), stop 0.5 at 86 (-7, fee 0.25): gross -1,
  net -2 -> 1 trade, 0 wins, loss streak 1 (counting fills: 1 win of 2, the streak 1).
"""

from __future__ import annotations

from decimal import Decimal as D

from kraken_tui.config import OperatorConfig, RiskConfig
from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.account_watch import AccountWatch
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.risk import allowed_leverage
from kraken_tui.engine.trade_tally import TradeTally
from kraken_tui.journal.stats import summarize
from kraken_tui.journal.trades import derive_trades
from kraken_tui.paper.instruments import build_instruments

SYM = "PF_XBTUSD"


def _fills(stop_price: str, t0: int = 0, tag: str = "") -> list[Fill]:
    def f(i: int, side: Side, size: str, price: str, fee: str) -> Fill:
        return Fill(f"f{tag}{i}", f"o{tag}{i}", SYM, side, D(size), D(price), t0 + i, FillType.TAKER, None, D(fee), "USD")
    return [f(1, Side.BUY, "1", "100", "0.50"), f(2, Side.SELL, "0.5", "112", "0.25"),
            f(3, Side.SELL, "0.5", stop_price, "0.25")]


def _watch() -> tuple[AccountWatch, AccountTracker]:
    acct = AccountTracker()
    watch = AccountWatch(None, OperatorConfig(), sm=OperatorStateMachine(lambda: 0), account=acct,  # type: ignore[arg-type]
                         market=MarketState([SYM], ["1m"]), instruments=build_instruments([SYM]),
                         guards=None)  # type: ignore[arg-type]
    return watch, acct


def _feed(watch: AccountWatch, acct: AccountTracker, fills: list[Fill]) -> None:
    for f in fills:
        watch.note_fill(f, acct.apply_fill(f))


def test_partial_take_profit_is_part_of_one_winning_trade():
    watch, acct = _watch()
    _feed(watch, acct, _fills("92"))
    assert (watch.closed_trades, watch.winning_trades, watch.consecutive_losses) == (1, 1, 0)
    trades = derive_trades(_fills("92")).closed
    assert len(trades) == 1 and trades[0].net_pnl_usd == D("1")
    s = summarize(trades)
    assert (s.trades, s.wins, s.losses, s.win_rate) == (1, 1, 0, 1.0)


def test_partial_take_profit_then_stop_is_one_losing_trade():
    watch, acct = _watch()
    _feed(watch, acct, _fills("86"))
    assert (watch.closed_trades, watch.winning_trades, watch.consecutive_losses) == (1, 0, 1)
    trades = derive_trades(_fills("86")).closed
    assert len(trades) == 1 and trades[0].net_pnl_usd == D("-2")
    s = summarize(trades)
    assert (s.trades, s.wins, s.losses, s.win_rate) == (1, 0, 1, 0.0)


def test_win_rate_cap_counts_trades_not_fills():
    # 10 trades, each TP1 +6 then stop -7 (net -2): a 0 % win rate -> the 2x cap. Counting fills would see
    # 20 "trades" with 10 wins (50 %) and no cap.
    watch, acct = _watch()
    for k in range(10):
        _feed(watch, acct, _fills("86", t0=10 * k, tag=f"_{k}_"))
    assert (watch.closed_trades, watch.winning_trades) == (10, 0)
    cfg = RiskConfig(leverage_cap=5, vol_band_atr_pct=[], vol_band_leverage=[5], loss_streak_cut=100,
                     win_rate_floor_pct=40, win_rate_leverage_cap=2, win_rate_min_trades=10)
    lev, why = allowed_leverage(cfg, None, 0, 0.0, watch.closed_trades, watch.winning_trades)
    assert lev == D("2") and "win rate 0.0%" in why


def test_reversal_closes_one_trade_and_opens_the_next():
    t = TradeTally()
    t.fill(SYM, D(0), D(1), D(0), D("0.5"))  # long 1, fee 0.5
    t.fill(SYM, D(1), D(-1), D(3), D("1"))  # sell 2 through 0: the long closes at +3 - 1.5 fees = +1.5
    assert (t.closed_trades, t.winning_trades) == (1, 1)
    t.fill(SYM, D(-1), D(0), D(-2), D("0.5"))  # the short closes at -2 - 0.5 = -2.5
    assert (t.closed_trades, t.winning_trades, t.consecutive_losses) == (2, 1, 1)
