"""``kraken-tui journal summary`` over a large journal (prints figures; not a test).

Builds a journal of N round-trip trades (default 100,000: 2N fills, two symbols, one account) through the real
``JournalWriter``, then times the whole command ``python -m kraken_tui journal --journal PATH summary --json``
(start-up included, what a user waits for) and the same command in-process (``journal.cli.run``; no start-up):

- cold: the first summary of the new journal (its trade cache is stale: every trade derived and stored);
- cached: again, nothing new (the stored summary);
- after new facts: one more round trip written through the writer, then a summary (stale cache again);
- ``--since``: the last day, and all time (statistics from the cached trades).

Targets: < 300 ms at 100k trades, including right after new facts;
``--since`` < 100 ms. Medians of ``--repeat`` runs; CPU time next to wall time; load average printed.

Run: ``python bench/bench_journal_summary.py [--trades N] [--repeat R] [--profile]``
(``--profile`` prints a cProfile of the in-process after-new-facts and ``--since`` paths).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.domain import Fill, FillType, Side  # noqa: E402
from kraken_tui.journal.cli import run as journal_run  # noqa: E402
from kraken_tui.journal.records import RunStarted  # noqa: E402
from kraken_tui.journal.writer import JournalWriter  # noqa: E402

T_START_MS = 1_719_792_000_000  # 2024-07-01 00:00 UTC
TARGET_MS = 300.0
SINCE_TARGET_MS = 100.0


def _round_trip(k: int) -> tuple[Fill, Fill]:
    """Trade k: entry at T_START + k min, exit 30 s later, 0.01 contracts, 0.25 USD fee per fill; odd k on
    PF_XBTUSD, even on PF_ETHUSD; every third one short; exit = entry + ((13k mod 200) - 100) USD."""
    ts = T_START_MS + k * 60_000
    side = Side.BUY if k % 3 else Side.SELL
    px_in = Decimal(50000 + (k * 7) % 500)
    px_out = px_in + Decimal((k * 13) % 200 - 100)
    symbol = "PF_XBTUSD" if k % 2 else "PF_ETHUSD"
    return tuple(  # type: ignore[return-value]
        Fill(f"t{k}-{j}", f"o{k}-{j}", symbol, sd, Decimal("0.01"), px, ts + j * 30_000, FillType.TAKER, None,
             Decimal("0.25"), "USD")
        for j, (sd, px) in enumerate(((side, px_in), (side.opposite, px_out))))


async def _write(path: Path, first: int, n: int, *, start: bool) -> float:
    """Write round trips ``first .. first+n-1`` (and a RunStarted when ``start``) through ``JournalWriter``;
    returns the seconds it took."""
    t0 = time.perf_counter()
    w = JournalWriter(path, synchronous="NORMAL", batch_max=1000)
    await w.start()
    if start:
        await w.write(RunStarted("bench", T_START_MS, "paper", "h", "0", Decimal(10000)))
    for k in range(first, first + n):
        for f in _round_trip(k):
            await w.write(f)
    await w.flush()
    await w.close()
    return time.perf_counter() - t0


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _command(path: Path, *extra: str) -> tuple[float, float]:
    """(wall ms, CPU ms) of ``python -m kraken_tui journal --journal PATH summary --json *extra``."""
    cmd = [sys.executable, "-m", "kraken_tui", "journal", "--journal", str(path), "summary", "--json", *extra]
    c0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall, cpu = (time.perf_counter() - t0) * 1000, (_cpu_children() - c0) * 1000
    if proc.returncode != 0 or not proc.stdout.startswith("{"):
        raise SystemExit(f"journal summary failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall, cpu


def _in_process(path: Path, since: str | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of ``journal.cli.run`` for ``summary --json`` (no interpreter start-up)."""
    args = argparse.Namespace(config=None, journal=path, profile=None, view="summary", since=since, json=True,
                              csv=None, account=None, all_accounts=False)
    buf = io.StringIO()
    c0, t0 = time.process_time(), time.perf_counter()
    journal_run(args, out=buf)
    wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    if not buf.getvalue().startswith("{"):
        raise SystemExit(f"journal summary printed {buf.getvalue()[:200]!r}")
    return wall, cpu


