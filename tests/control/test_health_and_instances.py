"""``kraken-tui ctl health`` exit codes and JSON, the instance registry (``ctl-<pid>.json`` files) and ``ctl
list`` / ``ctl status`` with several instances (docs/cli-contract.md: ctl health exits 0 healthy, 1
degraded, 2 HALTED or unreachable).

Each instance is a ``ControlServer`` on a background thread's event loop over a small fake engine, with
the metadata a console (``ui.services``) or a headless run (``headless``) writes, in the private runtime
directory every test gets (``XDG_RUNTIME_DIR``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kraken_tui.cli import main
from kraken_tui.control import ControlServer, default_socket_path, find_instances, runtime_dir
from kraken_tui.engine.facade import EngineSnapshot, FeedView, NotifyView
from kraken_tui.engine.operator import TransitionSource
from tests.operator.fake_engine import FakeEngine

HEALTH_KEYS = {"code", "health", "reason", "state", "feed", "problems"}
LIST_KEYS = {"pid", "kind", "mode", "state", "state_reason", "journal", "started_ms", "socket"}


class Engine(FakeEngine):
    """The fake engine with a settable market feed and ``finished`` flag."""

    def __init__(self) -> None:
        super().__init__()
        self.feed = FeedView("live", 0.4)
        self.finished = False
        self.notify = NotifyView()

    def snapshot(self) -> EngineSnapshot:
        return dataclasses.replace(super().snapshot(), feed=self.feed, finished=self.finished, notify=self.notify)


class Served:
    """A ``ControlServer`` for ``Engine`` on a background thread's loop (the CLI under test is synchronous)."""

    def __init__(self, path: Path, info: dict | None = None, problems=None) -> None:
        self.eng = Engine()
        self.loop = asyncio.new_event_loop()
        self.srv = ControlServer(self.eng, path, info=info, problems=problems)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the server's loop (the engine lives there) and return its result."""
        async def go():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(5)

    def __enter__(self) -> Served:
        self.thread.start()
        self.path = asyncio.run_coroutine_threadsafe(self.srv.start(), self.loop).result(5)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.srv.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _info(kind: str, pid: int, journal: str) -> dict:
    return {"kind": kind, "mode": "paper", "journal": journal, "started_ms": 1_704_067_200_000 + pid}


@pytest.fixture
def one():
    with Served(default_socket_path(pid=990_001), _info("console", 990_001, "/j/console.sqlite")) as s:
        yield s


def _health(capsys, *extra: str) -> tuple[int, str]:
    code = main(["ctl", *extra, "health"])
    cap = capsys.readouterr()
    print(cap.err, file=sys.stderr, end="")  # left for the test to read
    return code, cap.out.strip()


def _health_json(capsys, *extra: str) -> tuple[int, dict]:
    code = main(["ctl", *extra, "health", "--json"])
    return code, json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- ctl health
def test_health_0_when_running_and_the_feed_is_live(one, capsys):
    code, out = _health(capsys)
    assert code == 0 and out.startswith("ok: RUNNING, market feed live"), out
    code, ans = _health_json(capsys)
    assert code == 0 and set(ans) == HEALTH_KEYS
    assert ans == {"code": 0, "health": "ok", "reason": ans["reason"], "state": "RUNNING", "feed": "live",
                   "problems": []}


def test_health_1_when_the_feed_is_stale(one, capsys):
    one.eng.feed = FeedView("stale", 42.0, "no trades")
    code, out = _health(capsys)
    assert code == 1 and out.startswith("degraded: ") and "market feed stale, no market data for 42 s" in out, out
    code, ans = _health_json(capsys)
    assert code == 1 and ans["code"] == 1 and ans["health"] == "degraded" and ans["feed"] == "stale"
    assert ans["state"] == "RUNNING" and set(ans) == HEALTH_KEYS


