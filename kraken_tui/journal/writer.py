"""The journal's single writer: a bounded queue drained by one task that owns the only write connection.

Owns: ordering, batching, transactions, back-pressure, retry and drain-on-shutdown of journal writes.
Producers call ``await writer.write(record)``: the record is validated and encoded on the spot (a bad
record raises at the call site) and put on the queue; that returns at once unless the queue is full,
so the engine never waits on disk. When the queue is full the producer waits for room (back-pressure):
nothing is ever dropped. The writer task takes everything queued (up to ``batch_max`` statements' worth
of records), commits it in ONE short transaction through aiosqlite (whose own thread does the disk I/O
and fsync, off the event loop), then resolves pending ``flush()`` calls. A transient SQLite error
(disk full, I/O error, lock) keeps the batch and retries with capped back-off, reporting through
``error``/``on_error``; a record that violates a constraint is isolated and logged, the rest commits.
Failures are seen at once: the first failed commit tells every health listener (``add_health_listener``:
a ``JournalError``, then None once writes recovered); a failure that lasts ``fail_after_s`` fails the
``flush()`` calls waiting on that batch, and every later ``flush()`` raises at once while it lasts (a producer that must not wait on
disk - an exit, a flatten - goes on; one that needs a durable record - an entry - does not).
Start-up refuses a journal it cannot write: ``start`` makes a write that it rolls back (a read-only file or
folder, a locked or full database raise ``JournalError``, CLI exit 4, naming the file).
Readers never use this connection: they open their own (WAL lets them read while this one writes).
Must not import: textual, the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiosqlite

from kraken_tui.errors import JournalError
from kraken_tui.journal.db import connection_pragmas, open_db
from kraken_tui.journal.encode import JournalRecord, Statement, encode
from kraken_tui.journal.records import RunStarted, RunStopped

__all__ = ["JournalWriter"]

log = logging.getLogger("kraken_tui.journal")

_STOP = object()
#: What the queue carries: a record's statements, a flush waiter, or ``_STOP``.
_Item = tuple[Statement, ...] | asyncio.Future[None] | object


class JournalWriter:
    """Asynchronous, ordered, batched, never-dropping writer of journal records.

    Usage::

        writer = JournalWriter(path)
        await writer.start()                 # opens, checks integrity, migrates (JournalError if not)
        await writer.write(RunStarted(...))  # tags every later record with this run id
        await writer.write(fill)             # domain.Fill, Order, OrderResult or a journal record
        await writer.flush()                 # wait until everything written so far is committed
        await writer.close()                 # drains the queue, then closes the connection

    Args:
        path: the journal file (see ``db.resolve_journal_path``).
        queue_max: records the queue holds before producers wait (back-pressure), > 0.
        batch_max: most records committed in one transaction.
        synchronous: SQLite ``synchronous`` for this connection; FULL by default (``db`` explains why).
        on_error: called (on the event loop) with a ``JournalError`` when a commit fails and is being
            retried, or when a record was refused by a constraint; the engine can pause on it.
        fail_after_s: how long a commit may keep failing (retried) before the flushes waiting on it fail and
            later flushes fail at once, seconds (a transient error shorter than this is invisible to them).
    """

    def __init__(
        self,
        path: Path,
        *,
        queue_max: int = 10_000,
        batch_max: int = 200,
        synchronous: str = "FULL",
        on_error: Callable[[JournalError], None] | None = None,
        fail_after_s: float = 1.0,
    ) -> None:
        if queue_max <= 0 or batch_max <= 0:
            raise ValueError("queue_max and batch_max must be > 0")
        connection_pragmas(synchronous)  # validates the value early
        self.path = Path(path)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_max)
        self._batch_max = batch_max
        self._synchronous = synchronous
        self._on_error = on_error
        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._run_id: str | None = None
        self.error: JournalError | None = None
        """The last commit failure while it is being retried; None when writes are healthy."""
        self._health: list[Callable[[JournalError | None], None]] = []
        self._fail_after_s = fail_after_s
        self._failing = False
        self._flushes: set[asyncio.Future[None]] = set()
        self.committed_records = 0
        """Records committed so far (each ``write`` call counts one)."""
        self.rejected_records = 0
        """Records refused by a database constraint (logged at ERROR and reported via ``on_error``)."""

    # ------------------------------------------------------------------ lifecycle

    @property
    def run_id(self) -> str | None:
        """The id of the current run (from the last ``RunStarted``), or None."""
        return self._run_id

    def add_health_listener(self, listener: Callable[[JournalError | None], None]) -> None:
        """Call ``listener(error)`` (on the event loop) when commits start failing (a ``JournalError`` saying
        why: read-only, disk full, locked...) and ``listener(None)`` when they succeed again. Exceptions from
        it are logged and ignored."""
        self._health.append(listener)

    @property
    def failure(self) -> str | None:
        """Why the journal cannot write now (the failing commit's error), None while writes are healthy."""
        return None if self.error is None else self.error.reason

    @property
    def pending(self) -> int:
        """Records queued but not yet taken by the writer task."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the journal (creating, checking and migrating it in a worker thread) and start the task.

        Raises:
            JournalError: the file is unusable (see ``db.open_db``).
        """
        if self._task is not None:
            raise RuntimeError("JournalWriter already started")
        sync_conn = await asyncio.to_thread(open_db, self.path, create=True, synchronous=self._synchronous)
        sync_conn.close()
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in connection_pragmas(self._synchronous):
                await conn.execute(pragma)
        except sqlite3.Error as exc:
            raise JournalError(str(self.path), f"cannot open for writing ({exc})") from None
        try:
            await self._probe(conn)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await conn.close()
            raise JournalError(str(self.path), f"cannot write to it ({exc})",
                               hint="check the permissions of the file and its folder, the free disk space, and "
                                    "that no other program holds it locked") from None
        _owner_only(self.path)
        self._conn = conn
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    @staticmethod
    async def _probe(conn: aiosqlite.Connection) -> None:
        """A write that is rolled back: raises ``sqlite3.Error`` when the journal cannot be written."""
        await conn.execute("BEGIN IMMEDIATE")
        try:
            cur = await conn.execute("PRAGMA user_version")
            row = await cur.fetchone()
            await conn.execute(f"PRAGMA user_version={int(row[0]) if row else 0}")
        finally:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting records, commit everything queued, close the connection.

        Raises:
            JournalError: the queue could not be drained within ``timeout_s`` (the message says how
                many records were not written), or the writer task had failed.
        """
        if self._task is None or self._closing:
            return
        self._closing = True
        task = self._task
        if not task.done():
            await self._put(_STOP)
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        lost = self._queue.qsize()
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self._conn.close()
            self._conn = None
        if not done:
            raise JournalError(str(self.path), f"could not drain the write queue in {timeout_s} s; "
                               f"about {lost} records were not written", hint=str(self.error or ""))
        if task.exception() is not None:
            raise JournalError(str(self.path), f"the writer failed: {task.exception()}")

    # ------------------------------------------------------------------ producers

    async def write(self, record: JournalRecord) -> None:
        """Queue one record. Returns without waiting on disk unless the queue is full.

        A ``RunStarted`` makes its ``run_id`` the tag of every later record; ``RunStopped`` ends it.

        Raises:
            TypeError, ValueError: the record cannot be stored (raised here, before queueing).
            JournalError: the writer is closed or has failed.
        """
        if self._task is None or self._closing or self._task.done():
            raise JournalError(str(self.path), "the journal writer is not running", hint=str(self.error or ""))
        if isinstance(record, RunStarted):
            self._run_id = record.run_id
        stmts = encode(record, self._run_id)
        if isinstance(record, RunStopped):
            self._run_id = None
        await self._put(tuple(stmts))  # a tuple of atomics: the GC stops tracking it (no list in the queue)

    async def flush(self) -> None:
        """Wait until every record queued before this call is committed (durable per ``synchronous``).

        Raises:
            JournalError: the writer is not running.
        """
        if self._task is None or self._task.done():
            raise JournalError(str(self.path), "the journal writer is not running", hint=str(self.error or ""))
        if self._failing and self.error is not None:
            raise JournalError(str(self.path), f"journal cannot write: {self.error.reason}")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.add(fut)
        try:
            await self._put(fut)
            await asyncio.wait({fut, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._flushes.discard(fut)
        if not fut.done():
            raise JournalError(str(self.path), "the writer stopped before the flush completed")
        fut.result()  # raises the JournalError of a commit that failed

    async def _put(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            pass
        # Slow path (back-pressure): wait for room, but never past the writer's death.
        assert self._task is not None
        putter = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({putter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not putter.done():
            putter.cancel()
            raise JournalError(str(self.path), "the journal writer stopped; the record was not queued")

    # ------------------------------------------------------------------ the writer task

    async def _run(self) -> None:
        stopping = False
        while True:
            if stopping and self._queue.empty():
                return
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            stmts: list[Statement] = []
            waiters: list[asyncio.Future[None]] = []
            n_records = 0
            stop = False
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, asyncio.Future):
                    waiters.append(item)
                elif isinstance(item, tuple):
                    stmts.extend(item)
                    n_records += 1
            if stmts:
                await self._commit(stmts, waiters)
                self.committed_records += n_records
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            stopping = stopping or stop

    async def _commit(self, stmts: list[Statement], waiters: list[asyncio.Future[None]]) -> None:
        delay_s = 0.05
        retried = False
        one_by_one = False
        since = asyncio.get_running_loop().time()
        while True:
            try:
                await self._transaction(stmts, one_by_one=one_by_one)
                break
            except sqlite3.IntegrityError:
                one_by_one = True  # isolate the refused record(s); the others commit
            except sqlite3.Error as exc:
                first = not retried
                retried = True
                err = JournalError(str(self.path), f"commit failed, retrying in {delay_s:.2f} s: {exc}")
                self._report(err)
                if first:
                    self._tell_health(JournalError(str(self.path), str(exc)))
                if not self._failing and asyncio.get_running_loop().time() - since >= self._fail_after_s:
                    self._failing = True
                    for fut in [*waiters, *self._flushes]:  # a flush must not wait for ever on a stuck disk
                        if not fut.done():
                            fut.set_exception(JournalError(str(self.path), f"journal cannot write: {exc}"))
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
        if retried:
            log.warning("journal %s: writes recovered", self.path)
            self.error = None
            self._failing = False
            self._tell_health(None)

    async def _transaction(self, stmts: list[Statement], *, one_by_one: bool) -> None:
        conn = self._conn
        assert conn is not None
        await conn.execute("BEGIN")
        try:
            if one_by_one:
                for sql, params in stmts:
                    try:
                        await conn.execute(sql, params)
                    except sqlite3.IntegrityError as exc:
                        self.rejected_records += 1
                        table = sql.split("(")[0].strip()
                        self._report(JournalError(str(self.path), f"record refused ({table}): {exc}; {params!r}"))
            else:
                for sql, group in itertools.groupby(stmts, key=lambda s: s[0]):
                    await conn.executemany(sql, [p for _, p in group])
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    def _tell_health(self, err: JournalError | None) -> None:
        for listener in list(self._health):
            try:
                listener(err)
            except Exception:  # a broken listener must not stop the writer
                log.exception("journal health listener failed")

    def _report(self, err: JournalError) -> None:
        self.error = err
        log.error("%s", err)
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:  # a broken callback must not stop the writer
                log.exception("journal on_error callback failed")


def _owner_only(path: Path) -> None:
    """Make the journal and its WAL/shared-memory files readable and writable by their owner only (0600),
    whatever the umask; a file that cannot be changed (another owner) is left as it is."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if p.exists() and p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)
