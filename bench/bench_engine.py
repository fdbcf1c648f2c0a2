"""Benchmark: engine latency (market event -> order request leaving the client), where that time goes (spans),
and candles/s through market state + indicators + strategy + risk gate.

Run: ``python bench/bench_engine.py [--orders N] [--repeat N] [--http stub|aiohttp|httpx] [--background-load N]``.
Prints figures only. ``--background-load N`` runs N busy processes beside it (``bench/background_load.py``).

1. Latency, in process: a real ``Engine`` with a real ``JournalWriter`` (temp file, FULL sync; the intent is
   committed before each send) and the real ``KrakenRestClient``. Each sample: one WS ``TradeEvent`` that
   closes a 1m candle -> market state -> strategy (a stub that signals long on every close; the price steps by
   0.5 % so that the risk gate's expected-move check passes and every event yields an order) -> ``decide``
   (basis guard + risk gate) -> job worker -> ``Executor`` (intent journaled and committed through the
   journal's priority lane, ``JournalWriter.commit_now``) -> client (an entry travels with its stop in one
   ``batchorder``, engine.order_flow). The client's rate limiter is opened (Kraken's budget is not what is
   measured). The HTTP backend under the client (``--http``):
   - ``stub`` (default): an ``HttpSender`` that answers at once; the sample ends when the signed request is
     handed to it (the client's own work ends there);
   - ``aiohttp``: the default backend (``rest_http.AiohttpSender``) over loopback to a minimal HTTP server in a
     child process; the sample ends when the request's bytes were written to the socket (``transport.write``
     returned);
   - ``httpx``: an ``httpx.AsyncClient`` over ``MockTransport``; the sample ends in the mock's handler.
   Targets: p50 < 0.5 ms, p99 < 2 ms with the intent durable; printed back to back (each event right after
   the previous order) and with the journal idle at the event (orders seconds apart), each with the loop
   thread's CPU time over the same span (``time.thread_time``: the process's own cost, not the disk's or a
   busy machine's). Printed with it, from inside the run, the spans of one order (p50 / p99 of each step,
   in the order they happen): the event through market state and the strategy (signal), the hop to the job
   worker, the decision with the risk gate, the order and its intent record built, the priority commit
   asked for, the intent durable (fsync returned), the request signed, its bytes handed to the HTTP backend /
   written. Also printed in the same run: the intent committed through the writer task's queue (``flush``,
   the path without the priority lane), with the journal at ``synchronous=NORMAL`` (committed to the WAL, not
   fsynced) and without the commit (``durable_intents=False``), and the disk's bare FULL commit; and, paired
   with the default (the request built and signed on the journal's writer thread during the fsync,
   engine.execution), the same orders with the request built and signed on the loop after the commit
   (``Executor.sign_during_fsync = False``), journal idle and back to back.
2. Throughput: the real PF_XBTUSD 1m candles (``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA``) replayed
   ``repeat`` times through ``MarketState.on_candle`` (1m/5m/15m/1h builders) -> ``ema_cross`` -> ``decide``
   for every signal, with a fixed account. Candles/s.
The process is set up as the app runs (the garbage-collector policy, ``kraken_tui.gcpolicy``, applied after start-up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from bench.background_load import BackgroundLoad, add_option  # noqa: E402
from kraken_tui.config import Config, Credentials  # noqa: E402
from kraken_tui.domain import Account, Candle, PublicTrade, Side, Ticker  # noqa: E402
from kraken_tui.engine import decisions as decisions_mod  # noqa: E402
from kraken_tui.engine.core import Engine  # noqa: E402
from kraken_tui.engine.decide import decide  # noqa: E402
from kraken_tui.engine.jobs import JobQueue  # noqa: E402
from kraken_tui.engine.market import MarketState  # noqa: E402
from kraken_tui.engine.risk import AccountSnapshot  # noqa: E402
from kraken_tui.engine.signals import Signal, SignalSide  # noqa: E402
from kraken_tui.engine.strategies import build_strategy  # noqa: E402
from kraken_tui.gcpolicy import freeze_startup_heap, release_startup_heap  # noqa: E402
from kraken_tui.journal.records import IntentRecord, RunStarted  # noqa: E402
from kraken_tui.journal.writer import JournalWriter  # noqa: E402
from kraken_tui.kraken.ratelimit import RateLimiter  # noqa: E402
from kraken_tui.kraken.rest import KrakenRestClient  # noqa: E402
from kraken_tui.kraken.rest_http import HttpAnswer  # noqa: E402
from kraken_tui.kraken.rest_transport import RestTransport  # noqa: E402
from kraken_tui.kraken.ws_events import TradeEvent  # noqa: E402
from kraken_tui.paper.instruments import build_instruments  # noqa: E402
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET  # noqa: E402

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SYM = "PF_XBTUSD"
D = Decimal

#: The steps of one order, in the order they happen on the current code (``Spans``).
STEPS = ("signal", "queued", "job", "decided", "intent", "commit asked", "signed", "durable", "handed to HTTP", "written")
STEP_TEXT = {
    "signal": "event -> market state -> strategy signal",
    "queued": "signal -> decision job queued (SIGNAL event emitted)",
    "job": "-> decision job starts (job worker hop)",
    "decided": "decide: basis guard + risk gate",
    "intent": "orders + cliOrdIds + intent record built, encoded",
    "commit asked": "-> priority commit asked for",
    "signed": "request built and signed",
    "durable": "intent durable (FULL fsync returned)",
    "handed to HTTP": "-> rate budget spent, request handed to the HTTP backend",
    "written": "-> bytes written to the socket",
}


class Spans:
    """Stamps (``perf_counter``) of the steps of the current sample, first stamp of each step wins; ``close``
    turns them into per-step durations (each step minus the step stamped just before it in time)."""

    def __init__(self) -> None:
        self.cur: dict[str, float] = {}
        self.steps: dict[str, list[float]] = {}
        self.at: dict[str, list[float]] = {}
        self.active = False
        self.cpu_written = 0.0

    def mark(self, step: str) -> None:
        if self.active and step not in self.cur:
            self.cur[step] = time.perf_counter()
            if step == "written":
                self.cpu_written = time.thread_time()

    def start(self, t0: float) -> None:
        self.cur = {"event": t0}
        self.active = True

    def close(self, keep: bool) -> None:
        self.active = False
        if not keep:
            return
        order = sorted(self.cur.items(), key=lambda kv: kv[1])
        t0 = self.cur["event"]
        for (_, prev), (name, t) in zip(order, order[1:], strict=False):
            self.steps.setdefault(name, []).append(t - prev)
            self.at.setdefault(name, []).append(t - t0)


SPANS = Spans()


@contextlib.contextmanager
def _instrumented() -> Iterator[None]:
    """Stamp the steps of ``Spans`` by wrapping the functions that end them (bench only; restored after)."""
    patches: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        orig = getattr(owner, name)
        patches.append((owner, name, orig))
        setattr(owner, name, make(orig))

    def after(step: str) -> Callable[[Any], Any]:
        def make(orig: Any) -> Any:
            def f(*a: Any, **k: Any) -> Any:
                out = orig(*a, **k)
                SPANS.mark(step)
                return out
            return f
        return make

    def act(orig: Any) -> Any:
        async def f(*a: Any, **k: Any) -> Any:
            SPANS.mark("job")
            return await orig(*a, **k)
        return f

    def write(orig: Any) -> Any:
        async def f(self: Any, record: Any) -> Any:
            out = await orig(self, record)
            if isinstance(record, IntentRecord):
                SPANS.mark("intent")
            return out
        return f

    def commit_now(orig: Any) -> Any:
        def f(self: Any, *a: Any) -> Any:
            SPANS.mark("commit asked")
            fut = orig(self, *a)
            if fut.done():  # committed in the call (on this thread)
                SPANS.mark("durable")
            else:
                fut.add_done_callback(lambda _: SPANS.mark("durable"))
            return fut
        return f

    def send_http(orig: Any) -> Any:
        async def f(*a: Any, **k: Any) -> Any:
            SPANS.mark("handed to HTTP")
            return await orig(*a, **k)
        return f

    wrap(decisions_mod, "decide", after("decided"))
    wrap(JobQueue, "submit", after("queued"))
    wrap(decisions_mod.Decisions, "act", act)
    wrap(JournalWriter, "write", write)
    wrap(JournalWriter, "commit_now", commit_now)
    wrap(RestTransport, "_signed", after("signed"))
    wrap(RestTransport, "send_http", send_http)
    try:
        yield
    finally:
        for owner, name, orig in reversed(patches):
            setattr(owner, name, orig)


class AlwaysLong:
    """Stub strategy: a long signal on every closed 1m trade candle."""

    name, timeframe, timeframes, series, warmup_bars = "bench", "1m", ("1m",), "trade", 1

    def on_candle(self, symbol, timeframe, candle, view):
        SPANS.mark("signal")
        return Signal(symbol, SignalSide.LONG, 1.0, "bench", {}, ts_ms=candle.ts_ms + 60_000, strategy="bench")


def _account() -> Account:
    z = D(0)
    return Account(D(10_000), D(10_000), D(10_000), D(10_000), D(10_000), z, z, z, z, z)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class _QueueOnly:
    """The journal writer seen through ``write``/``flush`` only (no priority lane): intents wait for the writer
    task's batch."""

    def __init__(self, writer: JournalWriter) -> None:
        self._writer = writer

    async def write(self, record) -> None:
        await self._writer.write(record)

    async def flush(self) -> None:
        await self._writer.flush()


