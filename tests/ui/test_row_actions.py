"""The console's row actions and ``:`` command line on the fake engine (ui.row_actions): the cursor, each action's
confirmation stating what will be sent, the call reaching ``EngineControl.manual`` with source ``key``, refusals
sending nothing, and flatten working from every new dialog. Keys are pressed one at a time, as a person does
(``tests.ui.test_safe_keys._key``); a burst of keys (a paste) drives nothing."""

from __future__ import annotations

from decimal import Decimal

from textual._time import get_time
from textual.widgets import Static

from kraken_tui.domain import Side
from kraken_tui.engine.facade import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualClose,
    ManualOrder,
    MoveStopTo,
    Reprotect,
)
from kraken_tui.engine.operator import TransitionSource
from kraken_tui.ui.screens.command_line import CommandLineScreen
from kraken_tui.ui.screens.dashboard import DashboardScreen
from kraken_tui.ui.screens.help import HelpScreen
from kraken_tui.ui.screens.order_confirm import OrderConfirmScreen, OverrideScreen
from kraken_tui.ui.widgets.table import KeyedTable
from tests.ui.test_safe_keys import _flattened, _key, _twice

D = Decimal
SIZE = (120, 40)


#: Keys that open a one-line prompt when pressed on the dashboard (the command line, close part, stop, edit).
PROMPT_KEYS = {"colon", "h", "s", "m"}


async def prompt_ready(pilot, key: str, was_dashboard: bool, timeout_s: float = 3.0) -> None:
    """After ``key``: when it opens a prompt, wait until the prompt's text box has the focus (a person sees the box
    before typing into it; keys sent earlier would go elsewhere)."""
    if not (was_dashboard and key in PROMPT_KEYS):
        return
    app = pilot.app
    for _ in range(int(timeout_s / 0.02)):
        await pilot.pause()
        if isinstance(app.screen, CommandLineScreen) and app.focused is not None and app.focused.id == "cmd-input":
            return
        await pilot.pause(0.02)


async def _press(pilot, *keys: str) -> None:
    for k in keys:
        was_dashboard = isinstance(pilot.app.screen, DashboardScreen)
        _key(pilot.app, k)
        await pilot.pause(0.03)
        await prompt_ready(pilot, k, was_dashboard)
    await pilot.pause()


async def _type(pilot, text: str) -> None:
    """Text typed into the focused box (a person typing: each key on its own)."""
    await _press(pilot, *["space" if c == " " else c for c in text])


def _body(app) -> str:
    """The dialog's text, spaces collapsed."""
    parts = []
    for w in app.screen.query(Static):
        r = w.render()
        parts.append(r.plain if hasattr(r, "plain") else str(getattr(r, "_renderable", r)))
    return " ".join(" ".join(parts).split())


async def _confirm_and_send(pilot, engine, words: list[str]) -> None:
    app = pilot.app
    assert isinstance(app.screen, OrderConfirmScreen), [n.message for n in app._notifications]
    body = _body(app)
    for w in words:
        assert w in body, (w, body)
    await _press(pilot, "y")
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, DashboardScreen)


