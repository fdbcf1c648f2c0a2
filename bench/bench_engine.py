"""Benchmark: engine latency (market event -> order request leaving the client) and candles/s through
market state + indicators + strategy + risk gate.

Run: ``python bench/bench_engine.py [--orders N] [--repeat N]``. Prints figures only.

1. Latency, in process: a real ``Engine`` with a real ``JournalWriter`` (temp file, FULL sync; the intent is
   committed before each send) and the real ``KrakenRestClient`` over an ``httpx.MockTransport`` that
   stamps ``perf_counter`` when the order request (``batchorder``: an entry travels with its stop,
   engine.order_flow; else ``sendorder``) reaches the transport (= leaves the client, signed) and answers ``placed`` (client rate limiter opened: Kraken's budget is not what is measured). Each sample: one WS ``TradeEvent`` that closes a 1m candle -> market state ->
   strategy (a stub that signals long on every close; the price steps by 0.5 % so that the risk gate's
   expected-move check passes and every event yields an order) -> ``decide``
   (basis guard + risk gate) -> job worker -> ``Executor`` (intent journaled and committed through the
   journal's priority lane, ``JournalWriter.commit_now``) -> client.
   Targets: p50 < 0.5 ms, p99 < 2 ms with the intent durable; printed back to back (each event right after
   the previous order) and with the journal idle at the event (orders seconds apart), each with the loop
   thread's CPU time over the same span (``time.thread_time``: the process's own cost, not the disk's or a
   busy machine's). Also printed in the same run: the intent
   committed through the writer task's queue (``flush``, the path before the priority lane), with the journal
   at ``synchronous=NORMAL`` (the intent is committed to the WAL but not fsynced) and without the commit
   (``durable_intents=False``).
2. Throughput: the real PF_XBTUSD 1m candles (``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA``) replayed
   ``repeat`` times through ``MarketState.on_candle`` (1m/5m/15m/1h builders) -> ``ema_cross`` -> ``decide``
   for every signal, with a fixed account. Candles/s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from kraken_tui.config import Config, Credentials  # noqa: E402
from kraken_tui.domain import Account, Candle, PublicTrade, Side, Ticker  # noqa: E402
from kraken_tui.engine.core import Engine  # noqa: E402
from kraken_tui.engine.decide import decide  # noqa: E402
from kraken_tui.engine.market import MarketState  # noqa: E402
from kraken_tui.engine.risk import AccountSnapshot  # noqa: E402
from kraken_tui.engine.signals import Signal, SignalSide  # noqa: E402
from kraken_tui.engine.strategies import build_strategy  # noqa: E402
from kraken_tui.journal.records import RunStarted  # noqa: E402
from kraken_tui.journal.writer import JournalWriter  # noqa: E402
from kraken_tui.kraken.ratelimit import RateLimiter  # noqa: E402
from kraken_tui.kraken.rest import KrakenRestClient  # noqa: E402
from kraken_tui.kraken.ws_events import TradeEvent  # noqa: E402
from kraken_tui.paper.instruments import build_instruments  # noqa: E402
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET  # noqa: E402

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SYM = "PF_XBTUSD"
D = Decimal


class AlwaysLong:
    """Stub strategy: a long signal on every closed 1m trade candle."""

    name, timeframe, timeframes, series, warmup_bars = "bench", "1m", ("1m",), "trade", 1

    def on_candle(self, symbol, timeframe, candle, view):
        return Signal(symbol, SignalSide.LONG, 1.0, "bench", {}, ts_ms=candle.ts_ms + 60_000, strategy="bench")


def _account() -> Account:
    z = D(0)
    return Account(D(10_000), D(10_000), D(10_000), D(10_000), D(10_000), z, z, z, z, z)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class _QueueOnly:
    """The journal writer seen through ``write``/``flush`` only (no priority lane): intents wait for the writer
    task's batch, as they did before ``commit_now``."""

    def __init__(self, writer: JournalWriter) -> None:
        self._writer = writer

    async def write(self, record) -> None:
        await self._writer.write(record)

    async def flush(self) -> None:
        await self._writer.flush()


