"""The real console in a real terminal: ``kraken-tui`` replaying ETH in tmux, keys sent with
``tmux send-keys``, the screen read with ``capture-pane``. Skips without tmux or the shared data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
DATA = "kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv"


def _wait_for(capture, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture()
        if text in screen:
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never appeared; screen:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_replay_console_in_tmux_pause_and_flatten(shared_data, tmp_path):
    csv = shared_data(DATA)
    exe = Path(sys.executable).with_name("kraken-tui")
    sock = f"kt-{uuid.uuid4().hex[:8]}"
    tm = ["tmux", "-L", sock]
    cmd = (f"env HOME={tmp_path} XDG_DATA_HOME={tmp_path}/data XDG_STATE_HOME={tmp_path}/state "
           f"XDG_CONFIG_HOME={tmp_path}/config TERM=xterm-256color {exe} --replay {csv} "
           f"--symbol-map ETHUSD=PF_ETHUSD --speed 300; sleep 30")
    subprocess.run([*tm, "new-session", "-d", "-s", "kt", "-x", "120", "-y", "40", "-c", str(tmp_path), cmd], check=True)

    def capture() -> str:
        return subprocess.run([*tm, "capture-pane", "-p", "-t", "kt"], capture_output=True, text=True).stdout

    def keys(*k: str) -> None:
        subprocess.run([*tm, "send-keys", "-t", "kt", *k], check=True)

    try:
        screen = _wait_for(capture, "REPLAY")
        # tmux may give a detached session 80x24 whatever -x/-y say: then the panels are paged (tab).
        seen = screen
        for _ in range(2):
            if "╭─ Events" in seen:
                break
            keys("Tab")
            time.sleep(0.7)
            seen += capture()
        for panel in ("Positions", "P&L", "Liquidation", "Funding", "Orders", "Signals", "Events"):
            assert f"╭─ {panel}" in seen
        assert "UTC" in seen
        keys("p")
        _wait_for(capture, "ENTRIES PAUSED - EXITS ACTIVE")
        keys("F")
        _wait_for(capture, "FLATTEN ARMED")
        keys("F")
        screen = _wait_for(capture, "HALTED")
        assert "Traceback" not in screen
        keys("q")
        time.sleep(1.0)
        if "Quit the console?" in capture():
            keys("y")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "Positions" in capture():
            time.sleep(0.25)
        assert "Positions" not in capture()  # the console exited
    finally:
        subprocess.run([*tm, "kill-server"], capture_output=True)
