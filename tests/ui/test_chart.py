"""The price chart (ui.widgets.chart, ui.screens.chart): known candles and trades drawn with the entry (▲) and exit
(▼) on the right candle's column, the stop / take-profit / liquidation lines, timeframe switching, the live chart
opened with ``k`` on the fake engine, a journal trade's chart, and a readable fallback at 80x24."""

from __future__ import annotations

from decimal import Decimal

from textual.app import App, ComposeResult

from kraken_tui.domain import Candle, PositionSide
from kraken_tui.journal.trades import Trade
from kraken_tui.ui.screens.chart import ChartScreen, live_inputs, timeframe_for, trade_inputs
from kraken_tui.ui.screens.dashboard import DashboardScreen
from kraken_tui.ui.widgets.chart import ChartLevels, PriceChart, TradeMark, place_marks
from tests.ui.fake_engine import T0_MS, FakeEngine
from tests.ui.test_safe_keys import _key

D = Decimal
TF = 300_000
START = 1_719_835_200_000


def _candles(n: int = 30, start: int = START) -> list[Candle]:
    out = []
    for i in range(n):
        o = 100 + (i % 7)
        c = o + (1 if i % 2 else -1)
        out.append(Candle(start + i * TF, o, max(o, c) + 0.5, min(o, c) - 0.5, c))
    return out


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PriceChart(id="chart")


def _lines(chart: PriceChart) -> list[str]:
    return chart.render().plain.splitlines()  # type: ignore[union-attr]


def _column(lines: list[str], glyph: str) -> int:
    cols = [line.index(glyph) for line in lines if glyph in line]
    assert len(cols) == 1, (glyph, cols)
    return cols[0]


def _plot_area(lines: list[str]) -> tuple[int, int]:
    """The first and last column inside the plot's frame (the ┌ ... ┐ line)."""
    top = next(line for line in lines if "┌" in line)
    return top.index("┌") + 1, top.index("┐") - 1


def test_place_marks_puts_each_mark_on_the_candle_holding_its_time():
    cs = _candles(10)
    placed, missed = place_marks(cs, TF, [TradeMark(START + 3 * TF + 1, 101, "entry"),
                                          TradeMark(START + 7 * TF + TF - 1, 104, "exit"),
                                          TradeMark(START + 10 * TF, 99, "exit")])
    assert [(p.x, p.glyph) for p in placed] == [(3, "▲"), (7, "▼")] and missed == 1


async def test_markers_sit_on_their_candles_columns_with_the_levels_drawn():
    app = ChartApp()
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(PriceChart)
        cs = _candles(30)
        chart.show("PF_XBTUSD 5m", TF, cs, [TradeMark(START + 5 * TF + 60_000, cs[5].low, "entry"),
                                           TradeMark(START + 20 * TF, cs[20].high, "exit")],
                   ChartLevels(stop=97.0, take_profits=(108.0, 109.0), liquidation=90.0))
        await pilot.pause()
        assert [(m.x, m.glyph) for m in chart.drawn.marks] == [(5, "▲"), (20, "▼")]
        assert chart.drawn.liquidation_drawn and len(chart.drawn.candles) == 30
        lines = _lines(chart)
        left, right = _plot_area(lines)
        for glyph, i in (("▲", 5), ("▼", 20)):
            frac = (_column(lines, glyph) - left) / (right - left)
            assert abs(frac - (i + 0.5) / 30) < 0.05, (glyph, frac)
        title = lines[0]
        assert "stop 97.00" in title and "TP 108.00 109.00" in title and "liq 90.00" in title
        text = "\n".join(lines)
        assert "tp1" in text and "tp2" in text and "stop" in text and "liq" in text


async def test_far_liquidation_is_named_off_chart_and_the_window_counts_missed_marks():
    app = ChartApp()
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(PriceChart)
        chart.show("PF_XBTUSD 5m", TF, _candles(30), [TradeMark(START - 10 * TF, 100, "entry")],
                   ChartLevels(liquidation=20.0))
        await pilot.pause()
        assert not chart.drawn.liquidation_drawn and chart.drawn.missed == 1
        assert "liq 20.00 (off chart)" in chart.drawn.title and "1 mark outside the window" in chart.drawn.title


async def test_80x24_draws_fewer_candles_and_a_tiny_panel_only_the_title():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(PriceChart)
        cs = _candles(100)
        chart.show("PF_XBTUSD 5m", TF, cs, [TradeMark(cs[-3].ts_ms, cs[-3].close, "entry")])
        await pilot.pause()
        assert 20 <= len(chart.drawn.candles) < 40 and chart.drawn.candles[-1] == cs[-1]
        assert [m.x for m in chart.drawn.marks] == [len(chart.drawn.candles) - 3]
        assert "▲" in chart.render().plain  # type: ignore[union-attr]
        chart.styles.width, chart.styles.height = 20, 5
        await pilot.pause()
        assert len(chart.drawn.candles) == 1 and "PF_XBTUSD 5m" in chart.drawn.title


