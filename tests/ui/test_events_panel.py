"""The Events panel: hanging indent, protective-order bursts collapsed to one line, severity filter, `/`
search and a scrolled-back log that new lines do not pull to the end."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import RichLog

from kraken_tui.domain import Side
from kraken_tui.engine.facade import EngineEvent, EventKind, OrderView, Severity
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.events import INDENT, EventsPanel, collapse_protective, event_line
from tests.ui.fake_engine import T0_MS
from tests.ui.test_layouts import keys


def _placed(i: int, purpose: str, symbol: str = "PF_ETHUSD") -> EngineEvent:
    return EngineEvent(T0_MS + i, EventKind.ORDER, f"{symbol} sell 0.3 lmt ({purpose}): placed", symbol,
                       Severity.INFO, {"status": "placed", "purpose": purpose, "cli_ord_id": f"kt-{purpose}"})


def test_a_protective_burst_reads_as_one_line_with_the_stop_price():
    stop = OrderView("o-1", "kt-stop", "PF_ETHUSD", Side.SELL, "stop", Decimal("1.2"), Decimal(0), None,
                     Decimal("3558.9"), True, "stop", T0_MS)
    fill = EngineEvent(T0_MS, EventKind.FILL, "PF_ETHUSD long 1.2 @ 3600 filled (entry)", "PF_ETHUSD")
    events = [fill, _placed(1, "stop"), *(_placed(2 + i, f"tp{i + 1}") for i in range(4)),
              _placed(9, "stop", "PF_XBTUSD")]
    out = collapse_protective(events, [stop])
    assert [e.message for e in out] == [fill.message, "PF_ETHUSD stop 3,558.9 + 4 TPs placed",
                                        "PF_XBTUSD sell 0.3 lmt (stop): placed"]
    # a rejected placement is never folded into the summary
    bad = EngineEvent(T0_MS + 3, EventKind.ORDER, "PF_ETHUSD sell 0.3 lmt (tp1): rejected", "PF_ETHUSD",
                      Severity.WARNING, {"status": "rejected", "purpose": "tp1"})
    assert bad in collapse_protective([_placed(1, "stop"), bad, _placed(4, "tp2")])


def test_continuation_lines_are_indented_under_the_message():
    e = EngineEvent(T0_MS, EventKind.RISK_REJECTION, "PF_ETHUSD long entry rejected: " + "word " * 30, "PF_ETHUSD",
                    Severity.WARNING)
    text = event_line(e, Palette(), width=60).plain.split("\n")
    assert len(text) > 2 and all(len(line) <= 60 for line in text)
    assert all(line.startswith(" " * INDENT) and line[INDENT] != " " for line in text[1:])


async def _log_text(pilot) -> list[str]:
    await pilot.pause()
    pilot.app.refresh_now()
    await pilot.pause()
    log = pilot.app.dashboard.query_one(RichLog)
    return ["".join(seg.text for seg in line).rstrip() for line in log.lines]


async def test_severity_filter_and_search(make_app, engine):
    engine.emit(EngineEvent(T0_MS + 1, EventKind.ERROR, "exchange unreachable", None, Severity.ERROR))
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        text = await _log_text(pilot)
        assert any("RUNNING: start" in t for t in text)
        await keys(pilot, "e", "s")  # warnings and worse
        text = await _log_text(pilot)
        assert not any("RUNNING: start" in t for t in text) and any("max open positions" in t for t in text)
        assert app.dashboard.query_one(EventsPanel).border_subtitle == "warnings+"
        await keys(pilot, "s")  # errors and worse
        text = await _log_text(pilot)
        assert any("exchange unreachable" in t for t in text) and not any("max open" in t for t in text)
        await keys(pilot, "s", "slash")  # all again; search
        await pilot.press(*"liquidation", "enter")
        text = await _log_text(pilot)
        assert [t for t in text if "alert" in t] and not any("RUNNING" in t or "filled" in t for t in text)
        await keys(pilot, "escape")
        text = await _log_text(pilot)
        assert any("RUNNING: start" in t for t in text) and any("filled" in t for t in text)


async def test_a_scrolled_back_log_stays_where_the_reader_is(make_app, engine):
    for i in range(60):
        engine.emit(EngineEvent(T0_MS + 1000 + i, EventKind.INFO, f"line {i}", None))
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await _log_text(pilot)
        log = app.dashboard.query_one(RichLog)
        await keys(pilot, "e", "home")
        await pilot.pause()
        assert log.scroll_y == 0 and log.max_scroll_y > 0
        engine.emit(EngineEvent(T0_MS + 5000, EventKind.INFO, "a newer line", None))
        await _log_text(pilot)
        assert log.scroll_y == 0  # not pulled to the end
        await keys(pilot, "end")
        engine.emit(EngineEvent(T0_MS + 6000, EventKind.INFO, "the newest line", None))
        await _log_text(pilot)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y


async def test_the_newest_line_stays_in_view_after_quick_batches_and_a_shrink(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await _log_text(pilot)
        panel = app.dashboard.query_one(EventsPanel)
        log = panel.query_one(RichLog)
        for batch in range(3):  # batches written one right after the other, no refresh between them
            for i in range(15):
                engine.emit(EngineEvent(T0_MS + 1000 + 100 * batch + i, EventKind.INFO, f"b{batch} line {i}", None))
            app.refresh_now()
        await pilot.pause()
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
        panel.styles.height = log.size.height  # the panel shrinks (two rows): its end moves down
        await pilot.pause()
        engine.emit(EngineEvent(T0_MS + 9000, EventKind.INFO, "the newest line", None))
        for _ in range(3):
            app.refresh_now()
            await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert "the newest line" in "".join(seg.text for seg in log.lines[-1])
