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

The process follows the app's garbage-collector policy (``kraken_tui.gcpolicy``): the start-up heap is frozen once
the writer has started, as ``runtime`` does once a run has started; ``--no-gc-freeze`` skips it. Printed per run:
each generation's collections per thread with their CPU time (what a collection costs whatever the machine's load).
``--background-load N`` runs N busy processes beside it (``bench/background_load.py``).

Run: ``python bench/bench_journal.py [--records N] [--trades N] [--background-load N] [--no-gc-freeze]``.
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
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.background_load import BackgroundLoad, add_option  # noqa: E402
from kraken_tui.domain import Fill, FillType, Side  # noqa: E402
from kraken_tui.gcpolicy import freeze_startup_heap, release_startup_heap  # noqa: E402
from kraken_tui.journal import writer as writer_mod  # noqa: E402
from kraken_tui.journal.cli import run as journal_run  # noqa: E402
from kraken_tui.journal.records import OperatorAction, RunStarted  # noqa: E402
from kraken_tui.journal.writer import JournalWriter  # noqa: E402
from tests.ui.journal_builder import build_trades_journal  # noqa: E402


def _fill(i: int) -> Fill:
    return Fill(f"f{i}", f"o{i}", "PF_XBTUSD", Side.BUY if i % 2 == 0 else Side.SELL, Decimal("0.01"),
                Decimal(50000 + i % 100), 1_000 + i, FillType.TAKER, f"c{i}", Decimal("0.25"), "USD")


class _Intervals:
    """What ran during the run, as (start, end, label) intervals in ``perf_counter`` seconds: garbage collections
    (``gc.callbacks``, labelled by generation), the writer thread's transactions (with the WAL checkpoint when
    one ran) and the loop's hand-off of each batch to the writer thread (``_submit``). The worst stalls are
    matched against them (what overlapped each)."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []
        #: each collection: (generation, thread name, wall ms, the collecting thread's CPU ms)
        self.collections: list[tuple[int, str, float, float]] = []
        self._gc_t0: dict[int, tuple[float, float]] = {}
        self._patches: list[tuple[object, str, object]] = []

    def _gc(self, phase: str, info: dict) -> None:
        tid = threading.get_ident()
        if phase == "start":
            self._gc_t0[tid] = (time.perf_counter(), time.thread_time())
            return
        t0, c0 = self._gc_t0.pop(tid, (time.perf_counter(), time.thread_time()))
        t1 = time.perf_counter()
        where = "loop" if threading.current_thread() is threading.main_thread() else "writer thread"
        self.spans.append((t0, t1, f"gc gen{info['generation']} on the {where}"))
        self.collections.append((info["generation"], where, (t1 - t0) * 1000, (time.thread_time() - c0) * 1000))

    def gc_summary(self) -> str:
        """Each generation's collections per thread: count, p50 / worst CPU ms (the collecting thread's own CPU:
        what the collection cost, whatever the machine's load), worst wall ms."""
        rows: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for gen, where, wall, cpu in self.collections:
            rows.setdefault((gen, where), []).append((wall, cpu))
        out = []
        for (gen, where), xs in sorted(rows.items()):
            cpu = sorted(c for _, c in xs)
            out.append(f"gen{gen} on the {where}: {len(xs)}, CPU p50 {cpu[len(cpu) // 2]:.2f} / worst {cpu[-1]:.2f} "
                       f"ms (wall worst {max(w for w, _ in xs):.2f})")
        return "; ".join(out) or "none"

    def __enter__(self) -> _Intervals:
        gc.callbacks.append(self._gc)
        real_tx = writer_mod._thread_transaction
        real_submit = JournalWriter._submit

        def tx(conn, stmts, one_by_one, checkpoint):
            t0 = time.perf_counter()
            out = real_tx(conn, stmts, one_by_one, checkpoint)
            self.spans.append((t0, time.perf_counter(), f"writer thread: {len(stmts)} rows"
                               + (" + checkpoint" if checkpoint else "")))
            return out

        def submit(w, stmts, one_by_one):
            t0 = time.perf_counter()
            out = real_submit(w, stmts, one_by_one)
            self.spans.append((t0, time.perf_counter(), "loop: hand-off of a batch"))
            return out

        for owner, name, new in ((writer_mod, "_thread_transaction", tx), (JournalWriter, "_submit", submit)):
            self._patches.append((owner, name, getattr(owner, name)))
            setattr(owner, name, new)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._gc)
        for owner, name, orig in reversed(self._patches):
            setattr(owner, name, orig)

    def during(self, t0: float, t1: float) -> str:
        """What overlapped ``[t0, t1]``: each label with how long it overlapped, ms."""
        seen: dict[str, float] = {}
        for a, b, label in self.spans:
            if b > t0 and a < t1:
                key = label if label.startswith("gc") or "checkpoint" in label else label.split(":")[0]
                seen[key] = seen.get(key, 0.0) + (min(b, t1) - max(a, t0)) * 1000
        return ", ".join(f"{k} {v:.2f} ms" for k, v in sorted(seen.items(), key=lambda kv: -kv[1])) or "nothing"


class _RunQueueWait:
    """The loop thread's time spent runnable but waiting for a CPU (Linux ``/proc/thread-self/schedstat``, second
    field), seconds; 0 where it cannot be read. A stall made of that is the machine's other load, not this
    process (neither its CPU, nor its GIL, nor its garbage collector)."""

    def __init__(self, tid: int | None = None) -> None:
        path = "/proc/thread-self/schedstat" if tid is None else f"/proc/self/task/{tid}/schedstat"
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._fd = None

    def wait_s(self) -> float:
        if self._fd is None:
            return 0.0
        return int(os.pread(self._fd, 100, 0).split()[1]) / 1e9