async def latency(n: int, durable: bool, synchronous: str = "FULL", queue_only: bool = False,
                  idle_first: bool = False) -> tuple[list[float], list[float]]:
    """Seconds from each event to its order request leaving the client, and the loop thread's CPU seconds
    (``time.thread_time``) over the same span. ``idle_first``: before each (untimed) the journal commits
    everything written so far, so the event finds the writer thread idle (orders seconds apart) instead of
    committing the previous order's records (orders back to back)."""
    stamps: list[float] = []
    cpu_stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.perf_counter())
        cpu_stamps.append(time.thread_time())
        head = {"result": "success", "serverTime": "2025-08-01T00:00:00.000Z"}
        if request.url.path.endswith("/batchorder"):  # an entry and its stop (engine.order_flow): both placed
            n = max(1, request.read().count(b"order_tag"))
            return httpx.Response(200, json={**head, "batchStatus": [
                {"status": "placed", "order_id": f"o{len(stamps)}-{k}", "order_tag": str(k)} for k in range(n)]})
        return httpx.Response(200, json={**head, "sendStatus": {"status": "placed", "order_id": f"o{len(stamps)}"}})

    cfg = Config.model_validate({"strategy": {"symbols": [SYM], "timeframe": "1m", "name": "ema_cross"},
                                 "risk": {"max_open_positions": 100}})
    with tempfile.TemporaryDirectory() as tmp:
        journal = JournalWriter(Path(tmp) / "bench.sqlite", synchronous=synchronous)
        await journal.start()
        await journal.write(RunStarted("bench", 1, "paper", "h", "v"))
        creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="bench")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            # Kraken's budget (500 points / 10 s) would make this a rate-limit benchmark after 50 orders.
            client = KrakenRestClient(http, "http://bench", creds, rate_limit=RateLimiter(budget=10**9))
            sink = _QueueOnly(journal) if queue_only else journal
            eng = Engine(cfg, client=client, ws=None, journal=sink, run_id="benchrun", strategy=AlwaysLong(),
                         durable_intents=durable)
            eng.instruments.update(build_instruments([SYM]))
            client._instruments.update(eng.instruments)  # what client.instruments() would cache
            eng.account.set_account(_account())
            eng._tasks = [asyncio.create_task(eng.jobs.run())]
            t0_ms = 1_754_006_400_000
            eng.market.on_ticker(Ticker(SYM, t0_ms, last=100_000.0, mark_price=100_000.0, index_price=100_000.0))
            await eng.on_ws_event(TradeEvent(PublicTrade(SYM, t0_ms, 100_000.0, 0.1, Side.BUY)))
            out: list[float] = []
            cpu: list[float] = []
            for i in range(1, n + 1):
                ev = TradeEvent(PublicTrade(SYM, t0_ms + i * 60_000, 100_000.0 + 500.0 * (i % 7), 0.1, Side.BUY))
                if idle_first:
                    await journal.flush()
                before = len(stamps)
                t, c = time.perf_counter(), time.thread_time()
                await eng.on_ws_event(ev)
                await eng.wait_idle()
                if len(stamps) > before:
                    out.append(stamps[before] - t)
                    cpu.append(cpu_stamps[before] - c)
            await eng.stop()
        await journal.close()
    return out, cpu


def commit_floor(n: int) -> list[float]:
    """Seconds per bare one-row ``synchronous=FULL`` WAL commit (sqlite3, no queue, no thread) in a temporary
    file beside the bench's journals: the disk's own floor under the figures above, in the same run."""
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t(a INTEGER)")
        out = []
        for i in range(n):
            t = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            out.append(time.perf_counter() - t)
        conn.close()
    return out


