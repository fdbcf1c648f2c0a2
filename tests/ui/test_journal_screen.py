"""The journal screen's data (filters, sort, curve, export, detail) and the screen on a real journal."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from kraken_tui.errors import ConfigError
from kraken_tui.journal.export import TRADES_CSV_HEADER
from kraken_tui.ui import journal_data as jd
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.screens.trade_detail import TradeDetailScreen
from kraken_tui.ui.widgets.trade_list import TradeList
from tests.journal.factory import trade
from tests.ui.fake_engine import FakeEngine
from tests.ui.journal_builder import T_START_MS, build_trades_journal

DAY = 86_400_000


def test_parse_filter_words_and_errors():
    f = jd.parse_filter("sym:eth long win from:2024-07-01 to:2024-07-02")
    assert (f.symbol, f.side, f.outcome) == ("ETH", "long", "win")
    assert f.since_ms == T_START_MS and f.until_ms == T_START_MS + 2 * DAY - 1  # "to" includes that day
    assert jd.parse_filter("") == jd.TradeFilter()
    with pytest.raises(ConfigError, match="sym:TEXT"):
        jd.parse_filter("bogus")
    with pytest.raises(ConfigError):
        jd.parse_filter("from:yesterday")


def test_apply_filter_and_sort():
    ts = [trade("10", 0, 1000, symbol="PF_ETHUSD"), trade("-5", 0, 2000, side="short"), trade("0", 0, 3000)]
    assert jd.apply_filter(ts, jd.TradeFilter(outcome="win")) == [ts[0]]
    assert jd.apply_filter(ts, jd.TradeFilter(outcome="loss")) == [ts[1]]  # a zero trade is neither
    assert jd.apply_filter(ts, jd.TradeFilter(symbol="ETH")) == [ts[0]]
    assert jd.apply_filter(ts, jd.TradeFilter(side="short")) == [ts[1]]
    assert jd.apply_filter(ts, jd.TradeFilter(since_ms=1500, until_ms=2500)) == [ts[1]]
    assert [t.net_pnl_usd for t in jd.sort_trades(ts, "net P&L", True)] == [Decimal(10), Decimal(0), Decimal(-5)]


def test_equity_curve_and_drawdown_hand_computed():
    ts = [trade("100", 0, 1), trade("-150", 0, 2), trade("25", 0, 3)]
    c = jd.equity_curve(ts, Decimal(1000))
    assert c.x == [1, 2, 3] and c.equity == [1100.0, 950.0, 975.0]
    assert c.drawdown == [0.0, pytest.approx(-150 / 1100), pytest.approx(-125 / 1100)]
    many = [trade("1", 0, k) for k in range(1000)]
    assert len(jd.equity_curve(many, None, points=100).x) <= 102


def test_export_csv_uses_the_cli_contract_header(tmp_path):
    out = jd.export_csv([trade("10", 0, 1000)], tmp_path / "x" / "t.csv")
    rows = list(csv.reader(out.open()))
    assert tuple(rows[0]) == TRADES_CSV_HEADER and rows[1][7] == "10"


def test_load_statistics_and_detail_from_a_journal(tmp_path):
    path = build_trades_journal(tmp_path / "j.sqlite", 30)
    view = jd.load_journal(path)
    assert len(view.trades) == 30 and view.starting_equity_usd == Decimal(10000)
    s = jd.statistics(view.trades, view.starting_equity_usd)
    assert s.trades == 30 and s.fees_usd == pytest.approx(30 * 0.5)
    d = jd.trade_detail(view, view.trades[0])
    assert [f.fill_id for f in d.fills] == ["t0-0", "t0-1"] and d.signal is None


async def test_journal_screen_with_100k_trades_pages_filters_and_exports(make_app, tmp_path):
    path = build_trades_journal(tmp_path / "big.sqlite", 100_000)
    app = make_app(FakeEngine(journal_path=str(path)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JournalScreen)
        tl = screen.query_one(TradeList)
        assert len(tl.trades) == 100_000 and tl.trades[0].exit_ts_ms > tl.trades[-1].exit_ts_ms  # newest first
        await pilot.press("end")
        assert tl.cursor == 99_999
        await pilot.press("slash")
        await pilot.press(*"sym:XBT short")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert tl.trades and all(t.symbol == "PF_XBTUSD" and t.side.value == "short" for t in tl.trades)
        n = len(tl.trades)
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.last_export is not None
        assert sum(1 for _ in screen.last_export.open()) == n + 1
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TradeDetailScreen)
        assert len(app.screen.detail.fills) == 2
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard


def test_trade_detail_reads_the_opening_signal_and_only_the_trades_fills(tmp_path):
    from dataclasses import replace

    from kraken_tui.journal.db import open_db
    from kraken_tui.journal.encode import encode
    from kraken_tui.journal.records import SignalRecord

    path = build_trades_journal(tmp_path / "j.sqlite", 4)
    conn = open_db(path)
    sig = SignalRecord(1_719_792_000_000, "sig-1", "PF_XBTUSD", "long", 0.62, "ensemble", "ema cross up",
                       "intent", {"ema_fast": 3401.5})
    for sql, params in encode(sig, "test"):
        conn.execute(sql, params)
    conn.commit()
    conn.close()
    view = jd.load_journal(path)
    trade = replace(view.trades[1], signal_id="sig-1")  # trade 1: PF_XBTUSD, fills t1-0 and t1-1
    d = jd.trade_detail(view, trade)
    assert [f.fill_id for f in d.fills] == ["t1-0", "t1-1"]
    assert d.signal is not None and d.signal.reason == "ema cross up" and d.signal.features == {"ema_fast": 3401.5}
    assert jd.trade_detail(view, replace(trade, signal_id="missing")).signal is None
