"""Benchmark: ``kraken-tui backtest`` on 1,000,000 real-shaped one-minute candles against backtesting.py and
vectorbt, every figure from the same run.

Run: ``python bench/bench_backtest.py [--candles N] [--background-load N] [--no-peers] [--no-costs]
[--ensemble-candles N] [--keep PATH]`` (the ensemble runs on the first 200,000 candles by default). Peers need the ``bench`` extra (``pip install -e '.[bench]'``:
backtesting, vectorbt); a missing peer is reported and skipped.

Data (``real_shaped``): every shared candle file of ``$KRAKEN_TUI_DATA/kraken`` (Kraken spot OHLCVT XBT/USD
1h 2013-2023, XBT/USD 5m 2023Q1, ETH/USD 5m 2024H2, and the five PF_XBTUSD charts files 1m..1h of 2025-08),
joined end to end in passes until N rows. Each file becomes a path of log prices relative to its first open,
with its overall drift removed (a straight ramp in log price over the file, so the series stays in one price
range however many passes it takes); each piece starts exactly at the previous piece's last close (no jump at
a seam); prices are rounded to PF_XBTUSD's 1 USD tick, around 100,000 USD. Pass k takes the files in an order
rotated by k, time-reversed on odd passes and mirrored (log price negated: a rally becomes a sell-off) on
passes 2 and 3 mod 4, so consecutive passes never repeat the same bars. Times: contiguous 1m bars from
2020-01-01 UTC. Written once to a charts CSV, which every contender reads from disk.

Contenders (SMA 10/30 crossover, reversal on every cross, fill at the next bar's open):
- ours, in process, kernel only (``Backtest.run`` + ``finish`` over candles already read into memory):
  ``bars`` (the bar-by-bar loop) and ``events`` (the event-skipping kernel). ``KRAKEN_TUI_BACKTEST_KERNEL``
  selects the kernel (``backtest.runner``).
- ours, whole process: ``python -m kraken_tui backtest --candles FILE --json`` in a child process (start-up,
  config, CSV read and validation, run, report), one-process (``KRAKEN_TUI_BACKTEST_PREFETCH=0``) and
  default mode (the reader process when the file is large and a second CPU is usable), each kernel.
- backtesting.py's SmaCross (``tests/backtest/peer.py``): engine only (``Backtest.run`` on a DataFrame in
  memory) and whole process (a child: imports, ``pandas.read_csv``, run).
- vectorbt: ``MA.run`` x2, ``ma_crossed_above/below``, ``Portfolio.from_signals`` at the next open, total
  return. Engine only = the second (warm, JIT-compiled) call in the child; whole process = the child from its
  start to the end of its first call (imports, numba JIT, CSV read).
Every line gives wall time, CPU time (user + system of the process(es) doing the work), candles/s and the
ratio to ours (candles/s of ours / theirs; ours = the one-process whole-process events run). Costs: zero
(fees, slippage, funding) for the target figures; ``sma_cross`` and ``ensemble`` with costs (maker 2 / taker
5 bps, slippage 1 bp, funding 1e-5/h) are printed too. Start-up: median of 3 wall times of ``kraken-tui
backtest`` on the 500-bar PF_XBTUSD 1m file and of ``kraken-tui ctl status`` with no instance running
(``bench/bench_startup.py`` measures the short commands alone, medians of 11, next to ``python -c pass``).

After the contenders: where one process's CPU goes (start-up, CSV read, ATR and batch signals, the kernel's
bookkeeping, per closed trade: ``budget``) and the tiny-file backtest's top-level imports (``-X importtime``).

``--background-load N`` runs N busy processes (a Python ``while True`` loop each) for the whole bench, so the
figures show a loaded machine; the load average (``/proc/loadavg``) is printed before and after.
Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.background_load import BackgroundLoad, add_option  # noqa: E402

DATA = Path(os.environ.get("KRAKEN_TUI_DATA", ROOT.parent / "shared" / "data"))
START_S = 1_577_836_800  # 2020-01-01T00:00:00Z
LEVEL_USD = 100_000.0
FAST, SLOW = 10, 30
TARGET_RATE = 2_000_000
TARGET_VS_BTPY = 10.0


# ============================================================================ data


def candle_files(data: Path) -> list[Path]:
    """Every shared candle file (charts CSV with a header, OHLCVT CSV without); funding files excluded."""
    return sorted(p for p in (data / "kraken").glob("*.csv") if not p.name.startswith("funding"))


def real_shaped(n: int, data: Path) -> tuple[Any, Any, list[str]]:
    """``n`` real-shaped 1m candles (module docstring): (times s int64, n x 5 OHLCV float64, pieces used)."""
    import numpy as np

    shapes = []
    for p in candle_files(data):
        header = not p.name.endswith(".ohlcvt.csv")
        a = np.loadtxt(p, delimiter=",", skiprows=1 if header else 0, usecols=(1, 2, 3, 4, 5), ndmin=2)
        rel = np.log(a[:, :4]) - math.log(a[0, 0])
        m = len(a)
        rel -= (np.arange(1, m + 1, dtype=np.float64) / m * rel[-1, 3])[:, None]  # drift removed
        shapes.append((p.name, rel, a[:, 4]))
    if not shapes:
        raise SystemExit(f"no candle files in {data / 'kraken'} (set KRAKEN_TUI_DATA)")
    logs, vols, used = [], [], []
    total, k, level = 0, 0, math.log(LEVEL_USD)
    while total < n:
        rot = k % len(shapes)
        rev, mir = k % 2 == 1, (k // 2) % 2 == 1
        for name, rel, vol in shapes[rot:] + shapes[:rot]:
            if total >= n:
                break
            o, h, lo, c, v = rel[:, 0], rel[:, 1], rel[:, 2], rel[:, 3], vol
            if rev:  # time reversed: a bar's close becomes its open
                o, c, h, lo, v = c[::-1], o[::-1], h[::-1], lo[::-1], v[::-1]
            if mir:  # log price negated: high and low swap
                o, c, h, lo = -o, -c, -lo, -h
            seg = np.stack((o, h, lo, c), axis=1) + (level - o[0])
            take = min(len(seg), n - total)
            logs.append(seg[:take])
            vols.append(v[:take])
            level = float(seg[take - 1, 3])
            total += take
            used.append(f"{name}{' reversed' if rev else ''}{' mirrored' if mir else ''}")
        k += 1
    px = np.round(np.exp(np.concatenate(logs)))
    return START_S + 60 * np.arange(n, dtype=np.int64), np.column_stack((px, np.round(np.concatenate(vols), 4))), used


def write_csv(n: int, out: Path) -> str:
    """Write ``n`` real-shaped candles to ``out`` as a charts CSV; returns a one-line description."""
    ts, m, used = real_shaped(n, DATA)
    with out.open("w") as fh:
        fh.write("time,open,high,low,close,volume\n")
        rows = zip(ts.tolist(), *(m[:, i].tolist() for i in range(5)), strict=True)
        fh.writelines(f"{t},{o:.0f},{h:.0f},{lo:.0f},{c:.0f},{v:g}\n" for t, o, h, lo, c, v in rows)
    files = len(candle_files(DATA))
    return (f"{n:,} 1m candles from all {files} shared candle files ({len(used)} pieces over "
            f"{-(-len(used) // files)} passes; prices {m[:, 2].min():,.0f}..{m[:, 1].max():,.0f} USD); "
            f"{out.stat().st_size / 1e6:.1f} MB charts CSV")


# ============================================================================ children


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, float]:
    """Run ``cmd`` to completion: (wall s, CPU s of the child and its children, stdout, start wall clock)."""
    cpu0 = _cpu_children()
    start = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return wall, _cpu_children() - cpu0, proc.stdout, start


def peer_child(kind: str, path: str, start: float) -> None:
    """The peer's child process (``--peer-child``): one cold run, timed from the parent's ``start`` (whole
    process), then (vectorbt) a warm run (engine only). Prints one JSON line."""
    import warnings

    warnings.simplefilter("ignore")
    out: dict[str, Any] = {}
    if kind == "backtesting":
        sys.path.insert(0, str(ROOT))
        from tests.backtest.peer import load_frame, sma_cross_backtest

        t0 = time.perf_counter()
        df, _ = load_frame(Path(path))
        out["read_s"] = time.perf_counter() - t0
        bt = sma_cross_backtest(df, FAST, SLOW)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = bt.run()
        out["engine_s"], out["engine_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        out["whole_s"], out["whole_cpu_s"] = time.time() - start, _cpu_self()
        out["trades"] = len(stats._trades)
    else:
        import pandas as pd
        import vectorbt as vbt

        def once() -> tuple[float, int]:
            df = pd.read_csv(path)
            close, open_ = df["close"], df["open"]
            fast, slow = vbt.MA.run(close, FAST), vbt.MA.run(close, SLOW)
            # decided at a bar's close, filled at the next bar's open
            long_in = fast.ma_crossed_above(slow).shift(1, fill_value=False)
            short_in = fast.ma_crossed_below(slow).shift(1, fill_value=False)
            pf = vbt.Portfolio.from_signals(open_, entries=long_in, short_entries=short_in, size=0.1,
                                            init_cash=1e12, fees=0.0, freq="1min")
            return float(pf.total_return()), int(pf.trades.count())

        t0 = time.perf_counter()
        once()
        out["whole_s"], out["whole_cpu_s"] = time.time() - start, _cpu_self()
        out["cold_s"] = time.perf_counter() - t0
        df = pd.read_csv(path)
        t0, c0 = time.perf_counter(), time.process_time()
        close, open_ = df["close"], df["open"]
        fast, slow = vbt.MA.run(close, FAST), vbt.MA.run(close, SLOW)
        long_in = fast.ma_crossed_above(slow).shift(1, fill_value=False)
        short_in = fast.ma_crossed_below(slow).shift(1, fill_value=False)
        pf = vbt.Portfolio.from_signals(open_, entries=long_in, short_entries=short_in, size=0.1, init_cash=1e12,
                                        fees=0.0, freq="1min")
        pf.total_return()
        out["engine_s"], out["engine_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        out["trades"] = int(pf.trades.count())
    print(json.dumps(out))


# ============================================================================ ours


def _config(tmp: Path) -> Path:
    """A config whose operator limits stay out of reach (the losing stretches would halt the run early)."""
    p = tmp / "bench.toml"
    p.write_text("[operator]\ndaily_loss_limit_pct = 100.0\nequity_floor_pct = 0.01\n")
    return p


def _cli(path: Path, cfg: Path, strategy: str, costs: bool) -> list[str]:
    cmd = [sys.executable, "-m", "kraken_tui", "backtest", "--config", str(cfg), "--candles", str(path),
           "--symbol", "PF_XBTUSD", "--strategy", strategy, "--json"]
    if strategy == "sma_cross":
        cmd += ["--param", f"fast={FAST}", "--param", f"slow={SLOW}"]
    cmd += (["--fees", "2,5", "--slippage-bps", "1", "--funding-rate", "1e-5"] if costs
            else ["--fees", "0,0", "--slippage-bps", "0", "--funding-rate", "0"])
    return cmd


def ours_whole(path: Path, cfg: Path, strategy: str, costs: bool, kernel: str, one_process: bool
               ) -> tuple[float, float, dict[str, Any]]:
    env = {"KRAKEN_TUI_BACKTEST_KERNEL": kernel}
    if one_process:
        env["KRAKEN_TUI_BACKTEST_PREFETCH"] = "0"
    else:
        env.pop("KRAKEN_TUI_BACKTEST_PREFETCH", None)
        os.environ.pop("KRAKEN_TUI_BACKTEST_PREFETCH", None)
    wall, cpu, out, _ = run_child(_cli(path, cfg, strategy, costs), env)
    return wall, cpu, json.loads(out)


def ours_kernel(path: Path, strategy: str, costs: bool, kernel: str) -> tuple[float, float, Any]:
    """Ours in this process over candles already in memory: (wall s, CPU s, result)."""
    os.environ["KRAKEN_TUI_BACKTEST_KERNEL"] = kernel
    os.environ["KRAKEN_TUI_BACKTEST_PREFETCH"] = "0"
    from kraken_tui.backtest.columns import CandleRows
    from kraken_tui.backtest.data import FundingSchedule, open_candles
    from kraken_tui.backtest.runner import Backtest, BacktestSettings
    from kraken_tui.config import OperatorConfig
    from kraken_tui.paper.instruments import default_instrument

    stream = open_candles(path, symbol="PF_XBTUSD")
    chunks = []
    while (got := stream.rows.take()) is not None:
        chunks.append(got)
    s = BacktestSettings(
        instrument=default_instrument("PF_XBTUSD"), strategy=strategy,
        strategy_params={"fast": FAST, "slow": SLOW} if strategy == "sma_cross" else {},
        timeframe=stream.timeframe, bar_ms=stream.bar_ms,
        funding=FundingSchedule.constant_rate(1e-5 if costs else 0.0, "bench"),
        maker_fee_bps=2 if costs else 0, taker_fee_bps=5 if costs else 0, slippage_bps=1.0 if costs else 0.0,
        operator=OperatorConfig(daily_loss_limit_pct=100, equity_floor_pct=0.01))
    bt = Backtest(s)
    gc.freeze()  # as the CLI runs it (backtest.cli._gc_frozen)
    try:
        cpu0 = _cpu_self()
        t0 = time.perf_counter()
        bt.run(CandleRows(iter(chunks)))
        res = bt.finish()
        return time.perf_counter() - t0, _cpu_self() - cpu0, res
    finally:
        gc.unfreeze()


def budget(path: Path, kernel_cpu: float, trades: int, startup_cpu: float | None, whole_cpu: float) -> None:
    """Where one process's CPU goes (``--budget``): start-up (the tiny-file backtest's CPU), reading the CSV
    into columns (``data.open_candles``, here in this process), the ATR and the batch signals over every chunk
    (``ATR.update_many`` and ``on_candles``, the calls the kernel makes), the kernel's own bookkeeping (events
    found, decisions, risk gate, fills, trades: the events kernel's CPU minus indicators and signals) and that
    per closed trade. Shares are of the whole-process one-process CPU; what is left is report and exit."""
    from kraken_tui.backtest.data import open_candles
    from kraken_tui.domain.candle_columns import hlc_arrays
    from kraken_tui.engine.indicators import ATR
    from kraken_tui.engine.signals import BuilderMarketView
    from kraken_tui.engine.strategies import build_strategy

    c0 = _cpu_self()
    stream = open_candles(path, symbol="PF_XBTUSD")
    chunks = []
    while (got := stream.rows.take()) is not None:
        chunks.append(got)
    read = _cpu_self() - c0
    strat = build_strategy("sma_cross", {"fast": FAST, "slow": SLOW}, timeframe=stream.timeframe)
    atr, view = ATR(14), BuilderMarketView()
    c0 = _cpu_self()
    for cols in chunks:
        atr.update_many(cols[2], cols[3], cols[4], hlc_arrays(cols))
        strat.on_candles("PF_XBTUSD", stream.timeframe, cols, view)  # type: ignore[attr-defined]
    ind = _cpu_self() - c0
    book = kernel_cpu - ind
    print(f"WHERE THE CPU GOES (one process, events kernel; whole process {whole_cpu:.2f} s CPU):")
    parts = [("start-up (tiny-file backtest)", startup_cpu), ("CSV read into columns", read),
             ("ATR + batch signals", ind), (f"kernel bookkeeping ({trades} trades)", book)]
    for label, cpu in parts:
        if cpu is not None:
            print(f"  {label:<42} CPU {cpu:6.2f} s  {cpu / whole_cpu * 100:5.1f} %")
    if trades:
        print(f"  per closed trade (bookkeeping / trades)    {book / trades * 1e6:6.1f} us")


def importtime(cfg: Path, top: int = 8) -> None:
    """The top-level imports of ``kraken-tui backtest`` on the tiny file by cumulative time (``-X importtime``,
    microseconds as Python reports them; one run, so noisy on a loaded machine)."""
    tiny = DATA / "kraken" / "pf_xbtusd_1m_2025-08.csv"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kraken_tui", "backtest", "--config", str(cfg),
                           "--candles", str(tiny), "--symbol", "PF_XBTUSD", "--strategy", "sma_cross", "--json"],
                          capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and not parts[2].startswith("  "):
            try:
                rows.append((int(parts[1]), parts[2].strip()))
            except ValueError:
                continue
    rows.sort(reverse=True)
    total = sum(us for us, _ in rows)
    print(f"IMPORTS of the tiny-file backtest (-X importtime, top-level, total {total / 1e3:.0f} ms): "
          + ", ".join(f"{name} {us / 1e3:.0f} ms" for us, name in rows[:top]))


# ============================================================================ report


def _line(label: str, n: int, wall: float, cpu: float | None, ref_rate: float | None, extra: str = "") -> float:
    rate = n / wall
    ratio = f"  ours/this {ref_rate / rate:6.2f}x" if ref_rate else ""
    cpu_s = f"CPU {cpu:6.2f} s" if cpu is not None else "CPU    n/a"
    print(f"  {label:<50} wall {wall:6.2f} s  {cpu_s}  {rate:>12,.0f} candles/s{ratio}{extra}")
    return rate


def startup(cfg: Path) -> float:
    """Median wall and CPU time of 3 runs of each quick command (target < 0.3 s wall); returns the median CPU
    of ``backtest --json`` on the tiny file."""
    tiny = DATA / "kraken" / "pf_xbtusd_1m_2025-08.csv"
    runtime = tempfile.mkdtemp()
    os.chmod(runtime, 0o700)
    bt = [sys.executable, "-m", "kraken_tui", "backtest", "--config", str(cfg), "--candles", str(tiny), "--symbol",
          "PF_XBTUSD", "--strategy", "sma_cross"]
    cmds = {"backtest": bt, "backtest --json": [*bt, "--json"],
            "ctl status": [sys.executable, "-m", "kraken_tui", "ctl", "status"]}
    parts = []
    cpu_json = 0.0
    for name, cmd in cmds.items():
        walls, cpus = [], []
        for _ in range(3):
            cpu0 = _cpu_children()
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=name != "ctl status",
                           env={**os.environ, "XDG_RUNTIME_DIR": runtime})
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu_children() - cpu0)
        w = statistics.median(walls)
        if name == "backtest --json":
            cpu_json = statistics.median(cpus)
        parts.append(f"kraken-tui {name} wall {w:.3f} s CPU {statistics.median(cpus):.3f} s "
                     f"({'met' if w < 0.3 else 'NOT met'})")
    print("START-UP (median of 3, target < 0.3 s wall; backtest on the 500-bar "
          f"{tiny.name}, ctl status with no instance running):\n  " + "\n  ".join(parts))
    return cpu_json


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--no-peers", action="store_true", help="skip backtesting.py and vectorbt")
    ap.add_argument("--no-costs", action="store_true", help="skip the runs with costs and the ensemble")
    ap.add_argument("--ensemble-candles", type=int, default=200_000, metavar="N",
                    help="candles of the ensemble runs (default 200,000: it has no batch signal path, both kernels "
                         "run the bar loop at about 10k candles/s)")
    ap.add_argument("--keep", type=Path, default=None, help="write the candle CSV here (kept) instead of a temp file")
    ap.add_argument("--peer-child", nargs=3, metavar=("KIND", "PATH", "START"), help=argparse.SUPPRESS)
    add_option(ap)
    a = ap.parse_args()
    if a.peer_child:
        peer_child(a.peer_child[0], a.peer_child[1], float(a.peer_child[2]))
        return
    with BackgroundLoad(a.background_load) as load:
        _bench(a)
    print(f"background load: {load.describe()}")


def _bench(a: argparse.Namespace) -> None:
    n = a.candles
    print(f"load average before: {loadavg()}  (CPUs {os.cpu_count()}; background busy processes: "
          f"{a.background_load})")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        path = a.keep or tmp / "candles_1m.csv"
        print("data: " + write_csv(n, path))
        cfg = _config(tmp)
        startup_cpu = startup(cfg)
        importtime(cfg)
        print(f"\nSMA {FAST}/{SLOW} (sma_cross), zero costs, {n:,} candles:")
        wall, cpu, rep = ours_whole(path, cfg, "sma_cross", False, "events", True)
        ref = n / wall
        _line("ours whole process, one process, events", n, wall, cpu, None,
              f"  ({rep.get('trades')} trades)")
        for kernel, one in (("bars", True), ("events", False), ("bars", False)):
            w, c, r = ours_whole(path, cfg, "sma_cross", False, kernel, one)
            _line(f"ours whole process, {'one process' if one else 'default'}, {kernel}", n, w, c, ref,
                  f"  ({r.get('trades')} trades)")
        kern: dict[str, float] = {}
        trades = 0
        for kernel in ("bars", "events"):
            w, c, res = ours_kernel(path, "sma_cross", False, kernel)
            kern[kernel], kern[kernel + " cpu"] = w, c
            trades = len(res.rows)
            _line(f"ours kernel only ({kernel}), in process", n, w, c, ref,
                  f"  ({len(res.rows)} trades, fingerprint {res.fingerprint[:12]})")
        budget(path, kern["events cpu"], trades, startup_cpu, cpu)
        peers: dict[str, float] = {}
        if not a.no_peers:
            for kind in ("backtesting", "vectorbt"):
                try:
                    w, c, out, start = run_child(
                        [sys.executable, str(Path(__file__).resolve()), "--peer-child", kind, str(path),
                         repr(time.time())])
                except RuntimeError as exc:
                    print(f"  {kind}: not run ({exc})")
                    continue
                d = json.loads(out.strip().splitlines()[-1])
                name = "backtesting.py" if kind == "backtesting" else "vectorbt"
                peers[f"{kind} engine"] = d["engine_s"]
                peers[f"{kind} whole"] = d["whole_s"]
                peers[f"{kind} engine cpu"] = d["engine_cpu_s"]
                peers[f"{kind} whole cpu"] = d["whole_cpu_s"]
                _line(f"{name} engine only", n, d["engine_s"], d["engine_cpu_s"], ref, f"  ({d['trades']} trades)")
                _line(f"{name} whole process", n, d["whole_s"], d["whole_cpu_s"], ref)
        print("TARGETS (ours = whole process, one process, events kernel; wall, and CPU in brackets: on a shared "
              "machine the CPU ratio is the steadier one):")
        rate_cpu = n / cpu
        print(f"  rate {ref:,.0f} candles/s [CPU {rate_cpu:,.0f}] (>= {TARGET_RATE:,}: "
              f"{'met' if ref >= TARGET_RATE else 'NOT met'})")
        for key, what, goal, ok in (
                ("backtesting engine", "backtesting.py engine only", f">= {TARGET_VS_BTPY:g}x",
                 lambda r: r >= TARGET_VS_BTPY),
                ("vectorbt whole", "vectorbt whole process", "> 1x", lambda r: r > 1)):
            if key in peers:
                r, rc = peers[key] / wall, peers[key + " cpu"] / cpu
                print(f"  vs {what} {r:.2f}x [CPU {rc:.2f}x] ({goal}: {'met' if ok(r) else 'NOT met'})")
        if "vectorbt engine" in peers:
            r, rc = peers["vectorbt engine"] / kern["events"], peers["vectorbt engine cpu"] / kern["events cpu"]
            print(f"  our kernel {kern['events']:.2f} s [CPU {kern['events cpu']:.2f} s] vs vectorbt engine only "
                  f"{peers['vectorbt engine']:.2f} s [CPU {peers['vectorbt engine cpu']:.2f} s]: {r:.2f}x [CPU "
                  f"{rc:.2f}x] (>= 1x, no slower: {'met' if r >= 1 else 'NOT met'})")
        if not a.no_costs:
            print("\nwith costs (maker 2 / taker 5 bps, slippage 1 bp, funding 1e-5/h), no target:")
            for strategy, m in (("sma_cross", n), ("ensemble", a.ensemble_candles or n)):
                p2 = path
                if m != n:
                    p2 = tmp / f"candles_{m}.csv"
                    write_csv(m, p2)
                for kernel in ("bars", "events"):
                    w, c, r = ours_whole(p2, cfg, strategy, True, kernel, True)
                    _line(f"ours {strategy} whole process, one process, {kernel}", m, w, c, None,
                          f"  ({r.get('trades')} trades)")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
