"""One engine per journal and per exchange account: exclusive, crash-safe process locks.

Owns: ``InstanceLock`` (one ``fcntl.flock`` on a lock file, with the holder's pid, mode and start time written
into it), ``InstanceLocks`` (the journal's lock and the account's lock of one run, taken together and released
together), ``account_lock_path`` (where an exchange account's lock lives) and ``api_key_fingerprint``.

Why: two engines on one journal book each other's fills as "external"; two engines on one exchange account each
size and protect the same signal, so the position doubles and the protective orders multiply. A run therefore
holds, for its whole life:

- the journal's lock: ``<journal file>.lock`` beside the journal;
- the account's lock: live, ``<data dir>/locks/account-<fingerprint>.lock`` where the fingerprint is a SHA-256 of
  the exchange's REST URL and the API key (never the key itself, which appears nowhere on disk); paper, ``<paper account file>.owner.lock``
  beside the profile's paper account file (the paper account store keeps its own ``.lock`` for the file itself).

The locks are ``flock`` locks on an open file description: the kernel releases them when the process ends, however
it ends (a SIGKILL included), so a crashed engine never leaves a stale lock behind; the file stays and is simply
locked again by the next run. A second instance gets ``InstanceBusyError`` (exit code 2) naming the holder's pid,
mode and start time, read from the lock file. Read-only readers of a journal (the ``journal`` subcommand, the
console's journal screen, ``journal.readonly``) never take these locks.

Must not import: textual, kraken_tui.engine, kraken_tui.paper.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from kraken_tui.errors import InstanceBusyError

__all__ = ["InstanceLock", "InstanceLocks", "LockHolder", "account_lock_path", "api_key_fingerprint",
           "journal_lock_path", "paper_account_lock_path"]

#: How long a contender waits for a holder that is writing its pid into the lock file, seconds.
_HOLDER_READ_WAIT_S = 0.5


def api_key_fingerprint(api_key: str, endpoint: str = "") -> str:
    """A stable, non-reversible identifier of an exchange account: the first 16 hex digits of
    SHA-256("kraken-tui account\\0" + endpoint + "\\0" + key), where ``endpoint`` is the exchange's REST base URL
    (one key on two exchanges - Kraken and a paper exchange - is two accounts). The key itself is never written
    anywhere.

    Raises:
        ValueError: an empty key.
    """
    if not api_key:
        raise ValueError("api_key_fingerprint: empty API key")
    return hashlib.sha256(b"kraken-tui account\0" + endpoint.encode() + b"\0" + api_key.encode()).hexdigest()[:16]


def journal_lock_path(journal: Path) -> Path:
    """The lock file of the journal ``journal``: ``<journal>.lock`` in the same directory."""
    return journal.with_name(journal.name + ".lock")


def account_lock_path(state_dir: Path, api_key: str, endpoint: str = "") -> Path:
    """The lock file of the live exchange account whose API key is ``api_key`` on the exchange at ``endpoint``:
    ``<state_dir>/locks/account-<api_key_fingerprint>.lock``.

    Raises:
        ValueError: an empty key.
    """
    return state_dir / "locks" / f"account-{api_key_fingerprint(api_key, endpoint)}.lock"


def paper_account_lock_path(account_file: Path) -> Path:
    """The lock file of the paper account kept in ``account_file``: ``<account_file>.owner.lock``."""
    return account_file.with_name(account_file.name + ".owner.lock")


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock, as written in its lock file: ``pid``, ``mode`` (paper / replay / live), ``started_ms``
    (UTC milliseconds) and ``target`` (the journal file or account the lock protects). Fields are None / "" when
    the holder had not written them yet or the file is unreadable."""

    pid: int | None
    mode: str
    started_ms: int | None
    target: str

    def describe(self) -> str:
        """A one-line text for an error message: ``pid 1234, mode live, started 2026-01-02T03:04:05Z``."""
        parts = [f"pid {self.pid}" if self.pid is not None else "pid unknown"]
        if self.mode:
            parts.append(f"mode {self.mode}")
        if self.started_ms is not None:
            parts.append("started " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_ms / 1000)))
        return ", ".join(parts)


def _read_holder(fd: int) -> LockHolder:
    deadline = time.monotonic() + _HOLDER_READ_WAIT_S
    while True:
        raw = os.pread(fd, 4096, 0)
        try:
            data = json.loads(raw.decode())
            if isinstance(data, dict):
                pid = data.get("pid")
                started = data.get("started_ms")
                return LockHolder(pid if isinstance(pid, int) else None, str(data.get("mode", "")),
                                  started if isinstance(started, int) else None, str(data.get("target", "")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        if time.monotonic() >= deadline:
            return LockHolder(None, "", None, "")
        time.sleep(0.02)  # the holder is between its flock and its write


class InstanceLock:
    """An exclusive lock on ``path`` for this process's life (module docstring).

    Args:
        path: the lock file (created 0600 with its directory when missing).
        what: what the lock protects, for messages (``journal /x/journal.sqlite``, ``live account 1a2b...``).
        hint: what the operator can do about a busy lock, appended to the message.
    """

    def __init__(self, path: Path, what: str, hint: str = "") -> None:
        self.path = path
        self.what = what
        self.hint = hint
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, mode: str) -> None:
        """Take the lock without waiting and write this process's pid, ``mode`` and start time into the file.

        Raises:
            InstanceBusyError: another process holds it (the message names the holder's pid and mode).
            OSError: the lock file cannot be created (a read-only directory, for example).
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise InstanceBusyError(self.what, holder.pid, holder.mode, holder.describe(), self.hint) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            body = json.dumps({"pid": os.getpid(), "mode": mode, "started_ms": int(time.time() * 1000),
                               "target": self.what}).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, body, 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays; its contents no longer matter). Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class InstanceLocks:
    """The locks of one run: its journal and, when known, its exchange account (module docstring).

    Build with ``for_run``; ``acquire`` takes them all or none (the first busy one raises and the ones already
    taken are released); ``release`` frees them all.
    """

    def __init__(self, locks: list[InstanceLock]) -> None:
        self.locks = locks

    @classmethod
    def for_run(cls, *, journal: Path, state_dir: Path, api_key: str | None = None, endpoint: str = "",
                paper_account: Path | None = None) -> InstanceLocks:
        """The locks of a run on ``journal``: plus the live account of ``api_key`` on the exchange at ``endpoint``
        (its REST base URL; lock files under ``state_dir``) or the paper account file ``paper_account``. Neither:
        the journal's lock only (a replay, whose exchange account lives and dies with the run)."""
        locks = [InstanceLock(journal_lock_path(journal), f"journal {journal}",
                              "stop that instance first, or pass another --journal / --profile")]
        if api_key:
            fp = api_key_fingerprint(api_key, endpoint)
            locks.append(InstanceLock(account_lock_path(state_dir, api_key, endpoint), f"exchange account {fp}",
                                      "one engine per exchange account: stop that instance first"))
        if paper_account is not None:
            locks.append(InstanceLock(paper_account_lock_path(paper_account), f"paper account {paper_account}",
                                      "one engine per paper account: stop that instance first, or pass "
                                      "another --profile"))
        return cls(locks)

    def acquire(self, mode: str) -> None:
        """Take every lock (see ``InstanceLock.acquire``); all or none.

        Raises:
            InstanceBusyError: one of them is held by another process.
            OSError: a lock file cannot be created.
        """
        try:
            for lock in self.locks:
                lock.acquire(mode)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release every lock held. Idempotent."""
        for lock in reversed(self.locks):
            lock.release()
