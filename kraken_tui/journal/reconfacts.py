"""The structured facts of reconciliation rows written before schema version 4, read from their text once.

Owns: ``fill_outcomes`` (called by ``db`` inside the version 3 -> 4 migration's transaction). Schema
version 4 added ``reconciliation.outcome`` and ``reconciliation.exchange_size`` (``schema``); rows written
before it carry those facts only in their text (``action`` and ``exchange_value``, in the words the
engine's reconciliation used). This module reads that text one time, when the file migrates, so nothing
that reads a journal ever parses prose: readers use the columns.

Text read (the engine's wording up to schema version 3):
- position rows: ``action`` ``adopted as external...`` / ``synced (...)`` / ``closed (...)`` /
  ``acknowledged as external by the operator`` / ``entries paused: ...``; ``exchange_value`` ``flat``,
  ``long 0.5`` or ``short 0.5 @ 50000`` (the exchange's size, contracts).
- order rows: ``marked filled|cancelled|rejected``, ``looking up orders/status``, ``tracked as
  external``, ``left resting: ...``, ``cancelled: ...``, ``cancel failed ...``.
A row whose text matches none of these keeps ``outcome`` NULL (not classified).
Must not import: aiosqlite, the engine, textual.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal, InvalidOperation

from kraken_tui.journal.records import ReconciliationOutcome

__all__ = ["fill_outcomes", "outcome_of_text", "signed_size_of_text"]

_POSITION_TEXT = re.compile(r"^(long|short) ([0-9.]+(?:E[+-]?[0-9]+)?)(?:\s|$)")

#: (row kind, action prefix) -> outcome, first match wins.
_PREFIXES: tuple[tuple[str, str, ReconciliationOutcome], ...] = (
    ("position", "adopted", ReconciliationOutcome.ADOPTED),
    ("position", "synced", ReconciliationOutcome.SYNCED),
    ("position", "closed", ReconciliationOutcome.CLOSED),
    ("position", "acknowledged", ReconciliationOutcome.ACKNOWLEDGED),
    ("position", "entries paused", ReconciliationOutcome.BLOCKED),
    ("order", "marked filled", ReconciliationOutcome.FILLED),
    ("order", "marked cancelled", ReconciliationOutcome.CANCELLED),
    ("order", "marked rejected", ReconciliationOutcome.REJECTED),
    ("order", "looking up orders/status", ReconciliationOutcome.LOOKUP),
    ("order", "tracked as external", ReconciliationOutcome.EXTERNAL),
    ("order", "left resting", ReconciliationOutcome.LEFT_RESTING),
    ("order", "cancelled:", ReconciliationOutcome.CANCELLED),
    ("order", "cancel failed", ReconciliationOutcome.CANCEL_FAILED),
)

#: Position outcomes whose row states the exchange's size in ``exchange_value``.
_SIZED = frozenset({ReconciliationOutcome.ADOPTED, ReconciliationOutcome.SYNCED, ReconciliationOutcome.CLOSED,
                    ReconciliationOutcome.ACKNOWLEDGED})


def outcome_of_text(kind: str, action: str) -> ReconciliationOutcome | None:
    """The outcome a pre-version-4 row's ``action`` text states (module docstring), None when none."""
    text = action.strip()
    for k, prefix, outcome in _PREFIXES:
        if kind == k and text.startswith(prefix):
            return outcome
    return None


def signed_size_of_text(text: str) -> Decimal | None:
    """``flat`` -> 0, ``long 0.5`` -> 0.5, ``short 0.5 @ 50000`` -> -0.5 (signed contracts, exact); None
    for any other text."""
    t = text.strip()
    if t == "flat":
        return Decimal(0)
    m = _POSITION_TEXT.match(t)
    if m is None:
        return None
    try:
        size = Decimal(m.group(2))
    except InvalidOperation:
        return None
    return size if m.group(1) == "long" else -size


def fill_outcomes(conn: sqlite3.Connection) -> int:
    """Fill ``outcome`` and ``exchange_size`` of every reconciliation row that has no outcome yet from its
    text (module docstring), inside the caller's transaction. Returns the number of rows classified.

    Raises:
        sqlite3.Error: the table cannot be read or updated (the migration rolls back).
    """
    rows = conn.execute(
        "SELECT id, kind, exchange_value, action FROM reconciliation WHERE outcome IS NULL").fetchall()
    updates: list[tuple[str, str | None, int]] = []
    for rid, kind, exchange_value, action in rows:
        outcome = outcome_of_text(str(kind), str(action))
        if outcome is None:
            continue
        size = signed_size_of_text(str(exchange_value)) if outcome in _SIZED else None
        updates.append((outcome.value, None if size is None else str(size), int(rid)))
    conn.executemany("UPDATE reconciliation SET outcome = ?, exchange_size = ? WHERE id = ?", updates)
    return len(updates)
