"""The real console in tmux, in live mode against a local ``kraken-tui sim`` (the paper exchange served on
loopback, synthetic market), holding a position, flattened from another process:

- ``kraken-tui ctl flatten`` reaches the console through its control socket: the console flattens, the
  state line says HALTED, the positions panel is empty, ``ctl status --json`` says HALTED and flat;
- ``kraken-tui flatten --yes --url URL`` goes straight to the exchange behind the console's back: the console
  notices its account emptied and latches HALTED with the external-flatten reason, and no position opens on
  the exchange afterwards.

The position is opened on the exchange through its REST API (Kraken Futures docs, REST v3 "Send order") with
the paper key pair ``sim --json`` prints, before the console starts; the console adopts it as external (PAUSED)
and ``r`` acknowledges it (RUNNING). Every process gets its own HOME, XDG directories (the control socket's
runtime dir among them) and journal, so nothing can reach another instance. Skips without tmux.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.domain import Side
from kraken_tui.domain.orders import OrderRequest, OrderType
from kraken_tui.kraken.rest import KrakenRestClient
from tests.ui.test_tmux_console import _wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]

EXE = Path(sys.executable).with_name("kraken-tui")
SYMBOL = "PF_XBTUSD"
START_S = 90.0
"""Deadline for the sim and the console to come up (a loaded 2-core machine is slow to import textual)."""


def _env(tmp_path: Path, *, keys: dict[str, str] | None = None) -> dict[str, str]:
    """An environment of private HOME/XDG directories under ``tmp_path`` (runtime dir 0700), with ``keys``
    (the API key variables) when given and none otherwise."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KRAKEN_TUI_API_", "XDG_", "TMUX"))}
    env.update(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(run), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               TERM="xterm-256color")
    env.update(keys or {})
    return env


class Sim:
    """``kraken-tui sim --json --source synthetic`` as a child process; ``info`` is its first stdout line."""

    def __init__(self, tmp_path: Path) -> None:
        self.proc = subprocess.Popen([str(EXE), "sim", "--json", "--source", "synthetic"], env=_env(tmp_path),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_S)  # printed once it serves, or it exits
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
        assert line, f"kraken-tui sim did not serve within {START_S} s (exit code {self.proc.returncode})"
        self.info: dict[str, str] = json.loads(line)
        self.keys = {"KRAKEN_TUI_API_KEY": self.info["api_key"], "KRAKEN_TUI_API_SECRET": self.info["api_secret"]}

    def _client(self, http: httpx.AsyncClient) -> KrakenRestClient:
        creds = Credentials(api_key=SecretStr(self.info["api_key"]), api_secret=SecretStr(self.info["api_secret"]),
                            source="paper key pair")
        return KrakenRestClient(http, self.info["rest_url"], creds, config=ClientConfig())

    def buy(self, size: str) -> None:
        """A market buy of ``size`` contracts of ``SYMBOL`` (REST v3 "Send order"); asserts it filled."""
        async def go() -> None:
            async with httpx.AsyncClient() as http:
                client = self._client(http)
                await client.instruments()
                res = await client.send_order(OrderRequest(SYMBOL, Side.BUY, OrderType("mkt"), Decimal(size)))
                assert res.error is None and res.events, res

        asyncio.run(go())

    def account(self) -> tuple[list, list]:
        """The exchange's open positions and open orders (REST v3 "Get open positions" / "Get open orders")."""
        async def go() -> tuple[list, list]:
            async with httpx.AsyncClient() as http:
                client = self._client(http)
                return await client.open_positions(), await client.open_orders()

        return asyncio.run(go())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class LiveConsole:
    """``kraken-tui`` in live mode against ``sim``, in a detached tmux session on a private server (``-L``)."""

    def __init__(self, sim: Sim, tmp_path: Path) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        cfg = tmp_path / "config.toml"
        # require_paper off: these tests are about the control plane, not the promotion gate (tests/engine)
        cfg.write_text(f'[general]\nmode = "live"\n[live]\nenabled = true\nrequire_paper = false\nrest_url = "{sim.info["rest_url"]}"\n'
                       f'ws_url = "{sim.info["ws_url"]}"\n[strategy]\nsymbols = ["{SYMBOL}"]\n')
        self.journal = tmp_path / "journal.sqlite"
        env = _env(tmp_path, keys=sim.keys)
        names = ("HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "TERM",
                 "KRAKEN_TUI_API_KEY", "KRAKEN_TUI_API_SECRET")
        assigns = " ".join(f"{n}={env[n]}" for n in names)
        cmd = f"env {assigns} {EXE} --config {cfg} --journal {self.journal}; sleep 30"
        self.tm = ["tmux", "-L", f"kt-{uuid.uuid4().hex[:8]}"]
        subprocess.run([*self.tm, "new-session", "-d", "-s", "kt", "-x", "120", "-y", "40", "-c", str(tmp_path), cmd],
                       check=True)

    def capture(self) -> str:
        return subprocess.run([*self.tm, "capture-pane", "-p", "-t", "kt"], capture_output=True, text=True).stdout

    def keys(self, *k: str) -> None:
        subprocess.run([*self.tm, "send-keys", "-t", "kt", *k], check=True)

    def close(self) -> None:
        subprocess.run([*self.tm, "kill-server"], capture_output=True)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``kraken-tui ARGS`` from another process (another shell, as an operator would)."""
    return subprocess.run([str(EXE), *args], env=env, capture_output=True, text=True, timeout=120)


def _console_holding(sim: Sim, tmp_path: Path) -> LiveConsole:
    """A position on the exchange, then the console started on it: LIVE typed at the gate, the adopted
    position acknowledged with ``r``; returns once the console is RUNNING and shows it."""
    sim.buy("0.01")
    con = LiveConsole(sim, tmp_path)
    _wait_for(con.capture, "Type LIVE and press Enter", timeout=START_S)
    con.keys("-l", "LIVE")
    time.sleep(0.3)  # Enter on its own, not read together with the typed text
    con.keys("Enter")
    _wait_for(con.capture, "adopted as external", timeout=START_S)
    _wait_for(con.capture, "1 open", timeout=10)
    con.keys("r")
    screen = _wait_for(con.capture, "RUNNING operator: resume key", timeout=15)
    assert long_row_shown(screen, "0.01"), screen
    return con


def long_row_shown(screen: str, size: str) -> bool:
    """True when the Positions panel on ``screen`` shows a long of ``size`` contracts of ``SYMBOL``: "▲ LONG
    0.01" in the full column set, "▲ 0.01" in the compact one (a detached tmux window may be 80x24)."""
    return re.search(rf"{SYMBOL} ▲(?: LONG)? {re.escape(size)}(?: |$)", " ".join(screen.split())) is not None


