"""Benchmark of the paper exchange: sendorder round trip over loopback, and replay throughput at speed=max.

Prints figures; not a test. Run: python bench/bench_paper.py [N_ORDERS]
Uses the project's REST client when available (else raw signed httpx), and the replay market source
with ``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA`` when present.
"""

from __future__ import annotations

import asyncio
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kraken" / "pf_xbtusd_1m_2025-08.csv"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def bench_roundtrip(n: int) -> None:
    ex = PaperExchange(PaperConfig(starting_balance_usd=1e9))
    ex.apply_event(MarketTick("PF_XBTUSD", 1_700_000_000_000, bid=49_990, ask=50_010, bid_size=1e6, ask_size=1e6,
                              mark_price=50_000))
    async with PaperServer(ex) as srv, httpx.AsyncClient() as http:
        nonce = NonceSource()
        path = "/derivatives/api/v3/sendorder"
        raw: list[float] = []
        for i in range(n):
            body = f"orderType=lmt&symbol=PF_XBTUSD&side={'buy' if i % 2 else 'sell'}&size=0.001&limitPrice=50000"
            nn = nonce()
            headers = {"APIKey": PAPER_API_KEY, "Nonce": nn, "Authent": sign_rest(PAPER_API_SECRET, body, nn, path),
                       "Content-Type": "application/x-www-form-urlencoded"}
            t = time.perf_counter()
            r = await http.post(srv.rest_url + path, content=body, headers=headers)
            raw.append((time.perf_counter() - t) * 1000)
            assert r.json()["sendStatus"]["status"] == "placed"
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
                                                 Decimal("0.001"), limit_price=Decimal(50_000)))
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
    asyncio.run(bench_roundtrip(n))
    asyncio.run(bench_replay())


if __name__ == "__main__":
    main()