def _median(runs: list[tuple[float, float]]) -> str:
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    return f"wall {wall:7.0f} ms  CPU {cpu:7.0f} ms"


def _verdict(runs: list[tuple[float, float]], target: float) -> str:
    return "met" if statistics.median(r[0] for r in runs) < target else "NOT met"


def _after_new_facts(path: Path, next_k: list[int], measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    asyncio.run(_write(path, next_k[0], 1, start=False))
    next_k[0] += 1
    return measure()


def _profile(label: str, fn: Callable[[], object]) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    print(f"\nPROFILE {label} (cumulative, top 25):\n" + "\n".join(out.getvalue().splitlines()[4:40]))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trades", type=int, default=100_000, help="round trips in the journal (default 100,000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure, median printed (default 5)")
    ap.add_argument("--profile", action="store_true", help="print cProfile of after-new-facts and --since")
    a = ap.parse_args()
    print("load average (1/5/15 min) at start: {:.2f}/{:.2f}/{:.2f} on {} cores".format(*os.getloadavg(),
                                                                                   os.cpu_count()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.sqlite"
        built_s = asyncio.run(_write(path, 0, a.trades, start=True))
        print(f"journal: {a.trades:,} round trips ({2 * a.trades:,} fills) written through JournalWriter in "
              f"{built_s:.1f} s; {path.stat().st_size / 1e6:.0f} MB")
        last_day = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                 time.gmtime((T_START_MS + (a.trades - 1440) * 60_000) / 1000))
        next_k = [a.trades]
        r = a.repeat
        rows: list[tuple[str, list[tuple[float, float]], float]] = []
        # whole command (a fresh interpreter each run)
        rows.append(("command, cold (first summary: stale cache)", [_command(path)], TARGET_MS))
        rows.append(("command, cached", [_command(path) for _ in range(r)], TARGET_MS))
        rows.append(("command, right after new facts",
                     [_after_new_facts(path, next_k, lambda: _command(path)) for _ in range(r)], TARGET_MS))
        _command(path)  # fresh cache again
        rows.append((f"command, --since {last_day} (last day)",
                     [_command(path, "--since", last_day) for _ in range(r)], SINCE_TARGET_MS))
        rows.append(("command, --since 1970-01-01 (all)",
                     [_command(path, "--since", "1970-01-01") for _ in range(r)], SINCE_TARGET_MS))
        # in-process (no start-up)
        rows.append(("in-process, cached", [_in_process(path) for _ in range(r)], TARGET_MS))
        rows.append(("in-process, right after new facts",
                     [_after_new_facts(path, next_k, lambda: _in_process(path)) for _ in range(r)], TARGET_MS))
        _in_process(path)
        rows.append((f"in-process, --since {last_day} (last day)",
                     [_in_process(path, last_day) for _ in range(r)], SINCE_TARGET_MS))
        rows.append(("in-process, --since 1970-01-01 (all)",
                     [_in_process(path, "1970-01-01") for _ in range(r)], SINCE_TARGET_MS))
        print(f"journal summary --json over {a.trades:,} trades (median of {r}; cold: 1 run); targets: "
              f"< {TARGET_MS:.0f} ms, --since < {SINCE_TARGET_MS:.0f} ms:")
        for label, runs, target in rows:
            print(f"  {label:<58} {_median(runs)}  (< {target:.0f} ms: {_verdict(runs, target)})")
        print("load average (1/5/15 min) at end: {:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg()))
        if a.profile:
            asyncio.run(_write(path, next_k[0], 1, start=False))
            _profile("in-process summary right after new facts", lambda: _in_process(path))
            _profile("in-process summary --since 1970-01-01", lambda: _in_process(path, "1970-01-01"))


if __name__ == "__main__":
    main()
