"""Flatten from every screen by keys only, and nothing destructive from clicks, pastes or bursts of typed keys.

Keys are queued as the terminal driver would send them (``_key``): with the character the terminal sends
(``ctrl+f`` is ``\\x06``) and the time they were read. Keys read microseconds apart are one burst (a paste
without bracketed paste, text sent by a program); pilot's presses are tens of milliseconds apart.
"""

from __future__ import annotations

from textual import events
from textual._time import get_time
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from kraken_tui.config import Config
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.ui.screens.confirm import ConfirmScreen, QuitScreen
from kraken_tui.ui.screens.help import HelpScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.screens.live_gate import LiveGateScreen
from tests.ui.fake_engine import FakeEngine

SIZE = (120, 40)
CHARS = {"ctrl+f": "\x06", "ctrl+r": "\x12", "ctrl+q": "\x11", "space": " ", "escape": "\x1b"}


def _key(app, key: str, *, at: float | None = None) -> None:
    """Queue ``key`` as read from the terminal at ``at`` (textual's clock; None = now)."""
    ev = events.Key(key, CHARS.get(key, key if len(key) == 1 else None))
    ev.time = get_time() if at is None else at
    ev.set_sender(app)
    app._driver.send_message(ev)


async def _twice(pilot, key: str) -> None:
    """``key`` pressed twice by a person (clock frozen: the second press is inside the 2 s window)."""
    for _ in range(2):
        _key(pilot.app, key)
        await pilot.pause(0.05)


def _flattened(engine: FakeEngine) -> bool:
    return any(c[0] == "flatten" for c in engine.calls)


