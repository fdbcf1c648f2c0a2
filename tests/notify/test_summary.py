"""The daily summary: its text, and one submission when the configured UTC hour starts."""

from __future__ import annotations

import asyncio

from kraken_tui.config import NotifyConfig
from kraken_tui.engine.facade import EngineMode, EngineSnapshot
from kraken_tui.engine.operator import OperatorState
from kraken_tui.notify.rules import Alert
from kraken_tui.notify.secrets import Masker
from kraken_tui.notify.sender import Notifier
from kraken_tui.notify.summary import run_daily_summary, summary_alert

DAY0 = 1_704_067_200.0  # 2024-01-01 00:00 UTC, seconds


class _Sink:
    name = "sink"

    def send(self, title: str, body: str, level: str) -> None:
        pass


def _snap() -> EngineSnapshot:
    return EngineSnapshot(ts_ms=0, mode=EngineMode.PAPER, synthetic=True, state=OperatorState.RUNNING,
                          state_reason="")


def test_summary_text():
    a = summary_alert(_snap(), label="kraken-tui paper", day="2024-01-02")
    assert a.title == "kraken-tui paper: daily summary 2024-01-02" and "state RUNNING" in a.body
    assert "0 open position(s), 0 open order(s)" in a.body


def test_submitted_once_when_the_hour_starts():
    now = [DAY0 + 6 * 3600 - 1]  # 05:59:59, summary at 06:00
    submitted: list[Alert] = []
    n = Notifier([_Sink()], NotifyConfig(), label="t", mask=Masker([]))
    n.submit = lambda alert: submitted.append(alert) or True  # type: ignore[method-assign]

    async def go() -> None:
        task = asyncio.create_task(run_daily_summary(n, _snap, hour_utc=6, label="t", wall=lambda: now[0],
                                                     poll_s=0.01))
        await asyncio.sleep(0.05)
        assert submitted == []
        now[0] += 2
        await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(go())
    n.stop()
    assert [a.title for a in submitted] == ["t: daily summary 2024-01-01"]
