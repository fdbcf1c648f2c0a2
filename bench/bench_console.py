"""Console benchmarks (prints figures; not a test), headless on the FakeEngine of the tests:

1. start to first paint: ``KrakenApp`` constructed -> the dashboard drew its first snapshot, ms.
2. key press -> engine action: ``p`` pressed -> ``FakeEngine.pause`` called, ms (median of N).
3. one refresh tick (snapshot + all panels, nothing changed / everything forced), ms.

Run: ``python bench/bench_console.py [--n 50]`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.config import Config  # noqa: E402
from kraken_tui.engine.operator import TransitionSource  # noqa: E402
from kraken_tui.ui.app import KrakenApp  # noqa: E402
from tests.ui.fake_engine import FakeEngine  # noqa: E402


class _TimedEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.first_snapshot: float | None = None
        self.paused_at: float | None = None

    def snapshot(self):
        if self.first_snapshot is None:
            self.first_snapshot = time.perf_counter()
        return super().snapshot()

    def pause(self, reason: str, source: TransitionSource) -> None:
        self.paused_at = time.perf_counter()
        super().pause(reason, source)


async def _run(n: int) -> None:
    t0 = time.perf_counter()
    engine = _TimedEngine()
    app = KrakenApp(engine, Config())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        painted = time.perf_counter()
        print(f"start to first paint: {(painted - t0) * 1000:.0f} ms "
              f"(first snapshot taken at {(engine.first_snapshot - t0) * 1000:.0f} ms)")
        lat = []
        for _ in range(n):
            if engine.sm.state.value == "PAUSED":
                engine.sm.resume("bench", TransitionSource.KEY)
            t = time.perf_counter()
            await pilot.press("p")
            lat.append((engine.paused_at - t) * 1000)
        print(f"key p -> engine.pause: median {statistics.median(lat):.2f} ms, worst {max(lat):.2f} ms over {n}")
        ticks, forced = [], []
        for _ in range(n):
            t = time.perf_counter()
            app.refresh_now()
            ticks.append((time.perf_counter() - t) * 1000)
            app._force = True
            t = time.perf_counter()
            app.refresh_now()
            forced.append((time.perf_counter() - t) * 1000)
        print(f"refresh tick: {statistics.median(ticks):.2f} ms unchanged, {statistics.median(forced):.2f} ms "
              f"forced (all cells); budget at 10 Hz: 100 ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    asyncio.run(_run(ap.parse_args().n))


if __name__ == "__main__":
    main()
