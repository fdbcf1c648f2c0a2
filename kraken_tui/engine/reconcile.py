"""Reconciliation: compare what the engine believes with what the exchange reports, and say what to do.

Owns: the small input types (``KnownPosition``, ``KnownOrder``, ``KnownState``, ``ExchangeState``), the
action types, and ``reconcile`` - a PURE function (no I/O, no clock, no mutation of its inputs). The
Engine calls it at start, after a WebSocket reconnect and every ``operator.reconcile_interval_s``
(spec §4.7 openpositions, §4.8 openorders, §4.9 fills, §4.16 orders/status), applies the actions,
journals one ``ReconciliationDiff`` per action (``Action.diff_fields()``) and blocks entries while a
``BlockEntries`` is returned.
Must not import: textual, the client, the journal.

Rules:
- An order missing from openorders is resolved from fills and orders/status BEFORE anything is
  concluded (nautilus_trader #3870: a fast market fill vanishes from /openorders): fills covering it
  -> filled; status FULLY_EXECUTED -> filled (fills not visible yet); CANCELLED / REJECTED -> that;
  status not looked up yet -> ``ResolveOrder`` (ask orders/status, call again); looked up and not found
  with no fill -> cancelled ("gone without a fill").
- Positions are compared per symbol, signed contracts: ``expected = known + sum(signed fills)`` where
  fills are those since the last journaled fill. A difference the fills explain is synced
  (``SyncPosition``, no pause). A position the fills do not explain is adopted and tagged external
  (``AdoptPosition``) and entries are blocked until the operator acknowledges it. A position the
  engine has and the exchange does not is closed (``PositionGone``) with reason ``liquidation``
  when a liquidation fill explains it, ``manual`` when a fill of an order the engine does not know
  explains it, the purpose of our own order when one of ours did, else ``external``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypedDict

from kraken_tui.domain import ZERO, Fill, FillType, Order, Position, PositionSide, Side

__all__ = [
    "BLOCKER_NAME",
    "AdoptPosition",
    "BlockEntries",
    "PositionGone",
    "ExchangeState",
    "ExternalOrder",
    "KnownOrder",
    "KnownPosition",
    "KnownState",
    "NOT_FOUND",
    "OrderResolved",
    "ReconcileAction",
    "ResolveOrder",
    "SyncPosition",
    "reconcile",
    "statuses_from",
]

#: The entry-blocker name the engine uses for an unexplained difference (OperatorStateMachine.block_entries).
BLOCKER_NAME = "reconciliation mismatch"
#: Status value meaning "looked up in orders/status and not found" (closed more than ~5 s ago, spec §4.16).
NOT_FOUND = "NOT_FOUND"
_LIQUIDATION_FILLS = frozenset({FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION})
_OPEN_STATUSES = frozenset({"ENTERED_BOOK", "TRIGGER_PLACED"})
_REJECTED_STATUSES = frozenset({"REJECTED", "TRIGGER_ACTIVATION_FAILURE"})


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class KnownPosition:
    """A position as the engine/journal knows it. ``size`` signed contracts (negative = short), prices USD.
    ``external`` marks an adopted position; ``acknowledged`` is False until the operator accepts it."""

    symbol: str
    size: Decimal
    entry_price: Decimal = ZERO
    external: bool = False
    acknowledged: bool = True


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order the engine placed and believes open. ``size`` = unfilled contracts; ``purpose`` the engine's
    label (entry, stop, tp1..tp4, trailing, time, signal, flatten...). At least one id must be set."""

    symbol: str
    side: Side
    size: Decimal
    order_id: str | None = None
    cli_ord_id: str | None = None
    purpose: str = "entry"

    def __post_init__(self) -> None:
        if not self.order_id and not self.cli_ord_id:
            raise ValueError("a KnownOrder needs order_id or cli_ord_id")


@dataclass(frozen=True, slots=True)
class KnownState:
    """The engine's view: positions by symbol, open orders."""

    positions: Mapping[str, KnownPosition] = field(default_factory=dict)
    orders: Sequence[KnownOrder] = ()


