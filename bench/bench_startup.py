"""Start-up of the short commands, whole process (prints figures; not a test).

Runs each command ``--repeat`` times in a fresh interpreter and prints the median wall and CPU time (user + system
of the child, ``os.wait4``) next to ``python -c pass`` measured in the same run:

- ``kraken-tui --version`` (argument parsing only);
- ``kraken-tui backtest --candles TINY`` (50 one-minute candles, default strategy, text report with charts) and
  the same with ``--json``, and with ``--json --config FILE`` (a two-line config file: the config validator is built);
- ``kraken-tui ctl status`` with no running instance (exit 2, the path every ``ctl`` word starts on);
- ``kraken-tui journal summary --since ISO`` on a journal of ``--trades`` round trips (default 1,000).

Targets: backtest and ctl status < 300 ms wall, journal summary --since < 100 ms wall, on a quiet machine.
The children run in private XDG directories (no config file, no control socket of another instance) with
byte-code caching switched on (``PYTHONDONTWRITEBYTECODE`` removed), as after a normal install; one warm-up run
of each command writes the caches first. ``--importtime CMD`` prints the ``python -X importtime`` top 25 of
one command instead (``backtest``, ``ctl``, ``journal``).

``--against DIR`` runs each command alternately from this checkout and from another one (e.g. an unpacked
``git archive`` of the previous release) and prints both.

``--background-load N`` runs N busy processes beside it for the whole run (``bench/background_load.py``).

Run: ``python bench/bench_startup.py [--repeat N] [--trades N] [--importtime backtest] [--against DIR]
[--background-load N]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.background_load import BackgroundLoad, add_option  # noqa: E402

WALL_TARGET_MS = {"backtest": 300.0, "backtest --json": 300.0, "backtest --json --config": 300.0, "ctl status": 300.0,
                  "journal summary --since": 100.0}


def _tiny_candles(path: Path, n: int = 50) -> None:
    """A charts-format CSV of ``n`` one-minute candles (a gentle zig-zag around 60,000 USD)."""
    t0 = 1_756_561_260
    lines = ["time,open,high,low,close,volume"]
    px = 60_000.0
    for k in range(n):
        o = px
        c = px + (15 if (k // 5) % 2 else -15)
        lines.append(f"{t0 + 60 * k},{o:.0f},{max(o, c) + 5:.0f},{min(o, c) - 5:.0f},{c:.0f},0.5")
        px = c
    path.write_text("\n".join(lines) + "\n")


def _journal(path: Path, trades: int) -> None:
    from bench_journal_summary import _write

    asyncio.run(_write(path, 0, trades, start=True))


class _Popen(subprocess.Popen):  # type: ignore[type-arg]
    """``Popen`` that records the child's CPU time (user + system, ms) from ``os.wait4``."""

    cpu_ms = 0.0

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self.cpu_ms = (ru.ru_utime + ru.ru_stime) * 1000
        return pid, sts



