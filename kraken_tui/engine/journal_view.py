"""What a journal file says the engine holds, read at start before reconciliation.

Owns: ``JournalView`` and ``journal_view`` (read-only SQLite read of the journal: positions, fill ids, the
last fill time, our orders of earlier runs that may still rest, the external tags of adopted positions)
and ``ACKNOWLEDGED_ACTION``. ``core_reconcile.Reconciler.load`` starts
from it. Units: sizes signed contracts (Decimal), times UTC ms.
Must not import: textual, the client.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import ZERO, Side
from kraken_tui.engine.reconcile import KnownOrder

__all__ = ["ACKNOWLEDGED_ACTION", "JournalView", "journal_view", "read_only"]

#: Action text of the position ``ReconciliationDiff`` journaled when the operator acknowledges an adopted
#: (external) position (``Reconciler.acknowledge``); ``journal_view`` reads it back.
ACKNOWLEDGED_ACTION = "acknowledged as external by the operator"

_OPEN_STATUSES = frozenset({"placed", "partiallyFilled", "edited", "unknown"})
_POS_RE = re.compile(r"^(long|short) ([0-9.]+)")


@dataclass
class JournalView:
    """What a journal says (``journal_view``): ``positions`` signed contracts per symbol; ``fill_ids`` every
    journaled fill; ``last_fill_ms`` the newest fill time (None = no fill yet); ``orders`` our orders of
    earlier runs that may still rest (no terminal outcome journaled, not covered by journaled fills);
    ``external`` the open positions adopted as external (symbol -> acknowledged by the operator)."""

    positions: dict[str, Decimal] = field(default_factory=dict)
    fill_ids: set[str] = field(default_factory=set)
    last_fill_ms: int | None = None
    orders: dict[str, KnownOrder] = field(default_factory=dict)
    external: dict[str, bool] = field(default_factory=dict)



def read_only(path: str | None) -> sqlite3.Connection | None:
    """A read-only connection to the journal at ``path``, or None when there is no path or no such file
    (the caller closes it)."""
    if not path:
        return None
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None

def _signed_value(text: str) -> Decimal | None:
    """``flat`` / ``long 0.5`` / ``short 0.5 @ 50000`` (reconcile's ``_pos`` text) -> signed contracts."""
    if text.strip() == "flat":
        return ZERO
    m = _POS_RE.match(text.strip())
    if m is None:
        return None
    size = Decimal(m.group(2))
    return size if m.group(1) == "long" else -size


def journal_view(path: str | None) -> JournalView:
    """Read ``path`` (read-only) into a ``JournalView``; a missing file or table gives an empty view.

    Positions: per symbol, the last position ``ReconciliationDiff`` that states the exchange's size
    (adopted / synced / closed) is the base, plus every fill journaled after it (runs in journal order,
    then fill time); a symbol never reconciled is the net of all its fills. So a position that vanished
    with a fresh paper exchange is not reported again at every start.

    External tags: a position diff whose action starts with ``adopted`` tags the symbol external and not
    acknowledged, one with ``acknowledged`` (``ACKNOWLEDGED_ACTION``, journaled by
    ``Reconciler.acknowledge``) marks it acknowledged, one with ``closed`` removes the tag; a tag whose
    position is flat by the journal's fills is dropped. So an adopted position stays external across
    restarts, and an unacknowledged one keeps entries blocked.

    Raises:
        sqlite3.DatabaseError: a corrupt journal file.
    """
    view = JournalView()
    conn = read_only(path)
    if conn is None:
        return view
    try:
        runs = {r: i for i, (r,) in enumerate(conn.execute("SELECT run_id FROM runs ORDER BY rowid"))}
        base: dict[str, tuple[tuple[int, int], Decimal]] = {}
        for run_id, ts, sym, value, action in conn.execute(
                "SELECT run_id, ts_ms, symbol, exchange_value, action FROM reconciliation "
                "WHERE kind = 'position' AND symbol IS NOT NULL ORDER BY id"):
            if action.startswith("adopted"):
                view.external[sym] = False
            elif action.startswith(ACKNOWLEDGED_ACTION) and sym in view.external:
                view.external[sym] = True
            elif action.startswith("closed"):
                view.external.pop(sym, None)
            size = _signed_value(value) if action.startswith(("adopted", "synced", "closed")) else None
            if size is not None:
                base[sym] = ((runs.get(run_id, -1), ts), ZERO if action.startswith("closed") else size)
        filled: dict[str, Decimal] = {}
        pos = {s: b[1] for s, b in base.items()}
        for run_id, fid, cid, sym, side, size, ts in conn.execute(
                "SELECT run_id, fill_id, cli_ord_id, symbol, side, size, ts_ms FROM fills ORDER BY id"):
            view.fill_ids.add(fid)
            view.last_fill_ms = ts if view.last_fill_ms is None else max(view.last_fill_ms, ts)
            q = Decimal(size)
            if cid:
                filled[cid] = filled.get(cid, ZERO) + q
            b = base.get(sym)
            if b is not None and (runs.get(run_id, -1), ts) <= b[0]:
                continue
            pos[sym] = pos.get(sym, ZERO) + (q if side == Side.BUY.value else -q)
        view.positions = {s: q for s, q in pos.items() if q != 0}
        view.external = {s: ok for s, ok in view.external.items() if s in view.positions}
        for cid, sym, side, size, purpose, status, oid in conn.execute(
                "SELECT i.cli_ord_id, i.symbol, i.side, i.size, i.purpose, "
                "(SELECT e.status FROM order_events e WHERE e.cli_ord_id = i.cli_ord_id ORDER BY e.id DESC LIMIT 1), "
                "(SELECT e.order_id FROM order_events e WHERE e.cli_ord_id = i.cli_ord_id AND e.order_id IS NOT NULL "
                "ORDER BY e.id DESC LIMIT 1) FROM intents i ORDER BY i.id DESC LIMIT 2000"):
            rest = Decimal(size) - filled.get(cid, ZERO)
            if (status is None or status in _OPEN_STATUSES) and rest > 0:
                view.orders[cid] = KnownOrder(sym, Side(side), rest, oid, cid, purpose)
    except sqlite3.OperationalError:  # a journal without these tables yet
        return view
    finally:
        conn.close()
    return view
