"""Bounded work per event-loop turn: ``TurnBudget``, the WS client's frame loop and the engine's consumer. A
burst of queued market data is handled over several turns, so a task scheduled meanwhile (a flatten's next
step) runs within one turn's share of the burst, never after all of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace

import pytest

from kraken_tui.config import ClientConfig
from kraken_tui.engine import core
from kraken_tui.engine.core import Engine
from kraken_tui.kraken import ws as ws_module
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.kraken.ws_events import TradeEvent
from kraken_tui.kraken.ws_turns import ReadHold, TurnBudget

CFG = ClientConfig(ws_ping_interval_s=5, ws_stale_after_s=60, reconnect_max_backoff_s=0.05, timeout_s=2)
BURST = 3_000


async def test_budget_counts_the_items_of_one_loop_turn():
    b = TurnBudget(3)
    assert [b.spend() for _ in range(7)] == [False, False, True, False, False, True, False]
    await asyncio.sleep(0)  # the loop turned: the count starts again
    assert [b.spend() for _ in range(3)] == [False, False, True]
    b = TurnBudget(3)
    for _ in range(10):  # two items per turn (a replay tick's messages): never split
        assert not b.spend() and not b.spend()
        await asyncio.sleep(0)


def test_budget_rejects_bad_limits():
    with pytest.raises(ValueError, match="TurnBudget"):
        TurnBudget(0)


async def _gaps(progress, done) -> list[int]:
    """The items handled between two turns of a task that only yields, until ``done()``."""
    gaps, last = [], progress()
    while not done():
        await asyncio.sleep(0)
        n = progress()
        gaps.append(n - last)
        last = n
    return gaps


class _QueuedFeed:
    """A ``MarketFeed`` stand-in: ``BURST`` events already queued, then the end of the stream."""

    def __init__(self, n: int) -> None:
        self.q: asyncio.Queue = asyncio.Queue()
        for i in range(n):
            self.q.put_nowait(i)
        self.q.put_nowait(None)

    def __aiter__(self):
        return self

    async def __anext__(self):
        ev = await self.q.get()
        if ev is None:
            raise StopAsyncIteration
        return ev


class _Flattener:
    """``EngineFlatten``'s priority lane: ``starting`` until ``launch()``."""

    def __init__(self, starting: bool = False) -> None:
        self.ev = asyncio.Event()
        if not starting:
            self.ev.set()

    @property
    def starting(self) -> bool:
        return not self.ev.is_set()

    async def launched(self, within_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ev.wait(), within_s)


async def test_engine_consumer_holds_events_while_a_flatten_starts(monkeypatch):
    handled = []

    async def on_ws_event(ev):
        handled.append(ev)

    flattener = _Flattener(starting=True)
    monkeypatch.setattr(core, "FLATTEN_HOLD_S", 5.0)
    stub = SimpleNamespace(ws=_QueuedFeed(BURST), on_ws_event=on_ws_event, progress=asyncio.Event(),
                           emit=lambda *a, **k: None, flattener=flattener)
    consumer = asyncio.ensure_future(Engine._consume(stub))  # type: ignore[arg-type]
    for _ in range(50):
        await asyncio.sleep(0)
    assert handled == []  # the flatten's steps have the loop to themselves
    flattener.ev.set()  # its first request is on its way
    await consumer
    assert handled == list(range(BURST))  # nothing dropped, nothing reordered


async def test_engine_consumer_holds_a_flatten_start_at_most_the_cap(monkeypatch):
    handled = []

    async def on_ws_event(ev):
        handled.append(ev)

    monkeypatch.setattr(core, "FLATTEN_HOLD_S", 0.05)
    flattener = _Flattener(starting=True)
    stub = SimpleNamespace(ws=_QueuedFeed(20), on_ws_event=on_ws_event, progress=asyncio.Event(),
                           emit=lambda *a, **k: None, flattener=flattener)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.wait_for(Engine._consume(stub), 2.0)  # type: ignore[arg-type]
    assert handled == list(range(20))
    assert loop.time() - t0 < 0.5  # a stuck flatten start holds the feed once (50 ms), not once per event (1 s)


