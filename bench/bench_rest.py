"""Benchmark of the REST client: the project's ``KrakenRestClient`` (on its default aiohttp backend) against
ccxt's async ``krakenfutures`` client, on the same paper exchange over loopback, call kind by call kind.

Three kinds of process, so each one's CPU is its own:
- the paper exchange (``PaperServer`` over a ``PaperExchange`` fed by the synthetic market source, as
  ``kraken-tui sim --source synthetic`` serves it, but with Kraken's rate budget off so the counts are not capped);
- one process per client (its own imports and garbage collector), driven by this parent over a pipe.
The parent runs ROUNDS: in each round, for each kind of call, every client makes ``--calls`` calls of that kind
in turn, the clients' order alternating between rounds (ABAB, then BABA), so both see the same machine load.
Kinds: public read (``GET tickers``), private read (``GET openpositions``), send order (a resting limit buy far
below the market), edit order (its limit price moved), cancel order (the orders sent that round).
Each client process measures, per round and kind, its CPU per call: ``process_time`` (all its threads) and
``thread_time`` (the calling thread, the event loop's), and the wall time per call.

Printed per kind: each client's median CPU per call over rounds with the spread (min-max over rounds), and
ours/ccxt as the median of the per-round ratios (paired: the two clients' blocks of a round run back to back)
with its spread; at or below 1.00 means our client spends no more CPU per call than ccxt's. Also printed: the
load average at the start and the end, and the background load.

Prints figures; not a test. Run (ccxt comes with the ``bench`` extra, ``pip install -e '.[bench]'``):
    python bench/bench_rest.py [--rounds 9] [--calls 100] [--background-load N] [--clients ours,ccxt]
``--background-load N`` runs N busy processes (pure Python loops) beside it for the whole run.
``--clients`` may add ``ours-httpx`` (the client on an ``httpx.AsyncClient``).
``--profile N`` instead profiles our order path: N send + cancel pairs under cProfile in one process, the
top functions by own time printed. ``--layer N`` instead measures our client's own CPU per call above the HTTP
backend (N calls per kind over a stub sender answering with the exchange's recorded answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.background_load import BackgroundLoad, add_option  # noqa: E402

CLIENTS = ("ours", "ours-httpx", "ccxt")
KINDS = ("public read", "private read", "send order", "edit order", "cancel order")
SYMBOL = "PF_XBTUSD"
BUY_PRICE_USD = 1_000  # far below the market: the orders rest
SIZE = "0.02"  # USD 20 an order: above the exchange's small-order line (USD 10)


# ---------------------------------------------------------------------------------------------- the exchange
async def _serve_sim() -> None:
    """The paper exchange on an ephemeral loopback port, without a rate budget; prints its JSON line and
    serves until stdin closes."""
    from kraken_tui.config import PaperConfig
    from kraken_tui.paper.exchange import PaperExchange
    from kraken_tui.paper.server import PaperServer
    from kraken_tui.paper.sources.synthetic import SyntheticSource

    cfg = PaperConfig(starting_balance_usd=1e9)
    source = SyntheticSource(cfg.symbols, seed=42)
    server = PaperServer(PaperExchange(cfg), source=source, rate_limits=False)
    await server.start()
    try:
        await asyncio.sleep(1.5)  # the first ticks: every symbol has a price
        print(json.dumps({"rest_url": server.rest_url, "api_key": server.api_key,
                          "api_secret": server.api_secret}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    finally:
        await server.stop()


# ----------------------------------------------------------------------------------------------- the clients
class _Ours:
    """The project's client; ``http`` is an aiohttp session (default) or an httpx client."""

    def __init__(self, variant: str, url: str, key: str, secret: str, sender: Any = None) -> None:
        self.variant, self.url, self.key, self.secret = variant, url, key, secret
        self.sender = sender  # an HttpSender used instead of the session (the --layer stub)
        self.ids: list[str] = []

    async def open(self) -> None:
        from decimal import Decimal

        from pydantic import SecretStr

        from kraken_tui.config import Credentials
        from kraken_tui.domain import OrderRequest, OrderType, Side
        from kraken_tui.kraken.ratelimit import RateLimiter
        from kraken_tui.kraken.rest import KrakenRestClient

        if self.variant == "ours":
            from kraken_tui.kraken.rest_http import new_session

            self.http: Any = new_session()
        else:
            import httpx

            self.http = httpx.AsyncClient()
        creds = Credentials(api_key=SecretStr(self.key), api_secret=SecretStr(self.secret), source="bench")
        # the accounting runs as in production; the budget is large because the exchange's is off
        limiter = RateLimiter(budget=10**9, window_s=10.0, reserve=100)
        self.client = KrakenRestClient(self.sender or self.http, self.url, creds, rate_limit=limiter)
        await self.client.instruments()
        self._req = OrderRequest(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal(SIZE), limit_price=Decimal(BUY_PRICE_USD))
        self._price = Decimal(BUY_PRICE_USD)

    async def close(self) -> None:
        await (self.http.close() if self.variant == "ours" else self.http.aclose())

    def call(self, kind: str) -> Callable[[int], Awaitable[Any]]:
        from decimal import Decimal

        from kraken_tui.domain import OrderStatus

        c = self.client

        async def send(i: int) -> None:
            res = await c.send_order(self._req)
            if res.status is not OrderStatus.PLACED:
                raise RuntimeError(f"send order: {res}")
            self.ids.append(res.order_id or "")

        async def edit(i: int) -> None:
            res = await c.edit_order(order_id=self.ids[i], limit_price=self._price - Decimal(1 + i % 2))
            if res.status is not OrderStatus.EDITED:
                raise RuntimeError(f"edit order: {res}")

        async def cancel(i: int) -> None:
            res = await c.cancel_order(order_id=self.ids[i])
            if res.status is not OrderStatus.CANCELLED:
                raise RuntimeError(f"cancel order: {res}")

        return {"public read": lambda i: c.tickers(), "private read": lambda i: c.open_positions(),
                "send order": send, "edit order": edit, "cancel order": cancel}[kind]


