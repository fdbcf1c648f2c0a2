"""The backtest counts a trade once, open to flat, however many partial take-profit exits it had: its trade
list, its summary (``backtest.report``/``journal.stats``), its win-rate leverage cap counters and the journal's
trades derived from the same fills agree.

Data: ``kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv`` (XBT/USD 5m, 2023-Q1) as PF_XBTUSD, ``ema_cross``
9/21 with a four-step take-profit ladder (0.3/0.6/0.9/1.2 %, 25 % each) so that trades close in parts.
"""

from __future__ import annotations

from kraken_tui.backtest.runner import Backtest
from kraken_tui.config import ExitsConfig
from kraken_tui.domain import Fill
from kraken_tui.journal.stats import summarize
from kraken_tui.journal.trades import derive_trades

from ._util import SPOT_5M, settings_for


def test_partial_take_profits_are_parts_of_one_trade(shared_data):
    exits = ExitsConfig(stop_loss_pct=0.6, take_profit_pct=[0.3, 0.6, 0.9, 1.2], take_profit_fraction_pct=25,
                        trailing_activate_pct=2, trailing_distance_pct=1, time_exit_h=12, time_exit_min_profit_pct=0.05)
    s, rows = settings_for(shared_data(SPOT_5M), "ema_cross", {"fast": 9, "slow": 21, "min_confidence": 0.4},
                           exits=exits)
    records: list[object] = []
    trades = []
    bt = Backtest(s, sink=records.append, on_trade=trades.append)
    bt.run(rows)
    res = bt.finish()
    fills = [r for r in records if isinstance(r, Fill)]
    journal = derive_trades(fills).closed
    # many trades closed in parts: far more fills than an entry and an exit per trade
    assert len(trades) >= 100 and len(fills) > 2 * len(trades) + 100, (len(trades), len(fills))
    assert len(journal) == len(trades) == bt.state.closed_trades
    wins = sum(1 for t in trades if t.net_pnl_usd > 0)
    assert bt.state.winning_trades == wins == sum(1 for t in journal if t.net_pnl_usd > 0)
    summary = summarize(trades)
    assert (summary.trades, summary.wins) == (len(trades), wins)
    assert len(res.rows) == len(trades)


def test_the_equity_floor_close_has_its_own_exit_reason(shared_data):
    # heavy fees and a 99.5 % floor: the second trade's loss crosses the floor while it is open, and the
    # floor's flatten closes it at the next open: exit reason equity_floor in the trade and the CSV
    from kraken_tui.config import OperatorConfig

    from ._util import run_rows

    s, rows = settings_for(shared_data(SPOT_5M), "ema_cross", {"fast": 9, "slow": 21, "min_confidence": 0.4},
                           fees=(20.0, 50.0), slippage_bps=5.0,
                           operator=OperatorConfig(daily_loss_limit_pct=100, equity_floor_pct=99.5),
                           exits=ExitsConfig(stop_loss_pct=3, take_profit_pct=[5], time_exit_h=100))
    res, csv_rows, trades = run_rows(s, rows)
    assert res.final_state == "HALTED"
    assert [t.exit_reason for t in trades][-1] == "equity_floor" and csv_rows[-1][-1] == "equity_floor"


def test_zero_switches_the_floor_and_the_daily_loss_limit_off_and_the_report_says_so(shared_data):
    # the same losing run as above with both guards at 0: nothing halts or pauses it, and the notes say they are off
    from kraken_tui.config import OperatorConfig

    from ._util import run_rows

    def run(op):
        s, rows = settings_for(shared_data(SPOT_5M), "ema_cross", {"fast": 9, "slow": 21, "min_confidence": 0.4},
                               fees=(20.0, 50.0), slippage_bps=5.0, operator=op,
                               exits=ExitsConfig(stop_loss_pct=3, take_profit_pct=[5], time_exit_h=100))
        return run_rows(s, list(rows)[:6000])

    res, _, trades = run(OperatorConfig(daily_loss_limit_pct=0, equity_floor_pct=0))
    assert res.final_state == "RUNNING" and "equity_floor" not in {t.exit_reason for t in trades}
    assert [n for n in res.notes if n.startswith("GUARD OFF")] == [
        "GUARD OFF: [operator] equity_floor_pct = 0 switches it off",
        "GUARD OFF: [operator] daily_loss_limit_pct = 0 switches it off"]
    # with the defaults (80 % floor, 5 % a day) the same run is paused or halted, and nothing is announced
    res_on, _, trades_on = run(OperatorConfig())
    assert len(trades_on) < len(trades) and not [n for n in res_on.notes if n.startswith("GUARD OFF")]
