"""Benchmark: ``kraken-tui backtest`` candles/s and peak memory on 1,000,000 one-minute candles, and the ratio
to backtesting.py on the same strategy and data, measured in the same run.

Run: ``python bench/bench_backtest.py [--candles N] [--no-peer] [--strategy NAME] [--frictionless]
[--no-prefetch] [--no-memory]``.

Build and reader: the run uses whatever the install has: the compiled build of the hot modules when ``pip
install -e .`` built it and the sources still match (``kraken_tui._accel``; ``KRAKEN_TUI_PURE=1`` = pure
Python), and the reader process (``backtest.prefetch``) when the file is large and a second CPU is usable
(``--no-prefetch`` = one process). Both are printed, with the CPU time of each process, so a 2-process wall
time is never mistaken for a 1-process one.

Data: the real PF_XBTUSD 1m candles (``kraken/pf_xbtusd_1m_2025-08.csv`` under ``KRAKEN_TUI_DATA``, 500 rows) repeated
back to back until N rows, each copy shifted in time by 500 minutes after the previous one (so times are
contiguous 1m bars; the price jumps once per copy at the seam, close of the last bar -> open of the first).
They are written to a temporary charts CSV, which the backtest streams from disk like a user's file.

Ours: the full engine path of ``kraken-tui backtest`` (``backtest.data.open_candles`` streaming and
validating the CSV in column chunks, ``backtest.runner.Backtest``: the strategy's own batch ``on_candles``
and ``ATR.update_many`` per chunk, strategy ``sma_cross`` 10/20 by default, ``decide`` with
the risk gate on every signal, fills, fees, slippage 1 bp, hourly funding at a constant 1e-5, liquidation
checks, trade derivation with the journal's code, statistics) minus the report printing. With costs the
account bleeds, sizes fall under the lot and entries get rejected (fewer trades than the peer); with
``--frictionless`` both make the same trades.
Peer: backtesting.py's SmaCross (``position.close(); buy()/sell()`` on each cross, trade_on_close=False,
commission 0.05%, or 0 with ``--frictionless``), timing ``Backtest.run()`` on a DataFrame already in memory (its CSV read is timed
apart and printed, not counted).
Peak memory: ``tracemalloc`` peak (of the main process) of a second run of ours, at N/4 and N candles (traced runs are slower;
the timed runs are untraced); the growth between them is the trade list (about 0.55 KB per closed trade:
the statistics rows), not the candles, which stream.
Output: ``RATE`` (ours, candles/s, target >= 250,000) and ``RATIO`` (ours / backtesting.py candles/s in the
same run, target >= 3x), each saying whether its target is met. Run it once plain (default costs) and once
with ``--frictionless``; on a shared machine compare the ratio, which both sides of one run share.
Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.backtest.data import FundingSchedule, open_candles  # noqa: E402
from kraken_tui.backtest.report import summary_of  # noqa: E402
from kraken_tui.backtest.runner import Backtest, BacktestSettings  # noqa: E402
from kraken_tui.config import OperatorConfig  # noqa: E402
from kraken_tui.paper.instruments import default_instrument  # noqa: E402
from tests.backtest.peer import load_frame, sma_cross_backtest  # noqa: E402

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SRC = DATA / "kraken" / "pf_xbtusd_1m_2025-08.csv"


def build_csv(n: int, out: Path) -> None:
    """Write ``n`` 1m candles (the real file repeated, time-shifted) as a charts CSV."""
    lines = [ln for ln in SRC.read_text().splitlines()[1:] if ln.strip()]
    base = [ln.split(",") for ln in lines]
    span = int(base[-1][0]) - int(base[0][0]) + 60
    with out.open("w") as fh:
        fh.write("time,open,high,low,close,volume\n")
        k = 0
        while k * len(base) < n:
            take = base[: n - k * len(base)]
            fh.writelines(f"{int(r[0]) + k * span},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]}\n" for r in take)
            k += 1


FRICTIONLESS = False


def run_ours(path: Path, strategy: str, params: dict, limit: int | None = None):
    stream = open_candles(path, symbol="PF_XBTUSD")
    s = BacktestSettings(
        instrument=default_instrument("PF_XBTUSD"), strategy=strategy, strategy_params=params,
        timeframe=stream.timeframe, bar_ms=stream.bar_ms,
        funding=FundingSchedule.constant_rate(0.0 if FRICTIONLESS else 1e-5, "bench"),
        maker_fee_bps=0 if FRICTIONLESS else 2, taker_fee_bps=0 if FRICTIONLESS else 5,
        slippage_bps=0.0 if FRICTIONLESS else 1.0,
        # the equity floor would halt the losing sma_cross early; keep it trading over the whole span
        operator=OperatorConfig(daily_loss_limit_pct=100, equity_floor_pct=0.01),
    )
    bt = Backtest(s)
    t0 = time.perf_counter()
    bt.run(stream.rows, limit=limit)
    res = bt.finish()
    overall, _ = summary_of(res)
    return time.perf_counter() - t0, res, overall


def run_peer(path: Path, fast: int, slow: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    df, _ = load_frame(path)
    read_s = time.perf_counter() - t0
    bt = sma_cross_backtest(df, fast, slow, commission=0.0 if FRICTIONLESS else 0.0005)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        stats = bt.run()
        run_s = time.perf_counter() - t0
    return run_s, read_s, len(stats._trades)


def peak_mb(path: Path, strategy: str, params: dict, limit: int) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    _, res, _ = run_ours(path, strategy, params, limit)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, len(res.rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--strategy", default="sma_cross")
    ap.add_argument("--no-peer", action="store_true", help="skip backtesting.py")
    ap.add_argument("--no-memory", action="store_true", help="skip the traced runs")
    ap.add_argument("--no-prefetch", action="store_true",
                    help="read the CSV in this process (sets KRAKEN_TUI_BACKTEST_PREFETCH=0)")
    ap.add_argument("--frictionless", action="store_true",
                    help="fees, slippage and funding 0 for both (same trade list as the peer)")
    a = ap.parse_args()
    global FRICTIONLESS
    FRICTIONLESS = a.frictionless
    if a.no_prefetch:
        os.environ["KRAKEN_TUI_BACKTEST_PREFETCH"] = "0"
    params = {"fast": 10, "slow": 20} if a.strategy == "sma_cross" else {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candles_1m.csv"
        build_csv(a.candles, path)
        copies = -(-a.candles // 500)
        print(f"data: {a.candles:,} 1m candles = the 500 real PF_XBTUSD 1m bars of {SRC.name} repeated {copies:,} "
              f"times back to back, each copy shifted 500 min later (contiguous 1m times, one price jump per seam); "
              f"{path.stat().st_size / 1e6:.1f} MB charts CSV streamed from disk")
        print(f"costs: {'frictionless (fees, slippage, funding 0)' if a.frictionless else 'maker 2 / taker 5 bps, slippage 1 bp, funding 1e-5/h (peer: commission 0.05%)'}")
        import resource
        from collections import Counter

        from kraken_tui import _accel

        cpu0, kids0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        secs, res, overall = run_ours(path, a.strategy, params)
        cpu_main = time.process_time() - cpu0
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_reader = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        from kraken_tui.backtest import prefetch

        built = Counter(_accel.status().values())
        print(f"build: {', '.join(f'{n} {k}' for k, n in sorted(built.items()))} of {len(_accel.ACCELERATED)} hot "
              "modules (kraken_tui._accel; `pip install -e .` compiles, KRAKEN_TUI_PURE=1 = pure Python)")
        print(f"reader: {prefetch.last_decision}; CPU time: main process {cpu_main:.2f} s + reader process "
              f"{cpu_reader:.2f} s")
        print(f"ours  {a.strategy}: {res.candles:,} candles in {secs:.2f} s = {res.candles / secs:,.0f} candles/s "
              f"({secs / res.candles * 1e6:.2f} us/candle); {overall.trades:,} trades, net {float(overall.net_pnl_usd):,.2f} USD")
        if not a.no_memory:
            q = a.candles // 4
            p1, t1 = peak_mb(path, a.strategy, params, q)
            p2, t2 = peak_mb(path, a.strategy, params, a.candles)
            print(f"peak memory (tracemalloc): {p1:.1f} MB at {q:,} candles ({t1:,} trades), {p2:.1f} MB at "
                  f"{a.candles:,} candles ({t2:,} trades); growth {(p2 - p1) * 1e3 / max(1, t2 - t1):.2f} KB per "
                  f"extra trade")
            import resource

            print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB "
                  "(includes the peer's DataFrame when run)")
        if not a.no_peer and a.strategy == "sma_cross":
            peer_s, read_s, peer_trades = run_peer(path, 10, 20)
            print(f"peer  backtesting.py SmaCross: {a.candles:,} candles in {peer_s:.2f} s = "
                  f"{a.candles / peer_s:,.0f} candles/s ({peer_trades:,} trades; CSV read {read_s:.2f} s not counted)")
            ratio = peer_s / secs
            print(f"RATIO ours/backtesting.py (candles/s, same data, same run): {ratio:.2f}x  (target >= 3x: "
                  f"{'met' if ratio >= 3 else 'NOT met'})")
        rate = res.candles / secs
        print(f"RATE ours: {rate:,.0f} candles/s  (target >= 250,000: {'met' if rate >= 250_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