@dataclass(frozen=True, slots=True)
class ExchangeState:
    """What the exchange reported (openpositions §4.7, openorders §4.8) and, for orders missing from
    openorders, what orders/status said (§4.16): ``statuses`` maps an order_id or cliOrdId to Kraken's
    status (ENTERED_BOOK, FULLY_EXECUTED, CANCELLED, REJECTED, TRIGGER_PLACED, TRIGGER_ACTIVATION_FAILURE)
    or ``NOT_FOUND`` when looked up and absent. A missing key means "not looked up yet"."""

    positions: Sequence[Position] = ()
    orders: Sequence[Order] = ()
    statuses: Mapping[str, str] = field(default_factory=dict)


def statuses_from(infos: Iterable[object], asked: Iterable[str] = ()) -> dict[str, str]:
    """Build ``ExchangeState.statuses`` from ``KrakenRestClient.orders_status`` answers (objects with
    ``.order.order_id``, ``.order.cli_ord_id``, ``.status``): every id in ``asked`` that no answer
    mentions is ``NOT_FOUND``."""
    out: dict[str, str] = {}
    for info in infos:
        order, status = info.order, str(info.status)  # type: ignore[attr-defined]
        for key in (order.order_id, order.cli_ord_id):
            if key:
                out[key] = status
    for key in asked:
        out.setdefault(key, NOT_FOUND)
    return out


# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class OrderResolved:
    """A known order is no longer open: ``outcome`` filled / cancelled / rejected. ``filled`` contracts
    executed according to ``fills`` (the fills found for it; may be empty when orders/status said
    FULLY_EXECUTED before the fill is visible - ``filled`` is then the order's remaining size)."""

    order: KnownOrder
    outcome: str
    filled: Decimal
    fills: tuple[Fill, ...] = ()
    detail: str = ""

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("order", self.order.symbol, f"{_oid(self.order)} open {self.order.size}",
                     f"not in openorders; {self.detail}", f"marked {self.outcome}", self.outcome)


@dataclass(frozen=True, slots=True)
class ResolveOrder:
    """A known order is missing from openorders and no fill explains it: look it up with orders/status
    (by ``order.order_id`` / ``cli_ord_id``), put the answer in ``ExchangeState.statuses``, reconcile again.
    Nothing is concluded meanwhile."""

    order: KnownOrder

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("order", self.order.symbol, f"{_oid(self.order)} open {self.order.size}",
                     "not in openorders, no fill", "looking up orders/status", "lookup")


@dataclass(frozen=True, slots=True)
class ExternalOrder:
    """An open order on the exchange the engine did not place (manual or another program): shown with
    purpose ``external``; flatten would cancel it."""

    order: Order

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        o = self.order
        return _diff("order", o.symbol, "unknown", f"{o.order_id} {o.side.value} {o.order_type} {o.size}",
                     "tracked as external", "external")


@dataclass(frozen=True, slots=True)
class AdoptPosition:
    """An exchange position the engine cannot explain: adopt it (tagged external, unacknowledged) and
    block entries. ``size`` signed contracts as reported; ``previous`` what the engine had (0 = none)."""

    symbol: str
    size: Decimal
    entry_price: Decimal
    previous: Decimal = ZERO

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("position", self.symbol, _pos(self.previous), f"{_pos(self.size)} @ {self.entry_price}",
                     "adopted as external, entries paused", "adopted", self.size)


@dataclass(frozen=True, slots=True)
class PositionGone:
    """The engine has a position the exchange does not: record it closed. ``size`` signed contracts that
    went away; ``reason`` liquidation, manual, external, or the purpose of our order that closed it."""

    symbol: str
    size: Decimal
    reason: str

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("position", self.symbol, _pos(self.size), "flat", f"closed ({self.reason})", "closed", ZERO)


@dataclass(frozen=True, slots=True)
class SyncPosition:
    """The position size changed and the fills explain it (``reason``: liquidation, manual, fills, or our
    order's purpose): set the engine's size from ``old`` to ``new`` (signed contracts); no pause."""

    symbol: str
    old: Decimal
    new: Decimal
    reason: str
    entry_price: Decimal | None = None

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("position", self.symbol, _pos(self.old), _pos(self.new), f"synced ({self.reason})", "synced",
                     self.new)


