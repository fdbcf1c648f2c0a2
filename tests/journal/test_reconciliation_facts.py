"""Reconciliation facts are columns: ``outcome`` and ``exchange_size`` are written by the writer, filled once
for older journals by the schema version 4 migration, and the start-up reads (``queries.read_start_facts``,
the engine's ``journal_view``) use them, never the ``action`` text. Corrupt or unmigrated files give a
``JournalError`` naming the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kraken_tui.engine.fill_origin import OurOrders, our_orders
from kraken_tui.engine.journal_view import ACKNOWLEDGED_ACTION, journal_view
from kraken_tui.errors import JournalError
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import OrderIds, read_order_ids, read_start_facts
from kraken_tui.journal.reconfacts import outcome_of_text, signed_size_of_text
from kraken_tui.journal.records import ReconciliationDiff, ReconciliationOutcome, RunStarted
from kraken_tui.journal.schema import APPLICATION_ID, LATEST_VERSION, MIGRATIONS
from kraken_tui.runtime import last_operator_state
from tests.journal.factory import D, fill, write_journal

XBT, ETH, SOL = "PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"


def _v3_journal(path: Path) -> None:
    """A journal as schema version 3 left it: reconciliation rows carry their facts only as text (the
    engine's wording), in two runs."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=3")
    for run_id, ts in (("r0", 1), ("r1", 100)):
        conn.execute("INSERT INTO runs(run_id, started_ms, mode, config_hash, version) VALUES (?,?,'paper','h','0')",
                     (run_id, ts))
    fills = (("r0", "f1", XBT, "buy", "0.02", 10), ("r0", "f2", ETH, "buy", "1", 25),
             ("r1", "f3", ETH, "buy", "0.1", 140), ("r1", "f4", SOL, "buy", "3", 145))
    for run_id, fid, sym, side, size, ts in fills:
        conn.execute("INSERT INTO fills(run_id, fill_id, order_id, symbol, side, size, price, ts_ms, fill_type) "
                     "VALUES (?,?,?,?,?,?,'100',?,'taker')", (run_id, fid, "o-" + fid, sym, side, size, ts))
    recon = (
        ("r0", 11, "position", XBT, "flat", "long 0.02 @ 42000", "adopted as external, entries paused"),
        ("r0", 12, "position", None, "-", "-", "entries paused: PF_XBTUSD exchange long 0.02 vs engine flat"),
        ("r1", 120, "position", XBT, "external, not acknowledged", "long 0.02", ACKNOWLEDGED_ACTION),
        ("r1", 130, "position", ETH, "long 1", "short 0.5", "synced (manual)"),
        ("r1", 146, "position", SOL, "flat", "long 3 @ 20", "adopted as external, entries paused"),
        ("r1", 150, "position", SOL, "long 3", "flat", "closed (manual)"),
        ("r1", 151, "order", XBT, "stop sell o9 open 0.02", "not in openorders; fills cover it", "marked filled"),
        ("r1", 152, "order", XBT, "stop sell mkt 1 (c1) of an earlier run", "o1 open",
         "cancelled: its position is gone"),
        ("r1", 153, "order", XBT, "stop sell mkt 1 (c2) of an earlier run", "o2 open",
         "cancel failed (x): its position is gone"),
        ("r1", 154, "order", XBT, "unknown", "o3 buy lmt 1", "tracked as external"),
        ("r1", 155, "position", XBT, "0.1", "0.2", "paused"),
    )
    conn.executemany("INSERT INTO reconciliation(run_id, ts_ms, kind, symbol, journal_value, exchange_value, "
                     "action) VALUES (?,?,?,?,?,?,?)", recon)
    conn.close()


def test_old_journal_migrates_and_its_text_becomes_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    _v3_journal(path)
    conn = open_db(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    rows = conn.execute("SELECT ts_ms, outcome, exchange_size FROM reconciliation ORDER BY id").fetchall()
    conn.close()
    assert rows == [
        (11, "adopted", "0.02"), (12, "blocked", None), (120, "acknowledged", "0.02"), (130, "synced", "-0.5"),
        (146, "adopted", "3"), (150, "closed", "0"), (151, "filled", None), (152, "cancelled", None),
        (153, "cancel_failed", None), (154, "external", None), (155, None, None),
    ]
    view = journal_view(str(path))
    # XBT adopted then acknowledged; ETH synced to short 0.5, then +0.1 (the earlier run's buy is before the
    # base); SOL adopted then closed: flat and no longer external
    assert view.positions == {XBT: D("0.02"), ETH: D("-0.4")}
    assert view.external == {XBT: True}
    assert view.fill_ids == {"f1", "f2", "f3", "f4"} and view.last_fill_ms == 145


def _run(run_id: str, ts_ms: int) -> RunStarted:
    return RunStarted(run_id, ts_ms, "paper", "h", "0")


def _diff(ts_ms: int, symbol: str | None, outcome: str | None, size: str | None, action: str = "operator note",
          kind: str = "position") -> ReconciliationDiff:
    return ReconciliationDiff(ts_ms, kind, symbol, "-", "-", action, outcome=outcome,
                              exchange_size=None if size is None else D(size))


def test_views_come_from_the_structured_columns_not_the_text(tmp_path):
    """The action texts here say nothing a parser could use; the outcomes decide."""
    path = tmp_path / "j.sqlite"
    write_journal(path, [
        _run("r0", 1),
        fill("f1", XBT, "buy", "0.02", "100", 10),
        _diff(11, XBT, "adopted", "0.02"),
        _diff(12, ETH, "adopted", "-1"),
        _diff(13, SOL, "synced", "2"),
        _run("r1", 100),
        _diff(120, XBT, "acknowledged", "0.02"),
        _diff(130, ETH, "closed", "0"),
        fill("f2", SOL, "sell", "0.5", "100", 140),
        # prose alone is not read back: an unclassified row with the words of an adoption changes nothing
        _diff(150, "PF_ADAUSD", None, None, action="adopted as external, entries paused"),
    ])
    facts = read_start_facts(path)
    assert [(p.run_seq, p.symbol, p.outcome, p.exchange_size) for p in facts.positions] == [
        (0, XBT, ReconciliationOutcome.ADOPTED, D("0.02")), (0, ETH, ReconciliationOutcome.ADOPTED, D(-1)),
        (0, SOL, ReconciliationOutcome.SYNCED, D(2)), (1, XBT, ReconciliationOutcome.ACKNOWLEDGED, D("0.02")),
        (1, ETH, ReconciliationOutcome.CLOSED, D(0)), (1, "PF_ADAUSD", None, None)]
    view = journal_view(str(path))
    assert view.positions == {XBT: D("0.02"), SOL: D("1.5")}
    assert view.external == {XBT: True}


def test_adopted_without_acknowledgement_stays_unacknowledged(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, [_run("r0", 1), _diff(11, XBT, "adopted", "-0.3")])
    view = journal_view(str(path))
    assert view.positions == {XBT: D("-0.3")} and view.external == {XBT: False}


def test_the_writer_stores_the_structured_fields(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, [_run("r0", 1), _diff(11, XBT, "synced", "-0.25", action="synced (fills)"),
                         ReconciliationDiff(12, "position", XBT, "0.1", "0.2", "paused")])
    conn = open_db(path)
    rows = conn.execute("SELECT action, outcome, exchange_size FROM reconciliation ORDER BY id").fetchall()
    conn.close()
    assert rows == [("synced (fills)", "synced", "-0.25"), ("paused", None, None)]


def test_a_record_refuses_an_unknown_outcome():
    with pytest.raises(ValueError, match="outcome"):
        ReconciliationDiff(1, "position", XBT, "-", "-", "x", outcome="liquidated")
    with pytest.raises(ValueError, match="exchange_size"):
        ReconciliationDiff(1, "position", XBT, "-", "-", "x", outcome="synced", exchange_size=D("NaN"))


def test_old_text_is_read_by_the_migration_rules():
    assert outcome_of_text("position", "closed (liquidation)") is ReconciliationOutcome.CLOSED
    assert outcome_of_text("order", "closed (liquidation)") is None
    assert outcome_of_text("order", "left resting: the symbol is not listed") is ReconciliationOutcome.LEFT_RESTING
    assert outcome_of_text("order", "looking up orders/status") is ReconciliationOutcome.LOOKUP
    assert outcome_of_text("order", "marked rejected") is ReconciliationOutcome.REJECTED
    assert signed_size_of_text("short 0.5 @ 50000") == D("-0.5")
    assert signed_size_of_text("long 2") == D(2)
    assert signed_size_of_text("flat") == D(0)
    assert signed_size_of_text("external, not acknowledged") is None


def test_missing_journal_reads_empty(tmp_path):
    missing = str(tmp_path / "none.sqlite")
    assert journal_view(missing) == journal_view(None)
    assert journal_view(missing).positions == {} and journal_view(missing).orders == {}
    assert our_orders(missing) == OurOrders() and read_order_ids(None) == OrderIds()
    assert last_operator_state(tmp_path / "none.sqlite") is None


def test_a_corrupt_journal_gives_a_clear_error(tmp_path):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    for read in (lambda: journal_view(str(path)), lambda: our_orders(str(path)),
                 lambda: last_operator_state(path)):
        with pytest.raises(JournalError, match="bad.sqlite") as err:
            read()
        assert "cannot read" in str(err.value) and err.value.exit_code == 4
    assert path.read_bytes() == b"this is not a database" * 100


def test_an_unmigrated_journal_is_refused_by_the_quick_reads(tmp_path):
    path = tmp_path / "old.sqlite"
    _v3_journal(path)
    with pytest.raises(JournalError, match="schema version 3") as err:
        journal_view(str(path))
    assert "migrate" in str(err.value)
