"""Benchmark: ``kraken-tui optimize``, a 200-trial walk-forward study of ``sma_cross`` with 3 folds on the shared
PF_XBTUSD 1m candles (kraken/pf_xbtusd_1m_2025-08.csv in the data directory, ``KRAKEN_TUI_DATA``), serially,
with ``--jobs 2`` and on a local Ray, each timed as a whole command (a fresh ``python -m kraken_tui optimize``
process: imports, data, 3 x 200 trials, test windows, PBO, report) and checked for the same best parameters.

Run: ``python bench/bench_optimize.py [--trials N] [--folds K] [--no-jobs] [--no-ray]``.
Study: the default search space of sma_cross (fast 2..40, slow 5..80 bars), objective sharpe, seed 42, batch 8,
each run in a fresh temporary SQLite storage. Ray is skipped when it is not installed (the ``distributed``
extra); ``--ray local`` starts and stops its own Ray instance, whose start-up is in the time.
Output: one line per executor (wall time, CPU time of the process and its children, best parameters), the
load average before and after, ``TIME`` (the serial run, target < 120 s on a 2-core machine) and ``SAME``
(whether every executor found the serial run's best parameters and per-fold results). Prints figures only;
it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _data() -> Path:
    env = os.environ.get("KRAKEN_TUI_DATA")
    base = Path(env) if env else REPO.parent / "shared" / "data"
    return base / "kraken" / "pf_xbtusd_1m_2025-08.csv"


def _run(extra: list[str], trials: int, folds: int) -> tuple[float, float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "kraken_tui", "optimize", "--candles", str(_data()), "--symbol", "PF_XBTUSD",
               "--strategy", "sma_cross", "--trials", str(trials), "--folds", str(folds), "--seed", "42",
               "--storage", str(Path(tmp) / "study.sqlite3"), "--json", *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"optimize {' '.join(extra)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200, help="trials per fold (default 200)")
    ap.add_argument("--folds", type=int, default=3, help="walk-forward folds (default 3)")
    ap.add_argument("--no-jobs", action="store_true", help="skip the --jobs 2 run")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    a = ap.parse_args()
    if not _data().exists():
        raise SystemExit(f"missing {_data()} (set KRAKEN_TUI_DATA)")
    runs = [("serial", [])]
    if not a.no_jobs:
        runs.append(("jobs 2", ["--jobs", "2"]))
    if not a.no_ray:
        if importlib.util.find_spec("ray") is None:
            print("ray       skipped: not installed (pip install 'kraken-tui[distributed]')")
        else:
            runs.append(("ray local", ["--ray", "local"]))
    print(f"study     sma_cross, {a.trials} trials x {a.folds} folds, anchored walk-forward, seed 42, on "
          f"{_data().name}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    results = {}
    for name, extra in runs:
        wall, cpu, doc = _run(extra, a.trials, a.folds)
        results[name] = (wall, doc)
        st = doc["trial_states"]
        states = ", ".join(f"{st[k]['count']} {k}" for k in ("feasible", "infeasible", "pruned", "failed"))
        print(f"{name:9} {wall:6.1f} s wall, {cpu:6.1f} s CPU (with children), study {doc['elapsed_s']:.1f} s; "
              f"{doc['trials']} trials ({states}); best {json.dumps(doc['best']['strategy'])}"
              f"; out-of-sample sharpe {doc['overfitting']['objective_out_of_sample']}")
        for k in ("infeasible", "pruned", "failed"):
            for why, n in st[k]["reasons"].items():
                print(f"          {k} {n}: {why}")
    serial_wall, serial = results["serial"]
    print(f"load average after {os.getloadavg()[0]:.2f}")
    ok = serial_wall < 120.0
    print(f"TIME      {serial_wall:.1f} s serial for {a.trials} trials x {a.folds} folds (target < 120 s): "
          f"{'met' if ok else 'NOT met'}")
    same = all(doc["best"] == serial["best"] and doc["folds"] == serial["folds"] for _w, doc in results.values())
    print(f"SAME      best parameters and per-fold results identical across {', '.join(results)}: "
          f"{'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
