"""Opening a journal read-only for a quick read: no integrity check, no migration, no write.

Owns: ``read_only`` (the one place a quick read-only connection is opened: the engine's start-up reads
in ``queries`` go through it) and ``CORRUPT_HINT`` (what to do with a corrupt file, shared with ``db``).
The full checks (integrity, identity, migrations) are ``db.open_db``'s; a reader that must see the latest
schema of an older file opens it with ``db.open_db`` instead.
Must not import: aiosqlite, textual, the engine.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kraken_tui.errors import JournalError
from kraken_tui.journal.schema import LATEST_VERSION

__all__ = ["CORRUPT_HINT", "read_only"]

#: The hint of a ``JournalError`` about a corrupt file.
CORRUPT_HINT = (
    "the file was left untouched; move it aside (e.g. add .corrupt to its name) and start again, "
    "or salvage it with the sqlite3 shell's .recover command"
)


def read_only(path: str | Path | None) -> sqlite3.Connection | None:
    """A read-only connection to the journal at ``path`` for a quick read without the writer's checks
    (no integrity check, no migration, never creates or changes the file); the caller closes it.

    Returns:
        The connection (default isolation level), or None when ``path`` is empty or names no file.

    Raises:
        JournalError: the file is not a SQLite database (corrupt), or its schema is older than this
            kraken-tui reads (the writer migrates it when it opens the file: ``kraken-tui run`` or
            ``kraken-tui journal``) or newer. A journal without tables (schema version 0) is accepted:
            its reads find no table.
    """
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JournalError(str(file), f"cannot read it ({exc})", hint=CORRUPT_HINT) from None
    if 0 < version < LATEST_VERSION or version > LATEST_VERSION:
        conn.close()
        raise JournalError(
            str(file), f"schema version {version}, this kraken-tui reads version {LATEST_VERSION}",
            hint="open it once with kraken-tui run or kraken-tui journal to migrate it" if version < LATEST_VERSION
            else "upgrade kraken-tui; the file was left untouched")
    return conn