def test_health_1_when_paused_by_a_guard(one, capsys):
    one.call(one.eng.sm.pause, "daily loss limit reached: -512.00 USD", TransitionSource.AUTOMATIC)
    code, out = _health(capsys)
    assert code == 1 and out == "degraded: PAUSED: daily loss limit reached: -512.00 USD", out
    code, ans = _health_json(capsys)
    assert (code, ans["code"], ans["health"], ans["state"]) == (1, 1, "degraded", "PAUSED")


def test_health_1_when_a_problem_is_reported(capsys):
    path = default_socket_path(pid=990_002)
    with Served(path, _info("headless", 990_002, "/j/h.sqlite"), problems=lambda: ["notify: ntfy failing"]):
        code, ans = _health_json(capsys)
    assert code == 1 and ans["problems"] == ["notify: ntfy failing"] and "ntfy failing" in ans["reason"]


def test_health_1_when_a_notification_channel_fails(one, capsys):
    one.eng.notify = NotifyView(channels=1, failing=True, detail="ntfy://***: HTTP 500")
    code, ans = _health_json(capsys)
    assert (code, ans["health"]) == (1, "degraded")
    assert ans["problems"] == ["notifications failing: ntfy://***: HTTP 500"] and "HTTP 500" in ans["reason"]


def test_health_2_when_halted(one, capsys):
    one.call(one.eng.sm.halt, "external flatten: position PF_XBTUSD long 0.5 and 1 order gone")
    code, out = _health(capsys)
    assert code == 2 and out == "down: HALTED: external flatten: position PF_XBTUSD long 0.5 and 1 order gone", out
    code, ans = _health_json(capsys)
    assert (code, ans["code"], ans["health"], ans["state"]) == (2, 2, "down", "HALTED")


def test_health_2_when_the_engine_finished(one, capsys):
    one.eng.finished = True
    code, out = _health(capsys)
    assert code == 2 and out.startswith("down: the engine finished"), out


def test_health_2_when_nothing_runs_or_unreachable(capsys, tmp_path):
    code, ans = _health_json(capsys)
    assert code == 2 and set(ans) == HEALTH_KEYS
    assert ans["health"] == "down" and ans["state"] is None and ans["feed"] is None
    assert ans["reason"].startswith("no running kraken-tui instance (no live control socket in "), ans
    code, out = _health(capsys, "--socket", str(tmp_path / "gone.sock"))
    assert code == 2 and out.startswith("down: unreachable: "), out


def test_health_2_when_several_run_without_socket(capsys):
    with Served(default_socket_path(pid=990_003), _info("console", 990_003, "/j/a.sqlite")), \
            Served(default_socket_path(pid=990_004), _info("headless", 990_004, "/j/b.sqlite")):
        code, out = _health(capsys)
        err = capsys.readouterr().err
    assert code == 2 and out == "down: several running instances (2: console, headless); choose one with --socket", out
    assert "several running instances" in err and "console (paper, journal /j/a.sqlite)" in err


