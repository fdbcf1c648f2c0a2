"""Journal benchmarks (prints figures; not a test).

1. Sustained fills + events per second through ``JournalWriter`` while a probe task measures the event
   loop's worst stall (how late a 1 ms sleep wakes up). Target: stall < 2 ms. Next to each wall-clock
   stall, the loop thread's own CPU time during it (``time.thread_time``): on a machine shared with other
   busy processes a stall whose CPU time is small was the OS running something else, not this process. Also the
   writer thread's CPU time during the worst stall: large, it was running (the loop may have waited for the GIL);
   small too, the process was not running at all (the machine's other load).
2. ``kraken-tui journal summary --json`` over a journal of 100,000 round-trip trades (200,000 fills),
   in-process (open + the reader's check of what it reads + trade cache + statistics). Target: < 300 ms. Printed
   three ways: cache fresh (the stored summary), with ``--since`` (statistics from the cached trades),
   and the first run on a stale cache (derive every trade and store it).

Run: ``python bench/bench_journal.py [--records N] [--trades N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.domain import Fill, FillType, Side  # noqa: E402
from kraken_tui.journal.cli import run as journal_run  # noqa: E402
from kraken_tui.journal.records import OperatorAction, RunStarted  # noqa: E402
from kraken_tui.journal.writer import JournalWriter  # noqa: E402
from tests.ui.journal_builder import build_trades_journal  # noqa: E402


def _fill(i: int) -> Fill:
    return Fill(f"f{i}", f"o{i}", "PF_XBTUSD", Side.BUY if i % 2 == 0 else Side.SELL, Decimal("0.01"),
                Decimal(50000 + i % 100), 1_000 + i, FillType.TAKER, f"c{i}", Decimal("0.25"), "USD")


class _GcPauses:
    """Durations (ms) of the full (generation 2) garbage collections while active: the loop stalls
    this bench sees above ~2 ms are these pauses, whose cost is the size of the whole heap."""

    def __init__(self) -> None:
        self.full_ms: list[float] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        elif info["generation"] == 2:
            self.full_ms.append((time.perf_counter() - self._t0) * 1000)

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def _throughput(path: Path, n: int, synchronous: str,
                      batch_max: int) -> tuple[float, float, float, float, float, float]:
    """(records/s, worst stall ms, p99 stall ms, the worst stall's on-CPU ms, worst on-CPU stall ms, the writer
    thread's CPU ms during the worst stall)."""
    w = JournalWriter(path, synchronous=synchronous, batch_max=batch_max)
    await w.start()
    await w.write(RunStarted("bench", 1, "paper", "h", "0"))
    stalls: list[float] = []
    on_cpu: list[float] = []  # the loop thread's CPU time during each stall: what the process itself spent
    writer_cpu: list[float] = []  # the writer thread's CPU time during each stall (it holds the GIL in Python code)
    stop = asyncio.Event()
    await w.write(OperatorAction(0, "pause", "bench", "key"))
    await w.flush()  # the writer thread exists now
    assert w._thread is not None
    clock = time.pthread_getcpuclockid(next(iter(w._thread._threads)).ident or 0)

    async def probe() -> None:
        while not stop.is_set():
            t0, c0, w0 = time.perf_counter(), time.thread_time(), time.clock_gettime(clock)
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - t0 - 0.001)
            on_cpu.append(time.thread_time() - c0)
            writer_cpu.append(time.clock_gettime(clock) - w0)

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
    worst = max(range(len(stalls)), key=stalls.__getitem__)
    worst_cpu, worst_writer = on_cpu[worst] * 1000, writer_cpu[worst] * 1000
    stalls.sort()
    return (n / elapsed, stalls[-1] * 1000, stalls[int(len(stalls) * 0.99)] * 1000, worst_cpu, max(on_cpu) * 1000,
            worst_writer)


def _build_trades_journal(path: Path, n_trades: int) -> None:
    build_trades_journal(path, n_trades)  # the same journal the console's journal-screen tests use


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() after start-up, as an app can do: full collections skip the start-up heap")
    a = ap.parse_args()
    if a.gc_freeze:
        gc.collect()
        gc.freeze()
    print("load average (1/5/15 min) at start: {:.2f}/{:.2f}/{:.2f} on {} cores".format(*os.getloadavg(),
                                                                                   os.cpu_count()))
    print(f"writer: target loop stall worst < 2 ms (default synchronous=FULL batch_max=200); "
          f"{len(gc.get_objects()):,} objects tracked by the GC at start")
    with tempfile.TemporaryDirectory() as tmp:
        for sync, batch_max in (("FULL", 200), ("FULL", 1000), ("NORMAL", 200)):
            with _GcPauses() as pauses:
                rate, worst, p99, worst_cpu, cpu_max, worst_writer = asyncio.run(
                    _throughput(Path(tmp) / f"w-{sync}{batch_max}.sqlite", a.records, sync, batch_max))
            full = f"{len(pauses.full_ms)} full GC, longest {max(pauses.full_ms, default=0):.1f} ms"
            print(f"  synchronous={sync} batch_max={batch_max}: {rate:,.0f} records/s (fills+events), "
                  f"loop stall worst {worst:.2f} ms (of which on CPU {worst_cpu:.2f} ms; the writer thread on CPU "
                  f"meanwhile {worst_writer:.2f} ms), p99 {p99:.2f} ms over "
                  f"{a.records:,} records ({full}); longest on-CPU stall {cpu_max:.2f} ms")
        path = Path(tmp) / "trades.sqlite"
        _build_trades_journal(path, a.trades)
        print(f"journal summary --json over {a.trades:,} trades ({2 * a.trades:,} fills); target < 300 ms:")
        cold = _summary_ms(path, None)  # the new journal's trade cache is stale: derive + store
        warm = [_summary_ms(path, None) for _ in range(5)]
        since = [_summary_ms(path, "1970-01-01") for _ in range(3)]
        verdict = "meets" if statistics.median(warm) < 300 else "MISSES"
        print(f"  cached (stored summary): median {statistics.median(warm):.0f} ms, best {min(warm):.0f} ms "
              f"-> {verdict} the target")
        print(f"  --since (statistics computed from the cached trades): median {statistics.median(since):.0f} ms")
        print(f"  stale cache (first summary after new fills: derive all + store): {cold:.0f} ms")


def _summary_ms(path: Path, since: str | None) -> float:
    args = argparse.Namespace(config=None, journal=path, view="summary", since=since, json=True, csv=None)
    buf = io.StringIO()
    t0 = time.perf_counter()
    journal_run(args, out=buf)
    elapsed = (time.perf_counter() - t0) * 1000
    assert buf.getvalue().startswith('{"trades": ')
    return elapsed

if __name__ == "__main__":
    sys.exit(main())
