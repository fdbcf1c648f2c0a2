"""Whose fill is it, and is it the account's history or a fill to book: the rule the engine applies to the
REST fills read by reconciliation (spec §4.9) and to the WebSocket ``fills`` snapshot (spec §7.9).

Owns: ``FillOrigin`` (the engine's instance of the rule, ``reconciler.Reconciler.origin``),
``OurOrders`` (the cliOrdIds of every intent the journal holds and the order ids the journal's order
events gave them, plus those this run learns), ``our_orders`` (the journal's read of them,
``journal.queries.read_order_ids``), ``split_rest`` (what to do with the REST fills of a reconciliation
pass, and where a fresh journal's history ends) and ``split_snapshot`` (what to do with each fill of a
WS snapshot).

The rule (also in ``reconciler``'s module docstring):
- A fill not yet in the journal (journal fill ids, the account's seen ids) whose cliOrdId is one of our
  intents - journaled by any run, or sent in this one - or whose order id we know is OURS and is booked,
  wherever it comes from (REST read at start or later, WS snapshot, WS update) and whatever its time. The
  WS snapshot carries no cliOrdId (spec §7.9, CCXT-PRO), so there the order id decides and the booked fill
  gets the cliOrdId back (the journal's trades join fills to intents by it).
- The history boundary ``history_ms`` (UTC ms, exchange fill time) is fixed by the first successful
  reconciliation pass: the journal's last fill time when it has fills; for a fresh journal the time of the
  first unjournaled fill of ours found over REST, else the newest REST fill's time (every fill read is then
  history; 0 when the account has no fill). Fills of other orders older than it are the account's
  history: marked seen, never booked.
  Fills at or after it that are not in the journal are new: booked (a fill of an order we did not send is
  then adopted as external by ``Reconciler.on_booked_fill``).
- A new snapshot fill whose owner cannot be told (no cliOrdId, unknown order id) is not decided from the
  snapshot: it stays unseen and the next REST pass (whose fills carry cliOrdId) books it. Before the
  boundary exists (the start-up pass failed) no fill of unknown owner is decided at all.
The journal dedupes fills by fill id (``ON CONFLICT(fill_id) DO NOTHING``) and the account books a fill id
once (``AccountTracker.apply_fill``), so a fill seen by several of these paths is booked exactly once.
Units: times UTC ms. Must not import: textual, the client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kraken_tui.domain import Fill
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.journal_view import JournalView
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.journal.queries import read_order_ids

__all__ = ["FillOrigin", "OurOrders", "RestSplit", "SnapshotSplit", "our_orders", "split_rest", "split_snapshot"]


@dataclass
class OurOrders:
    """Our orders known by id: ``purposes`` cliOrdId -> intent purpose (every journaled intent);
    ``cli_of`` exchange order id -> our cliOrdId (journaled order events, orders seen in this run)."""

    purposes: dict[str, str] = field(default_factory=dict)
    cli_of: dict[str, str] = field(default_factory=dict)

    def add(self, cli_ord_id: str, *, order_id: str | None = None, purpose: str | None = None) -> None:
        """Remember one of our orders (``purpose`` kept when already known)."""
        if purpose is not None or cli_ord_id not in self.purposes:
            self.purposes[cli_ord_id] = purpose or self.purposes.get(cli_ord_id, "")
        if order_id:
            self.cli_of[order_id] = cli_ord_id

    def match(self, f: Fill) -> Fill | None:
        """``f`` when it is a fill of one of our orders (with its cliOrdId filled in from the order id when
        the fill lacks it), else None."""
        if f.cli_ord_id and f.cli_ord_id in self.purposes:
            return f
        cid = self.cli_of.get(f.order_id) if f.order_id else None
        if cid is None or (f.cli_ord_id and f.cli_ord_id != cid):
            return None
        return f if f.cli_ord_id == cid else dataclasses.replace(f, cli_ord_id=cid)


def our_orders(path: str | None) -> OurOrders:
    """Every intent's cliOrdId and purpose and every order id the order events gave them, from the journal
    at ``path`` (read-only, ``journal.queries.read_order_ids``). No path, a missing file or a journal
    without tables gives an empty ``OurOrders``.

    Raises:
        JournalError: a corrupt journal file.
    """
    ids = read_order_ids(path)
    return OurOrders(dict(ids.purposes), dict(ids.cli_of))


@dataclass(frozen=True, slots=True)
class RestSplit:
    """What to do with the REST fills of a reconciliation pass: ``book`` (fills to book, time order,
    cliOrdIds filled in), ``history`` (fill ids to mark seen, never booked), ``history_ms`` the boundary."""

    book: tuple[Fill, ...]
    history: tuple[str, ...]
    history_ms: int


def split_rest(fills: Sequence[Fill], *, is_new: Callable[[str], bool], ours: Callable[[Fill], Fill | None],
               history_ms: int | None, journal_last_ms: int | None) -> RestSplit:
    """Sort the REST fills of a reconciliation pass (spec §4.9) by the module docstring's rule.

    Args:
        fills: the fills read (the latest 100, or paged back).
        is_new: fill id -> True when neither the journal nor the account has it.
        ours: ``OurOrders.match`` plus this run's orders: the fill (cliOrdId filled in) or None.
        history_ms: the boundary (UTC ms) when an earlier pass fixed it; None at the first successful pass,
            which fixes it: ``journal_last_ms`` (the journal's last fill time) when the journal has fills,
            else the earliest new fill of ours, else the newest fill's time, else 0.
        journal_last_ms: the journal's last fill time (UTC ms), None for a fresh journal.
    """
    mine = {f.fill_id: m for f in fills if is_new(f.fill_id) and (m := ours(f)) is not None}
    history: list[str] = []
    if history_ms is None and journal_last_ms is not None:
        history_ms = journal_last_ms
    elif history_ms is None:
        if mine:
            history_ms = min(m.ts_ms for m in mine.values())
            history = [f.fill_id for f in fills if f.fill_id not in mine and f.ts_ms < history_ms]
        else:  # nothing of ours: every fill read is the account's history
            history_ms = max((f.ts_ms for f in fills), default=0)
            history = [f.fill_id for f in fills]
    done = set(history)
    book = [mine.get(f.fill_id, f) for f in fills if f.fill_id not in done and is_new(f.fill_id)
            and (f.fill_id in mine or f.ts_ms >= history_ms)]
    book.sort(key=lambda f: f.ts_ms)
    return RestSplit(tuple(book), tuple(history), history_ms)


@dataclass(frozen=True, slots=True)
class SnapshotSplit:
    """What to do with a WS fills snapshot: ``book`` (fills to book, time order, cliOrdIds filled in),
    ``history`` (fill ids to mark seen, never booked), ``undecided`` (fill ids left for a REST pass)."""

    book: tuple[Fill, ...] = ()
    history: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()


def split_snapshot(fills: Iterable[Fill], *, is_new: Callable[[str], bool], ours: Callable[[Fill], Fill | None],
                   history_ms: int | None) -> SnapshotSplit:
    """Sort a WS fills snapshot (spec §7.9) by the module docstring's rule.

    Args:
        fills: the snapshot's fills.
        is_new: fill id -> True when neither the journal nor the account has it.
        ours: ``OurOrders.match`` plus this run's orders: the fill (cliOrdId filled in) or None.
        history_ms: the history boundary (UTC ms), None before the first successful reconciliation pass.
    """
    book: list[Fill] = []
    history: list[str] = []
    undecided: list[str] = []
    for f in fills:
        if not is_new(f.fill_id):
            continue
        mine = ours(f)
        if mine is not None:
            book.append(mine)
        elif history_ms is not None and f.ts_ms < history_ms:
            history.append(f.fill_id)
        elif history_ms is not None and f.cli_ord_id:
            book.append(f)  # another program's order, after the boundary: booked, then adopted as external
        else:
            undecided.append(f.fill_id)
    book.sort(key=lambda f: f.ts_ms)
    return SnapshotSplit(tuple(book), tuple(history), tuple(undecided))


class FillOrigin:
    """The rule of the module docstring applied for one engine: journal fill ids, ``ours`` (``OurOrders``)
    and the history boundary ``history_ms`` (UTC ms, None until the first successful reconciliation pass).

    Args:
        account: the engine's account (fill ids booked or marked seen).
        executor: this run's intents and resting orders.
        believed: the orders the journal believes resting (the reconciler's ``believed``), read at each call.
        schedule_pass: queue a reconciliation pass (``Reconciler.schedule``), given why.
    """

    def __init__(self, account: AccountTracker, executor: Executor, believed: Callable[[], Iterable[KnownOrder]],
                 schedule_pass: Callable[[str], None]) -> None:
        self.account, self.executor = account, executor
        self._believed, self._schedule = believed, schedule_pass
        self.ours = OurOrders()
        self.journaled: set[str] = set()
        self.history_ms: int | None = None

    def load(self, view: JournalView, ours: OurOrders | None) -> None:
        """Start from the journal: its fill ids, its intents and order ids (``our_orders``; the orders
        ``journal_view`` believes resting are added)."""
        self.ours = ours or OurOrders()
        for k in view.orders.values():
            if k.cli_ord_id:
                self.ours.add(k.cli_ord_id, order_id=k.order_id, purpose=k.purpose)
        self.journaled = set(view.fill_ids)

    def is_new(self, fill_id: str) -> bool:
        """True when neither the journal nor the account has booked (or marked seen) ``fill_id``."""
        return fill_id not in self.journaled and not self.account.seen(fill_id)

    def owned(self, f: Fill) -> Fill | None:
        """``f`` (cliOrdId filled in from its order id when missing) when it is a fill of one of our orders
        known by id - journaled intents and order ids, this run's intents and resting orders - else None.
        Our cliOrdId prefix alone does not make a fill ours here (another journal's run may have sent it)."""
        m = self.ours.match(f)
        if m is not None:
            return m
        if f.cli_ord_id and f.cli_ord_id in self.executor.intents:
            return f
        for k in (*self.executor.live.values(), *self._believed()):
            if k.order_id and k.order_id == f.order_id and k.cli_ord_id and f.cli_ord_id in (None, k.cli_ord_id):
                return dataclasses.replace(f, cli_ord_id=k.cli_ord_id)
        return None

    def purpose_of(self, cli_ord_id: str | None) -> str | None:
        """The journaled intent purpose of one of our cliOrdIds (any run), None when unknown."""
        return self.ours.purposes.get(cli_ord_id or "") or None

    def snapshot(self, fills: Sequence[Fill]) -> list[Fill]:
        """A WS fills snapshot (spec §7.9): mark the account's history seen and return the fills to book
        (``split_snapshot``); a fill whose owner the snapshot cannot tell queues a REST pass."""
        split = split_snapshot(fills, is_new=self.is_new, ours=self.owned, history_ms=self.history_ms)
        for fid in split.history:
            self.account.mark_seen(fid)
        if split.undecided:
            self._schedule("fills snapshot")
        return list(split.book)

    def rest(self, fills: Sequence[Fill], *, journal_last_ms: int | None) -> list[Fill]:
        """The REST fills of a reconciliation pass to book (``split_rest``; ``journal_last_ms`` the journal's
        last fill time, UTC ms); the first successful pass fixes the history boundary and marks a fresh
        journal's history seen."""
        split = split_rest(fills, is_new=self.is_new, ours=self.owned, history_ms=self.history_ms,
                           journal_last_ms=journal_last_ms)
        for fid in split.history:
            self.account.mark_seen(fid)
        self.history_ms = split.history_ms
        return list(split.book)
