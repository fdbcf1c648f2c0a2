"""The price chart in a real terminal: ``kraken-tui`` replaying ETH in tmux at 120x40 (private runtime dir, so its
control socket is its own); a trade is opened and closed from ``ctl`` (entries paused, so the strategy adds none),
then ``k`` opens the chart and ``4`` switches it to 1h candles: the plot shows the trade's entry (▲) and exit (▼)
markers. Skips without tmux or the shared data."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.ui.test_tmux_console import DATA, _wait_for
from tests.ui.test_tmux_ctl_flatten import EXE, _cli, _env

pytestmark = pytest.mark.slow
SYMBOL = "PF_ETHUSD"


class ReplayConsole:
    """``kraken-tui --replay`` in a detached tmux session (private server, private HOME/XDG dirs)."""

    def __init__(self, csv: Path, home: Path, speed: int) -> None:
        self.env = _env(home)
        self.journal = home / "journal.sqlite"
        self.tm = ["tmux", "-L", f"kt-{uuid.uuid4().hex[:8]}"]
        envs = " ".join(f"{k}={self.env[k]}" for k in ("HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_STATE_HOME",
                                                         "XDG_CONFIG_HOME", "TERM"))
        cmd = (f"env {envs} {EXE} --replay {csv} --symbol-map ETHUSD={SYMBOL} --speed {speed} "
               f"--journal {self.journal}; sleep 30")
        subprocess.run([*self.tm, "new-session", "-d", "-s", "kt", "-x", "120", "-y", "40", "-c", str(home), cmd],
                       check=True)

    def capture(self) -> str:
        return subprocess.run([*self.tm, "capture-pane", "-p", "-t", "kt"], capture_output=True, text=True).stdout

    def keys(self, *k: str) -> None:
        subprocess.run([*self.tm, "send-keys", "-t", "kt", *k], check=True)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _cli(self.env, "ctl", *args)

    def close(self) -> None:
        subprocess.run([*self.tm, "kill-server"], capture_output=True)


def _plot(screen: str) -> str:
    """The chart's lines (the caption, which names the glyphs, left out)."""
    return "\n".join(line for line in screen.splitlines() if "Esc = back" not in line)


def _until(cond, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while True:
        got = cond()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_chart_shows_entry_and_exit_markers_on_a_replay(shared_data, tmp_path):
    con = ReplayConsole(shared_data(DATA), tmp_path, speed=200)
    try:
        _wait_for(con.capture, "REPLAY", timeout=60)
        assert _until(lambda: con.ctl("pause").returncode == 0, 30)
        con.ctl("close", SYMBOL)  # a strategy position opened before the pause, if any
        opened = _until(lambda: (lambda r: r if r.returncode == 0 else None)(
            con.ctl("order", "buy", SYMBOL, "0.5", "mkt", "--no-exits", "--override", "--json")), 30)
        assert opened, "the manual order was never accepted"
        time.sleep(8)  # 8 s at 200x: the trade spans a few 5m candles of replayed time
        r = con.ctl("close", SYMBOL, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        trades = _until(lambda: json.loads(_cli(con.env, "journal", "trades", "--json", "--journal",
                                                  str(con.journal)).stdout or "[]"), 20)
        assert trades and trades[-1]["exit_reason"] == "manual", trades
        con.keys("k")
        _wait_for(con.capture, f"{SYMBOL} 5m", timeout=15)
        time.sleep(0.5)
        con.keys("4")
        screen = _until(lambda: (lambda s: s if all(x in _plot(s) for x in (f"{SYMBOL} 1h", "▲", "▼")) else None)(
            con.capture()), 30)  # the journal's trades are reread every 10 s
        assert screen, con.capture()
        assert "Traceback" not in screen
        con.keys("Escape")
        _wait_for(con.capture, "Positions", timeout=10)
    finally:
        con.close()
