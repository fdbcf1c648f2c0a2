"""The flatten key's fast path (``OperatorKeys.take_now``, reached through ``KrakenApp.post_message``): a flatten
key posted while no other key is in flight is handled at once, ahead of the app's message queue (redraws,
engine messages), with the same rules as the queued path; any other key, or a flatten key behind one, waits
its turn."""

from __future__ import annotations

import asyncio

from textual import events
from textual._time import get_time

from kraken_tui.engine.operator import OperatorState
from tests.ui.fake_engine import FakeEngine

SIZE = (120, 40)


def _key(app, key: str, *, at: float | None = None) -> events.Key:
    ev = events.Key(key, key)
    if at is not None:
        ev.time = at
    ev.set_sender(app)
    return ev


def _flatten_workers(app) -> list:
    return [w for w in app.workers if w.name == "flatten"]


async def test_a_flatten_key_is_handled_when_posted_not_after_the_queued_messages(make_app):
    engine = FakeEngine(hold_flatten=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(_key(app, "F", at=get_time() - 0.5))  # pressed 0.5 s ago, handled now
        assert app.guard.armed  # at once: nothing of the queue ran in between
        app.post_message(_key(app, "F"))
        assert not app.guard.armed and _flatten_workers(app)  # fired within the post
        await pilot.pause()
        assert engine.calls and engine.calls[0][0] == "flatten"
        engine.release_flatten()
        await app.workers.wait_for_complete()


async def test_a_flatten_key_does_not_overtake_a_key_still_in_the_queue(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(_key(app, "F", at=get_time() - 0.6))
        assert app.guard.armed
        app.post_message(_key(app, "p", at=get_time() - 0.3))  # queued: the F behind it must wait
        app.post_message(_key(app, "F"))
        assert not _flatten_workers(app)
        await pilot.pause()
        # the p disarmed the flatten (and did nothing else); the F then armed it again: nothing fired
        assert not engine.calls and engine.sm.state is OperatorState.RUNNING and app.guard.armed


async def test_a_flatten_key_read_in_a_burst_is_dropped_on_the_fast_path(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        now = get_time()
        app.post_message(_key(app, "F", at=now))
        app.post_message(_key(app, "F", at=now + 0.001))  # pasted "FF": never a deliberate double press
        await pilot.pause()
        assert not engine.calls and not app.guard.armed


async def test_other_keys_still_go_through_the_queue(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(_key(app, "p"))
        assert engine.sm.state is OperatorState.RUNNING  # not handled within the post
        await pilot.pause()
        assert engine.sm.state is OperatorState.PAUSED


async def test_the_second_flatten_key_starts_the_engine_flatten_within_its_post(make_app):
    # FLATTENING is set in the key's own call (``EngineControl.begin_flatten``), not on a later turn of the loop
    engine = FakeEngine(hold_flatten=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(_key(app, "F", at=get_time() - 0.5))
        app.post_message(_key(app, "F"))
        assert engine.calls and engine.calls[0][0] == "flatten"
        assert engine.sm.state is OperatorState.FLATTENING
        engine.release_flatten()
        await app.workers.wait_for_complete()


async def test_the_ui_announces_the_flatten_only_once_its_first_request_is_on_its_way(make_app):
    # The notice and the redraw wait for ``flatten_launched``: no UI work between the key and the first request
    engine = FakeEngine(hold_flatten=True)
    launched = asyncio.Event()

    async def flatten_launched(within_s: float) -> None:
        await launched.wait()

    engine.flatten_launched = flatten_launched
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(_key(app, "F", at=get_time() - 0.5))
        app.post_message(_key(app, "F"))
        await pilot.pause()
        assert not any("FLATTEN started" in n.message for n in app._notifications)
        launched.set()
        await pilot.pause()
        assert any("FLATTEN started" in n.message for n in app._notifications)
        engine.release_flatten()
        await app.workers.wait_for_complete()


async def test_a_key_the_terminal_driver_reads_reaches_the_app_within_one_loop_turn(make_app):
    engine = FakeEngine(hold_flatten=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._driver.send_message(_key(app, "F", at=get_time() - 0.5))  # as the driver's input thread does
        await asyncio.sleep(0)  # one turn of the loop
        assert app.guard.armed
        app._driver.send_message(_key(app, "F"))
        await asyncio.sleep(0)
        assert _flatten_workers(app)  # fired one turn after the key was read
        await pilot.pause()
        assert engine.calls and engine.calls[0][0] == "flatten"
        engine.release_flatten()
        await app.workers.wait_for_complete()


async def test_the_driver_keeps_the_order_of_the_keys_it_reads(make_app, engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._driver.send_message(_key(app, "F", at=get_time() - 0.6))
        app._driver.send_message(_key(app, "p", at=get_time() - 0.3))  # disarms: the F behind it must wait
        app._driver.send_message(_key(app, "F"))
        await pilot.pause()
        assert not engine.calls and engine.sm.state is OperatorState.RUNNING and app.guard.armed