class _Ccxt:
    """ccxt's async ``krakenfutures`` pointed at the paper exchange, its own throttle off."""

    def __init__(self, url: str, key: str, secret: str) -> None:
        self.url, self.key, self.secret = url, key, secret
        self.ids: list[str] = []

    async def open(self) -> None:
        import ccxt.async_support as ccxt  # type: ignore[import-not-found]

        self.ex = ccxt.krakenfutures({"apiKey": self.key, "secret": self.secret, "enableRateLimit": False})
        base = self.url.rstrip("/")
        self.ex.urls["api"] = {"charts": f"{base}/api/charts/", "history": f"{base}/api/history/",
                               "feeschedules": f"{base}/api/feeschedules/", "public": f"{base}/derivatives/api/",
                               "private": f"{base}/derivatives/api/"}
        await self.ex.load_markets()
        self.sym = next(s for s, m in self.ex.markets.items() if m["id"] == SYMBOL)

    async def close(self) -> None:
        await self.ex.close()

    def call(self, kind: str) -> Callable[[int], Awaitable[Any]]:
        ex, sym = self.ex, self.sym

        async def send(i: int) -> None:
            o = await ex.create_order(sym, "limit", "buy", float(SIZE), BUY_PRICE_USD)
            self.ids.append(o["id"])

        async def edit(i: int) -> None:
            await ex.edit_order(self.ids[i], sym, "limit", "buy", None, BUY_PRICE_USD - 1 - i % 2)

        async def cancel(i: int) -> None:
            await ex.cancel_order(self.ids[i], sym)

        return {"public read": lambda i: ex.fetch_tickers(), "private read": lambda i: ex.fetch_positions(),
                "send order": send, "edit order": edit, "cancel order": cancel}[kind]


async def _block(client: Any, kind: str, n: int) -> dict[str, float]:
    """``n`` sequential calls of ``kind``: CPU per call (process and calling thread, µs), wall per call (ms)."""
    call = client.call(kind)
    if kind == "send order":
        client.ids.clear()
    n = min(n, len(client.ids)) if kind in ("edit order", "cancel order") else n
    walls: list[float] = []
    c0, t0 = time.process_time(), time.thread_time()
    for i in range(n):
        w = time.perf_counter()
        await call(i)
        walls.append((time.perf_counter() - w) * 1e3)
    cpu, thr = time.process_time() - c0, time.thread_time() - t0
    return {"cpu_us": cpu / n * 1e6, "thread_us": thr / n * 1e6, "wall_ms": statistics.median(walls), "n": n}


