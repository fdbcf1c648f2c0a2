"""Every key path of the console, driven with Pilot on the FakeEngine (frozen clock)."""

from __future__ import annotations

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineEvent, EventKind
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.ui.screens.confirm import ConfirmScreen
from kraken_tui.ui.screens.help import HelpScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.widgets.status import StatusBar
from tests.ui.fake_engine import T0_MS, FakeEngine

SIZE = (120, 40)


def status_text(app) -> str:
    return app.dashboard.query_one(StatusBar).plain()


async def test_pause_then_resume(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert engine.sm.state is OperatorState.PAUSED
        assert engine.calls[-1][0] == "pause" and engine.calls[-1][2] is TransitionSource.KEY
        assert "ENTRIES PAUSED - EXITS ACTIVE" in status_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert engine.sm.state is OperatorState.RUNNING
        assert " RUNNING " in status_text(app)


async def test_resume_when_running_is_refused_with_a_notice(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert engine.sm.state is OperatorState.RUNNING
        assert any("Resume refused" in n.message for n in app._notifications)


async def test_flatten_needs_two_presses_and_shows_it_is_armed(make_app, clock):
    engine = FakeEngine(hold_flatten=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        assert app.guard.armed and not engine.calls
        assert "FLATTEN ARMED" in status_text(app)
        clock.t += 1.0
        await pilot.press("F")
        await pilot.pause()
        assert engine.calls[0][0] == "flatten" and engine.calls[0][2] is TransitionSource.KEY
        app.refresh_now()
        assert "FLATTENING" in status_text(app) and "2 positions" in status_text(app)
        engine.release_flatten()
        await app.workers.wait_for_complete()
        app.refresh_now()
        assert engine.sm.state is OperatorState.HALTED
        assert app.flatten_reports and app.flatten_reports[0].flat
        assert "HALTED" in status_text(app) and "NOT FLAT" not in status_text(app)


async def test_armed_flatten_is_disarmed_by_any_other_key_which_does_nothing_else(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.press("p")  # disarms; does not pause
        await pilot.pause()
        assert not app.guard.armed
        assert engine.sm.state is OperatorState.RUNNING and not engine.calls
        await pilot.press("F")  # a single press after disarming only arms again
        await pilot.pause()
        assert app.guard.armed and not engine.calls


async def test_flatten_presses_too_far_apart_never_fire(make_app, engine, clock):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        clock.t += 2.5
        await pilot.press("F")
        await pilot.pause()
        assert not engine.calls and app.guard.armed


async def test_reset_after_halted_asks_and_says_what_it_reenables(make_app, engine):
    engine.sm.halt("equity floor reached", TransitionSource.AUTOMATIC)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "equity floor reached" in body and "stop-losses" in body and "Entries stay paused" in body
        await pilot.press("n")
        await pilot.pause()
        assert engine.sm.state is OperatorState.HALTED and not engine.calls
        await pilot.press("R")
        await pilot.press("y")
        await pilot.pause()
        assert engine.sm.state is OperatorState.PAUSED and engine.calls[-1][0] == "reset"


async def test_reset_when_not_halted_does_not_ask(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and not engine.calls


async def test_quit_with_positions_asks_and_says_what_stays_open(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "2 positions stay open" in body and "3 protective" in body and "detach tmux" in body
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q")
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_when_flat_and_not_running_does_not_ask(make_app, engine):
    engine.flat = True
    engine.sm.pause("operator: pause key", TransitionSource.KEY)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_journal_key_opens_the_journal_and_escape_returns(make_app, tmp_path):
    engine = FakeEngine(journal_path=str(tmp_path / "missing.sqlite"))
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, JournalScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cannot read the journal" in app.screen.status  # missing file: said, not crashed
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard


async def test_help_lists_every_key_and_the_log_file(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert str(tmp_path / "console.log") in text
        listed = dict(app.screen.keys)
        assert {"p", "r", "F", "R", "j", "?", "q"} <= set(listed)
        assert "twice within 2 s" in listed["F"] and "exits" in listed["p"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard


async def test_keymap_remaps_pause(make_app, engine):
    app = make_app(engine, Config(keymap={"pause": "x"}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert engine.sm.state is OperatorState.RUNNING
        await pilot.press("x")
        await pilot.pause()
        assert engine.sm.state is OperatorState.PAUSED


async def test_operator_keys_do_nothing_under_a_dialog(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.press("p")
        await pilot.pause()
        assert engine.sm.state is OperatorState.RUNNING and isinstance(app.screen, ConfirmScreen)


async def test_bell_rings_on_fills_and_high_alerts_but_not_info(make_app, engine, clock):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        engine.emit(EngineEvent(T0_MS, EventKind.INFO, "hello"))
        await pilot.pause()
        assert app.bells == 0
        engine.emit(EngineEvent(T0_MS, EventKind.FILL, "PF_ETHUSD sell 1.2 @ 3421 filled (stop)"))
        await pilot.pause()
        assert app.bells == 1
        clock.t += 1
        engine.emit(EngineEvent(T0_MS, EventKind.ALERT, "PF_XBTUSD liquidation distance 4%", data={"level": "EXTREME"}))
        await pilot.pause()
        assert app.bells == 2
        clock.t += 1
        engine.emit(EngineEvent(T0_MS, EventKind.ALERT, "PF_XBTUSD distance 15%", data={"level": "MEDIUM"}))
        await pilot.pause()
        assert app.bells == 2


async def test_bell_off_in_config(make_app, engine):
    cfg = Config()
    cfg.ui.bell = False
    app = make_app(engine, cfg)
    async with app.run_test(size=SIZE) as pilot:
        engine.emit(EngineEvent(T0_MS, EventKind.FILL, "filled"))
        await pilot.pause()
        assert app.bells == 0


async def test_page_key_cycles_panels_on_a_small_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dash = app.dashboard
        assert dash.compact
        shown = lambda: sorted(p.id for p in dash.panels if p.display)  # noqa: E731
        assert shown() == ["market", "pnl", "positions"]
        await pilot.press("tab")
        assert shown() == ["funding", "liquidation", "orders"]
        await pilot.press("tab")
        assert shown() == ["events", "signals"]


async def _send_key(app, key: str, *, waited_s: float = 0.0) -> None:
    """Queue ``key`` as the terminal driver would, stamped as read ``waited_s`` before it is handled."""
    from textual import events
    from textual._time import get_time

    ev = events.Key(key, key)
    ev.time = get_time() - waited_s
    ev.set_sender(app)
    app._driver.send_message(ev)


async def test_a_double_press_made_in_time_fires_even_when_the_busy_loop_handles_it_late(make_app, engine, clock):
    # F at t0, F again 0.5 s later; the loop was busy and handles the second F at t0 + 3 s. The window is
    # between the presses (0.5 s), not between the handling (3 s): it fires.
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # mounted and idle: the first key's handling delay is not part of the timeline
        await _send_key(app, "F")
        await pilot.pause()
        assert app.guard.armed and not engine.calls
        clock.t += 3.0
        await _send_key(app, "F", waited_s=2.5)
        await pilot.pause()
        assert engine.calls and engine.calls[0][0] == "flatten"


async def test_presses_far_apart_do_not_fire_however_quickly_they_are_handled(make_app, engine, clock):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # mounted and idle: the first key's handling delay is not part of the timeline
        await _send_key(app, "F", waited_s=2.5)  # pressed 2.5 s ago, handled now
        await pilot.pause()
        await _send_key(app, "F")
        await pilot.pause()
        assert not engine.calls and app.guard.armed


async def test_a_stray_key_between_two_late_handled_presses_disarms(make_app, engine, clock):
    # F, p, F all within the window but handled after it ran out (busy loop): the p still disarms, the
    # second F only arms again (at its press time, 0.6 s after the first), and p does nothing else.
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # mounted and idle: the first key's handling delay is not part of the timeline
        await _send_key(app, "F")
        await pilot.pause()
        clock.t += 3.0
        await _send_key(app, "p", waited_s=2.6)
        await _send_key(app, "F", waited_s=2.4)
        await pilot.pause()
        assert not engine.calls and engine.sm.state is OperatorState.RUNNING
        assert app.guard.armed_at_time(clock.t - 2.4 + 1.9)  # armed by the second F, not fired


async def test_the_flatten_request_leaves_before_the_screen_is_redrawn(make_app, engine):
    # The key's handler gives the flatten a head start: its first call reaches the engine before the app
    # goes back to redrawing and to the engine events queued behind the key.
    order: list[str] = []
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        refresh, flatten = app.refresh_now, engine.begin_flatten

        def traced_refresh() -> None:
            order.append("refresh")
            refresh()

        def traced_flatten(*a, **kw):
            order.append("flatten")
            return flatten(*a, **kw)

        app.refresh_now, engine.begin_flatten = traced_refresh, traced_flatten
        await _send_key(app, "F")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert order and order[0] == "flatten", order
