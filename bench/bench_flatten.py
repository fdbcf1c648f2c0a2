"""Benchmark of flatten_account against the paper exchange over loopback.

For 1, 5 and 20 positions (each with a resting limit, a reduce-only stop and a take-profit, plus a stop
on a flat symbol): milliseconds from the start of the flatten to the first cancel request, and to the
account verified flat; REST calls made by flatten and HTTP requests seen on the wire. Target: the count
does not grow with N (at most 4 on a clean run). Two modes: "read" (no running engine: `kraken-tui
flatten` reads openpositions first, 5 calls) and "feed" (a running engine passes the exchange's latest
open_positions feed report, 4 calls). Prints figures; not a test.
Run: python bench/bench_flatten.py [REPEATS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.engine.flatten import flatten_account  # noqa: E402
from tests.operator.paper_env import book_account, exchange_flat, make_exchange, paper_env  # noqa: E402


async def one(n: int, feed: bool) -> tuple[float, float, int, int]:
    ex = make_exchange(n)
    book_account(ex, n)
    async with paper_env(ex) as env:
        known = await env.client.open_positions() if feed else None
        before = env.transport.count
        rep = await flatten_account(env.client, known_positions=known)
        http = env.transport.count - before
    assert rep.flat and exchange_flat(ex), rep
    return rep.first_cancel_ms or 0.0, rep.elapsed_ms, rep.requests, http


async def main(repeats: int) -> None:
    print(f"flatten_account over loopback, median of {repeats} runs")
    print(f"{'mode':>4} {'positions':>9} {'orders':>6} {'first cancel ms':>15} {'verified flat ms':>16} "
          f"{'REST calls':>10} {'HTTP':>5}")
    for feed, n in [(f, n) for f in (False, True) for n in (1, 5, 20)]:
        ex = make_exchange(n)
        book_account(ex, n)
        orders = len(ex.open_orders)
        runs = [await one(n, feed) for _ in range(repeats)]
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        calls = sorted({r[2] for r in runs})
        http = sorted({r[3] for r in runs})
        print(f"{'feed' if feed else 'read':>4} {n:>9} {orders:>6} {first:>15.2f} {total:>16.2f} {','.join(map(str, calls)):>10} "
              f"{','.join(map(str, http)):>5}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