# ---------------------------------------------------------------- the instance registry
def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(proc.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


def _stale_socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # bound, never listening: what a killed instance leaves


def test_find_instances_skips_and_removes_files_of_a_dead_pid(capsys):
    d = runtime_dir()
    dead = _dead_pid()
    sock = d / f"ctl-{dead}.sock"
    _stale_socket(sock)
    (d / f"ctl-{dead}.json").write_text(json.dumps({"pid": dead, "kind": "console", "socket": str(sock)}))
    orphan = _dead_pid()
    (d / f"ctl-{orphan}.json").write_text(json.dumps({"pid": orphan, "kind": "headless"}))  # its socket is gone
    with Served(default_socket_path(pid=990_005), _info("headless", 990_005, "/j/h.sqlite")) as live:
        found = find_instances()
        assert [i.socket for i in found] == [live.path] and found[0].kind == "headless"
        assert sorted(p.name for p in d.iterdir()) == ["ctl-990005.json", "ctl-990005.sock"]
        assert main(["ctl", "status"]) == 0  # the dead instance does not make it "several"
        assert "state      RUNNING" in capsys.readouterr().out


def test_find_instances_keeps_the_socket_of_a_live_process_it_cannot_reach(tmp_path):
    sock = runtime_dir() / f"ctl-{os.getpid()}.sock"
    _stale_socket(sock)  # this process is alive: its file is not someone else's to remove
    assert find_instances() == [] and sock.exists()


# ---------------------------------------------------------------- several instances
@pytest.fixture
def two():
    with Served(default_socket_path(pid=990_011), _info("console", 990_011, "/j/console.sqlite")) as c, \
            Served(default_socket_path(pid=990_012), _info("headless", 990_012, "/j/headless.sqlite")) as h:
        yield c, h


def test_ctl_list_names_a_console_and_a_headless_instance(two, capsys):
    console, headless = two
    headless.call(headless.eng.sm.pause, "maintenance", TransitionSource.CTL)
    assert main(["ctl", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [set(r) for r in rows] == [LIST_KEYS, LIST_KEYS]
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["console"] == {"pid": os.getpid(), "kind": "console", "mode": "paper", "state": "RUNNING",
                                  "state_reason": by_kind["console"]["state_reason"],
                                  "journal": "/j/console.sqlite", "started_ms": 1_704_067_200_000 + 990_011,
                                  "socket": str(console.path)}
    assert by_kind["headless"]["socket"] == str(headless.path) and by_kind["headless"]["state"] == "PAUSED"
    assert by_kind["headless"]["state_reason"] == "maintenance"
    assert main(["ctl", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PID", "KIND", "MODE", "STATE", "STARTED", "(UTC)", "JOURNAL"]
    pid = str(os.getpid())
    assert sorted(line.split()[:4] for line in lines[1:]) == [[pid, "console", "paper", "RUNNING"],
                                                              [pid, "headless", "paper", "PAUSED"]]


def test_ctl_list_shows_an_instance_that_does_not_answer(capsys):
    sock = default_socket_path(pid=990_013)
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(str(sock))
    mute.listen(64)  # accepts connections, never answers, wrote no metadata
    try:
        assert main(["ctl", "list", "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["pid"] == 990_013 and row["kind"] == "unknown" and row["state"] is None
        assert main(["ctl", "list"]) == 0
        assert capsys.readouterr().out.splitlines()[1].split()[:4] == ["990013", "unknown", "?", "unreachable"]
    finally:
        mute.close()


def test_ctl_list_without_instances(capsys):
    assert main(["ctl", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["ctl", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no running kraken-tui instance"


@pytest.mark.parametrize("action", ["status", "pause", "flatten"])
def test_ctl_with_two_instances_refuses_and_names_both(two, capsys, action):
    console, headless = two
    assert main(["ctl", action]) == 2
    err = capsys.readouterr().err
    assert "several running instances (2: console, headless); choose one with --socket" in err
    pid = os.getpid()  # the metadata names the process serving the socket
    assert f"pid {pid} console (paper, journal /j/console.sqlite) at {console.path}" in err
    assert f"pid {pid} headless (paper, journal /j/headless.sqlite) at {headless.path}" in err
    assert console.eng.sm.state.value == headless.eng.sm.state.value == "RUNNING"  # nothing was done


def test_flatten_with_two_instances_refuses_and_names_both(two, capsys):
    console, headless = two
    assert main(["flatten", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "several running instances (2: console, headless)" in err and "ctl --socket PATH flatten" in err
    assert f"console (paper, journal /j/console.sqlite) at {console.path}" in err
    assert f"headless (paper, journal /j/headless.sqlite) at {headless.path}" in err
    assert console.eng.positions and headless.eng.positions


def test_the_cli_contract_lists_the_keys_ctl_list_and_ctl_health_emit():
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli-contract.md").read_text()

    def keys(head: str) -> set[str]:
        bullet = doc.split(f"- `{head}`: ", 1)[1].split("\n- ", 1)[0]
        return set(re.findall(r'"(\w+)": ', bullet.split("}", 1)[0]))

    assert keys("ctl list --json") == LIST_KEYS
    assert keys("ctl health --json") == HEALTH_KEYS
