"""The optional daily summary notification (``[notify] daily_summary``).

Owns: ``summary_alert`` (the text from an ``engine.facade.EngineSnapshot``: state, equity, day P&L, open
positions and orders) and ``run_daily_summary`` (an asyncio task that submits it once a day at
``summary_hour_utc``, on the wall clock). Units: USD, contracts, UTC.
Must not import: textual, the paper exchange, the UI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from kraken_tui.engine.facade import EngineSnapshot
from kraken_tui.notify.rules import Alert
from kraken_tui.notify.sender import Notifier

__all__ = ["run_daily_summary", "summary_alert"]

DAY_S = 86_400


def summary_alert(snap: EngineSnapshot, *, label: str, day: str) -> Alert:
    """The summary of ``day`` (``YYYY-MM-DD`` UTC) from ``snap``."""
    a = snap.account
    lines = [f"state {snap.state.value}" + (f" ({snap.state_reason})" if snap.state_reason else ""),
             f"equity {a.equity_usd:.2f} USD, realised today {a.realized_pnl_today_usd:+.2f} USD, "
             f"unrealised {a.unrealized_pnl_usd:+.2f} USD",
             f"{len(snap.positions)} open position(s), {len(snap.orders)} open order(s)"]
    lines += [f"  {p.symbol} {p.side.value} {p.size} @ {p.entry_price}" for p in snap.positions]
    body = "\n".join(lines)
    return Alert(f"{label}: daily summary {day}", body, "info", f"summary {day}")


async def run_daily_summary(notifier: Notifier, snapshot: Callable[[], EngineSnapshot], *, hour_utc: int,
                            label: str, wall: Callable[[], float] = time.time, poll_s: float = 30.0) -> None:
    """Submit ``summary_alert`` each day when the UTC hour ``hour_utc`` starts (first at the next one);
    runs until cancelled."""
    def next_due(now: float) -> float:
        day0 = now - now % DAY_S
        due = day0 + hour_utc * 3600
        return due if due > now else due + DAY_S

    due = next_due(wall())
    while True:
        await asyncio.sleep(max(0.0, min(poll_s, due - wall())))
        if wall() >= due:
            day = time.strftime("%Y-%m-%d", time.gmtime(due))
            notifier.submit(summary_alert(snapshot(), label=label, day=day))
            due = next_due(wall())