async def _throughput(path: Path, n: int, synchronous: str, batch_max: int,
                      spans: _Intervals, freeze: bool = True) -> dict[str, float | str]:
    """records/s, the loop stall distribution (how late a 1 ms sleep wakes up), the worst stall's on-CPU ms (the
    loop thread's and the writer thread's) and what overlapped the worst stalls."""
    w = JournalWriter(path, synchronous=synchronous, batch_max=batch_max)
    await w.start()
    await w.write(RunStarted("bench", 1, "paper", "h", "0"))
    # (stall s, start, loop CPU s, writer CPU s, loop's wait for a CPU s, writer thread's wait for a CPU s)
    stalls: list[tuple[float, float, float, float, float, float]] = []
    own: list[float] = []  # each stall less the time the loop thread waited for a CPU (the machine's share)
    stop = asyncio.Event()
    await w.write(OperatorAction(0, "pause", "bench", "key"))
    await w.flush()  # the writer thread exists now
    assert w._thread is not None
    if freeze:
        freeze_startup_heap()  # the process's GC policy, applied where the app applies it (after start-up)
    spans.collections.clear()  # start-up's collections are not the run's
    clock = time.pthread_getcpuclockid(next(iter(w._thread._threads)).ident or 0)

    sched = _RunQueueWait()
    writer_sched = _RunQueueWait(next(iter(w._thread._threads)).native_id)

    async def probe() -> None:
        while not stop.is_set():
            t0, c0, w0, q0 = time.perf_counter(), time.thread_time(), time.clock_gettime(clock), sched.wait_s()
            wq0 = writer_sched.wait_s()
            await asyncio.sleep(0.001)
            stall = time.perf_counter() - t0 - 0.001
            stalls.append((stall, t0, time.thread_time() - c0, time.clock_gettime(clock) - w0,
                           sched.wait_s() - q0, writer_sched.wait_s() - wq0))
            own.append(max(0.0, stall - (sched.wait_s() - q0)))

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
    release_startup_heap()
    by_size = sorted(stalls, reverse=True)
    xs = sorted(s[0] for s in stalls)
    worst = by_size[0]
    own.sort()
    return {"own_p50": own[len(own) // 2] * 1000, "own_p99": own[int(len(own) * 0.99)] * 1000,
            "own_max": own[-1] * 1000, "rate": n / elapsed, "p50": xs[len(xs) // 2] * 1000, "p99": xs[int(len(xs) * 0.99)] * 1000,
            "max": worst[0] * 1000, "worst_cpu": worst[2] * 1000, "worst_writer": worst[3] * 1000,
            "cpu_max": max(s[2] for s in stalls) * 1000, "samples": len(stalls),
            "top": "\n".join(f"      {s * 1000:6.2f} ms (on CPU: loop {c * 1000:.2f}, writer thread {wc * 1000:.2f}; "
                             f"waiting for a CPU: loop {q * 1000:.2f}, writer thread {wq * 1000:.2f}): "
                             f"{spans.during(a, a + 0.001 + s)}" for s, a, c, wc, q, wq in by_size[:5])}


def _build_trades_journal(path: Path, n_trades: int) -> None:
    build_trades_journal(path, n_trades)  # the same journal the console's journal-screen tests use


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--no-gc-freeze", action="store_true",
                    help="skip the start-up heap's freeze that the app does (kraken_tui.gcpolicy): collections "
                         "then walk the start-up heap too")
    add_option(ap)
    a = ap.parse_args()
    with BackgroundLoad(a.background_load) as load:
        _run(a)
    print(f"background load: {load.describe()}")


def _run(a: argparse.Namespace) -> None:
    print("load average (1/5/15 min) at start: {:.2f}/{:.2f}/{:.2f} on {} cores".format(*os.getloadavg(),
                                                                                   os.cpu_count()))
    print(f"writer: target loop stall worst < 2 ms (default synchronous=FULL batch_max=200); "
          f"{len(gc.get_objects()):,} objects tracked by the GC at start; start-up heap frozen after the writer "
          f"started: {'no' if a.no_gc_freeze else 'yes'}")
    with tempfile.TemporaryDirectory() as tmp:
        for sync, batch_max in (("FULL", 200), ("FULL", 1000), ("NORMAL", 200)):
            with _Intervals() as spans:
                r = asyncio.run(_throughput(Path(tmp) / f"w-{sync}{batch_max}.sqlite", a.records, sync, batch_max,
                                            spans, freeze=not a.no_gc_freeze))
            full = [wall / 1000 for gen, _, wall, _ in spans.collections if gen == 2]
            print(f"  synchronous={sync} batch_max={batch_max}: {r['rate']:,.0f} records/s (fills+events) over "
                  f"{a.records:,} records; loop stall p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, worst "
                  f"{r['max']:.2f} ms (of which on CPU {r['worst_cpu']:.2f} ms; the writer thread on CPU meanwhile "
                  f"{r['worst_writer']:.2f} ms); longest on-CPU stall {r['cpu_max']:.2f} ms; {len(full)} full GC, "
                  f"longest {max(full, default=0) * 1000:.1f} ms; {r['samples']:,} probes")
            print(f"    less the loop thread's wait for a CPU (the machine's other load): p50 {r['own_p50']:.2f} ms, "
                  f"p99 {r['own_p99']:.2f} ms, worst {r['own_max']:.2f} ms  <- this process's own stall")
            print("    the 5 worst stalls and what overlapped them:")
            print(r["top"])
            print(f"    garbage collections: {spans.gc_summary()}")
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
