"""Every column header of Orders, Funding and Signals read from a real terminal (tmux) at 120x40 and 80x24:
``kraken-tui`` replaying ETH, the screen read with ``capture-pane`` (pages turned with Tab where the
layout pages its panels). Skips without tmux or the shared data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kraken_tui.ui.widgets import funding, orders, signals

pytestmark = pytest.mark.slow
DATA = "kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv"


class Term:
    """``kraken-tui`` replaying ``csv`` at ``speed`` x in a detached tmux window of ``width`` x ``height`` on a
    private server."""

    def __init__(self, csv: Path, tmp_path: Path, width: int, height: int, speed: int = 300) -> None:
        exe = Path(sys.executable).with_name("kraken-tui")
        self.tm = ["tmux", "-L", f"kt-{uuid.uuid4().hex[:8]}"]
        run = tmp_path / "run"
        run.mkdir(mode=0o700)
        cmd = (f"env HOME={tmp_path} XDG_RUNTIME_DIR={run} XDG_DATA_HOME={tmp_path}/data "
               f"XDG_STATE_HOME={tmp_path}/state XDG_CONFIG_HOME={tmp_path}/config TERM=xterm-256color {exe} "
               f"--replay {csv} --symbol-map ETHUSD=PF_ETHUSD --speed {speed} --journal {tmp_path}/journal.sqlite; "
               f"sleep 30")
        subprocess.run([*self.tm, "new-session", "-d", "-s", "kt", "-x", str(width), "-y", str(height),
                        "-c", str(tmp_path), cmd], check=True)
        subprocess.run([*self.tm, "resize-window", "-t", "kt", "-x", str(width), "-y", str(height)],
                       capture_output=True)

    def size(self) -> str:
        return self.tmux("display", "-p", "-t", "kt", "#{window_width}x#{window_height}").strip()

    def tmux(self, *args: str) -> str:
        return subprocess.run([*self.tm, *args], capture_output=True, text=True).stdout

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "kt")

    def close(self) -> None:
        subprocess.run([*self.tm, "kill-server"], capture_output=True)


def _headers(module) -> set[str]:
    """The header lines a table may show: its full column set and its compact one."""
    sets = [module.COLUMNS, getattr(module, "COMPACT", module.COLUMNS)]
    return {" ".join(label for label, _key, _w in cols) for cols in sets}


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_every_column_header_is_read_from_the_screen(shared_data, tmp_path, size):
    term = Term(shared_data(DATA), tmp_path, *size)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "REPLAY" not in term.capture():
            time.sleep(0.25)
        assert term.size() == f"{size[0]}x{size[1]}"
        time.sleep(1.0)
        screens = [term.capture()]
        for _ in range(2):  # the paged layouts: the other pages
            term.tmux("send-keys", "-t", "kt", "Tab")
            time.sleep(1.0)
            screens.append(term.capture())
        lines = [" ".join(line.strip("│ ").split()) for s in screens for line in s.splitlines()]
        for name, module in (("Orders", orders), ("Funding", funding), ("Signals", signals)):
            assert any(f"╭─ {name}" in s for s in screens), name
            assert any(h in line for h in _headers(module) for line in lines), (name, _headers(module), screens)
            for s in screens:
                assert "Traceback" not in s
    finally:
        term.close()
