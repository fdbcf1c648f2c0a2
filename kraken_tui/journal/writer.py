"""The journal's single writer: a bounded queue drained by one task; one thread owns the only write connection.

Owns: ordering, batching, transactions, back-pressure, retry and drain-on-shutdown of journal writes, and the
priority lane (``flush_now``).
Producers call ``await writer.write(record)`` (or ``write_nowait`` from synchronous code): the record is
validated, encoded and, behind a backlog of ``_PACK_FROM`` queued records, packed (``_pack``: bytes, nothing for
the garbage collector to walk) on the spot (a bad record raises at the call site) and put on the queue; that returns
at once unless the queue is full, so the engine never waits on disk. When the queue is full the producer
waits for room (back-pressure): nothing is ever dropped. The writer task takes everything queued (up to
``batch_max`` records), hands it to the writer's own thread, which runs the whole transaction (BEGIN, the
inserts, COMMIT with its fsync) in ONE hop off the event loop, then resolves pending ``flush()`` calls.
A transient SQLite error (disk full, I/O error, lock) keeps the batch and retries with capped back-off,
reporting through ``error``/``on_error``; a record that violates a constraint is isolated and logged, the
rest commits.
Failures are seen at once: the first failed commit tells every health listener (``add_health_listener``:
a ``JournalError``, then None once writes recovered); a failure that lasts ``fail_after_s`` fails the
``flush()`` calls waiting on that batch, and every later ``flush()`` raises at once while it lasts (a producer that must not wait on
disk - an exit, a flatten - goes on; one that needs a durable record - an entry - does not).

Durability and order (the rule the engine relies on; docs/architecture.md, "Journal"):
- A record is durable (``synchronous=FULL``: fsynced) once a ``flush()`` / ``flush_now()`` / ``commit_now()``
  called after its ``write`` returned has completed. An order's intent is written and ``commit_now()``
  awaited BEFORE the order's request is sent, and a flatten's FLATTENING BEFORE its first request: work that
  sends no bytes (building, signing) may run before or meanwhile; the request's bytes never leave before the
  commit returned. ``commit_now(alongside=job)`` runs such work on the writer thread during the fsync (engine.execution signs
  the order's request there); the caller never relies on it having run.
- Commits happen in write order. The writer task hands each batch to the writer thread in the same loop
  step that takes it off the queue; ``commit_now`` (the priority lane) takes EVERYTHING queued so far,
  waits (GIL released) for the thread's transaction in flight, which holds the records taken before, and
  then commits its records in one transaction on the calling thread, skipping ``batch_max`` and the writer
  task's wake-up. The two never use the connection at once. While a failed transaction is being retried,
  a later one may land first; the lane then waits behind the retry before it reports success.
Start-up refuses a journal it cannot write: ``start`` makes a write that it rolls back (a read-only file or
folder, a locked or full database raise ``JournalError``, CLI exit 4, naming the file).
Readers never use this connection: they open their own (WAL lets them read while this one writes).
Must not import: textual, the engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import marshal
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from kraken_tui.errors import JournalError
from kraken_tui.journal.db import BUSY_TIMEOUT_MS, connection_pragmas, open_db
from kraken_tui.journal.encode import JournalRecord, Statement, encode
from kraken_tui.journal.records import RunStarted, RunStopped

__all__ = ["JournalWriter"]

log = logging.getLogger("kraken_tui.journal")

_STOP = object()
#: One record's statements as queued: packed into bytes (``_pack``), or as a tuple when they cannot be packed.
_Packed = bytes | tuple[Statement, ...]
#: What the queue carries: a record's packed statements, a flush waiter, or ``_STOP``.
_Item = _Packed | asyncio.Future[None] | object
#: A record refused by a constraint inside a transaction: (table, the error text, the parameters).
_Refusal = tuple[str, str, tuple[object, ...]]


class JournalWriter:
    """Asynchronous, ordered, batched, never-dropping writer of journal records.

    Usage::

        writer = JournalWriter(path)
        await writer.start()                 # opens, checks integrity, migrates (JournalError if not)
        await writer.write(RunStarted(...))  # tags every later record with this run id
        await writer.write(fill)             # domain.Fill, Order, OrderResult or a journal record
        await writer.flush()                 # wait until everything written so far is committed
        await writer.flush_now()             # the same, committed at once in one transaction (priority lane)
        await writer.close()                 # drains the queue, then closes the connection

    Args:
        path: the journal file (see ``db.resolve_journal_path``).
        queue_max: records the queue holds before producers wait (back-pressure), > 0.
        batch_max: most records committed in one transaction by the writer task (``flush_now`` takes all).
        synchronous: SQLite ``synchronous`` for this connection; FULL by default (``db`` explains why).
        on_error: called (on the event loop) with a ``JournalError`` when a commit fails and is being
            retried, or when a record was refused by a constraint; the engine can pause on it.
        fail_after_s: how long a commit may keep failing (retried) before the flushes waiting on it fail and
            later flushes fail at once, seconds (a transient error shorter than this is invisible to them).
        linger_s: how long the writer task lets records gather after the first one before it takes a batch,
            seconds (fewer, larger transactions; an intent that follows a burst of records within it is
            committed with them in one fsync by ``commit_now``).
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
        linger_s: float = 0.002,
    ) -> None:
        if queue_max <= 0 or batch_max <= 0:
            raise ValueError("queue_max and batch_max must be > 0")
        if not 0 <= linger_s <= 1:
            raise ValueError(f"linger_s must be within 0..1 s, got {linger_s!r}")
        connection_pragmas(synchronous)  # validates the value early
        self.path = Path(path)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_max)
        self._batch_max = batch_max
        self._linger_s = linger_s
        self._held: list[_Item] = []  # what the writer task took off the queue while it lingers
        self._thread_commits = 0
        self._synchronous = synchronous
        self._on_error = on_error
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._run_id: str | None = None
        self.error: JournalError | None = None
        """The last commit failure while it is being retried; None when writes are healthy."""
        self._health: list[Callable[[JournalError | None], None]] = []
        self._fail_after_s = fail_after_s
        self._failing = False
        self._retrying = 0  # transactions that failed and are being retried
        self._priority_retries: set[asyncio.Future[None]] = set()
        self._thread_jobs: set[Future[list[_Refusal]]] = set()  # transactions handed to the thread, not relayed
        self._flushes: set[asyncio.Future[None]] = set()
        self.committed_records = 0
        """Records committed so far (each ``write`` call counts one)."""
        self.rejected_records = 0
        """Records refused by a database constraint (logged at ERROR and reported via ``on_error``)."""
        self.priority_commits = 0
        """Transactions committed through the priority lane (``flush_now``)."""

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
        """Records (and flush markers) queued or held by the lingering writer task, not yet committing."""
        return self._queue.qsize() + len(self._held)

    async def start(self) -> None:
        """Open the journal (creating, checking and migrating it in a worker thread) and start the task.

        Raises:
            JournalError: the file is unusable (see ``db.open_db``).
        """
        if self._task is not None:
            raise RuntimeError("JournalWriter already started")
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-writer")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(thread, lambda: _open_writer(self.path, self._synchronous))
        except BaseException:
            thread.shutdown(wait=False)
            raise
        try:
            await self._probe(conn)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            thread.shutdown(wait=False)
            raise JournalError(str(self.path), f"cannot write to it ({exc})",
                               hint="check the permissions of the file and its folder, the free disk space, and "
                                    "that no other program holds it locked") from None
        _owner_only(self.path)
        self._conn, self._thread = conn, thread
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    @staticmethod
    async def _probe(conn: sqlite3.Connection) -> None:
        """A write that is rolled back: raises ``sqlite3.Error`` when the journal cannot be written."""

        def probe() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("PRAGMA user_version").fetchone()
                conn.execute(f"PRAGMA user_version={int(row[0]) if row else 0}")
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            conn.execute(_BUSY_LANE)  # the connection's resting busy timeout: the priority lane's (_BUSY_LANE)

        await asyncio.to_thread(probe)

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
        lost = self._queue.qsize() + len(self._held)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_connection()
        if not done:
            raise JournalError(str(self.path), f"could not drain the write queue in {timeout_s} s; "
                               f"about {lost} records were not written", hint=str(self.error or ""))
        if task.exception() is not None:
            raise JournalError(str(self.path), f"the writer failed: {task.exception()}")

    async def _close_connection(self) -> None:
        conn, thread = self._conn, self._thread
        self._conn = self._thread = None
        if conn is not None and thread is not None:
            with contextlib.suppress(sqlite3.Error, RuntimeError):
                await asyncio.get_running_loop().run_in_executor(thread, conn.close)
        if thread is not None:
            thread.shutdown(wait=False)

    # ------------------------------------------------------------------ producers

    def _encode(self, record: JournalRecord) -> _Packed:
        if self._task is None or self._closing or self._task.done():
            raise JournalError(str(self.path), "the journal writer is not running", hint=str(self.error or ""))
        if isinstance(record, RunStarted):
            self._run_id = record.run_id
        stmts = encode(record, self._run_id)
        if isinstance(record, RunStopped):
            self._run_id = None
        if self._queue.qsize() < _PACK_FROM:  # a short queue: the statements as they are (nothing to walk)
            return tuple(stmts)
        return _pack(stmts)  # a backlog: bytes, nothing in the queue for the garbage collector to walk

    async def write(self, record: JournalRecord) -> None:
        """Queue one record. Returns without waiting on disk unless the queue is full.

        A ``RunStarted`` makes its ``run_id`` the tag of every later record; ``RunStopped`` ends it.

        Raises:
            TypeError, ValueError: the record cannot be stored (raised here, before queueing).
            JournalError: the writer is closed or has failed.
        """
        await self._put(self._encode(record))

    def write_nowait(self, record: JournalRecord) -> None:
        """Queue one record from synchronous code, in call order with every other write.

        Raises:
            asyncio.QueueFull: the queue is full (nothing queued; use ``write``, which waits for room).
            TypeError, ValueError: the record cannot be stored (raised here, before queueing).
            JournalError: the writer is closed or has failed.
        """
        if self._queue.full():
            raise asyncio.QueueFull
        self._queue.put_nowait(self._encode(record))

    async def flush(self) -> None:
        """Wait until every record queued before this call is committed (durable per ``synchronous``).

        Raises:
            JournalError: the writer is not running, or the journal cannot commit (``fail_after_s``).
        """
        self._check_flushable()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushes.add(fut)
        try:
            await self._put(fut)
            assert self._task is not None
            await asyncio.wait({fut, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._flushes.discard(fut)
        if not fut.done():
            raise JournalError(str(self.path), "the writer stopped before the flush completed")
        fut.result()  # raises the JournalError of a commit that failed

    async def flush_now(self) -> None:
        """The priority lane: commit every record queued so far in ONE transaction now, ahead of the batching
        (module docstring, "Durability and order"); returns once it is committed (durable per ``synchronous``).
        Cancelling the wait loses nothing (the commit goes on).

        Raises:
            JournalError: the writer is not running, or the journal cannot commit (``fail_after_s``).
        """
        await self.commit_now()

    def commit_now(self, alongside: Callable[[], object] | None = None) -> asyncio.Future[None]:
        """``flush_now`` without a coroutine: takes everything queued so far in this call and returns a future
        set once it and every earlier record are committed (the exception of a commit that failed past
        ``fail_after_s``). Cancelling the future loses nothing.

        ``alongside``: a short thread-safe job that must not wait for the commit but whose result is only used
        after it (the engine signs the order's request, engine.execution). It is handed to the writer thread
        right before this thread's COMMIT, so it runs while the fsync holds this thread (GIL released); it may
        not have run, or not finished, when this returns (it never runs when the commit goes to the writer
        thread): the caller must not rely on it having run. Its outcome, exceptions included, is ignored.

        The transaction runs ON THE CALLING (loop) THREAD, after the writer thread's transaction in flight
        (records taken earlier), whose end it waits for with the GIL released so that the thread finishes at
        disk speed: it blocks the loop for those two transactions (two fsyncs: about 0.5 ms on an idle SSD),
        which costs less than handing it to the thread, whose every SQLite call waits for the GIL (up to the
        5 ms switch interval each) while the loop is busy. Bounded: past ``_LANE_WAIT_S`` for the thread, or
        ``_LANE_BUSY_MS`` for another process's write lock, or on any SQLite error, the records go to the
        writer thread instead (behind its transaction in flight: the order holds) and the future waits for it. Meant for the rare records that must be
        durable before a request leaves (an entry's intent, FLATTENING and a flatten's closes), not for bulk
        writes.

        Raises:
            JournalError: the writer is not running, or the journal cannot commit now.
        """
        self._check_flushable()
        loop = asyncio.get_running_loop()
        if self._retrying or self._closing:  # a batch taken earlier is not committed yet: wait behind it
            return asyncio.ensure_future(self._after_failures())
        items: list[_Item] = self._held  # taken by the writer task, lingering: written before the queue's
        self._held = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        stmts, waiters, n_records, _ = _split(items)  # _STOP is only queued by close (excluded above)
        result: asyncio.Future[None] = loop.create_future()
        waiters.append(result)
        self._flushes.add(result)  # a commit failing past fail_after_s fails it (``_commit``)
        result.add_done_callback(self._flushes.discard)
        jobs = [job for job in self._thread_jobs if not job.done()]
        if jobs:  # the writer thread's transaction(s) in flight hold earlier records: they commit first
            # blocks this thread, GIL released, so the writer thread runs at once; bounded: a thread stuck on a
            # lock or a hung disk gets our records after it (its FIFO) instead of freezing the loop
            _, stuck = concurrent.futures.wait(jobs, timeout=_LANE_WAIT_S)
            if stuck:
                self._hand_to_thread(stmts, waiters, n_records)
                return result
        earlier_failed = any(job.exception() is not None for job in self._thread_jobs)
        conn = self._conn
        if conn is None:
            _resolve(waiters, _failed(JournalError(str(self.path), "the journal writer is closed")))
            return result
        try:  # nothing else uses the connection now (the thread is idle); another process's lock: waited on for
            # _LANE_BUSY_MS only, the busy timeout the connection rests at between the thread's transactions
            if stmts:
                start = self._alongside(alongside)
                if start is None:
                    _transaction(conn, stmts, False)
                else:
                    _transaction(conn, stmts, False, start)
        except sqlite3.Error:  # keep the records: committed (retried, reported) by the writer thread
            self._hand_to_thread(stmts, waiters, n_records)
            return result
        if stmts:
            self.priority_commits += 1
        self.committed_records += n_records
        if earlier_failed:  # an earlier transaction failed: it is being retried; wait for it
            waiting = asyncio.ensure_future(self._after_failures())
            waiting.add_done_callback(lambda w: _resolve(waiters, w))
        else:
            _resolve(waiters)
        return result

    def _alongside(self, job: Callable[[], object] | None) -> Callable[[], None] | None:
        """``commit_now``'s ``alongside``: a callable that hands ``job`` to the (idle) writer thread."""
        thread = self._thread
        if job is None or thread is None:
            return None

        def start() -> None:
            with contextlib.suppress(RuntimeError):  # the thread pool is shutting down: the caller does the job
                thread.submit(_quietly, job)

        return start

    def _hand_to_thread(self, stmts: list[_Packed], waiters: list[asyncio.Future[None]], n_records: int) -> None:
        """Commit a priority transaction through the writer thread instead (behind its transaction in flight;
        retried like the writer task's); later priority commits wait behind it (``_retrying``)."""
        self._retrying += 1
        task = asyncio.ensure_future(self._retry_priority(stmts, waiters, n_records))
        self._priority_retries.add(task)
        task.add_done_callback(self._priority_retries.discard)

    async def _retry_priority(self, stmts: list[_Packed], waiters: list[asyncio.Future[None]],
                              n_records: int) -> None:
        """A priority transaction handed to the writer thread (``_hand_to_thread``): committed and retried like
        the writer task's batches (``_commit``), then its waiters are resolved."""
        try:
            await self._commit(stmts, waiters)
            self.committed_records += n_records
        finally:
            self._retrying -= 1
        waiting = asyncio.ensure_future(self._after_failures(asyncio.current_task()))
        await asyncio.wait({waiting})
        _resolve(waiters, waiting)

    async def _after_failures(self, caller: asyncio.Future[Any] | None = None) -> None:
        """Return once every record queued so far is committed, failed transactions retried included (the
        priority retries but ``caller``'s own)."""
        others = set(self._priority_retries) - {caller}
        if others:
            await asyncio.wait(others)
        await self.flush()

    def _check_flushable(self) -> None:
        if self._task is None or self._task.done():
            raise JournalError(str(self.path), "the journal writer is not running", hint=str(self.error or ""))
        if self._failing and self.error is not None:
            raise JournalError(str(self.path), f"journal cannot write: {self.error.reason}")

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
            self._held = [await self._queue.get()]
            if self._linger_s > 0:  # let a burst of records gather (the priority lane may take them meanwhile)
                await asyncio.sleep(self._linger_s)
            batch, self._held = self._held, []
            while len(batch) < self._batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            # No await between taking the batch and handing it to the thread (_commit): commits stay in
            # write order with the priority lane's (module docstring).
            stmts, waiters, n_records, stop = _split(batch)
            if stmts:
                await self._commit(stmts, waiters)
                self.committed_records += n_records
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            stopping = stopping or stop

    async def _commit(self, stmts: list[_Packed], waiters: list[asyncio.Future[None]]) -> None:
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
                if first:
                    self._retrying += 1
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
                try:
                    await asyncio.sleep(delay_s)
                except BaseException:
                    self._retrying -= 1
                    raise
                delay_s = min(delay_s * 2, 5.0)
        if retried:
            self._retrying -= 1
            log.warning("journal %s: writes recovered", self.path)
            self.error = None
            self._failing = False
            self._tell_health(None)

    async def _transaction(self, stmts: list[_Packed], *, one_by_one: bool) -> None:
        """Run one transaction of ``stmts`` in the writer thread (one hop: BEGIN, inserts, COMMIT); with
        ``one_by_one`` each statement alone, reporting the ones a constraint refuses.

        Raises:
            sqlite3.IntegrityError: a constraint refused a statement (not ``one_by_one``): nothing committed.
            sqlite3.Error: the transaction failed (rolled back).
        """
        refused = await self._submit(stmts, one_by_one)
        for table, error, params in refused:
            self.rejected_records += 1
            self._report(JournalError(str(self.path), f"record refused ({table}): {error}; {params!r}"))

    def _submit(self, stmts: list[_Packed], one_by_one: bool) -> asyncio.Future[list[_Refusal]]:
        """Hand one transaction to the writer thread NOW (the thread runs them in this order). Returns its
        outcome as a future; the priority commits waiting for the thread run as soon as it is idle."""
        conn, thread = self._conn, self._thread
        if conn is None or thread is None:
            raise JournalError(str(self.path), "the journal writer is closed")
        loop = asyncio.get_running_loop()
        out: asyncio.Future[list[_Refusal]] = loop.create_future()

        def on_loop(job: Future[list[_Refusal]]) -> None:
            self._thread_jobs.discard(job)
            exc = job.exception()
            if out.done():  # the waiter was cancelled: the outcome was still counted above
                return
            if exc is not None:
                out.set_exception(exc)
            else:
                out.set_result(job.result())

        def relay(job: Future[list[_Refusal]]) -> None:  # in the thread
            with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown)
                loop.call_soon_threadsafe(on_loop, job)

        self._thread_commits += 1
        checkpoint = self._thread_commits % _CHECKPOINT_EVERY == 0
        job = thread.submit(_thread_transaction, conn, stmts, one_by_one, checkpoint)
        self._thread_jobs.add(job)
        job.add_done_callback(relay)
        return out

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


def _split(items: Sequence[_Item]) -> tuple[list[_Packed], list[asyncio.Future[None]], int, bool]:
    """A batch of queue items -> (records' packed statements in order, flush waiters, records, whether ``_STOP``
    was seen)."""
    stmts: list[_Packed] = []
    waiters: list[asyncio.Future[None]] = []
    n_records = 0
    stop = False
    for item in items:
        if item is _STOP:
            stop = True
        elif isinstance(item, asyncio.Future):
            waiters.append(item)
        elif isinstance(item, bytes | tuple):
            stmts.append(item)
            n_records += 1
    return stmts, waiters, n_records, stop


def _failed(exc: BaseException) -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_exception(exc)
    return fut


#: How long ``commit_now`` blocks the loop for the writer thread's transaction in flight, s, and how long its
#: own transaction waits for another process's write lock, ms; past either it hands its records to the thread.
_LANE_WAIT_S = 0.05
_LANE_BUSY_MS = 20
#: The writer connection's busy timeout at rest, between the writer thread's transactions: the priority lane's
#: (no statement around its COMMIT); each transaction of the writer thread runs at ``db.BUSY_TIMEOUT_MS``
#: (``_thread_transaction``).
_BUSY_LANE = f"PRAGMA busy_timeout={_LANE_BUSY_MS}"
_BUSY_THREAD = f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"
#: The writer thread checkpoints the WAL (PASSIVE) after every this many of its transactions; SQLite's own
#: automatic checkpoint is off on the writer's connection so that it never runs inside a priority commit
#: (``commit_now``, on the loop thread).
_CHECKPOINT_EVERY = 64


def _open_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    """In the writer thread: ``db.open_db`` (create, check, migrate), automatic checkpoints off."""
    conn = open_db(path, create=True, synchronous=synchronous)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def _thread_transaction(conn: sqlite3.Connection, stmts: list[_Packed], one_by_one: bool,
                        checkpoint: bool) -> list[_Refusal]:
    """In the writer thread: ``_transaction``, then a PASSIVE WAL checkpoint when ``checkpoint`` (its failure
    is logged: the WAL only grows until the next one). It waits up to ``db.BUSY_TIMEOUT_MS`` for another
    process's lock, and leaves the connection at the priority lane's busy timeout (``_BUSY_LANE``)."""
    conn.execute(_BUSY_THREAD)
    try:
        refused = _transaction(conn, stmts, one_by_one)
        if checkpoint:
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.warning("journal checkpoint failed (retried later): %s", exc)
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(_BUSY_LANE)
    return refused


def _resolve(futures: Sequence[asyncio.Future[None]], outcome: asyncio.Future[None] | None = None) -> None:
    """Set ``futures`` (those not done yet): to ``outcome``'s exception when it failed, else to None."""
    exc = outcome.exception() if outcome is not None and not outcome.cancelled() else None
    for fut in futures:
        if not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)


