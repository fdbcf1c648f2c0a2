"""The journal screen, live: it refreshes as trades close (or offers "N new trades, n to show them"), keeps the
console's status bar, and its trade detail shows hold time, R-multiple, MAE/MFE in USD and %, the stop and
take-profits used, fees and funding, and a reversal fill as the part that belongs to the trade; daily and
weekly P&L; the charts on a time axis; Sharpe/Sortino "n/a" below their span."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kraken_tui.domain import Fill, FillType, OrderType, PositionSide, Side
from kraken_tui.journal.db import open_db
from kraken_tui.journal.encode import encode
from kraken_tui.journal.records import IntentRecord, RunStarted
from kraken_tui.journal.trades import Trade
from kraken_tui.ui import journal_data as jd
from kraken_tui.ui.screens.journal import JournalScreen, time_ticks
from kraken_tui.ui.screens.trade_detail import TradeDetailScreen, detail_text, duration, fills_table
from kraken_tui.ui.widgets.status import StatusBar
from kraken_tui.ui.widgets.trade_list import TradeList
from tests.journal.factory import trade
from tests.ui.fake_engine import FakeEngine
from tests.ui.journal_builder import T_START_MS, build_trades_journal

D = Decimal
DAY = 86_400_000
MIN = 60_000


def _write(path, records) -> None:
    conn = open_db(path, synchronous="NORMAL")
    conn.execute("BEGIN")
    for r in records:
        for sql, params in encode(r, "test"):
            conn.execute(sql, params)
    conn.execute("COMMIT")
    conn.close()


def _fill(fid: str, side: Side, size: str, px: str, ts: int, fee: str = "1") -> Fill:
    return Fill(fid, f"o-{fid}", "PF_ETHUSD", side, D(size), D(px), ts, FillType.TAKER, f"c-{fid}", D(fee), "USD")


def _reversal_journal(path):
    """Long 1 @ 3000 (t0), a sell of 2 @ 3100 at t0+10 min reverses it to short 1, bought back @ 3050 at
    t0+40 min. The short had a stop at 3150 and take-profits at 3000 / 2950."""
    t0 = T_START_MS
    _write(path, [
        RunStarted("test", t0 - 1, "paper", "h", "0", D(10000)),
        _fill("a", Side.BUY, "1", "3000", t0),
        _fill("b", Side.SELL, "2", "3100", t0 + 10 * MIN, fee="2"),
        IntentRecord(t0 + 10 * MIN + 5, "c-stop", "PF_ETHUSD", Side.BUY, D(1), OrderType.STOP, "stop",
                     stop_price=D(3150), reduce_only=True),
        IntentRecord(t0 + 10 * MIN + 6, "c-tp1", "PF_ETHUSD", Side.BUY, D("0.5"), OrderType.LIMIT, "tp1",
                     limit_price=D(3000), reduce_only=True),
        IntentRecord(t0 + 10 * MIN + 7, "c-tp2", "PF_ETHUSD", Side.BUY, D("0.5"), OrderType.LIMIT, "tp2",
                     limit_price=D(2950), reduce_only=True),
        _fill("c", Side.BUY, "1", "3050", t0 + 40 * MIN),
    ])
    return path


def test_fill_parts_split_a_reversal_at_both_ends():
    t0 = T_START_MS
    short = Trade("PF_ETHUSD", PositionSide.SHORT, D(1), t0, t0 + 3, D(3100), D(3050), D(50), D(2), D(0), "signal")
    fills = [_fill("x", Side.BUY, "1", "3000", t0),  # the previous trade's exit at the same ms: not this one
             _fill("b", Side.SELL, "2", "3100", t0 + 1),  # reversal: closes 1 long, opens 1 short
             _fill("c", Side.BUY, "3", "3050", t0 + 3)]  # reversal: closes this 1, opens 2 long
    assert jd.fill_parts(short, fills) == [0, 1, 1]
    add = Trade("PF_ETHUSD", PositionSide.LONG, D(3), t0, t0 + 3, D(1), D(2), D(3), D(0), D(0), "signal")
    fills = [_fill("a", Side.BUY, "2", "1", t0), _fill("b", Side.BUY, "1", "1", t0 + 1),
             _fill("c", Side.SELL, "1", "2", t0 + 2), _fill("d", Side.SELL, "2", "2", t0 + 3)]
    assert jd.fill_parts(add, fills) == [2, 1, 1, 2]  # no reversal: every fill whole


def test_trade_detail_shows_the_reversal_part_stop_tps_r_and_excursions(tmp_path):
    view = jd.load_journal(_reversal_journal(tmp_path / "j.sqlite"))
    short = next(t for t in view.trades if t.side is PositionSide.SHORT)
    d = jd.trade_detail(view, short)
    assert [f.fill_id for f in d.fills] == ["b", "c"] and d.parts == [D(1), D(1)]
    assert d.stops == [D(3150)] and d.take_profits == [D(3000), D(2950)]
    text = detail_text(d).plain
    assert "held 30m 00s" in text
    r = jd.r_multiple(short, D(3150))
    assert r == pytest.approx(float(short.net_pnl_usd) / 50)  # risk: 1 contract x (3150 - 3100)
    assert f"R {r:+.2f}" in text
    assert "stop 3,150" in text and "take-profits 3,000, 2,950" in text
    assert re.search(r"MAE [+-]?[\d,]+\.\d\d USD \([+-]\d+\.\d\d%\)   MFE [+-]?[\d,]+\.\d\d USD \([+-]\d+\.\d\d%\)",
                     text), text
    table = fills_table(d)
    sizes = list(table.columns[2].cells)
    assert sizes == ["1 of 2", "1"]  # the reversal fill: only this trade's part
    fees = list(table.columns[4].cells)
    assert fees[0] == "1.00"  # half of the reversal fill's 2 USD fee


def test_excursion_pct_and_duration():
    t = Trade("PF_ETHUSD", PositionSide.LONG, D(2), 0, 1, D(3000), D(3010), D(20), D(0), D(0), "tp1", mae_usd=-30.0)
    assert jd.excursion_pct(t, t.mae_usd) == pytest.approx(-30 / 6000)
    assert (duration(45_000), duration(725_000), duration(11_220_000), duration(187_200_000)) == (
        "45s", "12m 05s", "3h 07m", "2d 04h")


def test_daily_and_weekly_pnl_and_ratio_span():
    ts = [trade("10", T_START_MS, T_START_MS + 1000), trade("-4", T_START_MS, T_START_MS + 2000),
          trade("5", T_START_MS, T_START_MS + DAY + 5), trade("7", T_START_MS, T_START_MS + 8 * DAY)]
    days = jd.period_pnl(ts, "day")
    assert [(p.label, p.net_usd, p.trades) for p in days] == [
        ("2024-07-01", D(6), 2), ("2024-07-02", D(5), 1), ("2024-07-09", D(7), 1)]
    weeks = jd.period_pnl(ts, "week")  # 2024-07-01 is a Monday: ISO week 27
    assert [(p.label, p.net_usd) for p in weeks] == [("2024-W27", D(11)), ("2024-W28", D(7))]
    with pytest.raises(ValueError, match="'month'"):
        jd.period_pnl(ts, "month")
    assert not jd.ratios_shown(ts[:3]) and jd.ratios_shown(ts)


def test_time_ticks_label_the_exit_times():
    ticks = time_ticks(T_START_MS, T_START_MS + 3 * 3_600_000)
    assert [label for _, label in ticks] == ["00:00", "01:00", "02:00", "03:00"]
    ticks = time_ticks(T_START_MS, T_START_MS + 3 * DAY)
    assert ticks[0][1] == "07-01 00:00" and ticks[-1][1] == "07-04 00:00"
    c = jd.equity_curve([trade("1", 0, T_START_MS + k) for k in range(3)], D(100))
    assert c.ts_ms == [T_START_MS, T_START_MS + 1, T_START_MS + 2]


def _append_trades(path, first: int, n: int) -> None:
    """Closed trades ``first``..``first + n - 1`` (the builder's shape), appended to the journal."""
    recs = []
    for k in range(first, first + n):
        ts = T_START_MS + k * MIN
        recs += [Fill(f"n{k}-0", f"no{k}-0", "PF_ETHUSD", Side.BUY, D("0.01"), D(50000), ts, FillType.TAKER),
                 Fill(f"n{k}-1", f"no{k}-1", "PF_ETHUSD", Side.SELL, D("0.01"), D(50010), ts + 30_000, FillType.TAKER)]
    _write(path, recs)


async def _open_journal(pilot, app):
    await pilot.press("j")
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, JournalScreen)
    return app.screen