@dataclass(frozen=True, slots=True)
class BlockEntries:
    """Keep entries blocked (blocker ``BLOCKER_NAME``) with ``detail``. At most one per result; when a
    result has none the caller clears the blocker."""

    detail: str

    def diff_fields(self) -> DiffFields:
        """Fields of a journal ``ReconciliationDiff`` (all but ``ts_ms``)."""
        return _diff("position", None, "-", "-", f"entries paused: {self.detail}", "blocked")


ReconcileAction = OrderResolved | ResolveOrder | ExternalOrder | AdoptPosition | PositionGone | SyncPosition | BlockEntries


class DiffFields(TypedDict):
    """The fields of a journal ``ReconciliationDiff`` but ``ts_ms`` (``journal.records``): the texts for people
    (``journal_value``, ``exchange_value``, ``action``), ``outcome`` (a ``ReconciliationOutcome`` value) and
    ``exchange_size`` (the exchange's position, signed contracts; None when the action is not about a size)."""

    kind: str
    symbol: str | None
    journal_value: str
    exchange_value: str
    action: str
    outcome: str
    exchange_size: Decimal | None


def _diff(kind: str, symbol: str | None, journal: str, exchange: str, action: str, outcome: str,
          exchange_size: Decimal | None = None) -> DiffFields:
    """The journal diff's fields: ``action`` text for people; ``outcome`` (the journal's
    ``ReconciliationOutcome`` value) and ``exchange_size`` (signed contracts) for programs."""
    return {"kind": kind, "symbol": symbol, "journal_value": journal, "exchange_value": exchange, "action": action,
            "outcome": outcome, "exchange_size": exchange_size}


def _oid(o: KnownOrder) -> str:
    return f"{o.purpose} {o.side.value} {o.order_id or o.cli_ord_id}"


def _pos(size: Decimal) -> str:
    if size == 0:
        return "flat"
    return f"{'long' if size > 0 else 'short'} {abs(size)}"


def _signed(f: Fill) -> Decimal:
    return f.size if f.side is Side.BUY else -f.size


# ----------------------------------------------------------------------------- the function


def reconcile(known: KnownState, exchange: ExchangeState, fills: Sequence[Fill] = ()) -> list[ReconcileAction]:
    """Compare the engine's positions and orders with the exchange's and return what to do.

    Args:
        known: the engine's positions (signed contracts) and open orders.
        exchange: openpositions, openorders and, optionally, orders/status answers.
        fills: every fill since the last journaled one (spec §4.9), any order.

    Returns:
        Actions, orders first, then positions by symbol, then at most one ``BlockEntries`` (last).
        An empty list means everything agrees.

    Raises:
        Nothing for any combination of inputs (pure; see the module docstring for the rules).
    """
    actions: list[ReconcileAction] = []
    mine = _index_known_fills(known.orders, fills)
    actions += _orders(known, exchange, fills)
    blocks: list[str] = []
    actions += _positions(known, exchange, fills, mine, blocks)
    if blocks:
        actions.append(BlockEntries("; ".join(blocks)))
    return actions


def _index_known_fills(orders: Sequence[KnownOrder], fills: Sequence[Fill]) -> dict[str, KnownOrder]:
    """fill_id -> the known order it belongs to (by order_id, else cliOrdId)."""
    by_id = {o.order_id: o for o in orders if o.order_id}
    by_cli = {o.cli_ord_id: o for o in orders if o.cli_ord_id}
    out = {}
    for f in fills:
        o = by_id.get(f.order_id) or (by_cli.get(f.cli_ord_id) if f.cli_ord_id else None)
        if o is not None:
            out[f.fill_id] = o
    return out


