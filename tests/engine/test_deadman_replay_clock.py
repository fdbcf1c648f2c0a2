"""The dead man's switch countdown in a replay: the paper exchange stamps the trigger on the replay's data
clock (years behind the wall clock), and the status line counts down against the wall clock, so the view moves
the trigger onto the wall clock; without that the console showed "DMS now" all the time.

Source: Kraken Futures docs, REST v3 "Dead man's switch" (cancelallordersafter: currentTime, triggerTime).
"""

from __future__ import annotations

import asyncio

from kraken_tui.domain import DeadManSwitchStatus
from kraken_tui.engine.deadman import DeadMansSwitch, operator_switch
from kraken_tui.ui import format as fmt

REPLAY_NOW_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC on the replay's data clock


class _Exchange:
    """cancelallordersafter on the replay clock: trigger = data now + timeout."""

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitchStatus:
        return DeadManSwitchStatus(REPLAY_NOW_MS, REPLAY_NOW_MS + timeout_s * 1000 if timeout_s else None)


def _left_s(switch: DeadMansSwitch) -> float:
    view = switch.view()
    assert view.trigger_ts_ms is not None
    return (view.trigger_ts_ms - DeadMansSwitch.now_ms()) / 1000


def test_replay_trigger_counts_down_on_the_wall_clock():
    switch = operator_switch(_Exchange(), 60, lambda _m: None, exchange_clock_ms=lambda: REPLAY_NOW_MS)
    assert switch is not None
    assert asyncio.run(switch.refresh())
    left = _left_s(switch)
    assert 55 <= left <= 60 and fmt.countdown(left) != "now"
    # on the wall clock alone (a live exchange) the same answer would be long past: "now"
    live = DeadMansSwitch(_Exchange(), 60)
    assert asyncio.run(live.refresh())
    assert fmt.countdown(_left_s(live)) == "now"
