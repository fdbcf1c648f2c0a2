"""Headless runner with a fake runtime (the real end-to-end run is in test_headless_e2e.py), the run
dispatch and the live gate, and `kraken-tui flatten`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import threading

import pytest

from kraken_tui.cli import main
from kraken_tui.config import Config
from kraken_tui.control import request
from kraken_tui.engine.facade import EngineEvent, EngineMode, EventKind, Severity
from kraken_tui.engine.operator import OperatorState
from kraken_tui.errors import ConfigError
from kraken_tui.headless import EventPrinter, check_live_gate, run_headless

from .fake_engine import FakeEngine
from .paper_env import book_account, exchange_flat, make_exchange


class FakeRuntime:
    def __init__(self, code: int = 0, finish: bool = True) -> None:
        self.engine: FakeEngine | None = None  # like the real Runtime: the engine exists after start()
        self.mode = EngineMode.PAPER
        self.journal_path = "/tmp/j.sqlite"
        self.paper_url = None
        self.code = code
        self.done = asyncio.Event()
        self.finish = finish
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        self.engine = FakeEngine()
        self.engine.events.append(EngineEvent(1_700_000_000_123, EventKind.FILL,
                                              "PF_XBTUSD long 0.5 @ 50000 filled (entry)", "PF_XBTUSD",
                                              Severity.INFO, {"size": "0.5"}))
        if self.finish:
            self.done.set()

    async def wait_finished(self) -> int:
        await self.done.wait()
        return self.code

    async def aclose(self) -> None:
        self.calls.append("aclose")


def builder(rt):
    async def build(cfg, opts):
        return rt
    return build


async def test_text_lines_socket_path_summary_and_exit_code_5(tmp_path):
    rt = FakeRuntime(code=5)
    out = io.StringIO()
    code = await run_headless(Config(), None, out=out, socket_path=tmp_path / "h.sock", build=builder(rt))
    text = out.getvalue()
    assert code == 5 and rt.calls == ["start", "aclose"]
    assert f"ctl socket: {tmp_path / 'h.sock'}" in text
    assert "2023-11-14T22:13:20.123Z INFO     fill      PF_XBTUSD long 0.5 @ 50000 filled" in text
    assert "1 position and 1 order stay open" in text and "position PF_XBTUSD long 0.5 @ 50000" in text
    assert not (tmp_path / "h.sock").exists()


async def test_json_lines(tmp_path):
    rt = FakeRuntime()
    out = io.StringIO()
    assert await run_headless(Config(), None, log_format="json", out=out, socket_path=tmp_path / "j.sock",
                              build=builder(rt)) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0]["kind"] == "fill" and lines[0]["data"] == {"size": "0.5"} and lines[0]["severity"] == "info"
    assert lines[1]["kind"] == "start" and lines[1]["ctl_socket"].endswith("j.sock")
    assert lines[-1]["kind"] == "summary" and lines[-1]["state"] == "RUNNING"


async def test_ctl_drives_it_while_running_and_sigterm_stops(tmp_path):
    rt = FakeRuntime(finish=False)
    out = io.StringIO()
    sock = tmp_path / "r.sock"
    task = asyncio.create_task(run_headless(Config(), None, out=out, socket_path=sock, build=builder(rt)))
    for _ in range(100):
        if sock.exists():
            break
        await asyncio.sleep(0.01)
    assert (await request(sock, "pause", "ops"))["status"]["state"] == "PAUSED"
    ans = await request(sock, "flatten", "eod")
    assert ans["report"]["flat"] and rt.engine.state is OperatorState.HALTED
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 5) == 0
    text = out.getvalue()
    assert "RUNNING -> PAUSED: ops" in text and "FLATTENING -> HALTED" in text
    assert "signal received" in text and "no open positions, no open orders" in text


def test_printer_never_raises():
    class Closed(io.StringIO):
        def write(self, s):
            raise ValueError("I/O operation on closed file")

    p = EventPrinter(Closed())
    p(EngineEvent(1, EventKind.INFO, "x"))
    p(object())  # not an event at all
    assert p.errors == 2
    with pytest.raises(ValueError):
        EventPrinter(io.StringIO(), "xml")


def test_live_gate(monkeypatch):
    with pytest.raises(ConfigError, match=r"live.enabled.*\[live\] enabled = true"):
        check_live_gate(Config(), "live")
    cfg = Config.model_validate({"live": {"enabled": True}})
    with pytest.raises(ConfigError, match="KRAKEN_TUI_API_KEY"):
        check_live_gate(cfg, "live")
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", "k")
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", "c2VjcmV0")
    check_live_gate(cfg, "live")
    check_live_gate(Config(), "paper")


def test_run_live_refused_exit_2(capsys):
    assert main(["--no-ui", "--mode", "live"]) == 2
    assert "live.enabled" in capsys.readouterr().err


# ----------------------------------------------------------------------------- kraken-tui flatten


class ServedPaper:
    """A PaperServer on a background thread's loop (the CLI runs its own asyncio.run)."""

    def __init__(self, ex):
        from kraken_tui.paper.server import PaperServer

        self.loop = asyncio.new_event_loop()
        self.srv = PaperServer(ex)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.srv.start(), self.loop).result(5)
        return self.srv.rest_url

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.srv.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_flatten_cmd_direct_url_with_yes(capsys):
    ex = make_exchange(5)
    book_account(ex, 3)
    with ServedPaper(ex) as url:
        assert main(["flatten", "--url", url, "--yes"]) == 0
    out = capsys.readouterr().out
    assert exchange_flat(ex)
    assert "flat (verified by the exchange)" in out and "closed PF_ETHUSD -0.1, PF_SOLUSD 2, PF_XBTUSD 0.01" in out


def test_flatten_cmd_needs_typed_confirmation(monkeypatch, capsys):
    ex = make_exchange(5)
    book_account(ex, 1)
    with ServedPaper(ex) as url:
        monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
        assert main(["flatten", "--url", url]) == 2
        assert "not confirmed" in capsys.readouterr().err and ex.positions
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        assert main(["flatten", "--url", url]) == 2
        monkeypatch.setattr("sys.stdin", io.StringIO("FLATTEN\n"))
        assert main(["flatten", "--url", url]) == 0
    assert exchange_flat(ex)


def test_flatten_cmd_paper_mode_nothing_running(capsys):
    assert main(["flatten", "--yes"]) == 0
    assert "Nothing to flatten" in capsys.readouterr().out


def test_flatten_cmd_live_mode_without_keys(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[general]\nmode = "live"\n[live]\nrest_url = "http://192.0.2.1:9"\n')
    assert main(["flatten", "--config", str(cfg), "--yes"]) == 2
    assert "no API keys" in capsys.readouterr().err


def test_flatten_cmd_unreachable_exchange_exit_3(tmp_path, capsys, monkeypatch):
    from kraken_tui.engine.flatten import flatten_account

    monkeypatch.setitem(flatten_account.__kwdefaults__, "first_backoff_s", 0.001)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[client]\ntimeout_s = 0.5\nread_retries = 0\n")
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    assert main(["flatten", "--config", str(cfg), "--url", f"http://127.0.0.1:{port}", "--yes"]) == 3
    assert "NOT FLAT" in capsys.readouterr().out


def test_flatten_cmd_goes_through_running_instance(capsys):
    from kraken_tui import control

    from .test_control import _Served

    with _Served(control.default_socket_path(pid=999_990)) as s:
        assert main(["flatten", "--yes"]) == 0
        assert s.eng.state is OperatorState.HALTED
    assert "the instance is now HALTED" in capsys.readouterr().out