async def _client_main(name: str, url: str, key: str, secret: str, warmup: int) -> None:
    """A client process: set up, warm every kind up, then run the parent's commands (one JSON line each)."""
    client: Any = _Ccxt(url, key, secret) if name == "ccxt" else _Ours(name, url, key, secret)
    await client.open()
    try:
        for kind in KINDS:
            await _block(client, kind, warmup)
        print(json.dumps({"ready": name}), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                return
            cmd = json.loads(line)
            print(json.dumps(await _block(client, cmd["kind"], cmd["n"])), flush=True)
    finally:
        await client.close()


# ---------------------------------------------------------------------------------------------- the profiler
async def _profile(url: str, key: str, secret: str, pairs: int) -> None:
    """``pairs`` send + cancel pairs of our client under cProfile; prints the top functions by own time."""
    import cProfile
    import pstats

    client = _Ours("ours", url, key, secret)
    await client.open()
    try:
        await _block(client, "send order", 20)
        await _block(client, "cancel order", 20)
        prof = cProfile.Profile(time.thread_time)  # CPU of the calling thread, not wall time
        prof.enable()
        for start in range(0, pairs, 100):
            await _block(client, "send order", min(100, pairs - start))
            await _block(client, "cancel order", min(100, pairs - start))
        prof.disable()
    finally:
        await client.close()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats("kraken_tui", 40)


class _Recorder:
    """An HttpSender over an aiohttp session that keeps the last answer per URL path."""

    def __init__(self, session: Any) -> None:
        from kraken_tui.kraken.rest_http import AiohttpSender

        self.inner, self.answers = AiohttpSender(session), {}  # type: ignore[var-annotated]

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Any, timeout_s: float) -> Any:
        from urllib.parse import urlsplit

        answer = await self.inner.send_request(method, url, body, headers, timeout_s)
        self.answers[urlsplit(url).path] = answer
        return answer


class _Stub:
    """An HttpSender answering every path with a recorded answer, at once."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def send_request(self, method: str, url: str, body: bytes | None, headers: Any, timeout_s: float) -> Any:
        from urllib.parse import urlsplit

        return self.answers[urlsplit(url).path]


async def _layer(url: str, key: str, secret: str, n: int) -> None:
    """Our client's own CPU per call above the HTTP backend: every kind ``n`` times over a stub sender that
    answers with the exchange's recorded answers (signing, pacing, encoding, error checks, parsing)."""
    from kraken_tui.kraken.rest_http import new_session

    session = new_session()
    try:
        recorder = _Recorder(session)
        real = _Ours("ours", url, key, secret, sender=recorder)
        await real.open()
        for kind in KINDS:
            await _block(real, kind, 2)
    finally:
        await real.close()
        await session.close()
    stub = _Ours("ours", url, key, secret, sender=_Stub(recorder.answers))
    await stub.open()
    try:
        print(f"our client above the HTTP backend (stub answers), {n} calls per kind, load average "
              f"{os.getloadavg()[0]:.2f}")
        for kind in KINDS:
            await _block(stub, kind, n // 10)
            r = await _block(stub, kind, n)
            print(f"  {kind:13s} {r['cpu_us']:7.1f} µs CPU per call")
    finally:
        await stub.close()


# ---------------------------------------------------------------------------------------------- the parent
def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)


