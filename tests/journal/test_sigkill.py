"""A writer killed with SIGKILL at random points, many times: the journal always opens, passes the
integrity check, and holds every fill the child knew was committed, exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kraken_tui.journal.db import open_db
from tests.conftest import REPO

ROUNDS = 20
#: Rounds are added past ``ROUNDS`` until the child has committed this many fills (on a loaded machine a round's
#: random 0-150 ms commits less), up to ``MAX_ROUNDS``.
MIN_COMMITTED, MAX_ROUNDS = 100, 80


def _committed(side: Path) -> list[str]:
    lines = side.read_text().split("\n") if side.exists() else []
    return [c for c in lines[:-1] if c]  # the last line may be cut by the kill


@pytest.mark.slow
def test_sigkill_many_times_loses_no_committed_fill(tmp_path):
    path = tmp_path / "j.sqlite"
    side = tmp_path / "committed.txt"
    rng = random.Random(1234)
    child = REPO / "tests" / "journal" / "sigkill_child.py"
    rnd = 0
    while rnd < ROUNDS or (len(_committed(side)) <= MIN_COMMITTED and rnd < MAX_ROUNDS):
        proc = subprocess.Popen([sys.executable, str(child), str(path), str(side), str(rnd)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                                env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        line = proc.stdout.readline()
        assert line.strip() == b"ready", proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        # every round: the journal opens (hot WAL recovered) and passes the full integrity check
        conn = open_db(path, create=False)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        rnd += 1
    committed = _committed(side)
    conn = open_db(path, create=False)
    rows = [r[0] for r in conn.execute("SELECT fill_id FROM fills")]
    conn.close()
    assert len(rows) == len(set(rows))  # no fill twice, replays included
    missing = set(committed) - set(rows)
    assert not missing, f"{len(missing)} committed fills lost, e.g. {sorted(missing)[:3]}"
    assert len(committed) > MIN_COMMITTED  # the child really wrote between kills