def throughput(repeat: int) -> tuple[int, float, int]:
    with (DATA / "kraken" / "pf_xbtusd_1m_2025-08.csv").open() as fh:
        rows = [r for r in csv.reader(fh) if r and r[0].isdigit()]
    base = [Candle(int(r[0]) * 1000, *(float(x) for x in r[1:6])) for r in rows]
    span = base[-1].ts_ms - base[0].ts_ms + 60_000
    candles = [Candle(c.ts_ms + k * span, c.open, c.high, c.low, c.close, c.volume)
               for k in range(repeat) for c in base]
    cfg = Config()
    inst = build_instruments([SYM])[SYM]
    strategy = build_strategy("ema_cross", {"min_confidence": 0.4}, timeframe="1m")
    market = MarketState([SYM], ("1m", "5m", "15m", "1h"), series=("trade",))
    acct = AccountSnapshot(D(10_000), D(10_000))
    decisions = 0
    t = time.perf_counter()
    for c in candles:
        for sc in market.on_candle(SYM, c, "1m"):
            sig = strategy.on_candle(SYM, sc.timeframe, sc.candle, market)
            if sig is not None:
                mark = D(repr(c.close))
                decide(sig, instrument=inst, position_size=D(0), mark_price=mark, index_price=mark, account=acct,
                       risk_cfg=cfg.risk, exits_cfg=cfg.exits, entry_block_reason=None, atr_pct=None,
                       funding_rate=None)
                decisions += 1
    return len(candles), time.perf_counter() - t, decisions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res: dict[str, float] = {}
    if not a.json:
        print("load average (1/5/15 min) at start: {:.2f}/{:.2f}/{:.2f} on {} cores".format(*os.getloadavg(),
                                                                                       os.cpu_count()))
    for key, durable, sync, queue_only, idle in (
            ("durable", True, "FULL", False, False), ("idle", True, "FULL", False, True),
            ("flush", True, "FULL", True, False), ("wal", True, "NORMAL", False, False),
            ("queued", False, "FULL", False, False)):
        lat, cpu = asyncio.run(latency(a.orders, durable, sync, queue_only, idle))
        res[f"{key}_p50_ms"] = _pct(lat, 0.50) * 1e3
        res[f"{key}_p99_ms"] = _pct(lat, 0.99) * 1e3
        res[f"{key}_cpu_p50_ms"] = _pct(cpu, 0.50) * 1e3
        res[f"{key}_cpu_p99_ms"] = _pct(cpu, 0.99) * 1e3
        res[f"{key}_samples"] = len(lat)
    floor = commit_floor(min(a.orders, 500))
    res["floor_p50_ms"], res["floor_p99_ms"] = _pct(floor, 0.50) * 1e3, _pct(floor, 0.99) * 1e3
    n, el, decisions = throughput(a.repeat)
    res.update(candles=n, elapsed_s=el, candles_per_s=n / el, decisions=decisions)
    if a.json:
        print(json.dumps(res))
        return
    print(f"market event -> order request leaving the client ({res['durable_samples']:.0f} orders):")
    print(f"  intent committed first (default): p50 {res['durable_p50_ms']:.3f} ms   p99 {res['durable_p99_ms']:.3f} ms"
          "   (priority lane: one transaction, FULL fsync; orders back to back: the writer thread is often still"
          " committing the previous order's records, a second fsync to wait for)")
    print("    of which the loop thread on CPU (user + kernel, the fsync's kernel work included): "
          f"p50 {res['durable_cpu_p50_ms']:.3f} ms   p99 {res['durable_cpu_p99_ms']:.3f} ms")
    print(f"  the same, journal idle at the event: p50 {res['idle_p50_ms']:.3f} ms   p99 {res['idle_p99_ms']:.3f} ms"
          f"   (orders seconds apart: one fsync; on CPU p50 {res['idle_cpu_p50_ms']:.3f} ms, "
          f"p99 {res['idle_cpu_p99_ms']:.3f} ms)")
    print(f"  intent committed via the queue:   p50 {res['flush_p50_ms']:.3f} ms   p99 {res['flush_p99_ms']:.3f} ms"
          "   (writer task batch + thread hop, FULL fsync)")
    print(f"  intent committed, sync NORMAL:    p50 {res['wal_p50_ms']:.3f} ms   p99 {res['wal_p99_ms']:.3f} ms"
          "   (in the WAL: survives a process crash, not a power cut)")
    print(f"  intent queued only:                p50 {res['queued_p50_ms']:.3f} ms   p99 {res['queued_p99_ms']:.3f} ms")
    print(f"  bare FULL commit (the disk's floor): p50 {res['floor_p50_ms']:.3f} ms   p99 {res['floor_p99_ms']:.3f} ms"
          "   (one-row WAL transaction, sqlite3 alone)")
    met = res["durable_p50_ms"] < 0.5 and res["durable_p99_ms"] < 2
    met_idle = res["idle_p50_ms"] < 0.5 and res["idle_p99_ms"] < 2
    print(f"  targets (intent durable): p50 < 0.5 ms, p99 < 2 ms: back to back {'MET' if met else 'NOT met'}, "
          f"journal idle {'MET' if met_idle else 'NOT met'} (compare with the disk's floor above: an fsync "
          f"slower than the target cannot meet it)")
    print(f"1m candles through market state + indicators + ema_cross + risk gate: {n} candles in {el:.2f} s "
          f"= {n / el:,.0f} candles/s ({decisions} decisions)")


if __name__ == "__main__":
    main()
