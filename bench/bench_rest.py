"""Benchmark of the REST client: the project's ``KrakenRestClient`` (on its default aiohttp backend, and on httpx
with and without ``sniffio`` importable) and ccxt's async ``krakenfutures`` client against the same
``kraken-tui sim`` over loopback.

Each client runs in its own child process (so CPU is the client's alone, and imports are its own) and makes the
same calls: public reads (``GET tickers``), private reads (``GET openpositions``) and orders (a resting limit
order placed, then cancelled). Printed per client and kind of call: client CPU per call (process time, µs), wall
p50 / p99 per call (ms), and CPU relative to ccxt. The sim enforces Kraken's rate budget (500 points / 10 s per
key); the counts stay inside one budget and the parent waits for the budget to refill between clients.

Prints figures; not a test. Run:
    python bench/bench_rest.py [--public N] [--private N] [--orders N] [--background-load N]
``--background-load N`` runs N busy processes beside it for the whole run. ccxt comes with the ``bench`` extra
(``pip install -e '.[bench]'``); without it the ccxt row is skipped with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

VARIANTS = ("aiohttp", "httpx", "httpx-no-sniffio", "ccxt")
KINDS = ("public read", "private read", "order")


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def _measure(n: int, call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    """CPU per call (µs) and wall p50/p99 (ms) of ``n`` sequential calls."""
    walls: list[float] = []
    c0 = time.process_time()
    for i in range(n):
        t = time.perf_counter()
        await call(i)
        walls.append((time.perf_counter() - t) * 1e3)
    cpu = time.process_time() - c0
    return {"cpu_us": cpu / n * 1e6, "p50_ms": statistics.median(walls), "p99_ms": _pct(walls, 99), "n": n}


async def _ours(variant: str, url: str, key: str, secret: str, counts: dict[str, int]) -> dict[str, Any]:
    from decimal import Decimal

    from pydantic import SecretStr

    from kraken_tui.config import Credentials
    from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
    from kraken_tui.kraken.rest import KrakenRestClient

    if variant == "aiohttp":
        from kraken_tui.kraken.rest_http import new_session

        http: Any = new_session()
    else:
        import httpx

        http = httpx.AsyncClient()
    creds = Credentials(api_key=SecretStr(key), api_secret=SecretStr(secret), source="bench")
    client = KrakenRestClient(http, url, creds)
    try:
        await client.instruments()
        for _ in range(5):  # warm the pool and the code paths
            await client.tickers()
        out: dict[str, Any] = {}
        out["public read"] = await _measure(counts["public"], lambda i: client.tickers())
        out["private read"] = await _measure(counts["private"], lambda i: client.open_positions())

        async def order(i: int) -> None:
            if i % 2 == 0:
                res = await client.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.001"),
                                                           limit_price=Decimal(1_000)))
                assert res.status is OrderStatus.PLACED, res
                order.last = res.order_id  # type: ignore[attr-defined]
            else:
                res = await client.cancel_order(order_id=order.last)  # type: ignore[attr-defined]
                assert res.status is OrderStatus.CANCELLED, res

        out["order"] = await _measure(2 * counts["orders"], order)
        return out
    finally:
        await (http.close() if variant == "aiohttp" else http.aclose())


async def _ccxt(url: str, key: str, secret: str, counts: dict[str, int]) -> dict[str, Any]:
    import ccxt.async_support as ccxt  # type: ignore[import-not-found]

    ex = ccxt.krakenfutures({"apiKey": key, "secret": secret, "enableRateLimit": False})
    base = url.rstrip("/")
    ex.urls["api"] = {"charts": f"{base}/api/charts/", "history": f"{base}/api/history/",
                      "feeschedules": f"{base}/api/feeschedules/", "public": f"{base}/derivatives/api/",
                      "private": f"{base}/derivatives/api/"}
    try:
        await ex.load_markets()
        sym = next(s for s, m in ex.markets.items() if m["id"] == "PF_XBTUSD")
        for _ in range(5):
            await ex.fetch_tickers()
        out: dict[str, Any] = {}
        out["public read"] = await _measure(counts["public"], lambda i: ex.fetch_tickers())
        out["private read"] = await _measure(counts["private"], lambda i: ex.fetch_positions())

        async def order(i: int) -> None:
            if i % 2 == 0:
                o = await ex.create_order(sym, "limit", "buy", 0.001, 1_000)
                order.last = o["id"]  # type: ignore[attr-defined]
            else:
                await ex.cancel_order(order.last, sym)  # type: ignore[attr-defined]

        out["order"] = await _measure(2 * counts["orders"], order)
        return out
    finally:
        await ex.close()


def _child(args: argparse.Namespace) -> None:
    if args.child == "httpx-no-sniffio":
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # import fails, as when it is not installed
    counts = {"public": args.public, "private": args.private, "orders": args.orders}
    if args.child == "ccxt":
        try:
            import ccxt  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            print(json.dumps({"skipped": "ccxt is not installed (pip install -e '.[bench]')"}))
            return
        result = asyncio.run(_ccxt(args.url, args.key, args.secret, counts))
    else:
        result = asyncio.run(_ours(args.child, args.url, args.key, args.secret, counts))
    print(json.dumps(result))


def _start_sim(tmp: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(tmp, "run"), XDG_DATA_HOME=os.path.join(tmp, "data"),
               XDG_CONFIG_HOME=os.path.join(tmp, "config"), XDG_STATE_HOME=os.path.join(tmp, "state"))
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
    proc = subprocess.Popen([sys.executable, "-m", "kraken_tui", "sim", "--json", "--source", "synthetic",
                             "--fresh"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit("kraken-tui sim did not start")
    return proc, json.loads(line)


def _print(results: dict[str, dict[str, Any]]) -> None:
    ref = results.get("ccxt", {})
    print(f"{'client':22s} {'call':13s} {'CPU/call':>10s} {'vs ccxt':>8s} {'wall p50':>9s} {'wall p99':>9s}")
    for variant, res in results.items():
        if "skipped" in res:
            print(f"{variant:22s} skipped: {res['skipped']}")
            continue
        for kind in KINDS:
            r = res[kind]
            ratio = f"{ref[kind]['cpu_us'] / r['cpu_us']:.2f}x" if kind in ref else "-"
            name = "ccxt krakenfutures" if variant == "ccxt" else f"ours ({variant})"
            print(f"{name:22s} {kind:13s} {r['cpu_us']:8.0f}µs {ratio:>8s} {r['p50_ms']:7.2f}ms {r['p99_ms']:7.2f}ms")
    print("vs ccxt: ccxt's CPU per call / this client's (above 1 = cheaper than ccxt)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--public", type=int, default=300, help="public reads per client (free)")
    ap.add_argument("--private", type=int, default=50, help="private reads per client (2 points each)")
    ap.add_argument("--orders", type=int, default=12, help="place + cancel pairs per client (20 points each)")
    ap.add_argument("--background-load", type=int, default=0, metavar="N", help="busy processes run beside it")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--secret", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    points = 2 * args.private + 20 * args.orders
    if points > 400:
        raise SystemExit(f"--private/--orders cost {points} points: keep it within one budget (400 with the reserve)")
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.background_load)]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sim, info = _start_sim(tmp)
        try:
            for k, variant in enumerate(args.variants.split(",")):
                if k:
                    time.sleep(points / 50 + 1)  # the key's budget refills at 50 points/s
                cmd = [sys.executable, __file__, "--child", variant, "--url", info["rest_url"], "--key",
                       info["api_key"], "--secret", info["api_secret"], "--public", str(args.public), "--private",
                       str(args.private), "--orders", str(args.orders)]
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    results[variant] = {"skipped": f"failed: {out.stderr.strip().splitlines()[-1:]}"}
                    continue
                results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            sim.terminate()
            sim.wait(10)
            for p in load:
                p.kill()
                p.wait()
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    print(f"REST clients vs the same kraken-tui sim (loopback), background load {args.background_load}, "
          f"loadavg {' '.join(loadavg)}")
    _print(results)


if __name__ == "__main__":
    main()
