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
    """Poll the screen until ``text`` shows (whitespace collapsed: the state line wraps at 80 columns)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture()
        if " ".join(text.split()) in " ".join(screen.split()):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never appeared; screen:\n{screen}")


def _arm_flatten(tm: Tmux, timeout: float = 5.0) -> None:
    """Press ``F`` until the screen shows FLATTEN ARMED within 1.5 s of the press, so that the second ``F``
    (sent right after) lands inside the 2 s window measured from the first press. On a machine too busy to draw
    the armed state in time, the arming may lapse before the test could see it; it is pressed again then (at
    most three times), as a trader would. A second ``F`` that does not fire after a timely arming still fails
    the test."""
    for _ in range(3):
        pressed = time.monotonic()
        tm.keys("F")
        _wait_for(tm.capture, "FLATTEN ARMED", timeout=timeout)
        if time.monotonic() - pressed < 1.5:
            return
        time.sleep(2.5)  # let the late arming lapse before pressing again
    raise AssertionError("the console never showed FLATTEN ARMED within 1.5 s of the key")


class Tmux:
    """``kraken-tui`` replaying ``csv`` in a detached tmux session on a private server (``-L``)."""

    def __init__(self, csv: Path, tmp_path: Path, speed: int) -> None:
        exe = Path(sys.executable).with_name("kraken-tui")
        self.tm = ["tmux", "-L", f"kt-{uuid.uuid4().hex[:8]}"]
        run = tmp_path / "run"  # a private runtime dir: the console's control socket is its own
        run.mkdir(mode=0o700, exist_ok=True)
        cmd = (f"env HOME={tmp_path} XDG_RUNTIME_DIR={run} XDG_DATA_HOME={tmp_path}/data XDG_STATE_HOME={tmp_path}/state "
               f"XDG_CONFIG_HOME={tmp_path}/config TERM=xterm-256color {exe} --replay {csv} "
               f"--symbol-map ETHUSD=PF_ETHUSD --speed {speed} --journal {tmp_path}/journal.sqlite; sleep 30")
        subprocess.run([*self.tm, "new-session", "-d", "-s", "kt", "-x", "120", "-y", "40", "-c", str(tmp_path),
                        cmd], check=True)

    def capture(self) -> str:
        return subprocess.run([*self.tm, "capture-pane", "-p", "-t", "kt"], capture_output=True, text=True).stdout

    def keys(self, *k: str) -> None:
        subprocess.run([*self.tm, "send-keys", "-t", "kt", *k], check=True)

    def close(self) -> None:
        subprocess.run([*self.tm, "kill-server"], capture_output=True)


def _quit(tm: Tmux) -> None:
    """q (and y when it asks), then wait until the console has gone."""
    tm.keys("q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "Quit the console?" not in tm.capture() and "Positions" in tm.capture():
        time.sleep(0.2)
    if "Quit the console?" in tm.capture():
        tm.keys("y")
    while time.monotonic() < deadline and "Positions" in tm.capture():
        time.sleep(0.25)
    assert "Positions" not in tm.capture()  # the console exited


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_flatten_in_a_real_terminal_ends_halted_and_flat(shared_data, tmp_path):
    """Replay fast until a position is open (or 8 s passed), then F F: HALTED, and flat on screen."""
    tm = Tmux(shared_data(DATA), tmp_path, speed=3000)
    try:
        _wait_for(tm.capture, "REPLAY")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and " open ─" not in tm.capture():  # the positions subtitle
            time.sleep(0.25)
        _arm_flatten(tm)
        tm.keys("F")
        screen = _wait_for(tm.capture, "HALTED", timeout=15)
        screen = _wait_for(tm.capture, "Flat: no positions, no orders", timeout=10)
        assert "no open positions" in screen and " open ─" not in screen
        assert "NOT FLAT" not in screen and "Traceback" not in screen
        _quit(tm)  # flat: quits without asking
    finally:
        tm.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_replay_console_in_tmux_pause_and_flatten(shared_data, tmp_path):
    tm = Tmux(shared_data(DATA), tmp_path, speed=300)
    capture, keys = tm.capture, tm.keys
    try:
        screen = _wait_for(capture, "REPLAY")
        # tmux may size a detached window 80x24 whatever -x/-y say: then the panels are paged (tab).
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
        _arm_flatten(tm)
        keys("F")
        screen = _wait_for(capture, "HALTED")
        assert "Traceback" not in screen
        _quit(tm)
    finally:
        tm.close()