def _once(cmd: list[str], env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of ``cmd``; exits when its return code is not in ``ok``."""
    t0 = time.perf_counter()
    proc = _Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=env["XDG_RUNTIME_DIR"])
    out, err = proc.communicate()
    wall = (time.perf_counter() - t0) * 1000
    ru = proc.cpu_ms
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.decode()[-500:]}")
    return wall, ru


def _commands(tiny: Path, journal: Path, config: Path) -> list[tuple[str, list[str], tuple[int, ...]]]:
    py = sys.executable
    kt = [py, "-m", "kraken_tui"]
    return [
        ("python -c pass", [py, "-c", "pass"], (0,)),
        ("--version", [*kt, "--version"], (0,)),
        ("backtest", [*kt, "backtest", "--candles", str(tiny), "--symbol", "PF_XBTUSD"], (0,)),
        ("backtest --json", [*kt, "backtest", "--candles", str(tiny), "--symbol", "PF_XBTUSD", "--json"], (0,)),
        ("backtest --json --config", [*kt, "backtest", "--config", str(config), "--candles", str(tiny), "--symbol",
                                      "PF_XBTUSD", "--json"], (0,)),
        ("ctl status", [*kt, "ctl", "status"], (2,)),
        ("journal summary --since", [*kt, "journal", "--journal", str(journal), "summary", "--since", "2024-07-01"],
         (0,)),
    ]


def _env(tmp: Path, root: Path) -> dict[str, str]:
    """The children's environment: private XDG directories under ``tmp``, byte-code caching on, and ``root`` (a
    checkout) first on ``PYTHONPATH``, so ``python -m kraken_tui`` runs that checkout's code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        d = tmp / name.lower()
        d.mkdir(mode=0o700, exist_ok=True)
        env[name] = str(d)
    env["PYTHONPATH"] = str(root)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=11, help="runs per command (median; default 11)")
    ap.add_argument("--trades", type=int, default=1000, help="round trips in the journal (default 1000)")
    ap.add_argument("--importtime", choices=["backtest", "ctl", "journal"], help="print -X importtime top 25")
    ap.add_argument("--against", type=Path, metavar="DIR",
                    help="another checkout of kraken-tui (e.g. the previous release): each command runs alternately "
                         "from this one and from DIR, both printed with the ratio")
    add_option(ap)
    a = ap.parse_args()
    with BackgroundLoad(a.background_load) as load:
        _run(a)
    if a.background_load:
        print(f"background load: {load.describe()}")


def _run(a: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="kt-startup-") as d:
        tmp = Path(d)
        tiny, journal, config = tmp / "tiny.csv", tmp / "journal.sqlite", tmp / "config.toml"
        _tiny_candles(tiny)
        config.write_text('[general]\nmode = "paper"\n')
        _journal(journal, a.trades)
        here = Path(__file__).resolve().parents[1]
        env = _env(tmp, here)
        other = _env(tmp, a.against.resolve()) if a.against else None
        cmds = _commands(tiny, journal, config)
        if a.importtime:
            name = {"backtest": "backtest", "ctl": "ctl status", "journal": "journal summary --since"}[a.importtime]
            _, cmd, _ = next(c for c in cmds if c[0] == name)
            proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True,
                                  cwd=env["XDG_RUNTIME_DIR"])
            rows = [ln.split("|") for ln in proc.stderr.splitlines() if ln.startswith("import time:") and "self" not in ln]
            top = [r for r in rows if not r[2].startswith("   ")]
            top.sort(key=lambda r: -int(r[1]))
            print(f"-X importtime {name}: top-level imports by cumulative us")
            for r in top[:25]:
                print(f"{int(r[1]):>9} us  {r[2].strip()}")
            return
        for _, cmd, ok in cmds:  # warm-up: byte-code caches written
            _once(cmd, env, ok)
            if other is not None:
                _once(cmd, other, ok)
        print(f"start-up, whole process, median of {a.repeat} (load average {os.getloadavg()[0]:.2f} "
              f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; {os.cpu_count()} cores)"
              + (f"; against {a.against}" if other is not None else ""))
        base = None
        for name, cmd, ok in cmds:
            runs, peer = [], []
            for _ in range(a.repeat):  # alternately, so both see the same load
                runs.append(_once(cmd, env, ok))
                if other is not None:
                    peer.append(_once(cmd, other, ok))
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            if base is None:
                base = cpu
            target = WALL_TARGET_MS.get(name)
            verdict = "" if target is None else f"  target < {target:.0f} ms wall: {'met' if wall < target else 'NOT met'}"
            print(f"{name:<26} wall {wall:6.0f} ms  CPU {cpu:6.0f} ms  ({cpu / max(base, 1e-9):4.1f}x python -c pass CPU)"
                  f"{verdict}")
            if peer:
                pw = statistics.median(r[0] for r in peer)
                pc = statistics.median(r[1] for r in peer)
                print(f"{'  ' + str(a.against.name):<26} wall {pw:6.0f} ms  CPU {pc:6.0f} ms  (this checkout's CPU "
                      f"{cpu / max(pc, 1e-9):.2f}x of it)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
