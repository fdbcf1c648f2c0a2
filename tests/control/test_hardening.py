"""The control socket under misbehaving clients: duplicate JSON keys, idle and leaked connections, tight
pollers, oversized and too-fast requests, an engine that keeps failing, and a hung instance.

Each test drives a ``ControlServer`` over a real UNIX socket; the limits are the ones ``ControlLimits``
documents (tests shrink the timings to keep the run short)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kraken_tui.control import ControlServer, request, runtime_dir
from kraken_tui.control.server import ControlLimits, RequestError, parse_request
from kraken_tui.engine.operator import OperatorState
from tests.operator.fake_engine import FakeEngine


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _raw(path: Path, payload: bytes, timeout_s: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout_s)
    finally:
        writer.close()


def test_parse_request_refuses_duplicate_keys():
    with pytest.raises(RequestError, match="duplicate key 'cmd'"):
        parse_request('{"cmd": "status", "cmd": "flatten"}')
    with pytest.raises(RequestError, match="duplicate key 'reason'"):
        parse_request('{"cmd": "pause", "reason": "a", "reason": "b"}')
    with pytest.raises(RequestError, match="not JSON"):
        parse_request("[" * 100_000)
    assert parse_request('{"cmd": "pause", "reason": "  lunch "}') == ("pause", "lunch")


async def test_duplicate_cmd_over_the_socket_is_refused_and_nothing_runs(tmp_path):
    eng = FakeEngine()
    srv = ControlServer(eng, tmp_path / "c.sock")
    path = await srv.start()
    try:
        ans = json.loads(await _raw(path, b'{"cmd": "status", "cmd": "flatten"}\n'))
        assert ans["ok"] is False and ans["code"] == 2 and "duplicate" in ans["error"]
        assert eng.sm.state is OperatorState.RUNNING
    finally:
        await srv.stop()


def connect_many(path: Path, n: int, timeout_s: float) -> list[socket.socket]:
    """Up to ``n`` connections to the UNIX socket at ``path`` (a refused or timed-out one is skipped)."""
    held = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout_s)
        try:
            s.connect(str(path))
        except OSError:
            s.close()
            continue
        held.append(s)
    return held


def _hold_connections(path: Path, n: int, ready: threading.Event, release: threading.Event,
                      held: list[socket.socket]) -> None:
    held.extend(connect_many(path, n, 10))
    ready.set()
    release.wait(60)
    for s in held:
        s.close()


async def test_2000_idle_connections_leave_status_answering_with_bounded_fds(tmp_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    eng = FakeEngine()
    srv = ControlServer(eng, tmp_path / "c.sock")
    path = await srv.start()
    ready, release, held = threading.Event(), threading.Event(), []
    t = threading.Thread(target=_hold_connections, args=(path, 2000, ready, release, held), daemon=True)
    before = _open_fds()
    t.start()
    try:
        while not ready.is_set():  # serve the accepts while the thread connects  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # the server's side of the 2000 idle connections: bounded by the cap, not by the clients (evicted
        # connections close on the loop's next turns: give a loaded machine a few seconds to get there)
        cap = srv.limits.max_connections
        deadline = time.monotonic() + 10.0
        while _open_fds() - before - len(held) > cap + 8 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        server_side = _open_fds() - before - len(held)
        assert srv.connections <= cap
        assert server_side <= cap + 8, server_side
        for _ in range(3):
            ans = await request(path, "status", timeout_s=5.0)
            assert ans["ok"] and ans["status"]["state"] == "RUNNING"
    finally:
        release.set()
        t.join(10)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        await srv.stop()


async def test_idle_connection_closed_after_timeout(tmp_path):
    srv = ControlServer(FakeEngine(), tmp_path / "c.sock", limits=ControlLimits(idle_timeout_s=0.3))
    path = await srv.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        t0 = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5.0) == b""  # closed by the server
        assert 0.2 < time.monotonic() - t0 < 3.0
        writer.close()
        assert srv.connections == 0
    finally:
        await srv.stop()


async def test_per_connection_rate_limit_slows_a_tight_client(tmp_path):
    srv = ControlServer(FakeEngine(), tmp_path / "c.sock",
                        limits=ControlLimits(requests_per_s=50.0, burst=5))
    path = await srv.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        t0 = time.monotonic()
        for _ in range(30):  # 5 at once, then 25 at 50/s: at least 0.5 s
            writer.write(b'{"cmd": "status"}\n')
            await writer.drain()
            assert json.loads(await reader.readline())["ok"]
        assert time.monotonic() - t0 >= 0.45
        writer.close()
    finally:
        await srv.stop()


class CountingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.snapshots = 0

    def snapshot(self):  # type: ignore[no-untyped-def]
        self.snapshots += 1
        return super().snapshot()


async def test_32_tight_pollers_build_a_bounded_number_of_snapshots(tmp_path):
    eng = CountingEngine()
    srv = ControlServer(eng, tmp_path / "c.sock", limits=ControlLimits(status_cache_s=0.2))
    path = await srv.start()
    stop = time.monotonic() + 1.0
    answered = 0

    async def poller() -> None:
        nonlocal answered
        while time.monotonic() < stop:
            ans = await request(path, "status", timeout_s=5.0)
            assert ans["ok"]
            answered += 1

    try:
        await asyncio.gather(*(poller() for _ in range(32)))
    finally:
        await srv.stop()
    assert answered >= 32
    assert eng.snapshots <= 1.0 / 0.2 + 3, (eng.snapshots, answered)


async def test_a_failing_engine_is_logged_once_not_per_request(tmp_path, caplog):
    class Broken(FakeEngine):
        def snapshot(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("snapshot exploded")

    srv = ControlServer(Broken(), tmp_path / "c.sock", limits=ControlLimits(requests_per_s=1e6, burst=10**6,
                                                                            global_requests_per_s=1e6))
    path = await srv.start()
    caplog.set_level(logging.ERROR, logger="kraken_tui.control.server")
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        for _ in range(200):
            writer.write(b'{"cmd": "status"}\n')
            await writer.drain()
            ans = json.loads(await reader.readline())
            assert ans["code"] == 1 and "snapshot exploded" in ans["error"]
        writer.close()
    finally:
        await srv.stop()
    records = [r for r in caplog.records if r.name == "kraken_tui.control.server"]
    assert 1 <= len(records) <= 2, len(records)
    assert sum(r.exc_info is not None for r in records) == 1


async def test_oversized_request_answered_and_closed(tmp_path):
    srv = ControlServer(FakeEngine(), tmp_path / "c.sock", limits=ControlLimits(max_line_bytes=1024))
    path = await srv.start()
    try:
        ans = json.loads(await _raw(path, b'{"cmd": "status", "reason": "' + b"x" * 4096 + b'"}\n'))
        assert ans["code"] == 2 and "longer than 1024" in ans["error"]
    finally:
        await srv.stop()


@pytest.fixture
def hung_socket(tmp_path):
    """A UNIX socket that accepts connections and never answers (a stopped or hung instance)."""
    run = Path(os.environ["XDG_RUNTIME_DIR"])
    run.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)  # platformdirs ignores a runtime dir others can read
    sock_path = runtime_dir() / "ctl-999999.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield sock_path
    stop.set()
    t.join(5)
    for c in conns:
        c.close()
    srv.close()


def _cli(*args: str, timeout: float = 60, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_tui", *args], capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def test_ctl_flatten_on_a_hung_instance_times_out_with_exit_3(hung_socket):
    t0 = time.monotonic()
    r = _cli("ctl", "--socket", str(hung_socket), "--timeout", "1", "flatten", timeout=30)
    assert r.returncode == 3, r.stderr
    assert "no answer to 'flatten' within 1 s" in r.stderr and "may not be flat" in r.stderr
    assert time.monotonic() - t0 < 20
    r = _cli("ctl", "--socket", str(hung_socket), "--timeout", "1", "status", timeout=30)
    assert r.returncode == 2 and "no answer to 'status'" in r.stderr


def test_kraken_tui_flatten_on_a_hung_paper_instance_exits_3(hung_socket, tmp_path):
    listed = json.loads(_cli("ctl", "list", "--json").stdout)
    assert [row["socket"] for row in listed] == [str(hung_socket)]  # this test's instance only
    r = _cli("flatten", "--yes", "--timeout", "1", timeout=30)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "no answer to 'flatten'" in r.stderr and "paper mode" in r.stderr


@pytest.mark.slow
def test_kraken_tui_flatten_on_a_hung_live_instance_flattens_directly(hung_socket, tmp_path):
    sim = subprocess.Popen([sys.executable, "-m", "kraken_tui", "sim", "--json", "--source", "synthetic"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listed = json.loads(_cli("ctl", "list", "--json").stdout)
        assert [row["socket"] for row in listed] == [str(hung_socket)]  # this test's instance only
        assert sim.stdout is not None
        info = json.loads(sim.stdout.readline())
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[general]\nmode = "live"\n[live]\nrest_url = "{info["rest_url"]}"\n')
        r = _cli("flatten", "--config", str(cfg), "--timeout", "1", stdin="FLATTEN\nFLATTEN\n", timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "no answer to 'flatten'" in r.stderr
        assert "Flatten directly on the exchange at " + info["rest_url"] in r.stdout
        assert "flat" in r.stdout.lower()
    finally:
        sim.terminate()
        sim.wait(10)
