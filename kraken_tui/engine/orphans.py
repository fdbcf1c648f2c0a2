"""Protective orders left on the exchange by an earlier run of ours, taken over or cancelled at start.

Owns: ``parse_protective`` (read a protective cliOrdId of the engine), ``sweep_orphans`` (called once by
``core.Engine.start`` right after the start-up reconciliation pass), ``orphans_by_symbol`` and
``sweep_symbol`` (one symbol's sweep; engine.takeover uses it for a position it takes over later).

An orphan is an open order on the exchange that is reduce-only, whose cliOrdId is one the engine gives a
protective order (``kt-<run8>-<SYMBOL>-<ts_ms>-<stop|trailing|tp1..tp4>[-n]``, engine.execution) and whose
``<run8>`` is not this run's. For each symbol with orphans:
- The position is open on the exchange, on the side the orders reduce, and it is ours (not adopted as
  external): this run takes it over. A ``ManagedPosition`` is built from the exchange's position (size,
  average entry) with a signal id of this run (so every order sent for it later has a cliOrdId of this run;
  an earlier run's ids are never reused), its stop trigger set to the resting stop's (the trailing state
  kept when the stop's purpose is ``trailing``), and the orphans become its protective orders as they rest
  (nothing is re-sent, so the position is never unprotected); the stop's size is then brought in line with
  the position (``OrderFlow.resync``). The time-exit clock restarts at the take-over. A second stop beyond
  the first (a run killed while re-placing its stop) is cancelled.
- The position is gone (or is on the side the orders would grow): the orphans are cancelled, each
  journaled as a ``ReconciliationDiff`` (kind ``order``, action ``cancelled: <why>``) and published as an
  ORDER event.
- The position is open but external (adopted, not managed by the engine): the orphans still protect it and
  are left resting; that is journaled and published the same way (action ``left resting: ...``).
Rules: ../shared/guides/lessons.md "Reconciliation, restarts, duplicates" (protective orders are never left
behind without their position). Units: sizes contracts (Decimal), prices USD, times UTC ms.
Must not import: textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kraken_tui.domain import Order, OrderStatus
from kraken_tui.engine.account import ManagedPosition
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.exits import PositionExits
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.journal.records import IntentPurpose, ReconciliationDiff
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from kraken_tui.engine.core import Engine

__all__ = ["ProtectiveId", "orphans_by_symbol", "parse_protective", "sweep_orphans", "sweep_symbol"]

_CID_RE = re.compile(r"^kt-(?P<sid>(?P<run8>[^-]{8})-(?P<symbol>[^-]+)-\d+)-(?P<purpose>stop|trailing|tp[1-4])(?:-\d+)?$")


@dataclass(frozen=True, slots=True)
class ProtectiveId:
    """A protective cliOrdId taken apart: ``run8`` the sending run's id prefix, ``signal_id`` the position's
    signal id (``<run8>-<SYMBOL>-<ts_ms>``), ``purpose`` stop / trailing / tp1..tp4."""

    run8: str
    signal_id: str
    symbol: str
    purpose: str

    @property
    def is_stop(self) -> bool:
        """True for the stop (``stop`` or ``trailing``)."""
        return self.purpose in ("stop", "trailing")


def parse_protective(cli_ord_id: str | None) -> ProtectiveId | None:
    """``kt-<run8>-<SYMBOL>-<ts_ms>-<purpose>[-n]`` -> its parts; None for any other id (entries, closes,
    flatten orders, foreign orders)."""
    m = _CID_RE.match(cli_ord_id or "")
    if m is None:
        return None
    return ProtectiveId(m["run8"], m["sid"], m["symbol"], m["purpose"])


async def sweep_orphans(eng: Engine) -> tuple[list[str], list[str]]:
    """Take over or cancel the protective orders of earlier runs (module docstring), from the orders and
    positions the start-up reconciliation just read. Returns (cliOrdIds taken over, cliOrdIds cancelled).
    Exchange errors on a cancel are reported (ORDER event), never raised."""
    adopted: list[str] = []
    cancelled: list[str] = []
    for symbol, orphans in sorted(orphans_by_symbol(eng).items()):
        a, c = await sweep_symbol(eng, symbol, orphans)
        adopted += a
        cancelled += c
    return adopted, cancelled


def orphans_by_symbol(eng: Engine) -> dict[str, list[tuple[Order, ProtectiveId]]]:
    """The orphans (module docstring) among the account's open orders, per symbol, by cliOrdId."""
    run8 = eng.run_id[:8]
    by_symbol: dict[str, list[tuple[Order, ProtectiveId]]] = {}
    for o in eng.account.orders.values():
        pid = parse_protective(o.cli_ord_id)
        if pid is None or pid.run8 == run8 or not o.reduce_only or o.cli_ord_id in eng.executor.intents:
            continue
        by_symbol.setdefault(o.symbol, []).append((o, pid))
    for orphans in by_symbol.values():
        orphans.sort(key=lambda t: t[0].cli_ord_id or "")
    return by_symbol