def _flat_on_screen(screen: str) -> bool:
    return "no open positions" in screen and " open ─" not in screen and " open, " not in screen


@pytest.fixture
def sim(tmp_path):
    s = Sim(tmp_path / "sim")
    yield s
    s.close()


def test_ctl_flatten_from_another_process_flattens_the_console_in_tmux(sim, tmp_path):
    home = tmp_path / "console"
    con = _console_holding(sim, home)
    try:
        env = _env(home)  # the console's runtime dir: its control socket
        done = _cli(env, "ctl", "flatten")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "flatten: flat (verified by the exchange)" in done.stdout and f"closed {SYMBOL} 0.01" in done.stdout
        screen = _wait_for(con.capture, "HALTED flattened: 1 position closed", timeout=15)
        deadline = time.monotonic() + 15
        while not _flat_on_screen(screen) and time.monotonic() < deadline:
            time.sleep(0.25)
            screen = con.capture()
        assert _flat_on_screen(screen), screen
        assert "Traceback" not in screen and "NOT FLAT" not in screen
        status = _cli(env, "ctl", "status", "--json")
        assert status.returncode == 0, status.stderr
        st = json.loads(status.stdout)
        assert st["state"] == "HALTED" and st["positions"] == [] and st["open_orders"] == 0
        assert st["mode"] == "live" and st["journal_path"] == str(con.journal)
        assert sim.account() == ([], [])
    finally:
        con.close()


def test_flatten_straight_at_the_exchange_latches_the_console_halted_in_tmux(sim, tmp_path):
    home = tmp_path / "console"
    con = _console_holding(sim, home)
    try:
        other = _env(tmp_path / "other")  # another shell: no instance in its runtime dir, no keys configured
        done = _cli(other, "flatten", "--yes", "--url", sim.info["rest_url"])
        assert done.returncode == 0, done.stderr + done.stdout
        assert "flatten: flat (verified by the exchange)" in done.stdout
        reason = f"HALTED external flatten: position {SYMBOL} long 0.01 gone without our action"
        _wait_for(con.capture, reason, timeout=20)
        health = _cli(_env(home), "ctl", "health")
        assert health.returncode == 2 and health.stdout.startswith(f"down: {reason[:6]}: external flatten"), health
        deadline = time.monotonic() + 5  # nothing opens afterwards, on the exchange or on screen
        while time.monotonic() < deadline:
            assert sim.account() == ([], [])
            screen = con.capture()
            state_line = " ".join(screen.splitlines()[1:3])
            assert "HALTED" in state_line and "RUNNING" not in state_line, screen
            time.sleep(0.5)
        assert _flat_on_screen(screen) and "Traceback" not in screen, screen
    finally:
        con.close()