def test_live_inputs_and_trade_inputs():
    eng = FakeEngine()
    snap = eng.snapshot()
    closed = Trade("PF_ETHUSD", PositionSide.LONG, D(1), T0_MS - 9_000_000, T0_MS - 8_000_000, D(3300), D(3350),
                   D(50), D(1), D(0), "manual")
    marks, lv = live_inputs(snap, "PF_ETHUSD", [closed])
    assert [(m.kind, m.price) for m in marks] == [("entry", 3300.0), ("exit", 3350.0), ("entry", 3400.5)]
    assert lv.stop == 3332.5 and lv.take_profits == (3468.5,) and lv.liquidation == 2410.0
    assert timeframe_for(20 * 60_000) == "1m" and timeframe_for(3 * 3_600_000) == "15m"
    window, tmarks = trade_inputs(closed, eng.chart_candles("PF_ETHUSD", "5m", bars=300), "5m")
    assert window[0].ts_ms <= closed.entry_ts_ms and window[-1].ts_ms >= closed.exit_ts_ms
    assert [m.kind for m in tmarks] == ["entry", "exit"]


async def test_v_opens_the_live_chart_with_levels_and_the_timeframe_keys_switch(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        _key(app, "k")
        await pilot.pause(0.05)
        await pilot.pause()
        assert isinstance(app.screen, ChartScreen), [n.message for n in app._notifications]
        chart = app.screen.query_one(PriceChart)
        assert app.screen.symbol == "PF_ETHUSD"  # the first position
        assert "stop 3,332" in chart.drawn.title and "TP 3,468" in chart.drawn.title
        assert any(m.glyph == "▲" for m in chart.drawn.marks)  # the open position's entry
        _key(app, "1")
        await pilot.pause(0.05)
        assert app.screen.timeframe == "1m" and chart.drawn.title.startswith("PF_ETHUSD 1m")
        _key(app, "4")
        await pilot.pause(0.05)
        assert app.screen.timeframe == "1h"
        _key(app, "n")
        await pilot.pause(0.05)
        assert app.screen.symbol != "PF_ETHUSD"
        _key(app, "escape")
        await pilot.pause(0.05)
        assert isinstance(app.screen, DashboardScreen)


async def test_a_journal_trade_is_charted_around_its_entry_and_exit(make_app, engine):
    trade = Trade("PF_ETHUSD", PositionSide.SHORT, D(1), T0_MS - 6_000_000, T0_MS - 3_000_000, D(3420), D(3390),
                  D(30), D(1), D(0), "manual")
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.push_screen(ChartScreen(lambda: engine, trade=trade))
        await pilot.pause()
        chart = app.screen.query_one(PriceChart)
        assert app.screen.timeframe == "5m"  # 50 minutes: 10 candles
        # the fake holds 300 candles ending at T0: the trade lies inside
        assert [m.glyph for m in chart.drawn.marks] == ["▲", "▼"]
        xs = [m.x for m in chart.drawn.marks]
        c = chart.drawn.candles
        assert c[xs[0]].ts_ms <= trade.entry_ts_ms < c[xs[0]].ts_ms + TF
        assert c[xs[1]].ts_ms <= trade.exit_ts_ms < c[xs[1]].ts_ms + TF
        assert "exit manual" in chart.drawn.title
        _key(app, "1")  # 50 one-minute candles and the padding: more than fit; the window stays on the trade
        await pilot.pause(0.05)
        assert app.screen.timeframe == "1m" and [m.glyph for m in chart.drawn.marks] == ["▲", "▼"]


async def test_v_in_a_journal_trade_detail_opens_its_chart(make_app, engine):
    from kraken_tui.ui.journal_data import TradeDetail
    from kraken_tui.ui.screens.trade_detail import TradeDetailScreen

    trade = Trade("PF_ETHUSD", PositionSide.LONG, D(1), T0_MS - 3_000_000, T0_MS - 1_200_000, D(3390), D(3420),
                  D(30), D(1), D(0), "take_profit")
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(TradeDetailScreen(TradeDetail(trade, [], None)))
        await pilot.pause()
        _key(app, "k")
        await pilot.pause(0.05)
        await pilot.pause()
        assert isinstance(app.screen, ChartScreen) and app.screen.trade is trade
        assert [m.glyph for m in app.screen.query_one(PriceChart).drawn.marks] == ["▲", "▼"]
        _key(app, "escape")
        await pilot.pause(0.05)
        assert isinstance(app.screen, TradeDetailScreen)
