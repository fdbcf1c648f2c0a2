"""Benchmark: replay throughput at speed=max (events/s), and synthetic generation for comparison.

Run: /work/venv/bin/python bench/bench_replay.py [--repeat N]
Reads ../shared/data (or $KRAKEN_TUI_DATA). Prints one line per case: events, seconds, events/s.
Consumes the async ``events()`` stream (the path the paper exchange uses), so pacing overhead counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from kraken_tui.paper.sources.replay import ReplaySource
from kraken_tui.paper.sources.synthetic import SyntheticSource

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "kraken"


async def _drain(src) -> int:
    n = 0
    async for _ in src.events():
        n += 1
    return n


def _case(label: str, make, repeat: int) -> None:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        src = make()
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        n = asyncio.run(_drain(src))
        best = min(best, time.perf_counter() - t1)
    print(f"{label:58s} {n:9d} events  load {load:6.3f} s  stream {best:6.3f} s  {n / best:12,.0f} events/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    funding = DATA / "funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"
    _case("candles 1m PF_XBTUSD (500 bars) + funding", lambda: ReplaySource(
        [f"{DATA / 'pf_xbtusd_1m_2025-08.csv'}@PF_XBTUSD"], funding_path=funding, speed=None), a.repeat)
    _case("OHLCVT spot 5m 2023Q1 (25,901 bars)", lambda: ReplaySource(
        [f"{DATA / 'kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv'}@PF_XBTUSD"], speed=None), a.repeat)
    _case("OHLCVT spot 1h 2013-2023 (70,253 bars)", lambda: ReplaySource(
        [f"{DATA / 'kraken_spot_xbtusd_1h_2013-10_2023-01.ohlcvt.csv'}@PF_XBTUSD"], speed=None), a.repeat)
    _case("WS recording 2021-07-22 (7,179 lines, all products)", lambda: ReplaySource(
        [str(DATA / "kraken_futures_ws_v1_2021-07-22.jsonl")], speed=None), a.repeat)
    _case("synthetic 2 symbols, 1 day at 1 s steps", lambda: SyntheticSource(
        ["PF_XBTUSD", "PF_ETHUSD"], seed=42, start_ms=0, end_ms=86_400_000, speed=None), 1)


if __name__ == "__main__":
    main()
