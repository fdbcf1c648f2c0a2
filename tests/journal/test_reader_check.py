"""A reader (``kraken-tui journal``) checks only what it reads (header, schema, the small tables every view
reads) instead of scanning the whole file, and a corrupt page it meets later still fails loudly: exit code 4
with the file named, never a traceback or a wrong figure."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kraken_tui.cli import main
from kraken_tui.journal.records import RunStarted
from tests.journal.factory import fill, write_journal

XBT = "PF_XBTUSD"
PAGE = 4096


def _journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A journal of 1,500 round trips whose trade cache is built (a first summary), all in the main file."""
    path = tmp_path / "j.sqlite"
    fills = []
    for k in range(1500):
        fills += [fill(f"{k}a", XBT, "buy", "1", str(100 + k % 7), 60_000 * (2 * k + 1)),
                  fill(f"{k}b", XBT, "sell", "1", str(101 + k % 5), 60_000 * (2 * k + 2))]
    write_journal(path, [RunStarted("r", 0, "paper", "h", "0"), *fills], synchronous="NORMAL")
    assert main(["journal", "--journal", str(path), "summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trades"] == 1500
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _root_page(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0])
    finally:
        conn.close()


def _smash(path: Path, page_no: int) -> None:
    data = bytearray(path.read_bytes())
    start = (page_no - 1) * PAGE
    for off in range(start, start + PAGE, 3):
        data[off] = 0xA5
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("view", [["summary", "--json"], ["summary", "--since", "1970-01-02"], ["trades"]])
def test_a_corrupt_trade_cache_fails_loudly(tmp_path, capsys, view):
    path = _journal(tmp_path, capsys)
    _smash(path, _root_page(path, "trade_cache_state" if view == ["summary", "--json"] else "trade_cache"))
    before = path.read_bytes()
    code = main(["journal", "--journal", str(path), *view])
    err = capsys.readouterr().err
    assert code == 4 and str(path) in err and ("integrity" in err or "malformed" in err or "cannot read" in err)
    assert path.read_bytes() == before  # never repaired or rewritten


def test_a_corrupt_header_fails_loudly(tmp_path, capsys):
    path = _journal(tmp_path, capsys)
    data = bytearray(path.read_bytes())
    data[16:18] = b"\x00\x07"  # page size 7: not a power of two
    path.write_bytes(bytes(data))
    assert main(["journal", "--journal", str(path), "summary"]) == 4
    assert str(path) in capsys.readouterr().err


def test_a_truncated_file_fails_loudly(tmp_path, capsys):
    path = _journal(tmp_path, capsys)
    path.write_bytes(path.read_bytes()[: 7 * PAGE + 100])
    assert main(["journal", "--journal", str(path), "trades"]) == 4
    assert str(path) in capsys.readouterr().err
