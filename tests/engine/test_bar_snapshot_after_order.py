"""The bar's equity snapshot (``AccountWatch.snapshot_equity``: the equity chart's point and its journal record)
runs behind the decision job the bar queued (``decisions._after_jobs``): an entry decided on a candle reaches its
send without the snapshot's work before it, and its intent's priority commit carries no equity row. The snapshot
still follows every bar, and no decision reads it."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from kraken_tui.config import Config, Credentials
from kraken_tui.domain import Account, PublicTrade, Side, Ticker
from kraken_tui.engine.core import Engine
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.journal.records import RunStarted
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_http import HttpAnswer
from kraken_tui.kraken.ws_events import TradeEvent
from kraken_tui.paper.instruments import build_instruments
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET

SYM = "PF_XBTUSD"
T0 = 1_754_006_400_000
D = Decimal


class _Long:
    """A long signal on every closed 1m trade candle."""

    name, timeframe, timeframes, series, warmup_bars = "t", "1m", ("1m",), "trade", 1

    def on_candle(self, symbol, timeframe, candle, view):
        return Signal(symbol, SignalSide.LONG, 1.0, "t", {}, ts_ms=candle.ts_ms + 60_000, strategy="t")


class _Wire:
    """An ``HttpSender``: when an entry's batch request is handed over, notes the equity chart's points and the journal's
    equity rows at that instant; answers every order placed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine: Engine | None = None
        self.seen: list[tuple[int, int]] = []  # (equity chart points, equity rows in the journal file)

    async def send_request(self, method, url, body, headers, timeout_s):
        assert self.engine is not None
        if not url.endswith("/batchorder"):  # the protective orders placed after the fill
            head = '{"result":"success","serverTime":"2025-08-01T00:00:00.000Z",'
            return HttpAnswer(200, {}, (head + '"sendStatus":{"status":"placed","order_id":"p"}}').encode())
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM equity").fetchone()[0]
        self.seen.append((len(self.engine.watch.equity_history), rows))
        head = '{"result":"success","serverTime":"2025-08-01T00:00:00.000Z",'
        items = ",".join(f'{{"status":"placed","order_id":"o{k}","order_tag":"{k}"}}' for k in range(2))
        return HttpAnswer(200, {}, (head + f'"batchStatus":[{items}]}}').encode())


async def test_the_bar_snapshot_runs_after_the_entry_decided_on_that_bar_was_sent(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = JournalWriter(path)
    await journal.start()
    await journal.write(RunStarted("run-bar", 1, "paper", "h", "0.1"))
    wire = _Wire(path)
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="test")
    client = KrakenRestClient(wire, "http://x", creds, rate_limit=RateLimiter(budget=10**9))
    cfg = Config.model_validate({"strategy": {"symbols": [SYM], "timeframe": "1m", "name": "ema_cross"},
                                 "risk": {"max_open_positions": 100}})
    eng = Engine(cfg, client=client, ws=None, journal=journal, run_id="run-bar", strategy=_Long())
    wire.engine = eng
    eng.instruments.update(build_instruments([SYM]))
    client._instruments.update(eng.instruments)
    z = D(0)
    eng.account.set_account(Account(D(10_000), D(10_000), D(10_000), D(10_000), D(10_000), z, z, z, z, z))
    worker = asyncio.create_task(eng.jobs.run())
    eng.market.on_ticker(Ticker(SYM, T0, last=100_000.0, mark_price=100_000.0, index_price=100_000.0))
    await eng.on_ws_event(TradeEvent(PublicTrade(SYM, T0, 100_000.0, 0.1, Side.BUY)))
    try:
        for i in range(1, 4):  # each trade closes the previous minute's candle: a bar, a signal, an entry
            await journal.flush()
            before = len(eng.watch.equity_history)
            price = 100_000.0 + 500.0 * i
            await eng.on_ws_event(TradeEvent(PublicTrade(SYM, T0 + i * 60_000, price, 0.1, Side.BUY)))
            await eng.wait_idle()
            await asyncio.sleep(0)
            assert len(wire.seen) == i, "every bar's signal sent an entry"
            points_at_send, rows_at_send = wire.seen[-1]
            assert points_at_send == before  # the bar's snapshot had not run when the request left
            assert len(eng.watch.equity_history) == before + 1  # and ran right after
            await journal.flush()
            with sqlite3.connect(path) as conn:
                assert conn.execute("SELECT COUNT(*) FROM equity").fetchone()[0] == rows_at_send + 1
    finally:
        worker.cancel()
        await eng.stop()
        await journal.close()
