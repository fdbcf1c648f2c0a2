"""Opening the journal: pragmas, migrations from every earlier version, refusal of bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kraken_tui.config import Config, GeneralConfig
from kraken_tui.errors import JournalError, exit_code_for
from kraken_tui.journal.db import open_db, resolve_journal_path
from kraken_tui.journal.queries import load_fills
from kraken_tui.journal.records import RunStarted
from kraken_tui.journal.schema import APPLICATION_ID, LATEST_VERSION, MIGRATIONS
from tests.journal.factory import D, fill, write_journal


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_fresh_journal_pragmas(tmp_path):
    path = tmp_path / "sub" / "journal.sqlite"
    conn = open_db(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert {"runs", "fills", "funding", "intents", "signals", "equity", "reconciliation"} <= _tables(conn)
    conn.close()
    # foreign keys are enforced: an event naming an unknown run is refused
    conn = open_db(path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO events(run_id, ts_ms, kind, name, reason, source) VALUES ('nope',1,'state','PAUSED','x','key')")
    conn.close()


def _make_version(path: Path, version: int) -> None:
    """A journal exactly as kraken-tui at schema ``version`` left it, with a fill in it when it can."""
    conn = sqlite3.connect(path, isolation_level=None)
    if version > 0:
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute("INSERT INTO runs(run_id, started_ms, mode, config_hash, version) VALUES ('r0',1,'paper','h','0')")
        conn.execute("INSERT INTO fills(run_id, fill_id, order_id, symbol, side, size, price, ts_ms, fill_type, fee) "
                     "VALUES ('r0','f-old','o','PF_XBTUSD','buy','0.5','60000.5',5,'maker','-0.1')")
    conn.close()


@pytest.mark.parametrize("version", range(LATEST_VERSION))
def test_migrates_from_every_earlier_version(tmp_path, version):
    path = tmp_path / "old.sqlite"
    _make_version(path, version)
    conn = open_db(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert {"alerts", "signals", "marks"} <= _tables(conn)
    fills = load_fills(conn)
    if version > 0:
        (f,) = fills
        assert (f.fill_id, f.size, f.price, f.fee) == ("f-old", D("0.5"), D("60000.5"), D("-0.1"))
    else:
        assert fills == []
    conn.close()
    # opening again is a no-op
    conn = open_db(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    conn.close()


def _refused(path: Path, words: str) -> None:
    before = path.read_bytes()
    with pytest.raises(JournalError) as ei:
        open_db(path)
    assert str(path) in str(ei.value) and words in str(ei.value)
    assert exit_code_for(ei.value) == 4
    assert path.read_bytes() == before  # never overwritten or "repaired"


def test_garbage_file_is_refused_untouched(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database\n" * 500)
    _refused(path, "not a usable SQLite database")


def test_foreign_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers(id INTEGER)")
    conn.commit()
    conn.close()
    _refused(path, "not a kraken-tui journal")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={LATEST_VERSION + 1}")
    conn.close()
    _refused(path, "newer kraken-tui")


def test_corrupt_page_fails_integrity_check(tmp_path):
    path = tmp_path / "j.sqlite"
    fills = [fill(f"fill-{i:05d}", "PF_XBTUSD", "buy", "1", str(1000 + i), i) for i in range(3000)]
    write_journal(path, [RunStarted("r", 1, "paper", "h", "0"), *fills], synchronous="NORMAL")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 20 * page
    mid = (len(data) // page // 2) * page  # a page full of fill rows, in the middle of the file
    for off in range(mid, mid + page, 7):
        data[off] = 0xA5
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(JournalError) as ei:
        open_db(path)
    assert str(path) in str(ei.value) and ("integrity" in str(ei.value) or "SQLite" in str(ei.value))
    assert path.read_bytes() == before


def test_missing_file_for_readers_and_directories(tmp_path):
    with pytest.raises(JournalError, match="no journal here"):
        open_db(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()
    with pytest.raises(JournalError, match="directory"):
        open_db(tmp_path)


def test_path_resolution_order(tmp_path):
    cfg = Config(general=GeneralConfig(journal_path=tmp_path / "cfg.sqlite"))
    assert resolve_journal_path(tmp_path / "cli.sqlite", cfg) == tmp_path / "cli.sqlite"
    assert resolve_journal_path(None, cfg) == tmp_path / "cfg.sqlite"
    default = resolve_journal_path(None, Config())
    assert default.name == "journal.sqlite" and "kraken-tui" in str(default)