def _read_json(proc: subprocess.Popen[str], what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{what} ended without an answer (exit code {proc.wait(10)})")
    return json.loads(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _spread(xs: list[float], fmt: str) -> str:
    return f"{format(min(xs), fmt)}-{format(max(xs), fmt)}"


def _report(results: dict[str, dict[str, list[dict[str, float]]]], clients: list[str]) -> None:
    print(f"{'call':13s} {'client':11s} {'CPU/call µs':>11s} {'spread':>11s} {'thread µs':>9s} {'wall ms':>8s} "
          f"{'ours/ccxt':>9s} {'spread':>10s}")
    ref = results.get("ccxt")
    for kind in KINDS:
        for name in clients:
            rounds = results[name][kind]
            cpu = [r["cpu_us"] for r in rounds]
            thr = statistics.median(r["thread_us"] for r in rounds)
            wall = statistics.median(r["wall_ms"] for r in rounds)
            ratio = spread = "-"
            if ref is not None and name != "ccxt":
                ratios = [r["cpu_us"] / c["cpu_us"] for r, c in zip(rounds, ref[kind], strict=True)]
                ratio, spread = f"{statistics.median(ratios):.2f}", _spread(ratios, ".2f")
            print(f"{kind:13s} {name:11s} {statistics.median(cpu):11.0f} {_spread(cpu, '.0f'):>11s} {thr:9.0f} "
                  f"{wall:8.2f} {ratio:>9s} {spread:>10s}")
    print("CPU/call: the client process's CPU time per call (process_time), median over rounds, spread min-max;\n"
          "thread µs: the calling thread's (thread_time); ours/ccxt: median of the per-round ratios of CPU/call\n"
          "(at or below 1.00: our client spends no more CPU per call than ccxt's).")


def _measure(args: argparse.Namespace, clients: list[str]) -> dict[str, dict[str, list[dict[str, float]]]] | None:
    """The interleaved rounds: each client in its own process against one paper exchange; None after
    ``--profile``/``--layer`` (they print their own figures)."""
    procs: dict[str, subprocess.Popen[str]] = {}
    sim = _spawn(["--child", "sim"])
    try:
        info = _read_json(sim, "the paper exchange")
        conn = ["--url", info["rest_url"], "--key", info["api_key"], "--secret", info["api_secret"]]
        if args.profile:
            asyncio.run(_profile(info["rest_url"], info["api_key"], info["api_secret"], args.profile))
            return None
        if args.layer:
            asyncio.run(_layer(info["rest_url"], info["api_key"], info["api_secret"], args.layer))
            return None
        for name in clients:
            procs[name] = _spawn(["--child", name, "--warmup", str(args.warmup), *conn])
        for name, proc in procs.items():
            _read_json(proc, f"client {name}")
        results: dict[str, dict[str, list[dict[str, float]]]] = {n: {k: [] for k in KINDS} for n in clients}
        for r in range(args.rounds):
            order = clients if r % 2 == 0 else clients[::-1]
            for kind in KINDS:
                for name in order:
                    proc = procs[name]
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps({"kind": kind, "n": args.calls}) + "\n")
                    proc.stdin.flush()
                    results[name][kind].append(_read_json(proc, f"client {name}"))
    finally:
        for proc in procs.values():
            _stop(proc)
        _stop(sim)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9, help="rounds (each: every kind, every client)")
    ap.add_argument("--calls", type=int, default=100, help="calls per client, kind and round")
    ap.add_argument("--warmup", type=int, default=20, help="calls of each kind before the first round")
    ap.add_argument("--clients", default="ours,ccxt", help=f"comma-separated, from {CLIENTS}")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile N send + cancel pairs of our client instead (cProfile)")
    ap.add_argument("--layer", type=int, default=0, metavar="N",
                    help="measure our client above the HTTP backend instead: N calls per kind over a stub sender")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--secret", help=argparse.SUPPRESS)
    add_option(ap)
    args = ap.parse_args()
    if args.child == "sim":
        asyncio.run(_serve_sim())
        return
    if args.child:
        asyncio.run(_client_main(args.child, args.url, args.key, args.secret, args.warmup))
        return
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    if bad := [c for c in clients if c not in CLIENTS]:
        raise SystemExit(f"--clients: unknown {bad}; choose from {CLIENTS}")
    if "ccxt" in clients:
        try:
            import ccxt  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            print("ccxt is not installed (pip install -e '.[bench]'): measuring our client alone")
            clients.remove("ccxt")
    with BackgroundLoad(args.background_load) as load:
        results = _measure(args, clients)
        if results is None:
            return
    print(f"REST clients vs the same paper exchange (loopback, own process): {args.rounds} rounds x {args.calls} "
          f"calls per client and kind; background load: {load.describe()}")
    _report(results, clients)


if __name__ == "__main__":
    main()
