"""A driven market for engine tests: the Runtime in replay mode (lockstep, data clock) over a market source
the test feeds tick by tick, against the in-process paper exchange over loopback.

``driven_runtime(cfg, journal)`` yields a started ``Runtime`` and a ``Feed``; ``await feed.tick(ts, price)``
releases one quote (bid/ask 0.01 % around ``price``, mark = index = ``price``) and waits until the engine
has processed it and has no order work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineMode
from kraken_tui.paper.sources.base import FundingEvent, MarketTick
from kraken_tui.runtime import RunOptions, Runtime

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


class QueueMarket:
    """A market source whose events the test puts in a queue (``None`` ends it)."""

    name = "test"
    synthetic = True

    def __init__(self, symbols: tuple[str, ...]) -> None:
        self.symbols = symbols
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def events(self) -> AsyncIterator[Any]:
        while True:
            ev = await self.queue.get()
            if ev is None:
                return
            yield ev

    async def close(self) -> None:
        self.queue.put_nowait(None)


class Feed:
    """Feeds one symbol's quotes and waits for the engine."""

    def __init__(self, rt: Runtime, market: QueueMarket, symbol: str) -> None:
        self.rt, self.market, self.symbol = rt, market, symbol

    async def tick(self, ts_ms: int, price: float, *, funding_rate: float | None = None) -> None:
        """One quote at ``ts_ms`` (UTC ms); optionally announce the hourly funding rate first."""
        if funding_rate is not None:
            self.market.queue.put_nowait(FundingEvent(self.symbol, ts_ms, funding_rate))
        self.market.queue.put_nowait(MarketTick(self.symbol, ts_ms, last=price, bid=price * 0.9999,
                                                ask=price * 1.0001, bid_size=1e6, ask_size=1e6, mark_price=price,
                                                index_price=price))
        await self.settle(ts_ms)

    async def settle(self, ts_ms: int | None = None, timeout_s: float = 10.0) -> None:
        """Wait until the queue is drained, the engine saw ``ts_ms`` and no job is queued or running."""
        eng = self.rt.engine
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.market.queue.empty() or (ts_ms is not None and (eng.data_ms or 0) < ts_ms) or eng.busy:
            if loop.time() > deadline:
                raise TimeoutError(f"engine did not settle (data {eng.data_ms}, wanted {ts_ms})")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # private WS messages following the tick
        await eng.wait_idle()


@contextlib.asynccontextmanager
async def driven_runtime(cfg: Config, journal: Path, symbol: str = "PF_XBTUSD") -> AsyncIterator[tuple[Runtime, Feed]]:
    """A started replay-mode Runtime over a ``QueueMarket`` (closed on exit)."""
    market = QueueMarket((symbol,))
    rt = Runtime(cfg, RunOptions(journal=journal), mode=EngineMode.REPLAY, journal_path=journal, source=market,
                 credentials=None)
    await rt.start()
    try:
        yield rt, Feed(rt, market, symbol)
    finally:
        await rt.aclose()


async def wait_for(cond: Any, timeout_s: float = 5.0) -> None:
    """Poll ``cond()`` until true. Raises TimeoutError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def rows(journal: Path, sql: str) -> list[tuple]:
    """Read rows from a (closed or open, WAL) journal."""
    conn = sqlite3.connect(journal)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
