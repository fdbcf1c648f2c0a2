"""What a journal file says the engine holds, read at start before reconciliation.

Owns: ``JournalView`` and ``journal_view`` (the engine's meaning of the journal's start-up facts,
``journal.queries.read_start_facts``: positions, fill ids, the last fill time, our orders of earlier
runs that may still rest, the external tags of adopted positions) and ``ACKNOWLEDGED_ACTION``.
``reconciler.Reconciler.load`` starts from it. Units: sizes signed contracts (Decimal), times UTC ms.
No SQL here: the journal package reads, this module only converts its rows.
Must not import: textual, the client, the SQLite driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import ZERO, Side
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.journal.queries import StartFacts, read_start_facts
from kraken_tui.journal.records import ReconciliationOutcome

__all__ = ["ACKNOWLEDGED_ACTION", "JournalView", "journal_view", "view_of"]

#: Action text (for people) of the position ``ReconciliationDiff`` journaled when the operator
#: acknowledges an adopted (external) position (``Reconciler.acknowledge``; its outcome is
#: ``ReconciliationOutcome.ACKNOWLEDGED``).
ACKNOWLEDGED_ACTION = "acknowledged as external by the operator"

#: Journaled order event statuses after which an order may still rest on the exchange.
_OPEN_STATUSES = frozenset({"placed", "partiallyFilled", "edited", "unknown"})
#: Position outcomes that state the exchange's size: the base the later fills add to.
_BASE_OUTCOMES = frozenset({ReconciliationOutcome.ADOPTED, ReconciliationOutcome.SYNCED,
                            ReconciliationOutcome.CLOSED})


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


def view_of(facts: StartFacts) -> JournalView:
    """The engine's ``JournalView`` of a journal's start-up facts (rules in ``journal_view``)."""
    view = JournalView()
    base: dict[str, tuple[tuple[int, int], Decimal]] = {}
    for p in facts.positions:
        if p.outcome is ReconciliationOutcome.ADOPTED:
            view.external[p.symbol] = False
        elif p.outcome is ReconciliationOutcome.ACKNOWLEDGED and p.symbol in view.external:
            view.external[p.symbol] = True
        elif p.outcome is ReconciliationOutcome.CLOSED:
            view.external.pop(p.symbol, None)
        if p.outcome in _BASE_OUTCOMES and p.exchange_size is not None:
            size = ZERO if p.outcome is ReconciliationOutcome.CLOSED else p.exchange_size
            base[p.symbol] = ((p.run_seq, p.ts_ms), size)
    filled: dict[str, Decimal] = {}
    pos = {s: b[1] for s, b in base.items()}
    for f in facts.fills:
        view.fill_ids.add(f.fill_id)
        view.last_fill_ms = f.ts_ms if view.last_fill_ms is None else max(view.last_fill_ms, f.ts_ms)
        if f.cli_ord_id:
            filled[f.cli_ord_id] = filled.get(f.cli_ord_id, ZERO) + f.size
        b = base.get(f.symbol)
        if b is not None and (f.run_seq, f.ts_ms) <= b[0]:
            continue
        pos[f.symbol] = pos.get(f.symbol, ZERO) + (f.size if f.side is Side.BUY else -f.size)
    view.positions = {s: q for s, q in pos.items() if q != 0}
    view.external = {s: ok for s, ok in view.external.items() if s in view.positions}
    for i in facts.intents:
        rest = i.size - filled.get(i.cli_ord_id, ZERO)
        if (i.last_status is None or i.last_status in _OPEN_STATUSES) and rest > 0:
            view.orders[i.cli_ord_id] = KnownOrder(i.symbol, i.side, rest, i.order_id, i.cli_ord_id, i.purpose)
    return view


def journal_view(path: str | None) -> JournalView:
    """Read ``path`` (read-only, ``journal.queries.read_start_facts``) into a ``JournalView``; no path, a
    missing file or a journal without tables gives an empty view.

    Positions: per symbol, the last position reconciliation row whose outcome states the exchange's size
    (adopted / synced / closed, ``exchange_size``) is the base, plus every fill journaled after it (runs
    in journal order, then fill time); a symbol never reconciled is the net of all its fills. So a
    position that vanished with a fresh paper exchange is not reported again at every start.

    External tags: a position row with outcome ``adopted`` tags the symbol external and not acknowledged,
    one with ``acknowledged`` (journaled by ``Reconciler.acknowledge``) marks it acknowledged, one with
    ``closed`` removes the tag; a tag whose position is flat by the journal's fills is dropped. So an
    adopted position stays external across restarts, and an unacknowledged one keeps entries blocked.

    Raises:
        JournalError: a corrupt journal file, one whose schema is not this version's (the writer migrates
            it when it opens it), or a stored value that does not decode (names the file and row).
    """
    return view_of(read_start_facts(path))
