"""The client-side rate limiter (spec §5.1, §5.2) with an injected clock: no real sleeping."""

from __future__ import annotations

import asyncio

import pytest

from kraken_tui.kraken.ratelimit import DERIVATIVES_COSTS, RateLimiter, account_log_cost, batch_cost
from tests.kraken.signing_server import FakeClock


def _limiter(**kw) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(clock=clock, sleep=clock.sleep, **kw), clock


def test_cost_table_matches_spec():
    assert DERIVATIVES_COSTS["sendorder"] == 10 and DERIVATIVES_COSTS["cancelallorders"] == 25
    assert DERIVATIVES_COSTS["fills"] == 2 and DERIVATIVES_COSTS["fills_paged"] == 25
    assert batch_cost(10) == 19  # 9 + 10 (spec §5.1 example)
    with pytest.raises(ValueError):
        batch_cost(0)
    # history pool by count (spec §5.2)
    assert [account_log_cost(c) for c in (1, 25, 26, 50, 51, 1000, 1001, 5000, 5001, 100000)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        6,
        6,
        10,
        10,
    ]
    assert account_log_cost(None) == 3  # default count 500


async def test_normal_calls_stop_at_the_reserve_and_wait():
    lim, clock = _limiter(budget=500, window_s=10, reserve=100)
    # 40 orders x 10 points = 400 = budget - reserve: all immediate
    for _ in range(40):
        assert await lim.acquire(10) == 0.0
    assert lim.headroom() == (100, 500)
    # the 41st must wait until 10 points refill: refill 500/10 s = 50 points/s -> 10/50 = 0.2 s
    waited = await lim.acquire(10)
    assert waited == pytest.approx(0.2)
    assert clock.now == pytest.approx(0.2)


async def test_priority_calls_spend_the_reserve():
    lim, clock = _limiter(budget=500, window_s=10, reserve=100)
    for _ in range(40):
        await lim.acquire(10)
    # cancel-all costs 25: 100 reserved points -> 4 immediate priority calls (4 x 25 = 100)
    for _ in range(4):
        assert await lim.acquire(25, priority=True) == 0.0
    assert lim.headroom()[0] == 0
    # the 5th waits 25 / 50 = 0.5 s
    assert await lim.acquire(25, priority=True) == pytest.approx(0.5)
    assert clock.now == pytest.approx(0.5)


async def test_priority_call_is_not_queued_behind_waiting_normal_calls():
    lim, clock = _limiter(budget=100, window_s=10, reserve=50)  # refill 10 points/s
    await lim.acquire(50)  # available 50 = reserve: normal calls now wait
    order: list[str] = []

    async def normal():
        await lim.acquire(20)
        order.append("normal")

    async def cancel():
        await lim.acquire(10, priority=True)
        order.append("cancel")

    await asyncio.gather(normal(), cancel())
    assert order == ["cancel", "normal"]


async def test_cost_that_can_never_fit_is_refused_not_waited_forever():
    lim, _ = _limiter(budget=500, window_s=10, reserve=100)
    with pytest.raises(ValueError):
        await lim.acquire(401)  # only 400 usable without priority
    assert await lim.acquire(450, priority=True) == 0.0


async def test_history_pool_and_exceeded_drain():
    lim, clock = _limiter()
    for _ in range(33):
        await lim.acquire_history(3)  # 99 of 100 tokens
    # 100 tokens / 600 s = 1/6 token/s; need 3, have 1 -> wait 2 x 6 = 12 s
    assert await lim.acquire_history(3) == pytest.approx(12.0)
    lim.note_exceeded(30.0, history=True)  # server said rate-limit-reset: 30
    assert lim.history_headroom() == (0, 100)
    # empty for 30 s, then 1 token needs 6 s more
    assert await lim.acquire_history(1) == pytest.approx(36.0)


def test_reserve_must_be_below_budget():
    with pytest.raises(ValueError):
        RateLimiter(budget=100, reserve=100)
