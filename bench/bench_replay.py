"""Benchmark: replay throughput at speed=max (events/s), and synthetic generation for comparison.

Run: python bench/bench_replay.py [--repeat N] [--engine-candles N] [--only-engine] [--count-messages]
Reads $KRAKEN_TUI_DATA (default: shared/data beside the checkout). Prints one line per case: events, seconds, events/s.
Consumes the async ``events()`` stream (the path the paper exchange uses), so pacing overhead counts.
The last case is the whole run path (``kraken-tui run --no-ui --replay ... --speed max --exit-at-end``):
the Runtime with the paper exchange, lockstep, WS/REST over loopback, the engine and the journal, over the
first N 5-minute candles of ``kraken_spot_ethusd_5m_2024H2`` as PF_ETHUSD (default 2000; 0 = the whole
file, 52,943), printed as replay candles/s (each candle replays as 4 ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
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


async def _engine_run(csv: Path, journal: Path) -> None:
    from kraken_tui.config import Config
    from kraken_tui.runtime import RunOptions, build_runtime

    cfg = Config.model_validate({"strategy": {"symbols": ["PF_ETHUSD"]}})
    rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, exit_at_end=True,
                                             journal=journal))
    await rt.start()
    try:
        await rt.wait_finished()
    finally:
        await rt.aclose()


def _count_messages(n: int) -> None:
    """Run the engine case once with the paper WS hub's sends counted per feed, per replay tick."""
    import collections

    from kraken_tui.paper import ws_feeds
    from kraken_tui.paper.exchange import PaperExchange

    counts: collections.Counter[str] = collections.Counter()
    ticks = [0]
    send, apply = ws_feeds.WsHub._send, PaperExchange.apply_event

    def counted_send(self, conn, msg):  # type: ignore[no-untyped-def]
        counts[msg.get("feed") or f"event {msg.get('event')}"] += 1
        send(self, conn, msg)

    def counted_apply(self, event):  # type: ignore[no-untyped-def]
        ticks[0] += 1
        apply(self, event)

    ws_feeds.WsHub._send, PaperExchange.apply_event = counted_send, counted_apply  # type: ignore[method-assign]
    try:
        _engine_case(n)
    finally:
        ws_feeds.WsHub._send, PaperExchange.apply_event = send, apply  # type: ignore[method-assign]
    total = sum(counts.values())
    print(f"WS messages sent by the paper exchange per replay tick ({ticks[0]} ticks, {total} messages, "
          f"{total / ticks[0]:.3f} per tick):")
    for feed, k in counts.most_common():
        if k / ticks[0] >= 0.001:
            print(f"  {feed:24s} {k:9d}  {k / ticks[0]:.3f}/tick")


def _engine_case(n: int) -> None:
    src = DATA / "kraken_spot_ethusd_5m_2024H2.ohlcvt.csv"
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "eth.csv"
        with src.open() as f:
            lines = f.readlines()
        lines = lines[:n] if n > 0 else lines
        csv.write_text("".join(lines))
        t0 = time.perf_counter()
        asyncio.run(_engine_run(csv, Path(tmp) / "journal.sqlite"))
        dt = time.perf_counter() - t0
    print(f"{'engine replay ETH 5m 2024H2, speed max, ensemble':58s} {len(lines):9d} candles {dt:8.2f} s  "
          f"{len(lines) / dt:10,.0f} candles/s ({dt / len(lines) / 4 * 1000:.2f} ms/tick)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engine-candles", type=int, default=2000, help="0 = the whole file")
    ap.add_argument("--only-engine", action="store_true")
    ap.add_argument("--count-messages", action="store_true",
                    help="only the engine case, printing the WS messages per replay tick by feed")
    a = ap.parse_args()
    if a.count_messages:
        _count_messages(a.engine_candles)
        return
    if a.only_engine:
        _engine_case(a.engine_candles)
        return
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
    _engine_case(a.engine_candles)


if __name__ == "__main__":
    main()
