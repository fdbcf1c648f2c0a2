"""Benchmark: 1m candles/s through CandleBuilder (1m/5m/15m/1h/4h) + a strategy's indicators + its signals.

Run: ``python bench/bench_strategies.py [--repeat N]``. Uses the real PF_XBTUSD 1m candles
(``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA``, 500 rows) replayed ``repeat`` times back to back (each
copy shifted in time after the previous one), and prints candles/s per strategy. Prints figures only;
it asserts nothing.

Peer, measured in the same run: the dataframe style of freqtrade's ``populate_indicators`` (recompute the
indicators with TA-Lib over the last ``--window`` closes on every new candle, freqtrade's usual startup
window being a few hundred candles), for the sma_cross decision (fast/slow SMA of closes, 10/20). The
ratio printed is our streaming sma_cross (candle builder + O(1) indicators + signal) over that peer.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.domain import Candle  # noqa: E402
from kraken_tui.engine.candles import CandleBuilder  # noqa: E402
from kraken_tui.engine.signals import BuilderMarketView  # noqa: E402
from kraken_tui.engine.strategies import build_strategy  # noqa: E402

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h")


def load(repeat: int) -> list[Candle]:
    with (DATA / "kraken" / "pf_xbtusd_1m_2025-08.csv").open() as fh:
        rows = [r for r in csv.reader(fh) if r and r[0].isdigit()]
    base = [Candle(int(r[0]) * 1000, *(float(x) for x in r[1:6])) for r in rows]
    span = base[-1].ts_ms - base[0].ts_ms + 60_000
    return [
        Candle(c.ts_ms + k * span, c.open, c.high, c.low, c.close, c.volume)
        for k in range(repeat)
        for c in base
    ]


def run(name: str, params: dict, candles: list[Candle]) -> tuple[float, int]:
    strategy = build_strategy(name, params, timeframe="1m")
    builder = CandleBuilder("PF_XBTUSD", TIMEFRAMES, history=1000)
    view = BuilderMarketView()
    view.add_builder(builder)
    signals = 0
    t0 = time.perf_counter()
    for c in candles:
        for cc in builder.add_candle(c, "1m"):
            if cc.timeframe in strategy.timeframes and strategy.on_candle(
                "PF_XBTUSD", cc.timeframe, cc.candle, view
            ):
                signals += 1
    return time.perf_counter() - t0, signals


def run_peer(candles: list[Candle], window: int, fast: int = 10, slow: int = 20) -> tuple[float, int]:
    """freqtrade-style: on every candle, TA-Lib SMA over the last ``window`` closes, then test the cross."""
    import numpy as np
    import talib

    closes = np.fromiter((c.close for c in candles), dtype=float, count=len(candles))
    signals = 0
    t0 = time.perf_counter()
    for i in range(slow + 1, len(candles)):
        w = closes[max(0, i + 1 - window) : i + 1]
        f, s = talib.SMA(w, fast), talib.SMA(w, slow)
        if (f[-2] < s[-2] and f[-1] > s[-1]) or (f[-2] > s[-2] and f[-1] < s[-1]):
            signals += 1
    return time.perf_counter() - t0, signals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=200, help="copies of the 500-candle file (default 200)")
    ap.add_argument("--window", type=int, default=500, help="peer's recompute window, candles (default 500)")
    args = ap.parse_args()
    candles = load(args.repeat)
    print(f"{len(candles)} 1m candles, timeframes {'/'.join(TIMEFRAMES)}, Python {sys.version.split()[0]}")
    t0 = time.perf_counter()
    b = CandleBuilder("PF_XBTUSD", TIMEFRAMES)
    for c in candles:
        b.add_candle(c, "1m")
    dt = time.perf_counter() - t0
    print(f"{'candles only':<16} {len(candles) / dt:>10,.0f} candles/s")
    rates = {}
    for name, params in (
        ("sma_cross", {}),
        ("ema_cross", {}),
        ("mean_reversion", {}),
        ("smc", {}),
        ("ensemble", {}),
    ):
        dt, n = run(name, params, candles)
        rates[name] = len(candles) / dt
        print(f"{name:<16} {rates[name]:>10,.0f} candles/s  ({n} signals)")
    dt, n = run_peer(candles, args.window)
    peer = len(candles) / dt
    print(f"{'peer: talib/bar':<16} {peer:>10,.0f} candles/s  ({n} crosses; TA-Lib SMA 10/20 over the last {args.window})")
    print(f"ratio sma_cross / peer: {rates['sma_cross'] / peer:.1f}x")


if __name__ == "__main__":
    main()
