"""Opening a journal file: path resolution, pragmas, integrity check, identity check, migrations.

Owns: every decision about whether a SQLite file may be used as the journal. A file that is corrupt,
foreign (not a kraken-tui journal), or written by a newer kraken-tui raises ``JournalError`` (CLI exit
code 4) naming the file and what to do; the file is never overwritten, migrated blindly or "repaired".

Durability choice: WAL mode with ``synchronous=FULL``. In WAL mode ``NORMAL`` is already safe against
the *process* dying (SIGKILL, crash): a committed transaction is in the WAL file in the OS cache and is
never lost or corrupted. It is not safe against power loss or an OS crash, where the last commits can
roll back. The journal records intents *before* their orders are sent (architecture "Data flow");
losing one would make our own order look external after a reboot. ``FULL`` costs one fsync per commit,
and the writer commits a whole batch per transaction in its own thread, so the event loop never waits
on it (see ``bench/bench_journal.py`` for the figures). ``synchronous`` can be lowered per connection
for throughput-only uses (benchmarks, backtests).
Must not import: aiosqlite (this is the synchronous layer, shared by the writer and the readers),
textual, the engine.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from kraken_tui.errors import ConfigError, JournalError
from kraken_tui.journal import reconfacts, tradecache
from kraken_tui.journal.readonly import CORRUPT_HINT
from kraken_tui.journal.records import DEFAULT_ACCOUNT
from kraken_tui.journal.schema import APPLICATION_ID, LATEST_VERSION, MIGRATIONS

if TYPE_CHECKING:  # kraken_tui.config (pydantic) is imported where a path is resolved: readers given --journal
    from kraken_tui.config import Config  # start without it

__all__ = [
    "BUSY_TIMEOUT_MS",
    "connection_pragmas",
    "open_db",
    "resolve_journal_path",
]

#: The latest schema version that changed ``trade_cache``'s columns (v3 added the table, v5 the coin columns of
#: inverse trades, v6 the account, v7 the incremental state); migrating to it fills the cache (the earlier steps
#: leave it empty, so it is derived once).
_TRADE_CACHE_VERSION = 7
#: The schema version that added ``runs.account``; migrating to it assigns the runs already there
#: (``_journal_profile``).
_ACCOUNTS_VERSION = 6
#: The schema version that added ``reconciliation.outcome``/``exchange_size``; migrating to it fills them
#: for the rows already there from their text (``reconfacts``).
_RECONCILIATION_FACTS_VERSION = 4

#: How long a connection waits for another connection's write lock before failing, ms.
BUSY_TIMEOUT_MS = 5_000



def resolve_journal_path(cli_path: Path | None, cfg: Config | None, profile: str | None = None) -> Path:
    """The journal file: ``--journal`` first, then ``[general] journal_path``, then the profile's
    ``<platform data dir>/profiles/<profile>/journal.sqlite`` (``kraken_tui.config.profile_dir``); the profile
    defaults to ``[general] profile``, else ``paper``.

    Raises:
        ConfigError: ``profile`` is not a valid profile name.
    """
    if cli_path is not None:
        return cli_path.expanduser()
    from kraken_tui.config import profile_dir, validate_profile_name

    if cfg is not None and cfg.general.journal_path is not None:
        return cfg.general.journal_path.expanduser()
    name = profile or (cfg.general.profile if cfg is not None else "") or "paper"
    return profile_dir(validate_profile_name(name)) / "journal.sqlite"


def connection_pragmas(synchronous: str = "FULL") -> tuple[str, ...]:
    """The per-connection PRAGMA statements every journal connection runs (writer and readers)."""
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")
    return (
        "PRAGMA foreign_keys=ON",
        f"PRAGMA synchronous={synchronous}",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    )


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _journal_profile(path: Path) -> str:
    """The account the runs of a journal older than schema 6 traded: the profile whose directory holds it
    (``<data dir>/profiles/<name>/journal.sqlite``), else ``records.DEFAULT_ACCOUNT``. Replays of those versions
    are assigned the same account (their runs were not told apart)."""
    from kraken_tui.config import validate_profile_name

    parent = path.parent
    if parent.parent.name == "profiles" and path.name == "journal.sqlite":
        try:
            return validate_profile_name(parent.name)
        except ConfigError:  # not a profile name: the default account
            return DEFAULT_ACCOUNT
    return DEFAULT_ACCOUNT


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply every missing forward migration, each in its own IMMEDIATE transaction (so two processes
    opening the same old file at once cannot both apply a step)."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= LATEST_VERSION:
                conn.execute("ROLLBACK")
                return
            if version == 0:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            for stmt in _statements(MIGRATIONS[version]):
                conn.execute(stmt)
            if version + 1 == _ACCOUNTS_VERSION:
                conn.execute("UPDATE runs SET account = ?", (_journal_profile(path),))
            if version + 1 == _TRADE_CACHE_VERSION:
                tradecache.build(conn)  # fill the cache from the facts already there
            if version + 1 == _RECONCILIATION_FACTS_VERSION:
                reconfacts.fill_outcomes(conn)  # the only time a reconciliation row's text is read
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except JournalError:
            conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise JournalError(
                str(path), f"migration to schema version {version + 1} failed: {exc}", hint=CORRUPT_HINT
            ) from None


def _check_identity(conn: sqlite3.Connection, path: Path) -> bool:
    """Return True for a brand-new (empty) database; raise for foreign or too-new files."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    n_objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and version == 0 and n_objects == 0:
        return True
    if app_id != APPLICATION_ID:
        raise JournalError(
            str(path),
            f"not a kraken-tui journal (SQLite application_id {app_id:#x}, {n_objects} schema objects)",
            hint="the file was left untouched; pass another file with --journal or [general] journal_path",
        )
    if version > LATEST_VERSION:
        raise JournalError(
            str(path),
            f"written by a newer kraken-tui (schema version {version}, this one knows up to {LATEST_VERSION})",
            hint="upgrade kraken-tui; the file was left untouched",
        )
    return False