#: Records queued before a new one is packed (``_pack``): a queue shorter than this is nothing for the garbage
#: collector to walk, and a record the priority lane takes at once (an intent) skips packing and unpacking.
_PACK_FROM = 32
#: SQL text <-> small id for ``_pack`` (the encoder's statements are a fixed set of constants).
_SQL_IDS: dict[str, int] = {}
_SQL_TEXTS: list[str] = []
_SQL_IDS_MAX = 1000


def _pack(stmts: Sequence[Statement]) -> _Packed:
    """One record's statements as ``marshal`` bytes of ((SQL id, parameters), ...): a queued record is then one
    object the garbage collector does not track (a backlog of tuples made every young collection walk it: loop
    stalls of several ms). Parameters marshal cannot carry exactly (a str subclass, an enum...) keep the record
    as a tuple of statements. Runs on the loop (``write``); ``_unpack`` reverses it."""
    coded = []
    for sql, params in stmts:
        i = _SQL_IDS.get(sql)
        if i is None:
            if len(_SQL_TEXTS) >= _SQL_IDS_MAX:
                return tuple(stmts)
            i = _SQL_IDS[sql] = len(_SQL_TEXTS)
            _SQL_TEXTS.append(sql)
        coded.append((i, params))
    try:
        return marshal.dumps(cast(Any, tuple(coded)))
    except ValueError:  # "unmarshallable object": a parameter of a type marshal does not write exactly
        return tuple(stmts)


