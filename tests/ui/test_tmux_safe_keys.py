"""The real console in tmux: text pasted without bracketed paste (``send-keys -l``, one write to the
terminal) and mouse clicks on the footer's FLATTEN (SGR mouse sequences written to the terminal) fire
nothing; a stray q asks first while RUNNING. Skips without tmux or the shared data."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.ui.test_tmux_console import DATA, Tmux, _wait_for

pytestmark = pytest.mark.slow


def _click(tm: Tmux, col: int, row: int) -> None:
    """A left click (press and release) at 0-based ``col``/``row``, as an SGR mouse report (1-based)."""
    tm.keys("-l", f"\x1b[<0;{col + 1};{row + 1}M")
    tm.keys("-l", f"\x1b[<0;{col + 1};{row + 1}m")


def _running_untouched(screen: str) -> bool:
    flat = " ".join(screen.split())
    return ("RUNNING" in flat and "PAUSED" not in flat and "FLATTEN ARMED" not in flat
            and "FLATTENING" not in flat and "HALTED" not in flat and "flatten started" not in flat)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_paste_and_footer_clicks_fire_nothing_and_q_asks(shared_data, tmp_path):
    tm = Tmux(shared_data(DATA), tmp_path, speed=20)
    try:
        screen = _wait_for(tm.capture, "RUNNING")
        # 1. "grep OFF" pasted without bracketed paste: one write, keys read together.
        tm.keys("-l", "grep OFF")
        time.sleep(1.5)
        screen = tm.capture()
        assert _running_untouched(screen), screen
        # 2. Clicks on the footer's FLATTEN: a double click, then one more.
        lines = screen.splitlines()
        (row,) = [i for i, line in enumerate(lines) if "FLATTEN" in line and "Pause" in line]
        col = lines[row].index("FLATTEN")
        for _ in range(3):
            _click(tm, col, row)
            time.sleep(0.05)
        time.sleep(1.5)
        screen = tm.capture()
        assert _running_untouched(screen), screen
        # 3. A stray q while RUNNING asks first; Escape stays.
        tm.keys("q")
        _wait_for(tm.capture, "Quit the console?", timeout=5)
        tm.keys("Escape")
        time.sleep(0.5)
        screen = tm.capture()
        assert "Quit the console?" not in screen and _running_untouched(screen), screen
        assert "Traceback" not in screen
    finally:
        tm.close()