async def test_flatten_keys_work_inside_the_quit_prompt(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await _twice(pilot, "F")
        await app.workers.wait_for_complete()
        assert _flattened(engine) and engine.calls[0][2] is TransitionSource.KEY


async def test_the_quit_prompt_offers_flatten_then_quit(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert _flattened(engine)
    assert app.return_code == 0


async def test_q_while_running_asks_even_when_flat(make_app, engine):
    engine.flat = True
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, QuitScreen)
        assert "RUNNING" in str(app.screen.query_one("#confirm-body").render())


async def test_in_the_command_palette_F_types_and_ctrl_f_flattens(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        box = app.screen.query_one(Input)
        await _twice(pilot, "F")
        assert box.value == "FF" and not _flattened(engine) and not app.guard.armed
        await _twice(pilot, "ctrl+f")
        await app.workers.wait_for_complete()
        assert _flattened(engine)


async def test_in_the_journal_filter_F_types_and_ctrl_f_flattens(make_app, tmp_path):
    engine = FakeEngine(journal_path=str(tmp_path / "missing.sqlite"))
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        box = app.screen.query_one("#journal-filter", Input)
        assert app.focused is box
        await _twice(pilot, "F")
        assert box.value == "FF" and not _flattened(engine)
        await _twice(pilot, "ctrl+f")
        await app.workers.wait_for_complete()
        assert _flattened(engine)


async def test_F_F_flattens_on_the_journal_help_confirmation_and_live_gate(make_app, tmp_path):
    for open_screen in ("journal", "help", "reset", "live gate"):
        engine = FakeEngine(journal_path=str(tmp_path / "missing.sqlite"))
        if open_screen == "reset":
            engine.sm.halt("equity floor reached", TransitionSource.AUTOMATIC)
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            if open_screen == "live gate":
                app.push_screen(LiveGateScreen("Kraken Futures (test)"))
            else:
                await pilot.press({"journal": "j", "help": "question_mark", "reset": "R"}[open_screen])
            await pilot.pause()
            expected = {"journal": JournalScreen, "help": HelpScreen, "reset": ConfirmScreen,
                        "live gate": LiveGateScreen}[open_screen]
            assert isinstance(app.screen, expected)
            # the live gate's answer box has the focus: F types there, ctrl+f flattens
            await _twice(pilot, "ctrl+f" if open_screen == "live gate" else "F")
            await app.workers.wait_for_complete()
            assert _flattened(engine), open_screen


async def test_F_F_flattens_in_the_trade_detail(make_app, engine, tmp_path):
    from kraken_tui.journal.trades import derive_trades
    from kraken_tui.ui.journal_data import TradeDetail
    from kraken_tui.ui.screens.trade_detail import TradeDetailScreen
    from tests.journal.factory import fill

    fills = [fill("f1", "PF_XBTUSD", "buy", "1", "100", 1), fill("f2", "PF_XBTUSD", "sell", "1", "101", 2)]
    trade = derive_trades(fills).closed[0]
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TradeDetailScreen(TradeDetail(trade, fills, None)))
        await pilot.pause()
        await _twice(pilot, "F")
        await app.workers.wait_for_complete()
        assert _flattened(engine)


async def test_clicks_on_the_footer_never_flatten(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        (item,) = [k for k in app.dashboard.query(FooterKey) if k.key == "F"]
        for _ in range(3):  # a double click (to select the word) and one more
            await pilot.click(item)
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        assert not _flattened(engine) and not app.guard.armed


async def test_a_click_never_answers_a_dialog(make_app, engine):
    # A click on a footer item posts its key through App.simulate_key (textual's FooterKey.on_mouse_down).
    engine.sm.halt("equity floor reached", TransitionSource.AUTOMATIC)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.simulate_key("R")
        await pilot.pause()
        assert app.screen is app.dashboard
        await pilot.press("R")
        await pilot.pause()
        app.simulate_key("y")
        await pilot.pause()
        assert engine.sm.state is OperatorState.HALTED and isinstance(app.screen, ConfirmScreen)


async def test_pasted_text_without_bracketed_paste_drives_no_binding(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        t0 = get_time()
        for i, ch in enumerate("grep OFF"):  # one read from the terminal: microseconds apart
            _key(app, "space" if ch == " " else ch, at=t0 + i * 0.0001)
        await pilot.pause(0.1)
        await app.workers.wait_for_complete()
        assert engine.sm.state is OperatorState.RUNNING and not engine.calls and not app.guard.armed
        for i, ch in enumerate("qy"):  # nor a quit with its answer
            _key(app, ch, at=get_time() + i * 0.0001)
        await pilot.pause(0.1)
        assert app.is_running


def _terminal_click(app, widget) -> None:
    """A left click on ``widget`` as the terminal driver posts it (through App.on_event)."""
    x, y = widget.region.x + 1, widget.region.y
    for cls in (events.MouseDown, events.MouseUp, events.Click):
        ev = cls(None, x, y, 0, 0, 1, False, False, False, screen_x=x, screen_y=y)
        ev.set_sender(app)
        app._driver.send_message(ev)


async def test_mouse_off_drops_every_click(make_app, engine):
    for mouse in (True, False):
        cfg = Config()
        cfg.ui.mouse = mouse
        engine = FakeEngine()
        app = make_app(engine, cfg)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            (item,) = [k for k in app.dashboard.query(FooterKey) if k.key == "p"]
            _terminal_click(app, item)
            await pilot.pause(0.1)
            # with the mouse on, a click on "p Pause" pauses (not destructive); with it off nothing happens
            assert engine.sm.state is (OperatorState.PAUSED if mouse else OperatorState.RUNNING)


async def test_destructive_keys_ctrl_makes_them_ctrl_chords(make_app, engine):
    cfg = Config()
    cfg.ui.destructive_keys = "ctrl"
    app = make_app(engine, cfg)
    async with app.run_test(size=SIZE) as pilot:
        await _twice(pilot, "F")
        await pilot.press("q")
        await pilot.pause()
        assert not engine.calls and not app.guard.armed and app.screen is app.dashboard
        _key(app, "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        await pilot.pause()
        await _twice(pilot, "ctrl+f")
        await app.workers.wait_for_complete()
        assert _flattened(engine)
        _key(app, "ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # reset after HALTED asks
        assert app.key_for("flatten") == "^f"
