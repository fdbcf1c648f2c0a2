"""DeadMansSwitch: arms, refreshes on its timer, disarms on stop, reports errors without crashing."""

from __future__ import annotations

import asyncio

import pytest

from kraken_tui.domain import DeadManSwitchStatus
from kraken_tui.engine.deadman import DeadMansSwitch
from kraken_tui.errors import ServerError
from kraken_tui.paper.faults import Faults

from .paper_env import T0, book_account, make_exchange, paper_env


class FakeClient:
    def __init__(self, fail: set[int] | None = None) -> None:
        self.calls: list[int] = []
        self.fail = fail or set()

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitchStatus:
        self.calls.append(timeout_s)
        if len(self.calls) in self.fail:
            raise ServerError("Unavailable", endpoint="/cancelallordersafter", http_status=503)
        return DeadManSwitchStatus(1_000, 1_000 + timeout_s * 1000 if timeout_s else None)


async def test_refreshes_at_a_fraction_of_the_timeout_then_disarms():
    c = FakeClient()
    sw = DeadMansSwitch(c, 3, refresh_s=0.01)
    await sw.start()
    assert sw.view().enabled and sw.view().trigger_ts_ms == 4_000
    for _ in range(500):  # the timer refreshes again and again (a loaded machine may take longer than 0.08 s)
        if c.calls.count(3) >= 4:
            break
        await asyncio.sleep(0.01)
    await sw.stop()
    assert c.calls[0] == 3 and c.calls[-1] == 0 and c.calls.count(3) >= 4
    assert sw.view().trigger_ts_ms is None and sw.view().last_error is None


async def test_default_refresh_is_a_third():
    assert DeadMansSwitch(FakeClient(), 60).refresh_s == 20


def test_bad_arguments():
    with pytest.raises(ValueError):
        DeadMansSwitch(FakeClient(), -1)
    with pytest.raises(ValueError):
        DeadMansSwitch(FakeClient(), 10, refresh_s=10)


async def test_off_does_nothing():
    c = FakeClient()
    sw = DeadMansSwitch(c, 0)
    await sw.start()
    await sw.stop()
    assert c.calls == [] and sw.view().enabled is False


async def test_errors_are_reported_and_the_timer_goes_on():
    c = FakeClient(fail={2, 3})
    errors: list[str] = []
    sw = DeadMansSwitch(c, 5, refresh_s=0.01, on_error=errors.append)
    await sw.start()
    await asyncio.sleep(0.015)
    assert sw.view().last_error and "Unavailable" in sw.view().last_error
    await asyncio.sleep(0.06)
    assert sw.view().last_error is None  # a later refresh succeeded
    await sw.stop()
    assert len(errors) == 2 and sw.refreshes >= 2


async def test_against_paper_exchange_orders_survive_a_clean_stop_and_die_when_it_lapses():
    ex = make_exchange(5)
    book_account(ex, 2)
    n = len(ex.open_orders)
    async with paper_env(ex, faults=Faults()) as env:
        sw = DeadMansSwitch(env.client, 10, refresh_s=5)
        await sw.start()
        assert ex.dms_trigger_ms == ex.now_ms + 10_000
        await sw.stop()
        assert ex.dms_trigger_ms is None
        ex.advance_clock(T0 + 60_000)
        assert len(ex.open_orders) == n  # disarmed: the protective orders stay
        sw2 = DeadMansSwitch(env.client, 10, refresh_s=5)
        await sw2.start()
        await sw2.stop(disarm=False)  # a crash: nobody refreshes
        ex.advance_clock(ex.now_ms + 11_000)
        assert ex.open_orders == {}


def test_replay_trigger_is_shown_on_the_wall_clock():
    """A replay's paper exchange stamps the trigger on the replay clock (2024 here); the view moves it onto the
    wall clock, so the status bar's countdown (trigger - wall now) shows the timeout, not "now"."""
    import asyncio as _asyncio
    import time as _time

    from kraken_tui.domain.account import DeadManSwitchStatus
    from kraken_tui.engine.deadman import operator_switch

    replay_now = 1_719_792_000_000  # 2024-07-01 00:00 UTC

    class Client:
        async def cancel_all_orders_after(self, timeout_s):
            return DeadManSwitchStatus(replay_now, replay_now + timeout_s * 1000 if timeout_s else None)

    sw = operator_switch(Client(), 60, lambda m: None, lambda: replay_now)
    assert _asyncio.run(sw.refresh())
    left_s = (sw.view().trigger_ts_ms - int(_time.time() * 1000)) / 1000
    assert 55 < left_s <= 60
