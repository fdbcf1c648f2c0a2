"""A journal that cannot write is seen at once (journal.writer): start-up refuses it (JournalError, exit 4, naming
the file); a commit failing at run time (disk full, database locked) tells the health listeners, fails the flushes
waiting on it and every later flush at once, keeps the records and commits them when the disk recovers. The
engine side (engine.controls ``journal_health``): entries blocked with a CRITICAL alert, unblocked on recovery.
Failures at run time are simulated at the writer's boundary (``sqlite3.OperationalError`` from its transaction)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import subprocess

import pytest

from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.controls import JOURNAL_BLOCKER, OperatorControls
from kraken_tui.engine.facade import Severity
from kraken_tui.engine.guards import EquityGuard
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.errors import JournalError
from kraken_tui.journal.records import EventSource, OperatorAction
from kraken_tui.journal.writer import JournalWriter


def _action(i: int) -> OperatorAction:
    return OperatorAction(1_700_000_000_000 + i, "pause", f"r{i}", EventSource.KEY)


def _make_read_only(path) -> bool:
    """chmod 0444, or (as root, whom permissions do not stop) the immutable attribute; False when neither holds."""
    os.chmod(path, 0o444)
    if not os.access(path, os.W_OK):
        return True
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return True
    return False


async def test_start_up_refuses_a_read_only_journal(tmp_path):
    path = tmp_path / "j.sqlite"
    w = JournalWriter(path)
    await w.start()
    await w.write(_action(0))
    await w.close()
    if not _make_read_only(path):
        pytest.skip("cannot make a file read-only here")
    try:
        with pytest.raises(JournalError) as err:
            await JournalWriter(path).start()
        assert str(path) in str(err.value) and "cannot write" in str(err.value) and err.value.exit_code == 4
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)  # noqa: ASYNC221 (clean-up of a tmp file)
        os.chmod(path, 0o600)


async def test_start_up_refuses_a_journal_whose_write_probe_fails(tmp_path, monkeypatch):
    async def probe(conn):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(JournalWriter, "_probe", staticmethod(probe))
    with pytest.raises(JournalError, match="cannot write to it .attempt to write a readonly database"):
        await JournalWriter(tmp_path / "j.sqlite").start()


async def test_a_new_journal_is_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        w = JournalWriter(tmp_path / "j.sqlite")
        await w.start()
        await w.write(_action(0))
        await w.flush()
        await w.close()
    finally:
        os.umask(old)
    for p in tmp_path.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


@pytest.mark.parametrize("message", ["database or disk is full", "database is locked"])
async def test_a_failing_commit_is_seen_at_once_and_nothing_is_lost(tmp_path, monkeypatch, message):
    w = JournalWriter(tmp_path / "j.sqlite")
    await w.start()
    seen: list[JournalError | None] = []
    w.add_health_listener(seen.append)
    real = w._transaction
    failing = asyncio.Event()
    failing.set()

    async def transaction(stmts, *, one_by_one):
        if failing.is_set():
            raise sqlite3.OperationalError(message)
        return await real(stmts, one_by_one=one_by_one)

    monkeypatch.setattr(w, "_transaction", transaction)
    await w.write(_action(1))
    with pytest.raises(JournalError, match="journal cannot write"):
        await asyncio.wait_for(w.flush(), timeout=5)  # fails (after fail_after_s), never hangs
    assert seen and seen[0] is not None and message in seen[0].reason
    assert w.failure is not None and message in w.failure
    with pytest.raises(JournalError, match=message):
        await asyncio.wait_for(w.flush(), timeout=0.5)  # every later flush too, while it cannot write
    await w.write(_action(2))  # writes are still accepted (queued, never dropped)
    failing.clear()  # the disk recovers
    for _ in range(200):
        if seen[-1] is None:
            break
        await asyncio.sleep(0.05)
    assert seen[-1] is None and w.failure is None
    await w.flush()
    await w.close()
    with sqlite3.connect(tmp_path / "j.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_the_engine_blocks_entries_with_a_critical_alert_and_unblocks_on_recovery():
    events: list[tuple[str, Severity]] = []
    sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "start")
    io = EngineIO(lambda kind, msg, **kw: events.append((msg, kw.get("severity", Severity.INFO))), lambda: 0,
                  None, lambda r: None, lambda n, j: None)  # type: ignore[arg-type]
    controls = OperatorControls(io, sm, equity=EquityGuard(5.0, 5.0), acknowledge=list, unacknowledged=lambda: False)
    controls.journal_health(JournalError("/x/j.sqlite", "database or disk is full"))
    assert not sm.entries_allowed and sm.state is OperatorState.RUNNING  # exits go on
    assert sm.entry_blockers == {JOURNAL_BLOCKER: "database or disk is full"}
    assert events[-1] == ("journal cannot write: database or disk is full; new entries blocked, exits go on",
                          Severity.CRITICAL)
    assert "journal cannot write" in (sm.entry_rejection_reason() or "")
    controls.journal_health(None)
    assert sm.entries_allowed and events[-1][1] is Severity.INFO