def _unpack(packed: Sequence[_Packed]) -> list[Statement]:
    """The statements of records packed by ``_pack``, in order (writer thread, or the loop for a priority
    commit)."""
    out: list[Statement] = []
    texts = _SQL_TEXTS
    for item in packed:
        if isinstance(item, bytes):
            out.extend([(texts[i], params) for i, params in marshal.loads(item)])
        else:
            out.extend(item)
    return out


def _quietly(job: Callable[[], object]) -> None:
    """Run ``commit_now``'s ``alongside`` job on the writer thread; its failure is the caller's to see (it
    does the job again itself), logged at DEBUG only."""
    try:
        job()
    except Exception as exc:
        log.debug("job alongside a commit failed: %s", exc)


def _transaction(conn: sqlite3.Connection, packed: list[_Packed], one_by_one: bool,
                 before_commit: Callable[[], None] | None = None) -> list[_Refusal]:
    """In the writer thread: one transaction of the records ``packed`` (unpacked here, ``_unpack``; consecutive
    statements with the same SQL go through one ``executemany``); returns the statements a constraint refused
    (``one_by_one`` only). ``before_commit`` is called right before COMMIT (``commit_now``'s ``alongside``)."""
    refused: list[_Refusal] = []
    if not packed:
        return refused
    stmts = _unpack(packed)
    conn.execute("BEGIN")
    try:
        if one_by_one:
            for sql, params in stmts:
                try:
                    conn.execute(sql, params)
                except sqlite3.IntegrityError as exc:
                    refused.append((sql.split("(")[0].strip(), str(exc), params))
        else:
            for sql, group in itertools.groupby(stmts, key=lambda s: s[0]):
                _insert_many(conn, sql, [p for _, p in group])
        if before_commit is not None:
            before_commit()
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return refused