_HEAD = b'{"result":"success","serverTime":"2025-08-01T00:00:00.000Z",'


def _answer(path: str, body: bytes, n: int) -> bytes:
    """The exchange's answer body to an order request (everything placed)."""
    if path.endswith("/batchorder"):  # an entry and its stop (engine.order_flow): both placed
        k = max(1, body.count(b"order_tag"))
        items = ",".join(f'{{"status":"placed","order_id":"o{n}-{i}","order_tag":"{i}"}}' for i in range(k))
        return _HEAD + b'"batchStatus":[' + items.encode() + b"]}"
    if path.endswith("/cancelorder"):
        return _HEAD + b'"cancelStatus":{"status":"cancelled","order_id":"o%d"}}' % n
    return _HEAD + b'"sendStatus":{"status":"placed","order_id":"o%d"}}' % n


class _StubSender:
    """An ``HttpSender`` answering every order request at once: the sample ends at the hand-off."""

    def __init__(self) -> None:
        self.n = 0

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                           timeout_s: float) -> HttpAnswer:
        SPANS.mark("written")
        self.n += 1
        return HttpAnswer(200, {"Content-Type": "application/json"}, _answer(url, body or b"", self.n))


def _serve_loopback() -> None:
    """Child process: a minimal keep-alive HTTP/1.1 server on 127.0.0.1 answering order requests (``_answer``);
    prints its port, serves until stdin closes."""

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t, self.buf, self.n = transport, b"", 0

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                head, sep, rest = self.buf.partition(b"\r\n\r\n")
                if not sep:
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                if len(rest) < length:
                    return
                body, self.buf = rest[:length], rest[length:]
                self.n += 1
                out = _answer(head.split(b" ")[1].decode(), body, self.n)
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(out), out))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Proto, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


