"""The state line lists every entry blocker with its detail, while PAUSED as well as RUNNING, and says
that resume acknowledges a position reconciliation adopted; the signals' action column and the event log
use the width they are given (and re-wrap on resize)."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets.data_table import ColumnKey

from kraken_tui.engine.facade import EngineEvent, EventKind, Severity
from kraken_tui.engine.operator import OperatorState
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.positions import PositionsPanel
from kraken_tui.ui.widgets.status import StatusBar, state_line
from kraken_tui.ui.widgets.table import KeyedTable
from tests.ui.fake_engine import ADOPTED, RECONCILIATION, T0_MS, FakeEngine, demo_snapshot

PAL = Palette()


def line(**kw) -> str:
    return state_line(replace(demo_snapshot(), **kw), PAL, resume_key="r").plain


def test_paused_lists_every_blocker_with_its_detail():
    text = line(state=OperatorState.PAUSED, state_reason="operator: pause key",
                entry_blockers={"stale market data": "no market data for 42 s",
                                "daily loss limit": "equity 9,700.00 below 9,750.00 USD"})
    assert text.startswith(" ENTRIES PAUSED - EXITS ACTIVE ")
    assert "operator: pause key" in text
    assert "stale market data: no market data for 42 s" in text
    assert "daily loss limit: equity 9,700.00 below 9,750.00 USD" in text
    assert "acknowledge" not in text  # nothing to acknowledge without the reconciliation blocker


def test_paused_by_reconciliation_says_resume_acknowledges_and_does_not_repeat_the_detail():
    text = line(state=OperatorState.PAUSED, state_reason=f"reconciliation: {ADOPTED}",
                entry_blockers={RECONCILIATION: ADOPTED})
    assert "press r to acknowledge the adopted position and resume entries" in text
    assert "reconciliation mismatch: PF_XBTUSD short 0.05 adopted as external" in text
    assert text.count("adopted as external") == 1
    assert "resume acknowledges it" not in text  # said once, with the key


def test_running_with_blockers_lists_them():
    text = line(entry_blockers={"stale market data": "no market data for 42 s"})
    assert text.startswith(" RUNNING ") and "entries blocked: stale market data: no market data for 42 s" in text
    running_adopted = line(entry_blockers={RECONCILIATION: ADOPTED})
    assert "press r to acknowledge the adopted position" in running_adopted
    assert "and resume entries" not in running_adopted  # resume from RUNNING only acknowledges


def test_plain_running_and_paused_show_the_reason_only():
    assert line(state_reason="start") == " RUNNING   start"
    assert line(state=OperatorState.PAUSED, state_reason="operator: pause key") == \
        " ENTRIES PAUSED - EXITS ACTIVE   operator: pause key"


async def test_resume_acknowledges_the_adopted_position(make_app):
    engine = FakeEngine()
    engine.adopt_external()
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        bar = app.dashboard.query_one(StatusBar).plain()
        assert "ENTRIES PAUSED" in bar and "press r to acknowledge" in bar
        panel = app.dashboard.query_one(PositionsPanel)
        assert panel.border_subtitle == "2 open, 1 EXTERNAL"
        await pilot.press("r")
        await pilot.pause()
        assert engine.sm.state is OperatorState.RUNNING and not engine.sm.entry_blockers
        assert any("Adopted position acknowledged" in n.message for n in app._notifications)
        bar = app.dashboard.query_one(StatusBar).plain()
        assert " RUNNING " in bar and "acknowledge" not in bar


async def test_long_blocker_details_wrap_instead_of_being_cut_at_80_columns(make_app):
    engine = FakeEngine()
    engine.adopt_external()
    engine.sm.block_entries("stale market data", "no market data for 42 s")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.dashboard.query_one(StatusBar).size.height == 4  # clock line + three state lines


async def test_signals_action_column_takes_the_rest_of_the_panel(make_app):
    from kraken_tui.ui.widgets.signals import SignalsPanel

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.dashboard.query_one(SignalsPanel).query_one(KeyedTable)
        action = table.columns[ColumnKey("action")]
        fixed = sum(c.width for k, c in table.columns.items() if k != ColumnKey("action"))
        assert fixed + action.width == table.size.width - 1 and action.width > 20
        narrow = action.width
        await pilot.resize_terminal(200, 50)  # three columns, each wider than the two at 120
        await pilot.pause()
        assert action.width > narrow
        assert action.width + fixed == table.size.width - 1


async def test_events_rewrap_when_the_log_gets_narrower(make_app, engine):
    from textual.widgets import RichLog

    long = "PF_ETHUSD long entry rejected: " + "a reason that is much longer than any panel is wide " * 3
    engine.emit(EngineEvent(T0_MS, EventKind.RISK_REJECTION, long, "PF_ETHUSD", Severity.WARNING))
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        app.refresh_now()
        log = app.dashboard.query_one(RichLog)
        wide_lines = len(log.lines)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert len(log.lines) > wide_lines
        assert all(line.cell_length <= width for line in log.lines)
        text = "".join(seg.text for line in log.lines for seg in line).replace(" ", "")
        assert long.replace(" ", "") in text  # nothing lost or cut


async def test_events_from_another_day_are_introduced_by_a_date_line(make_app, engine):
    # A replay: the engine's start event carries today's wall clock, the data events the replayed day.
    from textual.widgets import RichLog

    engine.emit(EngineEvent(T0_MS + 3 * 86_400_000 + 5_000, EventKind.STATE_CHANGE, "next-days event", None))
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        lines = ["".join(seg.text for seg in line).rstrip() for line in app.dashboard.query_one(RichLog).lines]
        days = [i for i, line in enumerate(lines) if line.startswith("-- ")]
        assert [lines[i] for i in days] == ["-- 2024-07-01 --", "-- 2024-07-04 --"]
        assert "next-days event" in lines[days[1] + 1] and lines[days[1] + 1].startswith("12:00:05 ")


async def test_a_burst_of_events_is_summarised_not_scrolled_past(make_app, engine):
    from textual.widgets import RichLog

    from kraken_tui.ui.widgets.events import MIN_BURST_LINES

    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.refresh_now()
        for i in range(300):
            engine.emit(EngineEvent(T0_MS + 1000 + i, EventKind.ORDER, f"burst order {i}", "PF_ETHUSD"))
        app.refresh_now()
        await pilot.pause()
        log = app.dashboard.query_one(RichLog)
        text = ["".join(seg.text for seg in line).rstrip() for line in log.lines]
        cap = max(2 * log.scrollable_content_region.height, MIN_BURST_LINES)
        assert any(f"... {300 - cap} more events (every one is in the journal)" in t for t in text)
        assert "burst order 299" in text[-1] and not any(t.endswith("burst order 0") for t in text)


def test_the_badge_styles_only_the_badge():
    from kraken_tui.ui.widgets.status import top_line

    pal = Palette()
    for line in (top_line(demo_snapshot(), T0_MS, pal), state_line(demo_snapshot(), pal),
                 state_line(demo_snapshot(OperatorState.HALTED, "flattened"), pal),
                 state_line(demo_snapshot(OperatorState.PAUSED, "operator"), pal)):
        assert not str(line.style)  # no base style: it would bold-reverse every part of the line
        badge = line.spans[0]
        assert badge.start == 0 and "reverse" in str(badge.style)
        rest = line.plain[badge.end:].strip()
        assert rest and all("reverse" not in str(s.style) for s in line.spans[1:] if s.start >= badge.end
                            and line.plain[s.start:s.end].strip() != "SYNTHETIC PRICES")


def test_a_replay_at_its_end_reads_replay_ended_not_feed_stale():
    from kraken_tui.engine.facade import EngineMode, FeedView
    from kraken_tui.ui.widgets.status import top_line

    snap = replace(demo_snapshot(), mode=EngineMode.REPLAY, feed=FeedView("stale", 42.0))
    line = top_line(snap, T0_MS, Palette()).plain
    assert "replay ended" in line and "stale" not in line
    paper = replace(demo_snapshot(), feed=FeedView("stale", 42.0))
    assert "feed stale" in top_line(paper, T0_MS, Palette()).plain


async def test_the_status_bar_says_starting_before_the_first_snapshot():
    from textual.app import App

    class Bare(App):
        def compose(self):
            yield StatusBar()

    async with Bare().run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        assert "starting…" in str(pilot.app.query_one(StatusBar).render())
