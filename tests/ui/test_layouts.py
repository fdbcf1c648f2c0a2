"""Layouts at every supported terminal size: no column of Orders, Funding or Signals is lost (each table shows
a column set that fits its panel, and every header is on the screen on some page), the paged one-column
layout is only for small terminals, page 3 at 80x24 keeps Events above the footer, a table that
follows its newest rows shows them after a resize, and no cell of Positions, Orders, Funding or Signals is cut
at any size, with the widest figures each can meet."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal as D

import pytest
from rich.console import Console

from kraken_tui.engine.facade import OrderView, SignalView
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.screens.dashboard import layout_for
from kraken_tui.ui.widgets.funding import FundingPanel
from kraken_tui.ui.widgets.orders import OrdersPanel
from kraken_tui.ui.widgets.positions import PositionsPanel, position_cells
from kraken_tui.ui.widgets.signals import SignalsPanel
from kraken_tui.ui.widgets.table import KeyedTable
from tests.ui.fake_engine import T0_MS, FakeEngine, demo_positions

SIZES = [(80, 24), (100, 34), (120, 30), (120, 40), (160, 48), (200, 30), (200, 60)]
PANELS = (OrdersPanel, FundingPanel, SignalsPanel)


async def keys(pilot, *names: str) -> None:
    """Press ``names`` one at a time, as a person does (keys read microseconds apart are a burst of typed
    text, which drives no binding)."""
    for name in names:
        await pilot.press(name)
        await pilot.pause(0.05)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (the compositor's full frame)."""
    w, h = app.size
    con = Console(width=w, height=h, record=True, file=io.StringIO(), color_system=None)
    con.print(app.screen._compositor.render_update(full=True))
    return con.export_text()


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app.refresh_now()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_column_header_is_on_screen(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        dash = app.dashboard
        seen: dict[type, str] = {}
        for _page in range(3):
            text = screen_text(app)
            for cls in PANELS:
                panel = dash.query_one(cls)
                if not panel.display:
                    continue
                table = panel.query_one(KeyedTable)
                # the column set shown fits the table (no column past the panel's edge)
                assert table.min_width(table._columns_spec) <= table.size.width, (cls.__name__, table.labels)
                header = " ".join(table.labels)
                lines = [" ".join(line.split()) for line in text.splitlines()]
                assert any(header in line for line in lines), (cls.__name__, header, text)
                seen[cls] = header
            await keys(pilot, "tab")
            await _settle(pilot)
        assert set(seen) == set(PANELS)


@pytest.mark.parametrize("size", [(120, 30), (200, 30), (100, 34)])
def test_wide_short_terminals_do_not_fall_back_to_the_one_column_pager(size):
    assert layout_for(*size) != "compact"


async def test_page_3_at_80x24_keeps_events_above_the_footer(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await keys(pilot, "tab", "tab")
        await _settle(pilot)
        events = app.dashboard.query_one("#events")
        footer_y = app.screen.query_one("Footer").region.y
        assert events.display and events.region.height >= 4
        assert events.region.bottom <= footer_y


async def test_the_digit_keys_show_the_page_the_page_bar_numbers(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        shown = lambda: {i for i in ("positions", "orders", "signals", "events")  # noqa: E731
                         if app.dashboard.query_one(f"#{i}").display}
        await keys(pilot, "3")
        await _settle(pilot)
        assert app.dashboard.page == 3 and shown() == {"signals", "events"}
        await keys(pilot, "1")
        await _settle(pilot)
        assert app.dashboard.page == 1 and "positions" in shown() and "events" not in shown()
        await keys(pilot, "2")
        await _settle(pilot)
        assert app.dashboard.page == 2 and "orders" in shown() and "positions" not in shown()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:  # not paged: a digit changes nothing
        await _settle(pilot)
        await keys(pilot, "3")
        await _settle(pilot)
        assert app.dashboard.page == 1


async def test_signals_show_the_newest_rows_after_a_resize(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, signals=tuple(
        SignalView(T0_MS + i * 60_000, "PF_ETHUSD", "long", 0.5, "ensemble", f"reason {i}", "ignored: flat")
        for i in range(40)))
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        table = app.dashboard.query_one(SignalsPanel).query_one(KeyedTable)
        table.scroll_home(animate=False)
        await pilot.resize_terminal(120, 40)
        await _settle(pilot)
        await pilot.pause(0.1)
        assert table.row_count == 40
        assert table.scroll_y == table.max_scroll_y > 0


async def test_zoom_cycles_the_panels_and_hide_leaves_one_out(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        dash = app.dashboard
        shown = lambda: [p.id for p in dash.panels if p.display and p.visible]  # noqa: E731
        assert len(shown()) == 8
        await keys(pilot, "z")
        assert shown() == ["positions"] and dash.has_class("zoomed")
        await keys(pilot, "z", "z")
        assert shown() == ["pnl"]
        assert "zoom: P&L" in screen_text(app)
        await keys(pilot, "v")  # hide the zoomed panel; back to the layout without it
        await _settle(pilot)
        assert dash.zoomed is None and "pnl" not in shown() and len(shown()) == 7
        await keys(pilot, "z", "z", "z", "v")  # zoom the hidden panel again and show it
        assert "pnl" in shown() and len(shown()) == 8
        for _ in range(9):  # the eight panels in order, then none
            await keys(pilot, "z")
        assert dash.zoomed is None and len(shown()) == 8  # past the last panel: the layout


async def test_zoom_and_hidden_panels_from_the_config(make_app):
    from kraken_tui.config import Config

    cfg = Config.model_validate({"ui": {"zoom": "orders", "hidden_panels": ["market"]}})
    app = make_app(cfg=cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        dash = app.dashboard
        assert [p.id for p in dash.panels if p.display] == ["orders"]
        await keys(pilot, "z")  # orders -> signals
        await keys(pilot, "z", "z")  # -> events -> the layout
        await _settle(pilot)
        assert sorted(p.id for p in dash.panels if p.display) == ["pnl", "positions"]  # market hidden


def test_bad_panel_ids_in_the_config_are_named():
    from pydantic import ValidationError

    from kraken_tui.config import Config

    with pytest.raises(ValidationError, match="unknown panel 'chart'"):
        Config.model_validate({"ui": {"zoom": "chart"}})
    with pytest.raises(ValidationError, match="'foo'"):
        Config.model_validate({"ui": {"hidden_panels": ["orders", "foo"]}})


async def test_modals_draw_over_the_live_dashboard(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        for key in ("question_mark", "q"):
            await keys(pilot, key)
            await pilot.pause(0.1)
            svg = app.export_screenshot()
            assert "Equity" in svg and "Positions" in svg, key  # the dashboard shows under the dialog
            await keys(pilot, "escape")
            await pilot.pause(0.1)


async def test_help_scrolls_at_80x24_with_a_more_hint(make_app):
    from textual.containers import VerticalScroll

    from kraken_tui.ui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await keys(pilot, "question_mark")
        await pilot.pause(0.2)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        body = help_screen.query_one("#help-body", VerticalScroll)
        assert body.max_scroll_y > 0 and "more" in str(body.border_subtitle)
        await keys(pilot, "end")
        await pilot.pause(0.2)
        assert body.scroll_y == body.max_scroll_y and not body.border_subtitle


def _extreme_snapshot(engine: FakeEngine) -> None:
    """The widest figures each table can meet: XBT at 100,000.50 on no known tick (float prices with cents),
    a 12,345.67 USD loss (-123.45 %), a funding countdown of a whole hour, a high annual rate, accruals of
    thousands of USD, an external position, an order with a fill."""

    base = engine.base
    pos = [replace(p, entry_price=D("100000.5"), mark_price=D("100000.50"), upnl_usd=D("-12345.67"),
                   upnl_pct=-123.45, liq_price=D("123456.7"), liq_distance=1.2345, leverage_x=12.34,
                   funding_accrued_usd=D("-12345.67"), external=True) for p in base.positions]
    orders = (*base.orders,
              OrderView("o-9", None, "PF_XBTUSD", base.orders[0].side, "take_profit", D("0.0001"), D("0.0001"),
                        D("100000.5"), D("100000.5"), True, "external", T0_MS))
    markets = tuple(replace(m, next_funding_ts_ms=T0_MS + 3_600_000, funding_rate=-0.000123,
                            predicted_funding_rate=-0.000123, mark_price=100000.5, bid=100000.0,
                            ask=100001.0, index_price=100000.25, last_price=100000.5)
                    for m in base.markets)
    engine.base = replace(base, positions=tuple(pos), orders=orders, markets=markets)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_no_cell_is_cut_at_any_size(make_app, size):
    engine = FakeEngine()
    _extreme_snapshot(engine)
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        dash = app.dashboard
        checked = set()
        for _page in range(3):
            for cls in (*PANELS, PositionsPanel):
                panel = dash.query_one(cls)
                if not panel.display:
                    continue
                table = panel.query_one(KeyedTable)
                assert table.keys, cls.__name__
                assert table.cut == {}, (cls.__name__, table.labels, table.cut)
                checked.add(cls)
            await keys(pilot, "tab")
            await _settle(pilot)
        assert checked == {*PANELS, PositionsPanel}


async def test_funding_countdown_of_an_hour_is_whole_at_120x40(make_app):
    engine = FakeEngine()
    engine.base = replace(engine.base, markets=tuple(replace(m, next_funding_ts_ms=T0_MS + 3_600_000)
                                                     for m in engine.base.markets))
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        lines = [line for line in screen_text(app).splitlines() if "PF_ETHUSD +0.0013%" in line]
        assert lines and "1:00:00" in lines[0], lines


async def test_positions_keep_every_column_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        table = app.dashboard.query_one(PositionsPanel).query_one(KeyedTable)
        assert table.min_width(table._columns_spec) <= table.size.width, table.labels
        text = screen_text(app)
        row = next(line for line in text.splitlines() if "PF_XBTUSD" in line and "▼" in line)
        # Lev (the last figure) on screen: 1.26x; uPnL -3.2 % keeps its two decimals
        assert "1.3x" in row and "-3.20%" in row, row
        assert table.cut == {}


def test_positions_say_none_without_a_liquidation_price_and_use_the_tick():
    p = replace(demo_positions()[0], liq_price=None, liq_distance=None, price_decimals=1,
                entry_price=D("3400.53333"))
    cells = [c if isinstance(c, str) else c.plain for c in position_cells(p, Palette())]
    assert cells[3:5] == ["3,400.5", "3,421.0"] and cells[7] == "none" and cells[8] == "-"


async def test_orders_show_a_stop_and_four_take_profits_at_120x40(make_app):
    # a position's protective orders (a stop and 4 take-profits) are read without scrolling at 120x40
    engine = FakeEngine()
    base = engine.base
    tps = tuple(OrderView(f"o-tp{i}", f"kt-tp{i}-eth", "PF_ETHUSD", base.orders[0].side, "take_profit", D("0.3"),
                          D(0), D(3460 + 10 * i), D(3460 + 10 * i), True, f"tp{i}", T0_MS) for i in range(1, 5))
    engine.base = replace(base, orders=(*base.orders, *tps))
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        table = app.dashboard.query_one(OrdersPanel).query_one(KeyedTable)
        rows_shown = table.scrollable_content_region.height - 1  # less the header
        assert len(table.keys) == 7 and rows_shown >= 5, rows_shown
