"""Control socket: permissions, stale files, the JSON protocol, and the `kraken-tui ctl` command."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import threading

import pytest

from kraken_tui import control
from kraken_tui.cli import main
from kraken_tui.control import ControlServer, find_sockets, request, runtime_dir
from kraken_tui.engine.operator import OperatorState

from .fake_engine import FakeEngine

CONTRACT_KEYS = {"state", "state_reason", "mode", "equity_usd", "positions", "open_orders"}
POSITION_KEYS = {"symbol", "side", "size", "entry_price", "mark_price", "upnl_usd", "liq_price", "liq_distance"}


@pytest.fixture
async def served(tmp_path):
    eng = FakeEngine()
    srv = ControlServer(eng, tmp_path / "ctl.sock")
    path = await srv.start()
    yield eng, srv, path
    await srv.stop()


async def test_socket_mode_0600_and_removed_on_stop(tmp_path):
    srv = ControlServer(FakeEngine(), tmp_path / "a.sock")
    path = await srv.start()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.is_socket()
    await srv.stop()
    assert not path.exists()


async def test_default_path_in_runtime_dir(monkeypatch, tmp_path):
    srv = ControlServer(FakeEngine())
    path = await srv.start()
    try:
        assert path.parent == runtime_dir() and path.name == f"ctl-{os.getpid()}.sock"
        assert str(path).startswith(os.environ["XDG_RUNTIME_DIR"])
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert find_sockets() == [path]
    finally:
        await srv.stop()


def test_runtime_dir_falls_back_to_temp(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    monkeypatch.setattr(control.paths.platformdirs, "user_runtime_dir", lambda app: str(blocker / "kraken-tui"))
    monkeypatch.setattr(control.paths.tempfile, "gettempdir", lambda: str(tmp_path))
    assert runtime_dir() == tmp_path / f"kraken-tui-{os.getuid()}"


async def test_stale_socket_replaced_live_one_refused(tmp_path):
    path = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # bound, never listening: a stale file
    assert path.exists() and find_sockets(tmp_path) == []
    srv = ControlServer(FakeEngine(), path)
    await srv.start()
    try:
        with pytest.raises(OSError, match="in use"):
            await ControlServer(FakeEngine(), path).start()
    finally:
        await srv.stop()


async def test_status_json_keys(served):
    _, _, path = served
    ans = await request(path, "status")
    assert ans["ok"] and CONTRACT_KEYS <= set(ans["status"])
    st = ans["status"]
    assert st["state"] == "RUNNING" and st["mode"] == "paper" and st["equity_usd"] == 10050.25
    assert st["open_orders"] == 1 and POSITION_KEYS <= set(st["positions"][0])
    assert st["positions"][0]["side"] == "long" and st["positions"][0]["size"] == 0.5


async def test_pause_resume_flatten_reset_cycle(served):
    eng, _, path = served
    assert (await request(path, "pause", "lunch"))["status"]["state"] == "PAUSED"
    assert eng.sm.reason == "lunch"
    ans = await request(path, "resume", None)
    assert ans["status"]["state"] == "RUNNING" and eng.sm.reason == "operator resume via ctl"
    ans = await request(path, "flatten", "done for today")
    assert ans["ok"] and ans["report"]["flat"] and ans["status"]["state"] == "HALTED"
    assert ans["status"]["positions"] == [] and ans["report"]["closed"] == [{"symbol": "PF_XBTUSD", "size": 0.5}]
    ans = await request(path, "resume")
    assert not ans["ok"] and ans["code"] == 2 and "reset it first" in ans["error"]
    ans = await request(path, "reset", "checked the account")
    assert ans["ok"] and ans["status"]["state"] == "PAUSED"


async def test_bad_requests(served):
    _, srv, path = served
    assert (await srv.dispatch(b"not json"))["code"] == 2
    assert (await srv.dispatch(json.dumps({"cmd": "explode"})))["code"] == 2
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b'{"cmd":"status"}\n\n{"cmd":"pause","reason":"x"}\n')
    await writer.drain()
    a = json.loads(await reader.readline())
    b = json.loads(await reader.readline())
    writer.close()
    assert a["cmd"] == "status" and b["status"]["state"] == "PAUSED"


async def test_engine_bug_is_code_1_and_server_survives(served):
    eng, _, path = served

    def boom():
        raise RuntimeError("snapshot broke")

    eng.snapshot = boom
    ans = await request(path, "status")
    assert not ans["ok"] and ans["code"] == 1 and "snapshot broke" in ans["error"]


async def test_failed_flatten_is_code_3(tmp_path):
    from kraken_tui.engine.facade import FlattenReport

    async def bad():
        return FlattenReport(False, 6, 30, 0, (), 100.0, 1.0, "exchange unreachable")

    eng = FakeEngine(bad)
    srv = ControlServer(eng, tmp_path / "c.sock")
    path = await srv.start()
    try:
        ans = await request(path, "flatten")
        assert not ans["ok"] and ans["code"] == 3 and eng.state is OperatorState.HALTED
    finally:
        await srv.stop()


# ----------------------------------------------------------------------------- the ctl command


class _Served:
    """Serve a FakeEngine on a background thread's event loop (so the synchronous CLI can call it)."""

    def __init__(self, path):
        self.eng = FakeEngine()
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.srv = ControlServer(self.eng, path)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.srv.start(), self.loop).result(5)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.srv.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_ctl_cli_status_json_and_actions(tmp_path, capsys):
    with _Served(tmp_path / "x.sock") as s:
        sock = str(s.path)
        assert main(["ctl", "--socket", sock, "status", "--json"]) == 0
        st = json.loads(capsys.readouterr().out)
        assert CONTRACT_KEYS <= set(st) and st["state"] == "RUNNING"
        assert main(["ctl", "--socket", sock, "pause", "--reason", "maintenance"]) == 0
        out = capsys.readouterr().out
        assert "pause: done" in out and "PAUSED (maintenance)" in out
        assert main(["ctl", "--socket", sock, "pause"]) == 0  # already paused: a no-op, not an error
        assert main(["ctl", "--socket", sock, "reset"]) == 2
        assert "reset works from HALTED only" in capsys.readouterr().err
        assert main(["ctl", "--socket", sock, "flatten", "--json"]) == 0
        ans = json.loads(capsys.readouterr().out)
        assert ans["report"]["flat"] and ans["status"]["state"] == "HALTED"
        assert main(["ctl", "--socket", sock, "reset"]) == 0
        assert s.eng.sm.reason == "operator reset via ctl"
        assert main(["ctl", "--socket", sock, "reset", "--reason", " "]) == 2


def test_ctl_discovers_the_only_instance(capsys):
    with _Served(control.default_socket_path(pid=999_999)):
        assert main(["ctl", "status"]) == 0
        assert "state      RUNNING" in capsys.readouterr().out


def test_ctl_without_instance_exit_2(capsys, tmp_path):
    assert main(["ctl", "status"]) == 2
    assert "no running kraken-tui instance" in capsys.readouterr().err
    assert main(["ctl", "--socket", str(tmp_path / "nope.sock"), "status"]) == 2
    assert "cannot reach the instance" in capsys.readouterr().err


def test_ctl_several_instances_needs_socket(capsys):
    with _Served(control.default_socket_path(pid=999_998)), _Served(control.default_socket_path(pid=999_997)):
        assert main(["ctl", "status"]) == 2
        assert "several running instances" in capsys.readouterr().err


def test_ctl_module_never_imports_textual():
    code = "import sys, kraken_tui.control, kraken_tui.headless; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

