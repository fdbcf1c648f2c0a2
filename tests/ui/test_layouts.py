"""Layouts at every supported terminal size: no column of Orders, Funding or Signals is lost (each table shows
a column set that fits its panel, and every header is on the screen on some page), the paged one-column
layout is only for small terminals, page 3 at 80x24 keeps Events above the footer, and a table that
follows its newest rows shows them after a resize."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from kraken_tui.engine.facade import SignalView
from kraken_tui.ui.screens.dashboard import layout_for
from kraken_tui.ui.widgets.funding import FundingPanel
from kraken_tui.ui.widgets.orders import OrdersPanel
from kraken_tui.ui.widgets.signals import SignalsPanel
from kraken_tui.ui.widgets.table import KeyedTable
from tests.ui.fake_engine import T0_MS, FakeEngine

SIZES = [(80, 24), (100, 34), (120, 30), (120, 40), (160, 48), (200, 30), (200, 60)]
PANELS = (OrdersPanel, FundingPanel, SignalsPanel)


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
            await pilot.press("tab")
            await _settle(pilot)
        assert set(seen) == set(PANELS)


@pytest.mark.parametrize("size", [(120, 30), (200, 30), (100, 34)])
def test_wide_short_terminals_do_not_fall_back_to_the_one_column_pager(size):
    assert layout_for(*size) != "compact"


async def test_page_3_at_80x24_keeps_events_above_the_footer(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await pilot.press("tab", "tab")
        await _settle(pilot)
        events = app.dashboard.query_one("#events")
        footer_y = app.screen.query_one("Footer").region.y
        assert events.display and events.region.height >= 4
        assert events.region.bottom <= footer_y


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
