"""The runtime subscribes the notifier to the engine: a flatten over loopback sends "flatten started",
"flatten done" and HALTED to a local receiver; a channel answering 500 shows as failing in the snapshot
while the engine keeps working; the channel's token is in no event, journal row or snapshot text."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineMode
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.paper.sources.base import MarketTick
from kraken_tui.runtime import RunOptions, Runtime
from tests.e2e.harness import QueueMarket, wait_for
from tests.notify.receiver import receiver

SYM = "PF_XBTUSD"
TOKEN = "tok3n-Zz9-private"


def _cfg() -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": [SYM], "timeframe": "1h"},
                                  "operator": {"stale_data_s": 86_400, "reconcile_interval_s": 3600},
                                  "notify": {"retries": 0, "timeout_s": 2}})


async def _flatten_run(tmp, url: str) -> tuple[Runtime, object, OperatorState]:
    market = QueueMarket((SYM,))
    journal = tmp / "j.sqlite"
    rt = Runtime(_cfg(), RunOptions(journal=journal), mode=EngineMode.PAPER, journal_path=journal, source=market,
                 credentials=None, notify_urls=[url])
    await rt.start()
    try:
        now = int(time.time() * 1000)
        market.queue.put_nowait(MarketTick(SYM, now, last=50_000.0, bid=49_999.5, ask=50_000.5, bid_size=1e6,
                                           ask_size=1e6, mark_price=50_000.0, index_price=50_000.0))
        ex = rt.paper_server.exchange
        await wait_for(lambda: ex.markets[SYM].mark is not None)
        ex.send_order({"orderType": "mkt", "symbol": SYM, "side": "buy", "size": "0.01"})
        t0 = time.perf_counter()
        await rt.engine.flatten("drill", TransitionSource.CTL)
        assert time.perf_counter() - t0 < 5
        state = rt.engine.snapshot().state
        await asyncio.sleep(0)
        return rt, rt.engine.snapshot(), state
    finally:
        await asyncio.sleep(0.5)
        view = rt.notifier.view()
        await rt.aclose()
        rt.final_view = view  # type: ignore[attr-defined]


def test_flatten_reaches_the_receiver(tmp_path):
    with receiver() as rec:
        rt, snap, state = asyncio.run(_flatten_run(tmp_path, f"json://127.0.0.1:{rec.port}/{TOKEN}"))
        deadline = time.monotonic() + 10
        while len(rec.bodies) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    messages = [b["message"] for b in rec.bodies]
    assert state is OperatorState.HALTED
    assert any(m.startswith("flatten started") for m in messages), messages
    assert any(m.startswith("flatten done") for m in messages), messages
    assert any("HALTED" in m for m in messages), messages
    assert snap.notify.channels == 1


def test_a_failing_channel_is_reported_and_the_token_goes_nowhere(tmp_path):
    with receiver() as rec:
        rec.status = 500
        rt, snap, state = asyncio.run(_flatten_run(tmp_path, f"json://127.0.0.1:{rec.port}/{TOKEN}"))
    assert state is OperatorState.HALTED  # the engine finished its flatten whatever the channel did
    view = rt.final_view  # type: ignore[attr-defined]
    assert view.failing and "json://***" in view.detail and TOKEN not in view.detail
    texts = " ".join(e.message + str(e.data) for e in snap.events)
    assert TOKEN not in texts and TOKEN not in repr(snap)
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert TOKEN not in dump