#: Most bound parameters per multi-row INSERT (SQLite's limit is 32766 since 3.32, 999 before).
_MAX_PARAMS = 999 if sqlite3.sqlite_version_info < (3, 32, 0) else 30_000
_MAX_ROWS = 200
_multi_sql: dict[tuple[str, int], str] = {}


def _insert_many(conn: sqlite3.Connection, sql: str, rows: list[tuple[object, ...]]) -> None:
    """Run ``sql`` for every row, in order: an ``INSERT ... VALUES (?,..)`` as multi-row INSERTs (one SQLite
    step per chunk of rows rather than one per row: fewer GIL hand-offs between this thread and the loop),
    anything else through ``executemany``. A constraint violation raises as ``executemany`` does."""
    head, sep, tail = sql.partition(" VALUES (")
    group, close, rest = tail.partition(")")
    if len(rows) < 2 or not sep or not close or not head.startswith("INSERT") or "(" in group:
        conn.executemany(sql, rows)
        return
    width = len(rows[0])
    per = max(1, min(_MAX_ROWS, _MAX_PARAMS // max(1, width)))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        key = (sql, len(chunk))
        text = _multi_sql.get(key)
        if text is None:
            text = _multi_sql[key] = f"{head} VALUES " + ",".join([f"({group})"] * len(chunk)) + rest
        conn.execute(text, [v for row in chunk for v in row])


def _owner_only(path: Path) -> None:
    """Make the journal and its WAL/shared-memory files readable and writable by their owner only (0600),
    whatever the umask; a file that cannot be changed (another owner) is left as it is."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if p.exists() and p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)
