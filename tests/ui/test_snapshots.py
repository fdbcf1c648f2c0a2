"""Screenshots of the console on the FakeEngine with a frozen clock, at every supported size (80x24, 100x34,
120x30, 120x40, 160x48, 200x30, 200x60).

Compared with the SVGs in ``__snapshots__/`` (pytest-textual-snapshot); after a deliberate change,
look at the new screens and accept them with ``pytest tests/ui --snapshot-update``.
"""

from __future__ import annotations

from kraken_tui.engine.operator import TransitionSource
from tests.ui.fake_engine import FakeEngine


async def settled(pilot) -> None:
    """Let layout finish, then refresh until two screens in a row are the same (the event log wraps once it
    has its width, and keeps its newest line in view at each refresh), so the screenshot does not depend on
    how fast the machine is."""
    await pilot.pause()
    before = None
    for _ in range(20):
        pilot.app.refresh_now()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        screen = pilot.app.export_screenshot()
        if screen == before:
            return
        before = screen
    raise AssertionError("the screen kept changing: no stable screenshot")


def pressed(*keys: str):
    """``run_before`` that settles, presses ``keys``, then settles again: the panels a key shows (a page, a
    dialog) fill their tables before the screenshot, however fast the machine is."""

    async def run(pilot) -> None:
        await settled(pilot)
        await pilot.press(*keys)
        await settled(pilot)

    return run


def test_dashboard_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settled)


def test_dashboard_160x48(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=settled)


def test_risk_page_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=pressed("tab"))


def test_paused_and_flatten_armed_120x40(snap_compare, make_app):
    engine = FakeEngine()
    engine.sm.pause("operator: pause key", TransitionSource.KEY)
    assert snap_compare(make_app(engine), terminal_size=(120, 40), run_before=pressed("F"))


def test_quit_prompt_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=pressed("q"))


def test_paused_by_reconciliation_with_stale_data_80x24(snap_compare, make_app):
    engine = FakeEngine()
    engine.adopt_external()
    engine.sm.block_entries("stale market data", "no market data for 42 s")
    assert snap_compare(make_app(engine), terminal_size=(80, 24), run_before=settled)


def test_live_gate_80x24(snap_compare, clock, tmp_path):
    from kraken_tui.config import Config
    from kraken_tui.ui.app import KrakenApp
    from tests.ui.test_live_gate import TARGET, FakeServices

    app = KrakenApp(None, Config(), clock=clock, services=FakeServices(TARGET), log_file=tmp_path / "c.log")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


def test_dashboard_100x34(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(100, 34), run_before=settled)


def test_dashboard_120x30(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=settled)


def test_dashboard_120x30_page_2(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=pressed("tab"))


def test_dashboard_120x40(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=settled)


def test_dashboard_200x30(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(200, 30), run_before=settled)


def test_dashboard_200x60(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(200, 60), run_before=settled)


def test_signals_events_page_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=pressed("tab", "tab"))
