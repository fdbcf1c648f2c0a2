"""The writer commits a run of same-statement records as multi-row INSERTs: rows keep their write order,
``ON CONFLICT DO NOTHING`` still drops a replayed fill inside the same statement, and a batch longer than one
statement's chunk is split without losing a row."""

from __future__ import annotations

from kraken_tui.journal import writer as writer_mod
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_fills
from kraken_tui.journal.records import RunStarted
from kraken_tui.journal.writer import JournalWriter
from tests.journal.factory import fill


async def test_multi_row_inserts_keep_order_and_idempotency(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_MAX_ROWS", 7)  # several chunks per batch
    w = JournalWriter(tmp_path / "j.sqlite", batch_max=1000)
    await w.start()
    await w.write(RunStarted("run-multi", 1, "paper", "h", "0.1"))
    ids = [f"m{i}" for i in range(30)]
    for i, fid in enumerate(ids):
        w.write_nowait(fill(fid, "PF_XBTUSD", "buy", "1", "100", i))
    w.write_nowait(fill("m3", "PF_XBTUSD", "buy", "1", "100", 3))  # a replay: ignored
    await w.flush_now()
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    try:
        assert [f.fill_id for f in load_fills(conn)] == ids
    finally:
        conn.close()