#: The tables every reader reads (small ones); ``open_db(quick_check=True)`` checks only these.
_READER_TABLES = ("runs", "trade_cache_state")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_integrity(conn: sqlite3.Connection, path: Path, quick: bool) -> None:
    """The full ``PRAGMA integrity_check`` (O(file)), or with ``quick`` the reader's check (O(small tables)): the
    header names SQLite with a valid page size, the schema reads, and ``PRAGMA quick_check`` of
    ``_READER_TABLES`` (SQLite 3.33+; the whole file before). Raises ``JournalError`` naming the file."""
    if not quick:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    else:
        _check_header(path)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if sqlite3.sqlite_version_info < (3, 33, 0):
            rows = conn.execute("PRAGMA quick_check").fetchall()
        else:
            present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = []
            for table in _READER_TABLES:
                if table in present:
                    rows.extend(r for r in conn.execute(f"PRAGMA quick_check({table})") if r != ("ok",))
            rows = rows or [("ok",)]
    if rows != [("ok",)]:
        detail = "; ".join(str(r[0]) for r in rows[:3])
        raise JournalError(str(path), f"integrity check failed: {detail}", hint=CORRUPT_HINT)


def _check_header(path: Path) -> None:
    """The first 100 bytes are an SQLite header (magic text, page size a power of two in 512..65536, file size a
    whole number of pages); raises ``JournalError`` otherwise (SQLite file format, "The Database Header")."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
        size = path.stat().st_size
    except OSError as exc:
        raise JournalError(str(path), f"cannot read it ({exc.strerror})", hint=CORRUPT_HINT) from None
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise JournalError(str(path), "integrity check failed: not an SQLite header", hint=CORRUPT_HINT)
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or size % page:
        raise JournalError(str(path), f"integrity check failed: page size {page}, file size {size}",
                           hint=CORRUPT_HINT)


def _create_owner_only(path: Path) -> None:
    """Create the empty journal file readable and writable by its owner only (0600, whatever the umask);
    SQLite gives its WAL and shared-memory files the same permissions. A failure is left to ``connect``."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return
    os.close(fd)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)  # os.open's mode is masked by the umask


def open_db(
    path: Path,
    *,
    create: bool = True,
    synchronous: str = "FULL",
    quick_check: bool = False,
) -> sqlite3.Connection:
    """Open (and when needed create and migrate) the journal at ``path``.

    Args:
        path: the SQLite file. Parent folders are created when ``create`` is true.
        create: create a new journal (mode 0600) when the file is missing; when false a missing file is an error
            (readers such as ``kraken-tui journal`` must not leave empty files behind).
        synchronous: FULL (default; see the module docstring for why), NORMAL or EXTRA.
        quick_check: for readers on large files: instead of the full ``integrity_check`` (O(file)), check the
            header, the schema and the small tables every reader reads (``_check_integrity``); a page read later
            that is corrupt makes that read raise (readers turn it into ``JournalError``: ``tradecache``,
            ``cli``).

    Returns:
        A ``sqlite3.Connection`` in autocommit mode (``isolation_level=None``; callers open explicit
        transactions), WAL journal mode, ``foreign_keys=ON``, at schema version ``LATEST_VERSION``.
        ``check_same_thread`` is off so one thread at a time may hand it to another.

    Raises:
        JournalError: the file is missing (with ``create=False``), cannot be opened, is not a SQLite
            database, is corrupt, is not a kraken-tui journal, is from a newer version, or a migration
            failed. The message names the file and what to do.
    """
    path = Path(path)
    if path.is_dir():
        raise JournalError(str(path), "is a directory, not a journal file", hint="pass a file path")
    if not path.exists():
        if not create:
            raise JournalError(str(path), "no journal here", hint="run kraken-tui first, or pass --journal PATH")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(str(path), f"cannot create its folder ({exc.strerror})") from None
        _create_owner_only(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(str(path), f"cannot open ({exc})", hint="check the path and its permissions") from None
    try:
        for pragma in connection_pragmas(synchronous):
            conn.execute(pragma)
        fresh = _check_identity(conn, path)
        if not fresh:
            _check_integrity(conn, path, quick_check)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(str(path), f"cannot switch to WAL mode (got {mode})", hint="use a local disk")
        _migrate(conn, path)
    except JournalError:
        conn.close()
        raise
    except sqlite3.OperationalError as exc:
        conn.close()
        raise JournalError(
            str(path), f"cannot use it ({exc})", hint="another program may hold it locked, or the folder is read-only"
        ) from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JournalError(str(path), f"not a usable SQLite database ({exc})", hint=CORRUPT_HINT) from None
    return conn
