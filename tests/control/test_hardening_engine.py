"""The control socket of a real headless engine under abuse: 2,000 idle connections against an engine whose
file-descriptor limit is the common default (1024), and 32 tight ``status`` pollers during a replay."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kraken_tui.control import request
from tests.control.test_hardening import connect_many

DATA = "kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv"


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


class Headless:
    """``kraken-tui --no-ui`` in a subprocess; ``socket`` once it serves ctl; stderr kept in a file."""

    def __init__(self, tmp: Path, *args: str, limit_fds: bool = False) -> None:
        cfg = tmp / "config.toml"
        cfg.write_text('[strategy]\nsymbols = ["PF_XBTUSD"]\n')
        self.err_path = tmp / "stderr.txt"
        self.err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kraken_tui", "--no-ui", "--config", str(cfg), "--journal",
             str(tmp / "journal.sqlite"), *args], stdout=subprocess.PIPE, stderr=self.err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_limit_fds if limit_fds else None)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.done = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("ctl socket: "):
                self.ready.set()
        self.done.set()

    @property
    def socket(self) -> Path:
        assert self.ready.wait(90), f"no ctl socket; stderr: {self.err_path.read_text()[-2000:]}"
        return Path(next(x for x in self.lines if x.startswith("ctl socket: ")).split(": ", 1)[1])

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.err.close()


def _connect_many(path: Path, n: int) -> list[socket.socket]:
    return connect_many(path, n, 0.05)


@pytest.mark.slow
def test_2000_idle_connections_do_not_starve_the_engine(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    eng = Headless(tmp_path, limit_fds=True)  # paper mode, synthetic market, the built-in paper exchange
    held: list[socket.socket] = []
    try:
        sock = eng.socket
        base = eng.fds()
        held = _connect_many(sock, 2000)
        time.sleep(0.5)
        assert eng.fds() <= base + 40, (base, eng.fds())  # the cap (32) holds, not 2,000
        ans = asyncio.run(request(sock, "status", timeout_s=10.0))
        assert ans["ok"] and ans["status"]["state"] == "RUNNING"
        # the engine's own exchange requests (loopback REST to its paper exchange) still work
        ans = asyncio.run(request(sock, "flatten", "idle flood test", timeout_s=60.0))
        assert ans["ok"] and ans["report"]["flat"] is True, ans
        err = eng.err_path.read_text(errors="replace")
        assert len(err) < 20_000 and "Too many open files" not in err, err[-3000:]
    finally:
        for s in held:
            s.close()
        eng.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _replay_rate(tmp: Path, csv: Path, pollers: int) -> tuple[float, float]:
    """Data-hours per wall second and per CPU second of the engine's process, of a headless replay of ``csv`` at
    max speed, with ``pollers`` tight ``status`` pollers (a new connection per request, as ``ctl status`` does)
    running the whole time. The CPU figure is the one a loaded machine does not move: wall time there depends
    on how many cores the other processes leave free."""
    tmp.mkdir()
    eng = Headless(tmp, "--replay", str(csv), "--symbol-map", "XBTUSD=PF_XBTUSD", "--speed", "max",
                   "--exit-at-end")
    answered = 0
    try:
        sock = eng.socket
        t0 = time.monotonic()

        async def poll() -> None:
            nonlocal answered
            while not eng.done.is_set():
                try:
                    await request(sock, "status", timeout_s=5.0)
                    answered += 1
                except (OSError, TimeoutError, ValueError):
                    await asyncio.sleep(0.01)

        async def main() -> None:
            tasks = [asyncio.create_task(poll()) for _ in range(pollers)]
            while not eng.done.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(main())
        wall = time.monotonic() - t0
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert eng.proc.wait(60) == 0, eng.err_path.read_text()[-2000:]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    finally:
        eng.stop()
    rows = sum(1 for _ in csv.open())
    assert pollers == 0 or answered > pollers, answered
    assert cpu > 0, "the engine's CPU time was not collected"
    return rows * 5 / 60 / wall, rows * 5 / 60 / cpu


@pytest.mark.slow
def test_32_tight_pollers_keep_at_least_half_the_replay_rate(tmp_path, shared_data):
    src = shared_data(DATA)
    csv = tmp_path / "part.csv"
    with src.open() as fh, csv.open("w") as out:
        for i, line in enumerate(fh):
            if i >= 2000:
                break
            out.write(line)
    base_wall, base_cpu = _replay_rate(tmp_path / "a", csv, 0)
    polled_wall, polled_cpu = _replay_rate(tmp_path / "b", csv, 32)
    print(json.dumps({"data_hours_per_wall_s": {"alone": round(base_wall, 1), "32_pollers": round(polled_wall, 1)},
                      "data_hours_per_engine_cpu_s": {"alone": round(base_cpu, 1),
                                                       "32_pollers": round(polled_cpu, 1)}}))
    # serving the pollers costs the engine at most as much CPU as the replay itself
    assert polled_cpu >= 0.5 * base_cpu, (base_cpu, polled_cpu)
