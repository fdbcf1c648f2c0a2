"""Journal benchmarks (prints figures; not a test).

1. Sustained fills + events per second through ``JournalWriter`` while a probe task measures the event
   loop's worst stall (how late a 1 ms sleep wakes up). Target: stall < 5 ms.
2. ``kraken-tui journal summary --json`` over a journal of 100,000 round-trip trades (200,000 fills),
   in-process (open + integrity quick_check + read + derive + statistics). Target: < 300 ms.

Run: ``python bench/bench_journal.py [--records N] [--trades N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.journal.cli import run as journal_run
from kraken_tui.journal.db import open_db
from kraken_tui.journal.encode import encode
from kraken_tui.journal.records import OperatorAction, RunStarted
from kraken_tui.journal.writer import JournalWriter


def _fill(i: int) -> Fill:
    return Fill(f"f{i}", f"o{i}", "PF_XBTUSD", Side.BUY if i % 2 == 0 else Side.SELL, Decimal("0.01"),
                Decimal(50000 + i % 100), 1_000 + i, FillType.TAKER, f"c{i}", Decimal("0.25"), "USD")


async def _throughput(path: Path, n: int, synchronous: str, batch_max: int) -> tuple[float, float, float]:
    w = JournalWriter(path, synchronous=synchronous, batch_max=batch_max)
    await w.start()
    await w.write(RunStarted("bench", 1, "paper", "h", "0"))
    stalls: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - t0 - 0.001)

    probe_task = asyncio.create_task(probe())
    t0 = time.perf_counter()
    for i in range(n):
        if i % 2:
            await w.write(_fill(i))
        else:
            await w.write(OperatorAction(i, "pause", "bench", "key"))
        if i % 20 == 0:
            await asyncio.sleep(0)  # an engine yields between messages (a message brings a few records)
    await w.flush()
    elapsed = time.perf_counter() - t0
    stop.set()
    await probe_task
    await w.close()
    stalls.sort()
    return n / elapsed, max(stalls) * 1000, stalls[int(len(stalls) * 0.99)] * 1000


def _build_trades_journal(path: Path, n_trades: int) -> None:
    conn = open_db(path, synchronous="NORMAL")
    conn.execute("BEGIN")
    for sql, params in encode(RunStarted("bench", 0, "backtest", "h", "0", Decimal(10000)), None):
        conn.execute(sql, params)
    rows = []
    sql = None
    for k in range(n_trades):
        ts = k * 60_000
        side = Side.BUY if k % 3 else Side.SELL
        px_in = Decimal(50000 + (k * 7) % 500)
        px_out = px_in + Decimal((k * 13) % 200 - 100)
        for j, (sd, px) in enumerate(((side, px_in), (side.opposite, px_out))):
            f = Fill(f"t{k}-{j}", f"o{k}-{j}", "PF_XBTUSD" if k % 2 else "PF_ETHUSD", sd, Decimal("0.01"), px,
                     ts + j * 30_000, FillType.TAKER, None, Decimal("0.25"), "USD")
            ((sql, params),) = encode(f, "bench")
            rows.append(params)
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--trades", type=int, default=100_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for sync, batch_max in (("FULL", 1000), ("FULL", 200), ("NORMAL", 200)):
            rate, worst, p99 = asyncio.run(_throughput(Path(tmp) / f"w-{sync}{batch_max}.sqlite", a.records, sync,
                                                       batch_max))
            print(f"writer synchronous={sync} batch_max={batch_max}: {rate:,.0f} records/s (fills+events), "
                  f"loop stall worst {worst:.2f} ms, p99 {p99:.2f} ms over {a.records:,} records")
        path = Path(tmp) / "trades.sqlite"
        _build_trades_journal(path, a.trades)
        times = []
        for _ in range(5):
            args = argparse.Namespace(config=None, journal=path, view="summary", since=None, json=True, csv=None)
            buf = io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(buf):
                journal_run(args, out=buf)
            times.append(time.perf_counter() - t0)
        print(f"journal summary --json over {a.trades:,} trades ({2 * a.trades:,} fills): "
              f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
              f"(trades={buf.getvalue()[:40]}...)")


if __name__ == "__main__":
    sys.exit(main())