async def test_cursor_moves_and_positions_actions_confirm_then_send(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table = app.dashboard.query_one("#positions-table", KeyedTable)
        assert not table.show_cursor  # hidden until an arrow key
        await _press(pilot, "down")
        assert table.show_cursor and app.rows.selected["positions"] == "PF_ETHUSD"
        await _press(pilot, "down")
        assert app.rows.selected["positions"] == "PF_XBTUSD" and table.cursor_coordinate.row == 1
        await _press(pilot, "up")
        assert app.rows.selected["positions"] == "PF_ETHUSD"

        await _press(pilot, "t")
        await _confirm_and_send(pilot, engine, ["cancel take-profits", "PF_ETHUSD", "kt-tp1-eth"])
        assert engine.manual_calls[-1][0] == CancelTakeProfits("PF_ETHUSD")
        await _press(pilot, "c")
        await _confirm_and_send(pilot, engine, ["PF_ETHUSD", "sell", "1.2 contracts", "mkt", "Reduce-only yes"])
        assert engine.manual_calls[-1] == (ManualClose("PF_ETHUSD"), TransitionSource.KEY, False)
        assert app.rows.results[-1].ok

        # the ETH row is gone: the cursor falls onto the remaining row
        await pilot.pause(0.2)
        assert app.rows.selected["positions"] == "PF_XBTUSD"
        await _press(pilot, "h")
        assert isinstance(app.screen, CommandLineScreen)
        await _type(pilot, "50%")
        await _press(pilot, "enter")
        await _confirm_and_send(pilot, engine, ["PF_XBTUSD", "buy", "0.025 contracts", "Reduce-only yes"])
        assert engine.manual_calls[-1][0] == ManualClose("PF_XBTUSD", fraction=D("0.5"))

        await _press(pilot, "s")
        await _type(pilot, "be")
        await _press(pilot, "enter")  # the short is under water: its breakeven is below the mark
        assert isinstance(app.screen, DashboardScreen)
        assert "a short's stop must be above the market" in list(app._notifications)[-1].message
        await _press(pilot, "s")
        await _type(pilot, "63000")
        await _press(pilot, "enter")
        await _confirm_and_send(pilot, engine, ["move stop", "Trigger price 63000 USD", "o-3"])
        assert engine.manual_calls[-1][0] == MoveStopTo("PF_XBTUSD", price=D(63000))

        await _press(pilot, "t")
        assert isinstance(app.screen, DashboardScreen)
        assert "PF_XBTUSD has no take-profit orders" in list(app._notifications)[-1].message
        await _press(pilot, "o")
        await _confirm_and_send(pilot, engine, ["reprotect", "PF_XBTUSD"])
        assert engine.manual_calls[-1][0] == Reprotect("PF_XBTUSD")
        assert all(src is TransitionSource.KEY for _a, src, _o in engine.manual_calls)


async def test_orders_cancel_and_edit(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press(pilot, "right")
        assert app.rows.table == "orders" and app.rows.selected["orders"] == "o-1"
        await _press(pilot, "down", "m")
        await _type(pilot, "3470.04")
        await _press(pilot, "enter")
        await _confirm_and_send(pilot, engine, ["o-2", "Limit price 3470.0 USD", "rounded to 3470.0"])
        assert engine.manual_calls[-1][0] == EditOrder("o-2", price=D("3470.04"))
        await _press(pilot, "x")
        await _confirm_and_send(pilot, engine, ["cancel", "o-2", "Reduce-only yes"])
        assert engine.manual_calls[-1][0] == CancelOrder("o-2")
        await pilot.pause(0.2)
        assert "o-2" not in app.dashboard.query_one("#orders-table", KeyedTable).keys
        # a positions key on the orders table does nothing but say so
        n = len(engine.manual_calls)
        await _press(pilot, "c")
        assert isinstance(app.screen, DashboardScreen) and len(engine.manual_calls) == n


async def test_command_line_order_with_rounding_shown_then_sent(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press(pilot, "colon")
        assert isinstance(app.screen, CommandLineScreen)
        await _type(pilot, "sell pf_ethusd 2000usd lmt 3450.03 post")
        await _press(pilot, "enter")
        await _confirm_and_send(pilot, engine, ["PF_ETHUSD", "sell", "0.579 contracts", "post", "3450.0 USD",
                                                "rounded to 3450.0", "Reduce-only no"])
        assert engine.manual_calls[-1][0] == ManualOrder("PF_ETHUSD", Side.SELL, notional_usd=D(2000),
                                                         order_type=ManualOrder.__dataclass_fields__[
                                                             "order_type"].type and __import__(
                                                             "kraken_tui.engine.manual", fromlist=["OrderKind"]
                                                         ).OrderKind.LIMIT, limit_price=D("3450.03"), post_only=True)


async def test_refusals_and_grammar_mistakes_send_nothing(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        seen: list[str] = []  # read after each command: a slow machine may outlast a toast's timeout
        for text in ("close pf_solusd", "buy pf_xbtusd abc", "buy pf_xbtusd 0.01 stp 1", "close pf_ethusd --size 9"):
            await _press(pilot, "colon")
            await _type(pilot, text)
            await _press(pilot, "enter")
            assert isinstance(app.screen, DashboardScreen), text
            seen.extend(n.message for n in app._notifications)
        assert engine.manual_calls == []
        messages = " ".join(seen)
        assert "unknown symbol 'PF_SOLUSD'" in messages and "word 3 'abc'" in messages
        assert "triggers above the market" in messages and "above the PF_ETHUSD position" in messages
        # escape on a confirmation sends nothing
        await _press(pilot, "down", "c")
        assert isinstance(app.screen, OrderConfirmScreen)
        await _press(pilot, "n")
        assert engine.manual_calls == [] and isinstance(app.screen, DashboardScreen)


async def test_the_risk_gate_override_needs_the_symbol_typed(make_app, engine):
    app = make_app(engine)
    engine.sm.block_entries("stale market data", "no data for 42 s")
    async with app.run_test(size=SIZE) as pilot:
        await _press(pilot, "colon")
        await _type(pilot, "buy pf_xbtusd 0.001")
        await _press(pilot, "enter")
        assert isinstance(app.screen, OverrideScreen) and "stale market data" in _body(app)
        await _type(pilot, "pf_ethusd")
        await _press(pilot, "enter")
        assert engine.manual_calls == []
        await _press(pilot, "colon")
        await _type(pilot, "buy pf_xbtusd 0.001")
        await _press(pilot, "enter")
        await _type(pilot, "pf_xbtusd")
        await _press(pilot, "enter")
        await app.workers.wait_for_complete()
        assert engine.manual_calls[-1][2] is True and app.rows.results[-1].overridden


async def test_flatten_works_from_the_command_line_and_the_confirmations(make_app, engine):
    for where in ("command line", "confirmation", "prompt", "override"):
        from tests.ui.fake_engine import FakeEngine

        eng = FakeEngine()
        if where == "override":
            eng.sm.block_entries("stale market data", "x")
        app = make_app(eng)
        async with app.run_test(size=SIZE) as pilot:
            if where == "confirmation":
                await _press(pilot, "down", "c")
                assert isinstance(app.screen, OrderConfirmScreen)
            elif where == "prompt":
                await _press(pilot, "down", "h")
                assert isinstance(app.screen, CommandLineScreen)
            else:
                await _press(pilot, "colon")
                if where == "override":
                    await _type(pilot, "buy pf_xbtusd 0.001")
                    await _press(pilot, "enter")
                    assert isinstance(app.screen, OverrideScreen)
                else:
                    await _type(pilot, "buy pf")  # F never types here: it is the flatten key
                    assert app.screen.query_one("#cmd-input").value == "buy pf"
            await _twice(pilot, "F" if where != "override" else "ctrl+f")
            await app.workers.wait_for_complete()
            assert _flattened(eng), where
            assert eng.manual_calls == [], where


async def test_a_burst_of_keys_drives_no_row_action(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press(pilot, "down")
        t = get_time()
        for i, k in enumerate(["c", "y", "x", "y"]):  # pasted text: microseconds apart
            _key(app, k, at=t + i * 1e-5)
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        # the first key may open its confirmation; the pasted answers never confirm it
        assert engine.manual_calls == [] and isinstance(app.screen, DashboardScreen | OrderConfirmScreen)


async def test_help_lists_the_row_keys(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [k for k, _w in app.screen.keys]
        assert {":", "c", "h", "s", "t", "o", "x", "m", "k", "up", "Esc"} <= set(keys)
        assert len(keys) == len(set(keys)), keys  # no key listed twice (no clash with the operator keys)