def _orders(known: KnownState, exchange: ExchangeState, fills: Sequence[Fill]) -> list[ReconcileAction]:
    out: list[ReconcileAction] = []
    open_ids = {o.order_id for o in exchange.orders}
    open_cli = {o.cli_ord_id for o in exchange.orders if o.cli_ord_id}
    matched: set[str] = set()
    for k in known.orders:
        if (k.order_id and k.order_id in open_ids) or (k.cli_ord_id and k.cli_ord_id in open_cli):
            matched.update(x for x in (k.order_id, k.cli_ord_id) if x)
            continue
        own = tuple(f for f in fills if (k.order_id and f.order_id == k.order_id)
                    or (k.cli_ord_id and f.cli_ord_id == k.cli_ord_id))
        filled = sum((f.size for f in own), ZERO)
        status = _status_of(k, exchange.statuses)
        if own and filled >= k.size:
            out.append(OrderResolved(k, "filled", filled, own, "fills cover it"))
        elif status == "FULLY_EXECUTED":
            out.append(OrderResolved(k, "filled", max(filled, k.size), own, "orders/status FULLY_EXECUTED"))
        elif status == "CANCELLED":
            out.append(OrderResolved(k, "cancelled", filled, own, "orders/status CANCELLED"))
        elif status in _REJECTED_STATUSES:
            out.append(OrderResolved(k, "rejected", filled, own, f"orders/status {status}"))
        elif status in _OPEN_STATUSES:
            continue  # open per orders/status: openorders raced it; look again next time
        elif status is None:
            out.append(ResolveOrder(k))
        elif own:  # NOT_FOUND (or unrecognised) after a partial fill: the rest was cancelled
            out.append(OrderResolved(k, "cancelled", filled, own, f"partly filled, then gone ({status})"))
        else:
            out.append(OrderResolved(k, "cancelled", ZERO, (), f"gone without a fill ({status})"))
    for o in exchange.orders:
        if o.order_id in matched or (o.cli_ord_id and o.cli_ord_id in matched):
            continue
        out.append(ExternalOrder(o))
    return out


def _status_of(k: KnownOrder, statuses: Mapping[str, str]) -> str | None:
    for key in (k.order_id, k.cli_ord_id):
        if key and key in statuses:
            return statuses[key]
    return None


def _positions(known: KnownState, exchange: ExchangeState, fills: Sequence[Fill], mine: Mapping[str, KnownOrder],
               blocks: list[str]) -> list[ReconcileAction]:
    out: list[ReconcileAction] = []
    ex_pos = {p.symbol: p for p in exchange.positions if p.size != 0}
    for sym in sorted(set(known.positions) | set(ex_pos)):
        kp = known.positions.get(sym)
        k = kp.size if kp else ZERO
        xp = ex_pos.get(sym)
        x = (xp.size if xp.side is PositionSide.LONG else -xp.size) if xp else ZERO
        sym_fills = [f for f in fills if f.symbol == sym]
        if k == x:
            if kp is not None and kp.external and not kp.acknowledged and k != 0:
                blocks.append(f"{sym} {_pos(k)} is external and not acknowledged")
            continue
        explained = k + sum((_signed(f) for f in sym_fills), ZERO) == x
        reason = _reason(sym_fills, mine) if explained else "external"
        entry = xp.entry_price if xp else None
        if explained:
            if x == 0:
                out.append(PositionGone(sym, k, reason))
            else:
                out.append(SyncPosition(sym, k, x, reason, entry))
            continue
        if x == 0:  # ours, gone, fills do not account for it
            out.append(PositionGone(sym, k, "manual" if _has_foreign(sym_fills, mine) else "external"))
            continue
        out.append(AdoptPosition(sym, x, entry if entry is not None else ZERO, k))
        blocks.append(f"{sym} exchange {_pos(x)} vs engine {_pos(k)} unexplained")
    return out


def _has_foreign(fills: Sequence[Fill], mine: Mapping[str, KnownOrder]) -> bool:
    return any(f.fill_id not in mine and f.fill_type not in _LIQUIDATION_FILLS for f in fills)


def _reason(fills: Sequence[Fill], mine: Mapping[str, KnownOrder]) -> str:
    """Why fills moved a position: liquidation beats everything, then fills of unknown orders (manual),
    then our orders' purpose (the last fill's), else ``fills``."""
    if any(f.fill_type in _LIQUIDATION_FILLS for f in fills):
        return "liquidation"
    if _has_foreign(fills, mine):
        return "manual"
    ours = [mine[f.fill_id] for f in sorted(fills, key=lambda f: f.ts_ms) if f.fill_id in mine]
    return ours[-1].purpose if ours else "fills"