async def _poll(pilot, app, screen) -> None:
    screen.poll()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_journal_screen_refreshes_as_trades_close_and_keeps_the_status_bar(make_app, tmp_path):
    path = build_trades_journal(tmp_path / "j.sqlite", 3)
    app = make_app(FakeEngine(journal_path=str(path)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_journal(pilot, app)
        tl = screen.query_one(TradeList)
        assert len(tl.trades) == 3
        app.refresh_now()
        await pilot.pause()
        bar = screen.query_one(StatusBar)
        assert "PAPER" in bar.plain() and "RUNNING" in bar.plain()  # the console's status, live on this screen
        _append_trades(path, 10, 2)
        await _poll(pilot, app, screen)
        assert len(tl.trades) == 5 and screen.pending is None  # cursor on the first row: shown at once
        # with the cursor moved, new trades are offered instead of moving the rows under it
        await pilot.press("down")
        _append_trades(path, 20, 3)
        await _poll(pilot, app, screen)
        assert len(tl.trades) == 5 and tl.cursor == 1
        title = str(screen.query_one("#journal-title").render())
        assert "3 new trades, n to show them" in title
        await pilot.press("n")
        await pilot.pause()
        assert len(tl.trades) == 8 and screen.pending is None
        assert "new trades" not in str(screen.query_one("#journal-title").render())


async def test_the_journal_screen_shows_periods_and_na_ratios(make_app, tmp_path):
    path = build_trades_journal(tmp_path / "j.sqlite", 30)  # 30 minutes of trades
    app = make_app(FakeEngine(journal_path=str(path)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_journal(pilot, app)
        stats = str(screen.query_one("#journal-stats").render())
        assert "sharpe n/a" in stats and "sortino n/a" in stats
        periods = str(screen.query_one("#journal-periods").render())
        assert "daily P&L USD" in periods and "07-01" in periods and "2024-W27" in periods
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TradeDetailScreen)
        assert "held 30s" in detail_text(app.screen.detail).plain


def test_a_bad_filter_names_its_bad_terms_and_keeps_the_valid_ones():
    from kraken_tui.errors import ConfigError

    flt, bad = jd.parse_filter_terms("sym:eth from:yesterday short bogus")
    assert (flt.symbol, flt.side, flt.since_ms) == ("ETH", "short", None)
    assert bad == ["from:yesterday", "bogus"]
    with pytest.raises(ConfigError) as err:
        jd.parse_filter("long to:someday")
    assert "to:someday" in str(err.value) and "--since" not in str(err.value)


async def test_the_screen_applies_the_valid_terms_of_a_bad_filter(make_app, tmp_path):
    path = build_trades_journal(tmp_path / "j.sqlite", 30)
    app = make_app(FakeEngine(journal_path=str(path)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_journal(pilot, app)
        await pilot.press("slash")
        await pilot.press(*"short bogus")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        tl = screen.query_one(TradeList)
        assert tl.trades and all(t.side.value == "short" for t in tl.trades) and len(tl.trades) < 30
        assert screen.filter_text == "short"
        assert any("bogus" in n.message for n in app._notifications)