async def test_engine_consumer_yields_under_a_burst():
    handled = []

    async def on_ws_event(ev):
        handled.append(ev)

    stub = SimpleNamespace(ws=_QueuedFeed(BURST), on_ws_event=on_ws_event, progress=asyncio.Event(),
                           emit=lambda *a, **k: None, flattener=_Flattener())
    consumer = asyncio.ensure_future(Engine._consume(stub))  # type: ignore[arg-type]
    gaps = await _gaps(lambda: len(handled), consumer.done)
    await consumer
    assert handled == list(range(BURST))  # every event, in order
    assert max(gaps) <= core.EVENTS_PER_TURN  # another task got the loop within one turn's share


class _BufferedConnection:
    """A connection whose frames are all buffered already (a burst that arrived while the process waited for a
    core): iterating it never suspends, as ``websockets``' receive does not while frames wait."""

    close_code, close_reason = 1000, "done"

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    async def __aiter__(self):
        for f in self.frames:
            yield f
        await asyncio.sleep(3600)  # then quiet

    async def send(self, data) -> None:
        return None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def test_ws_client_decodes_a_burst_over_several_turns(monkeypatch):
    trade = {"feed": "trade", "product_id": "PF_XBTUSD", "uid": "u", "side": "buy", "type": "fill", "seq": 1,
             "time": 1_700_000_000_000, "qty": 0.1, "price": 50_000.0}
    frames = [json.dumps({**trade, "seq": i + 1, "time": trade["time"] + i}) for i in range(BURST)]
    monkeypatch.setattr(ws_module, "connect", lambda *a, **k: _BufferedConnection(frames))
    client = KrakenWsClient("ws://127.0.0.1:1/ws/v1", None, config=CFG)
    queued = client._queue.qsize  # events decoded, not yet taken
    await client.start()
    try:
        gaps = await _gaps(queued, lambda: queued() >= BURST + 1)  # + Connected
        got = [client._queue.get_nowait() for _ in range(queued())]
    finally:
        await client.stop()
    trades = [e.trade.ts_ms for e in got if isinstance(e, TradeEvent)]
    assert trades == [trade["time"] + i for i in range(BURST)]  # every frame, in order
    assert max(gaps) <= ws_module.FRAMES_PER_TURN + 1  # another task got the loop within one turn's share


class _Transport:
    """The reading switch of an asyncio transport, with every call recorded."""

    def __init__(self) -> None:
        self.reading = True
        self.calls: list[str] = []

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.calls.append("pause")
        self.reading = False

    def resume_reading(self) -> None:
        self.calls.append("resume")
        self.reading = True


async def test_read_hold_pauses_once_per_hold_and_resumes_when_it_ends():
    t = _Transport()
    hold = ReadHold(t, 0.02, lambda: True)
    hold.frame_read()
    hold.frame_read()  # a second frame of the same wake-up: no second hold
    assert t.calls == ["pause"] and not t.reading and hold.holding
    await asyncio.sleep(0.05)
    assert t.calls == ["pause", "resume"] and t.reading and not hold.holding
    hold.frame_read()  # the next wake-up holds again
    assert t.calls == ["pause", "resume", "pause"]
    hold.release()  # the frame loop ends: reading resumes at once, and the hold's timer is gone
    assert t.calls == ["pause", "resume", "pause", "resume"] and not hold.holding
    await asyncio.sleep(0.05)
    assert t.calls == ["pause", "resume", "pause", "resume"]
    hold.release()  # no hold running: nothing to do
    assert t.calls == ["pause", "resume", "pause", "resume"]


async def test_read_hold_repauses_and_leaves_the_library_pause_alone():
    t = _Transport()
    library_paused = False
    hold = ReadHold(t, 0.02, lambda: not library_paused)
    hold.frame_read()
    t.resume_reading()  # the library's own flow control resumed within the hold
    hold.frame_read()
    assert t.calls == ["pause", "resume", "pause"] and not t.reading  # the hold keeps the socket unread
    library_paused = True  # the library paused reading itself: its resume, not the hold's
    await asyncio.sleep(0.05)
    assert t.calls == ["pause", "resume", "pause"] and not t.reading


def test_read_hold_rejects_bad_holds():
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="ReadHold"):
            ReadHold(_Transport(), bad, lambda: True)
