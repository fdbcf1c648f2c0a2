"""The WebSocket client's receive path alone (prints figures; not a test): ``KrakenWsClient`` against
``kraken-tui sim`` in its own process (a candle replay on loopback, as ``bench_console.py --real`` feeds the
console), subscribed to ``ticker`` and ``trade`` as the engine is, taking every event from the client as the
engine does and nothing more. The read hold (``[client] ws_read_batch_ms``) off and on in alternating runs of
``--seconds`` each (so the machine's load drifts over both sides alike); per run the messages per second, the
client process's CPU (``time.process_time``, all threads) and its CPU per message. The peer is the client with
the hold off: the ratio on/off of the CPU per message is printed at the end (medians of ``--pairs`` runs).

Run: ``python bench/bench_ws.py [--hold-ms 3] [--pairs 3] [--seconds 4] [--speed 375000]
[--background-load N]`` from the repository root (``KRAKEN_TUI_DATA`` as for the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_console import DEFAULT_REPLAY, _BackgroundLoad, _SimProcess  # noqa: E402

from kraken_tui.config import ClientConfig  # noqa: E402
from kraken_tui.kraken.ws import KrakenWsClient  # noqa: E402


async def _one(url: str, symbol: str, hold_ms: float, seconds: float) -> tuple[int, float, float]:
    """One run: (events taken, wall s, process CPU s) over ``seconds`` after a 1 s warm-up."""
    async with KrakenWsClient(url, None, config=ClientConfig(ws_read_batch_ms=hold_ms)) as client:
        await client.subscribe("ticker", [symbol])
        await client.subscribe("trade", [symbol])
        warm_until = time.perf_counter() + 1.0
        n, w0, c0 = 0, 0.0, -1.0
        async for _event in client:
            now = time.perf_counter()
            if c0 < 0:
                if now >= warm_until:
                    n, w0, c0 = 0, now, time.process_time()
                continue
            n += 1
            if now - w0 >= seconds:
                return n, now - w0, time.process_time() - c0
    raise SystemExit("the WebSocket stream ended before the run did")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replay", default=DEFAULT_REPLAY, help="PATH@SYMBOL (default: the ETHUSD 5 min candles)")
    ap.add_argument("--speed", default="375000", help="data seconds per wall second (default 375000: 5,000 msg/s)")
    ap.add_argument("--hold-ms", type=float, default=ClientConfig().ws_read_batch_ms,
                    help="the read hold of the 'on' runs, ms (default: [client] ws_read_batch_ms's default)")
    ap.add_argument("--pairs", type=int, default=3, help="off/on pairs (default 3)")
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run (default 4)")
    ap.add_argument("--background-load", type=int, default=0, metavar="N",
                    help="run N busy processes (CPU loops) beside the bench (default 0)")
    args = ap.parse_args()
    symbol = args.replay.rpartition("@")[2] or "PF_ETHUSD"
    per_msg: dict[bool, list[float]] = {False: [], True: []}
    with _BackgroundLoad(args.background_load) as load:
        sim = _SimProcess(args.replay, args.speed, Path(tempfile.mkdtemp(prefix="bench-ws-")) / "sim.log")
        info = sim.start()
        try:
            print(f"WS client alone against kraken-tui sim (pid {sim.proc.pid}), replay {args.replay} at --speed "
                  f"{args.speed}; ticker + trade; {args.pairs} off/on pairs of {args.seconds:g} s")
            for _ in range(args.pairs):
                for on in (False, True):
                    hold = args.hold_ms if on else 0.0
                    s0 = sim.cpu_s()
                    n, wall, cpu = asyncio.run(_one(info["ws_url"], symbol, hold, args.seconds))
                    sim_pct = (sim.cpu_s() - s0) / (wall + 1.0) * 100
                    per_msg[on].append(cpu / max(n, 1) * 1e6)
                    print(f"  hold {hold:g} ms: {n / wall:,.0f} msg/s, client {cpu / wall * 100:.1f} % of one core, "
                          f"{per_msg[on][-1]:.1f} us CPU per message (sim ~{sim_pct:.0f} %, load "
                          f"{os.getloadavg()[0]:.2f})")
        finally:
            sim.stop()
    off, on_ = statistics.median(per_msg[False]), statistics.median(per_msg[True])
    print(f"  median CPU per message: hold off {off:.1f} us, hold {args.hold_ms:g} ms {on_:.1f} us; on/off "
          f"{on_ / off:.2f}")
    print(f"  background load: {load.describe()}")


if __name__ == "__main__":
    main()
