"""Benchmark of the paper exchange: REST requests/s served and latency percentiles under a concurrent request
mix while ticks stream in, the sendorder round trip over loopback, and replay throughput at speed=max.

Prints figures; not a test. Run: python bench/bench_paper.py [N_ORDERS] [SECONDS]
The request mix (tickers, accounts, market buy, market sell; 8 concurrent clients) uses only endpoints every
version of the paper exchange serves, so the same file measures the code before and after a change (run it with
the other checkout first on PYTHONPATH). The server's rate limit is switched off when the server has one.
Uses the project's REST client when available (else raw signed httpx), and the replay market source
with ``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA`` when present.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

from kraken_tui.config import PaperConfig
from kraken_tui.kraken.auth import NonceSource, sign_rest
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer
from kraken_tui.paper.sources.base import MarketTick

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", "data")) / "kraken" / "pf_xbtusd_1m_2025-08.csv"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def _server(ex: PaperExchange) -> PaperServer:
    """A server without a rate limit (when this version has one): the bench measures serving, not budgets."""
    if "rate_limits" in inspect.signature(PaperServer).parameters:
        return PaperServer(ex, rate_limits=False)  # type: ignore[call-arg]
    return PaperServer(ex)


async def bench_throughput(seconds: float, clients: int = 8) -> None:
    """Requests/s and p50/p99 latency of a mixed REST load while a tick pump moves the market 500 times a second."""
    ex = PaperExchange(PaperConfig(starting_balance_usd=1e9))
    ts = itertools.count(1_700_000_000_000, 2)

    def tick(i: int) -> None:
        mid = 50_000 + (i % 200) - 100
        ex.apply_event(MarketTick("PF_XBTUSD", next(ts), bid=mid - 5, ask=mid + 5, bid_size=5.0, ask_size=5.0,
                                  mark_price=mid, last=mid, trade_size=0.01, trade_side=None))

    tick(0)
    nonce = NonceSource()
    mix = [("GET", "/derivatives/api/v3/tickers", "", False), ("GET", "/derivatives/api/v3/accounts", "", True),
           ("POST", "/derivatives/api/v3/sendorder", "orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.01", True),
           ("POST", "/derivatives/api/v3/sendorder", "orderType=mkt&symbol=PF_XBTUSD&side=sell&size=0.01", True)]
    lat: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    stop_at = 0.0

    async def client(http: httpx.AsyncClient, base: str, k: int) -> None:
        i = k
        while time.perf_counter() < stop_at:
            method, path, body, private = mix[i % len(mix)]
            i += 1
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if private:
                nn = nonce()
                headers.update(APIKey=PAPER_API_KEY, Nonce=nn, Authent=sign_rest(PAPER_API_SECRET, body, nn, path))
            t = time.perf_counter()
            r = await http.request(method, base + path, content=body, headers=headers)
            lat.append((time.perf_counter() - t) * 1000)
            answer = r.json() if r.status_code == 200 else {}
            if answer.get("result") != "success":
                errors[str(answer.get("error", r.status_code))] += 1
            elif "sendStatus" in answer and answer["sendStatus"]["status"] != "placed":
                errors[answer["sendStatus"]["status"]] += 1

    async def pump() -> None:
        i = 1
        while time.perf_counter() < stop_at:
            tick(i)
            i += 1
            await asyncio.sleep(0.002)

    srv = _server(ex)
    await srv.start()
    try:
        async with httpx.AsyncClient() as http:
            stop_at = time.perf_counter() + seconds
            t0 = time.perf_counter()
            await asyncio.gather(pump(), *(client(http, srv.rest_url, k) for k in range(clients)))
            dt = time.perf_counter() - t0
    finally:
        await srv.stop()
    print(f"REST mix, {clients} clients, {dt:.1f} s: {len(lat) / dt:,.0f} requests/s  p50 {statistics.median(lat):.2f} ms"
          f"  p99 {_pct(lat, 99):.2f} ms  non-success {sum(errors.values())} {dict(errors) or ''}")


async def bench_roundtrip(n: int) -> None:
    ex = PaperExchange(PaperConfig(starting_balance_usd=1e9))
    ex.apply_event(MarketTick("PF_XBTUSD", 1_700_000_000_000, bid=49_990, ask=50_010, bid_size=1e6, ask_size=1e6,
                              mark_price=50_000))
    async with _server(ex) as srv, httpx.AsyncClient() as http:
        nonce = NonceSource()
        path = "/derivatives/api/v3/sendorder"
        raw: list[float] = []
        for i in range(n):
            # resting on both sides without crossing (an order reaching the account's own resting order is a
            # selfFill where the exchange enforces it)
            body = (f"orderType=lmt&symbol=PF_XBTUSD&side={'buy' if i % 2 else 'sell'}&size=0.001"
                    f"&limitPrice={49_000 if i % 2 else 51_000}")
            nn = nonce()
            headers = {"APIKey": PAPER_API_KEY, "Nonce": nn, "Authent": sign_rest(PAPER_API_SECRET, body, nn, path),
                       "Content-Type": "application/x-www-form-urlencoded"}
            t = time.perf_counter()
            r = await http.post(srv.rest_url + path, content=body, headers=headers)
            raw.append((time.perf_counter() - t) * 1000)
            assert r.json()["sendStatus"]["status"] == "placed", r.text
        print(f"sendorder raw httpx   n={n}: p50 {statistics.median(raw):.2f} ms  p99 {_pct(raw, 99):.2f} ms")
        try:
            from decimal import Decimal

            from pydantic import SecretStr

            from kraken_tui.config import Credentials
            from kraken_tui.domain import OrderRequest, OrderType, Side
            from kraken_tui.kraken.rest import KrakenRestClient
        except ImportError:
            print("REST client not available: client round trip skipped")
            return
        creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
        client = KrakenRestClient(http, srv.rest_url, creds)
        await client.instruments()
        lat: list[float] = []
        for i in range(35):  # stay inside the client rate budget (500 - 100 reserve cost / 10 s = 40 orders)
            t = time.perf_counter()
            await client.send_order(OrderRequest("PF_XBTUSD", Side.BUY if i % 2 else Side.SELL, OrderType.LIMIT,
                                                 Decimal("0.001"), limit_price=Decimal(49_000 if i % 2 else 51_000)))
            lat.append((time.perf_counter() - t) * 1000)
        first = lat
        print(f"sendorder via client  n={len(first)} (within the rate budget): p50 {statistics.median(first):.2f} ms"
              f"  p99 {_pct(first, 99):.2f} ms")


async def bench_replay() -> None:
    if not DATA.exists():
        print(f"replay bench skipped: {DATA} missing")
        return
    try:
        from kraken_tui.paper.sources.factory import build_source
    except ImportError:
        print("market sources not available: replay bench skipped")
        return
    src = await build_source("replay", symbols=["PF_XBTUSD"], replay_paths=[f"{DATA}@PF_XBTUSD"], speed="max")
    ex = PaperExchange()
    n = 0
    t = time.perf_counter()
    async for ev in src.events():
        ex.apply_event(ev)
        n += 1
    dt = time.perf_counter() - t
    print(f"replay speed=max {DATA.name}: {n} events in {dt:.3f} s = {n / dt:,.0f} events/s (exchange apply incl.)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    import kraken_tui

    print(f"code under test: {Path(kraken_tui.__file__).resolve().parent}")
    asyncio.run(bench_throughput(seconds))
    asyncio.run(bench_roundtrip(n))
    asyncio.run(bench_replay())


if __name__ == "__main__":
    main()