@contextlib.contextmanager
def _written_stamps() -> Iterator[None]:
    """Stamp ``written`` when an HTTP request's bytes were handed to the kernel (``transport.write`` returned)."""
    from asyncio import selector_events

    cls = selector_events._SelectorSocketTransport
    orig_write, orig_lines = cls.write, cls.writelines

    def write(self: Any, data: Any) -> None:
        orig_write(self, data)
        SPANS.mark("written")

    def writelines(self: Any, lines: Any) -> None:
        orig_lines(self, lines)
        SPANS.mark("written")

    cls.write, cls.writelines = write, writelines  # type: ignore[method-assign]
    try:
        yield
    finally:
        cls.write, cls.writelines = orig_write, orig_lines  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def _http(kind: str, port: int | None) -> Any:
    """(http object for the client, base url) for the ``--http`` backend ``kind``."""
    if kind == "stub":
        yield _StubSender(), "http://bench"
    elif kind == "aiohttp":
        from kraken_tui.kraken.rest_http import new_session

        session = new_session()
        try:
            with _written_stamps():
                yield session, f"http://127.0.0.1:{port}"
        finally:
            await session.close()
    else:
        import httpx

        n = [0]

        def handler(request: httpx.Request) -> httpx.Response:
            SPANS.mark("written")
            n[0] += 1
            return httpx.Response(200, content=_answer(request.url.path, request.read(), n[0]),
                                  headers={"Content-Type": "application/json"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            yield http, "http://bench"


async def latency(n: int, durable: bool, synchronous: str = "FULL", queue_only: bool = False,
                  idle_first: bool = False, http: str = "stub", port: int | None = None,
                  overlap: bool = True) -> tuple[list[float], list[float]]:
    """Seconds from each event to its order request leaving the client (``written``), and the loop thread's CPU
    seconds (``time.thread_time``) over the same span; each order's spans go to ``SPANS``. ``idle_first``:
    before each (untimed) the journal commits everything written so far, so the event finds the writer thread
    idle (orders seconds apart) instead of committing the previous order's records (orders back to back)."""
    cfg = Config.model_validate({"strategy": {"symbols": [SYM], "timeframe": "1m", "name": "ema_cross"},
                                 "risk": {"max_open_positions": 100}})
    with tempfile.TemporaryDirectory() as tmp:
        journal = JournalWriter(Path(tmp) / "bench.sqlite", synchronous=synchronous)
        await journal.start()
        await journal.write(RunStarted("bench", 1, "paper", "h", "v"))
        creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="bench")
        async with _http(http, port) as (session, url):
            # Kraken's budget (500 points / 10 s) would make this a rate-limit benchmark after 50 orders.
            client = KrakenRestClient(session, url, creds, rate_limit=RateLimiter(budget=10**9))
            sink = _QueueOnly(journal) if queue_only else journal
            eng = Engine(cfg, client=client, ws=None, journal=sink, run_id="benchrun", strategy=AlwaysLong(),
                         durable_intents=durable)
            if hasattr(eng.executor, "sign_during_fsync"):
                eng.executor.sign_during_fsync = overlap
            eng.instruments.update(build_instruments([SYM]))
            client._instruments.update(eng.instruments)  # what client.instruments() would cache
            eng.account.set_account(_account())
            eng._tasks = [asyncio.create_task(eng.jobs.run())]
            t0_ms = 1_754_006_400_000
            eng.market.on_ticker(Ticker(SYM, t0_ms, last=100_000.0, mark_price=100_000.0, index_price=100_000.0))
            await eng.on_ws_event(TradeEvent(PublicTrade(SYM, t0_ms, 100_000.0, 0.1, Side.BUY)))
            freeze_startup_heap()  # the process's GC policy, applied where the app applies it (after start-up)
            out: list[float] = []
            cpu: list[float] = []
            warm = min(20, n // 10)
            try:
                for i in range(1, n + warm + 1):
                    ev = TradeEvent(PublicTrade(SYM, t0_ms + i * 60_000, 100_000.0 + 500.0 * (i % 7), 0.1, Side.BUY))
                    if idle_first:
                        await journal.flush()
                    t, c = time.perf_counter(), time.thread_time()
                    SPANS.start(t)
                    await eng.on_ws_event(ev)
                    await eng.wait_idle()
                    sent = SPANS.cur.get("written")
                    keep = i > warm and sent is not None
                    SPANS.close(keep)
                    if keep and sent is not None:
                        out.append(sent - t)
                        cpu.append(SPANS.cpu_written - c)
            finally:
                release_startup_heap()
            await eng.stop()
        await journal.close()
    return out, cpu


def commit_floor(n: int) -> tuple[list[float], list[float]]:
    """Seconds per bare ``synchronous=FULL`` WAL commit, sqlite3 alone (no queue, no thread, no writer), in temporary
    files beside the bench's journals, interleaved: (one integer row in a one-column table: the disk's own floor;
    an entry's two intent rows in a journal-schema file (``journal.db.open_db``, encoded by ``journal.encode``):
    the floor of the priority commit itself, its pages included). Both WALs are checkpointed every 64 commits, as
    the writer does, so that their commits overwrite the WAL file rather than grow it (a growing file costs each
    fsync a metadata update too)."""
    import sqlite3

    from kraken_tui.domain import OrderType
    from kraken_tui.journal.db import open_db
    from kraken_tui.journal.encode import encode
    from kraken_tui.journal.records import IntentPurpose

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t(a INTEGER)")
        journal = open_db(Path(tmp) / "journal.sqlite", create=True, synchronous="FULL")
        journal.isolation_level = None
        journal.execute("PRAGMA wal_autocheckpoint=0")
        for sql, params in encode(RunStarted("benchrun", 1, "paper", "h", "v"), None):
            journal.execute(sql, params)
        bare, intents = [], []
        for i in range(n):
            if i % 64 == 0:
                for c in (conn, journal):
                    c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            t = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            bare.append(time.perf_counter() - t)
            stmts = [st for k, purpose in enumerate((IntentPurpose.ENTRY, IntentPurpose.STOP)) for st in encode(
                IntentRecord(i, f"kt-benchrun-{SYM}-{i}-{k}", SYM, Side.BUY, D("0.01"), OrderType.MARKET, purpose,
                             signal_id=f"benchrun-{SYM}-{i}"), "benchrun")]
            t = time.perf_counter()
            journal.execute("BEGIN")
            for sql, params in stmts:
                journal.execute(sql, params)
            journal.execute("COMMIT")
            intents.append(time.perf_counter() - t)
        conn.close()
        journal.close()
    return bare, intents


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


def _print_spans(title: str) -> None:
    print(f"  {title}: spans of one order, p50 / p99 ms of each step (in the order they happen), "
          "[p50 ms since the event]:")
    names = sorted(SPANS.at, key=lambda k: _pct(SPANS.at[k], 0.5))
    for name in names:
        xs = SPANS.steps[name]
        print(f"    {STEP_TEXT.get(name, name):<52} {_pct(xs, 0.5) * 1e3:7.3f} / {_pct(xs, 0.99) * 1e3:7.3f}"
              f"   [{_pct(SPANS.at[name], 0.5) * 1e3:6.3f}]")


@contextlib.contextmanager
def _server(http: str) -> Iterator[int | None]:
    """The loopback HTTP server child for ``--http aiohttp`` (its port), else None."""
    if http != "aiohttp":
        yield None
        return
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--http", choices=("stub", "aiohttp", "httpx"), default="stub",
                    help="the HTTP backend under the client (module docstring)")
    ap.add_argument("--only", choices=("durable", "idle", "idle_serial", "durable_serial", "flush", "wal", "queued"),
                    action="append",
                    help="run only these latency modes (repeatable; default all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    add_option(ap)
    a = ap.parse_args()
    if a.serve:
        _serve_loopback()
        return
    with BackgroundLoad(a.background_load) as load:
        _run(a)
    if not a.json:
        print(f"background load: {load.describe()}")


def _run(a: argparse.Namespace) -> None:
    res: dict[str, float] = {}
    if not a.json:
        print("load average (1/5/15 min) at start: {:.2f}/{:.2f}/{:.2f} on {} cores".format(*os.getloadavg(),
                                                                                       os.cpu_count()))
    modes = [m for m in (("durable", True, "FULL", False, False, True), ("idle", True, "FULL", False, True, True),
                         ("idle_serial", True, "FULL", False, True, False),
                         ("durable_serial", True, "FULL", False, False, False),
                         ("flush", True, "FULL", True, False, True), ("wal", True, "NORMAL", False, False, True),
                         ("queued", False, "FULL", False, False, True)) if not a.only or m[0] in a.only]
    spans: dict[str, tuple[dict[str, list[float]], dict[str, list[float]]]] = {}
    with _instrumented(), _server(a.http) as port:
        for key, durable, sync, queue_only, idle, overlap in modes:
            SPANS.steps, SPANS.at = {}, {}
            lat, cpu = asyncio.run(latency(a.orders, durable, sync, queue_only, idle, a.http, port, overlap))
            spans[key] = SPANS.steps, SPANS.at
            res[f"{key}_p50_ms"] = _pct(lat, 0.50) * 1e3
            res[f"{key}_p99_ms"] = _pct(lat, 0.99) * 1e3
            res[f"{key}_cpu_p50_ms"] = _pct(cpu, 0.50) * 1e3
            res[f"{key}_cpu_p99_ms"] = _pct(cpu, 0.99) * 1e3
            res[f"{key}_samples"] = len(lat)
            for step, xs in SPANS.steps.items():
                res[f"{key}_{step.replace(' ', '_')}_p50_ms"] = _pct(xs, 0.5) * 1e3
                res[f"{key}_{step.replace(' ', '_')}_p99_ms"] = _pct(xs, 0.99) * 1e3
    floor, floor_intents = commit_floor(min(a.orders, 500))
    res["floor_p50_ms"], res["floor_p99_ms"] = _pct(floor, 0.50) * 1e3, _pct(floor, 0.99) * 1e3
    res["floor_intents_p50_ms"] = _pct(floor_intents, 0.50) * 1e3
    res["floor_intents_p99_ms"] = _pct(floor_intents, 0.99) * 1e3
    n, el, decisions = throughput(a.repeat)
    res.update(candles=n, elapsed_s=el, candles_per_s=n / el, decisions=decisions)
    res["load_1min_end"] = os.getloadavg()[0]
    if a.json:
        print(json.dumps(res))
        return
    end = {"stub": "signed request handed to the HTTP backend", "aiohttp": "bytes written (aiohttp, loopback)",
           "httpx": "request in httpx MockTransport's handler"}[a.http]
    print(f"market event -> order request leaving the client ({end}):")

    def line(key: str, text: str, note: str = "") -> None:
        if f"{key}_p50_ms" not in res:
            return
        print(f"  {text:<38} p50 {res[f'{key}_p50_ms']:.3f} ms   p99 {res[f'{key}_p99_ms']:.3f} ms   "
              f"(loop thread on CPU p50 {res[f'{key}_cpu_p50_ms']:.3f} ms, p99 {res[f'{key}_cpu_p99_ms']:.3f} ms; "
              f"{res[f'{key}_samples']:.0f} orders){note}")

    line("durable", "intent durable, back to back:", "\n    (the writer thread is often still committing the "
         "previous order's records: a second fsync to wait for)")
    line("idle", "intent durable, journal idle:", "\n    (orders seconds apart: one fsync)")
    line("idle_serial", "the same, signed after the commit:", "\n    (the request built and signed on the loop "
         "once the fsync returned, not on the writer thread during it)")
    line("durable_serial", "back to back, signed after the commit:")
    line("flush", "intent committed via the queue:", "  (writer task batch + thread hop)")
    line("wal", "intent committed, sync NORMAL:", "  (in the WAL: survives a process crash, not a power cut)")
    line("queued", "intent queued only:")
    print(f"  bare FULL commit (the disk's floor): p50 {res['floor_p50_ms']:.3f} ms   p99 {res['floor_p99_ms']:.3f} ms"
          "   (one-row WAL transaction, sqlite3 alone)")
    print(f"  bare FULL commit of an entry's two intents: p50 {res['floor_intents_p50_ms']:.3f} ms   p99 "
          f"{res['floor_intents_p99_ms']:.3f} ms   (the journal's schema, sqlite3 alone: the priority commit's "
          "floor)")
    for key, title in (("idle", "journal idle"), ("idle_serial", "journal idle, signed after the commit"),
                       ("durable", "back to back")):
        if key in spans:
            SPANS.steps, SPANS.at = spans[key]
            _print_spans(title)
    if "durable_p50_ms" in res and "idle_p50_ms" in res:
        met = res["durable_p50_ms"] < 0.5 and res["durable_p99_ms"] < 2
        met_idle = res["idle_p50_ms"] < 0.5 and res["idle_p99_ms"] < 2
        print(f"  targets (intent durable): p50 < 0.5 ms, p99 < 2 ms: back to back {'MET' if met else 'NOT met'}, "
              f"journal idle {'MET' if met_idle else 'NOT met'} (compare with the disk's floor above: an fsync "
              f"slower than the target cannot meet it)")
    print(f"1m candles through market state + indicators + ema_cross + risk gate: {n} candles in {el:.2f} s "
          f"= {n / el:,.0f} candles/s ({decisions} decisions)")
    print("load average (1 min) at the end: {:.2f}".format(res["load_1min_end"]))


if __name__ == "__main__":
    main()
