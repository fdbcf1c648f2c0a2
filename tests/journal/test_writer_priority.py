"""The journal writer's priority lane (``JournalWriter.commit_now`` / ``flush_now``; journal.writer module
docstring, "Durability and order"): everything written before it is committed when it resolves, in write
order, even with the writer thread's own transaction in flight; a failed priority commit loses nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from kraken_tui.journal import writer as writer_mod
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_fills
from kraken_tui.journal.records import RunStarted
from kraken_tui.journal.writer import JournalWriter
from tests.journal.factory import fill

RUN = RunStarted("run-prio", 1, "paper", "h", "0.1")


def _fill_ids(path) -> list[str]:
    conn = open_db(path, create=False)
    try:
        return [f.fill_id for f in load_fills(conn)]
    finally:
        conn.close()


async def test_commit_now_commits_everything_written_before_it_before_returning(tmp_path):
    w = JournalWriter(tmp_path / "j.sqlite")
    await w.start()
    await w.write(RUN)
    for i in range(3):
        w.write_nowait(fill(f"p{i}", "PF_XBTUSD", "buy", "1", "100", i))
    done = w.commit_now()
    # committed before any other task ran: a reader already sees every record written before the call
    assert _fill_ids(tmp_path / "j.sqlite") == ["p0", "p1", "p2"]
    await done
    assert w.priority_commits == 1 and w.committed_records == 4 and w.pending == 0
    await w.close()


async def test_commit_now_waits_for_the_transaction_in_flight_and_keeps_write_order(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_LANE_WAIT_S", 10.0)  # the thread's transaction ends within the wait
    w = JournalWriter(tmp_path / "j.sqlite")
    await w.start()
    await w.write(RUN)
    await w.flush()
    gate = threading.Event()
    in_thread = threading.Event()
    real = writer_mod._transaction

    def held(conn, stmts, one_by_one):  # the writer thread's transaction is held until the gate opens
        if threading.current_thread().name.startswith("journal-writer"):
            in_thread.set()
            assert gate.wait(10)
        return real(conn, stmts, one_by_one)

    monkeypatch.setattr(writer_mod, "_transaction", held)
    for i in range(3):
        await w.write(fill(f"a{i}", "PF_XBTUSD", "buy", "1", "100", i))
    for _ in range(200):  # the writer task takes a0..a2 and hands them to its thread
        if in_thread.is_set():
            break
        await asyncio.sleep(0.005)
    assert in_thread.is_set() and w.pending == 0
    for i in range(3):
        w.write_nowait(fill(f"b{i}", "PF_XBTUSD", "sell", "1", "101", 10 + i))
    threading.Timer(0.2, gate.set).start()  # the thread's transaction ends while commit_now waits for it
    done = w.commit_now()
    assert _fill_ids(tmp_path / "j.sqlite") == ["a0", "a1", "a2", "b0", "b1", "b2"]  # write order
    await done
    await w.close()


async def test_a_failed_priority_commit_is_retried_and_loses_nothing(tmp_path, monkeypatch):
    errors = []
    w = JournalWriter(tmp_path / "j.sqlite", on_error=errors.append)
    await w.start()
    await w.write(RUN)
    await w.flush()
    real = writer_mod._transaction
    failures = {"left": 1}

    def flaky(conn, stmts, one_by_one):
        if stmts and failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return real(conn, stmts, one_by_one)

    monkeypatch.setattr(writer_mod, "_transaction", flaky)
    w.write_nowait(fill("x1", "PF_XBTUSD", "buy", "1", "100", 1))
    await asyncio.wait_for(w.flush_now(), 5)
    assert _fill_ids(tmp_path / "j.sqlite") == ["x1"]
    await w.close()


async def test_flush_now_with_nothing_queued_returns_and_write_nowait_refuses_when_full(tmp_path):
    w = JournalWriter(tmp_path / "j.sqlite", queue_max=1)
    await w.start()
    await w.flush_now()  # nothing written: returns at once
    w.write_nowait(RUN)
    try:
        w.write_nowait(fill("f", "PF_XBTUSD", "buy", "1", "100", 1))
    except asyncio.QueueFull:
        pass
    else:
        raise AssertionError("write_nowait must refuse on a full queue (nothing is dropped silently)")
    await w.flush_now()
    assert w.committed_records == 1
    await w.close()


async def test_a_stuck_writer_thread_gets_the_priority_records_after_it_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_LANE_WAIT_S", 0.01)
    w = JournalWriter(tmp_path / "j.sqlite")
    await w.start()
    await w.write(RUN)
    await w.flush()
    gate = threading.Event()
    in_thread = threading.Event()
    real = writer_mod._transaction

    def held(conn, stmts, one_by_one):
        if threading.current_thread().name.startswith("journal-writer") and stmts:
            in_thread.set()
            assert gate.wait(10)
        return real(conn, stmts, one_by_one)

    monkeypatch.setattr(writer_mod, "_transaction", held)
    await w.write(fill("a0", "PF_XBTUSD", "buy", "1", "100", 0))
    for _ in range(200):
        if in_thread.is_set():
            break
        await asyncio.sleep(0.005)
    assert in_thread.is_set()
    w.write_nowait(fill("b0", "PF_XBTUSD", "sell", "1", "101", 1))
    done = w.commit_now()  # returns (the loop is not frozen) with the thread still stuck
    assert not done.done() and _fill_ids(tmp_path / "j.sqlite") == []
    gate.set()
    await asyncio.wait_for(done, 10)
    assert _fill_ids(tmp_path / "j.sqlite") == ["a0", "b0"]
    await w.close()


async def test_a_job_alongside_the_commit_runs_on_the_writer_thread_once_its_rows_are_in_and_never_breaks_it(tmp_path):
    """``commit_now(alongside=job)``: the job is handed to the writer thread right before COMMIT (its records
    already inserted in the open transaction, so another connection does not see them yet), and a job that raises
    changes nothing for the commit."""
    path = tmp_path / "j.sqlite"
    w = JournalWriter(path)
    await w.start()
    await w.write(RUN)
    await w.flush()
    seen: list[tuple[str, bool]] = []
    ran = threading.Event()

    def job() -> None:
        with sqlite3.connect(path) as conn:  # a reader: the lane's transaction is not committed before the job
            seen.append((threading.current_thread().name,
                         conn.execute("SELECT 1 FROM fills WHERE fill_id='j1'").fetchone() is not None))
        ran.set()

    w.write_nowait(fill("j1", "PF_XBTUSD", "buy", "1", "100", 1))
    await w.commit_now(job)
    assert _fill_ids(path) == ["j1"]
    assert await asyncio.to_thread(ran.wait, 5)
    assert seen and seen[0][0].startswith("journal-writer")

    def boom() -> None:
        raise RuntimeError("job failed")

    w.write_nowait(fill("j2", "PF_XBTUSD", "buy", "1", "100", 2))
    await w.commit_now(boom)
    await w.close()
    assert _fill_ids(path) == ["j1", "j2"]


async def test_another_process_lock_holds_the_lane_briefly_and_the_thread_waits_it_out(tmp_path):
    """The priority lane waits ``_LANE_BUSY_MS`` at most for another connection's write lock (then its records go
    to the writer thread); the writer thread waits out a lock shorter than ``db.BUSY_TIMEOUT_MS`` without
    reporting a failure; the connection's busy timeout is the lane's again after each thread transaction."""
    errors = []
    w = JournalWriter(tmp_path / "j.sqlite", on_error=errors.append, linger_s=0)
    await w.start()
    await w.write(RUN)
    await w.flush()  # one thread transaction ran: the lane's busy timeout is back
    other = sqlite3.connect(tmp_path / "j.sqlite", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        w.write_nowait(fill("q0", "PF_XBTUSD", "buy", "1", "100", 0))
        loop = asyncio.get_running_loop()
        t = loop.time()
        done = w.commit_now()
        blocked_s = loop.time() - t
        assert not done.done()  # handed to the writer thread, which waits for the lock
        assert blocked_s < 1.0  # the lane gave up after _LANE_BUSY_MS, not BUSY_TIMEOUT_MS (5 s)
        await asyncio.sleep(0.3)  # the thread keeps waiting for the lock (longer than the lane's timeout)
        assert not done.done()
    finally:
        other.execute("ROLLBACK")
        other.close()
    await asyncio.wait_for(done, 10)
    assert errors == [] and _fill_ids(tmp_path / "j.sqlite") == ["q0"]
    assert w._conn is not None and w._conn.execute("PRAGMA busy_timeout").fetchone()[0] == writer_mod._LANE_BUSY_MS
    await w.close()