async def sweep_symbol(eng: Engine, symbol: str, orphans: list[tuple[Order, ProtectiveId]]) -> tuple[list[str],
                                                                                                   list[str]]:
    """Take over or cancel the orphans of one symbol (``orphans_by_symbol``; module docstring), against the
    account's position. Returns (cliOrdIds taken over, cliOrdIds cancelled)."""
    adopted: list[str] = []
    cancelled: list[str] = []
    if not orphans:
        return adopted, cancelled
    pos = eng.account.positions.get(symbol)
    inst = eng.instruments.get(symbol)
    why = None
    if pos is None or pos.size == 0:
        why = "its position is gone"
    elif any(o.side is not pos.side.closing_side for o, _ in orphans):
        why = f"it would not reduce the {pos.side.value} position"
    elif eng.rec.is_external(symbol) or inst is None:
        for o, pid in orphans:  # still protecting an open position: left resting, said once
            await _report(eng, o, pid, "left resting: the position is external (not managed by the engine)"
                          if inst is not None else "left resting: the symbol is not listed", "left_resting")
        return adopted, cancelled
    if why is not None:
        for o, pid in orphans:
            await _cancel(eng, o, pid, why)
            cancelled.append(o.cli_ord_id or "")
        return adopted, cancelled
    assert pos is not None and inst is not None
    stop = next(((o, p) for o, p in reversed(orphans) if p.is_stop), None)
    exits = PositionExits(eng.cfg.exits, inst, pos.side, pos.entry_price, pos.size, eng.now_ms(),
                          getattr(eng.strategy, "protective_exits", True))
    # a signal id of this run: orders sent for the position from now on get this run's cliOrdIds, never
    # one an earlier run used (its ids are not in this run's ClientOrderIds)
    mp = ManagedPosition(symbol, make_signal_id(eng.run_id, symbol, eng.now_ms()), exits)
    for o, pid in orphans:
        if pid.is_stop and (o, pid) != stop:
            await _cancel(eng, o, pid, "a second stop for the position (the newer one is kept)")
            cancelled.append(o.cli_ord_id or "")
            continue
        cid = o.cli_ord_id or ""
        key = "stop" if pid.is_stop else pid.purpose
        mp.orders[key] = cid
        eng.flow.cid_ref[cid] = mp.signal_id
        eng.executor.adopt(KnownOrder(symbol, o.side, o.size, o.order_id, cid, pid.purpose),
                           IntentPurpose(pid.purpose))
        eng.rec.believed.pop(cid, None)
        adopted.append(cid)
    if stop is not None:
        o, pid = stop
        if o.stop_price is not None and exits.protective:
            exits.stop_price = o.stop_price
        if pid.purpose == "trailing":
            mp.stop_purpose = "trailing"
            exits.trailing_active = True
    eng.account.managed[symbol] = mp
    eng.emit(EventKind.INFO, f"{symbol} {pos.side.value} {pos.size}: managed by this run; took over "
             f"{counted(len(mp.orders), 'protective order')} of an earlier run", symbol=symbol,
             data={"signal_id": mp.signal_id, "orders": dict(mp.orders)})
    await eng.flow.resync(mp)
    return adopted, cancelled


async def _cancel(eng: Engine, o: Order, pid: ProtectiveId, why: str) -> None:
    """Cancel one orphan by its exchange order id and journal why (``ReconciliationDiff``, kind order)."""
    result = await eng.executor.cancel(cli_ord_id=o.cli_ord_id)
    ok = result.status in (OrderStatus.CANCELLED, OrderStatus.NOT_FOUND, OrderStatus.FILLED)
    if ok:
        eng.rec.believed.pop(o.cli_ord_id or "", None)
    await _report(eng, o, pid, f"cancelled: {why}" if ok
                  else f"cancel failed ({result.raw_status or result.status.value}): {why}",
                  "cancelled" if ok else "cancel_failed")


async def _report(eng: Engine, o: Order, pid: ProtectiveId, action: str, outcome: str) -> None:
    """Journal (``ReconciliationDiff``, kind order; ``outcome`` a ``ReconciliationOutcome`` value) and
    publish (ORDER event) what was done with an orphan."""
    text = f"{pid.purpose} {o.side.value} {o.order_type} {o.size} ({o.cli_ord_id}) of an earlier run"
    await eng._write(ReconciliationDiff(eng.now_ms(), "order", o.symbol, text, f"{o.order_id} open", action,
                                        outcome=outcome))
    eng.emit(EventKind.ORDER, f"{o.symbol} orphaned protective order {o.cli_ord_id}: {action}", symbol=o.symbol,
             severity=Severity.WARNING, data={"cli_ord_id": o.cli_ord_id, "orphan": action})
