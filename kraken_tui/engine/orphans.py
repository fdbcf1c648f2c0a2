"""Protective orders left on the exchange by an earlier run of ours, taken over or cancelled at start.

Owns: ``parse_protective`` (read a protective cliOrdId of the engine) and ``OrphanSweep``: ``sweep``
(called once by ``core.Engine.start`` right after the start-up reconciliation pass), ``by_symbol`` and
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
- The position is gone: the orphans are cancelled, each journaled as a ``ReconciliationDiff`` (kind
  ``order``, action ``cancelled: <why>``) and published as an ORDER event. Orphans on the side that would grow
  the open position (an earlier position's, left by a run killed during a reversal) are cancelled the same
  way; the others are handled by the rules here, so the open position's stop is never cancelled with them.
- The position is open but external (adopted, not managed by the engine): the orphans still protect it and
  are left resting; that is journaled and published the same way (action ``left resting: ...``).
Rule: protective orders are never left behind without their position. Units: sizes contracts (Decimal), prices USD, times UTC ms.
Must not import: textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import Instrument, Order, OrderStatus
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.execution import Executor, make_signal_id
from kraken_tui.engine.exits import PositionExits
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.journal.records import IntentPurpose, ReconciliationDiff
from kraken_tui.wording import counted

__all__ = ["OrphanSweep", "ProtectiveId", "parse_protective"]

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


Orphan = tuple[Order, ProtectiveId]
"""An open order of an earlier run and its parsed cliOrdId."""


def parse_protective(cli_ord_id: str | None) -> ProtectiveId | None:
    """``kt-<run8>-<SYMBOL>-<ts_ms>-<purpose>[-n]`` -> its parts; None for any other id (entries, closes,
    flatten orders, foreign orders)."""
    m = _CID_RE.match(cli_ord_id or "")
    if m is None:
        return None
    return ProtectiveId(m["run8"], m["sid"], m["symbol"], m["purpose"])


@dataclass(frozen=True, slots=True)
class OrphanSweep:
    """Take over or cancel the protective orders of earlier runs (module docstring).

    Attributes:
        io: events, clock, journal.
        account: the account (open orders, positions, managed positions).
        instruments: symbol -> Instrument.
        executor: cancels; a taken-over order is adopted as this run's (``Executor.adopt``).
        flow: order flows (cliOrdId -> position, the stop resync).
        exits_cfg: the ``[exits]`` section.
        run_id: this run's id (its first 8 characters tell this run's cliOrdIds).
        protective: the strategy places protective exits.
        is_external: symbol -> its position was adopted as external (reconciliation).
        forget_believed: cliOrdId -> drop it from the orders the journal believes resting.
    """

    io: EngineIO
    account: AccountTracker
    instruments: Mapping[str, Instrument]
    executor: Executor
    flow: OrderFlow
    exits_cfg: ExitsConfig
    run_id: str
    protective: bool
    is_external: Callable[[str], bool]
    forget_believed: Callable[[str], None]

    async def sweep(self) -> tuple[list[str], list[str]]:
        """Take over or cancel the orphans of every symbol, from the orders and positions the start-up
        reconciliation just read. Returns (cliOrdIds taken over, cliOrdIds cancelled). Exchange errors on a
        cancel are reported (ORDER event), never raised."""
        adopted: list[str] = []
        cancelled: list[str] = []
        for symbol, orphans in sorted(self.by_symbol().items()):
            a, c = await self.sweep_symbol(symbol, orphans)
            adopted += a
            cancelled += c
        return adopted, cancelled

    def by_symbol(self) -> dict[str, list[Orphan]]:
        """The orphans (module docstring) among the account's open orders, per symbol, by cliOrdId."""
        run8 = self.run_id[:8]
        by_symbol: dict[str, list[Orphan]] = {}
        for o in self.account.orders.values():
            pid = parse_protective(o.cli_ord_id)
            if pid is None or pid.run8 == run8 or not o.reduce_only or o.cli_ord_id in self.executor.intents:
                continue
            by_symbol.setdefault(o.symbol, []).append((o, pid))
        for orphans in by_symbol.values():
            orphans.sort(key=lambda t: t[0].cli_ord_id or "")
        return by_symbol

    async def sweep_symbol(self, symbol: str, orphans: list[Orphan]) -> tuple[list[str], list[str]]:
        """Take over or cancel the orphans of one symbol (``by_symbol``; module docstring), against the
        account's position. Returns (cliOrdIds taken over, cliOrdIds cancelled)."""
        adopted: list[str] = []
        cancelled: list[str] = []
        if not orphans:
            return adopted, cancelled
        pos = self.account.positions.get(symbol)
        inst = self.instruments.get(symbol)
        why = None
        if pos is None or pos.size == 0:
            why = "its position is gone"
        else:
            # an earlier position's orders on the other side (a run killed during a reversal) are cancelled;
            # those that reduce the open position still protect it and go on below
            wrong = [(o, pid) for o, pid in orphans if o.side is not pos.side.closing_side]
            for o, pid in wrong:
                await self._cancel(o, pid, f"it would not reduce the {pos.side.value} position")
                cancelled.append(o.cli_ord_id or "")
            orphans = [t for t in orphans if t not in wrong]
            if not orphans:
                return adopted, cancelled
        if why is None and (self.is_external(symbol) or inst is None):
            for o, pid in orphans:  # still protecting an open position: left resting, said once
                await self._report(o, pid, "left resting: the position is external (not managed by the engine)"
                                   if inst is not None else "left resting: the symbol is not listed", "left_resting")
            return adopted, cancelled
        if why is not None:
            for o, pid in orphans:
                await self._cancel(o, pid, why)
                cancelled.append(o.cli_ord_id or "")
            return adopted, cancelled
        assert pos is not None and inst is not None
        now = self.io.now_ms()
        stop = next(((o, p) for o, p in reversed(orphans) if p.is_stop), None)
        exits = PositionExits(self.exits_cfg, inst, pos.side, pos.entry_price, pos.size, now, self.protective)
        # a signal id of this run: orders sent for the position from now on get this run's cliOrdIds, never
        # one an earlier run used (its ids are not in this run's ClientOrderIds)
        mp = ManagedPosition(symbol, make_signal_id(self.run_id, symbol, self.io.now_ms()), exits)
        for o, pid in orphans:
            if pid.is_stop and (o, pid) != stop:
                await self._cancel(o, pid, "a second stop for the position (the newer one is kept)")
                cancelled.append(o.cli_ord_id or "")
                continue
            cid = o.cli_ord_id or ""
            key = "stop" if pid.is_stop else pid.purpose
            mp.orders[key] = cid
            self.flow.cid_ref[cid] = mp.signal_id
            self.executor.adopt(KnownOrder(symbol, o.side, o.size, o.order_id, cid, pid.purpose),
                                IntentPurpose(pid.purpose))
            self.forget_believed(cid)
            adopted.append(cid)
        if stop is not None:
            o, pid = stop
            if o.stop_price is not None and exits.protective:
                exits.stop_price = o.stop_price
            if pid.purpose == "trailing":
                mp.stop_purpose = "trailing"
                exits.trailing_active = True
        self.account.managed[symbol] = mp
        self.io.emit(EventKind.INFO, f"{symbol} {pos.side.value} {pos.size}: managed by this run; took over "
                     f"{counted(len(mp.orders), 'protective order')} of an earlier run", symbol=symbol,
                     data={"signal_id": mp.signal_id, "orders": dict(mp.orders)})
        await self.flow.resync(mp)
        return adopted, cancelled

    async def _cancel(self, o: Order, pid: ProtectiveId, why: str) -> None:
        """Cancel one orphan by its cliOrdId and journal why (``ReconciliationDiff``, kind order)."""
        result = await self.executor.cancel(cli_ord_id=o.cli_ord_id)
        ok = result.status in (OrderStatus.CANCELLED, OrderStatus.NOT_FOUND, OrderStatus.FILLED)
        if ok:
            self.forget_believed(o.cli_ord_id or "")
        await self._report(o, pid, f"cancelled: {why}" if ok
                           else f"cancel failed ({result.raw_status or result.status.value}): {why}",
                           "cancelled" if ok else "cancel_failed")

    async def _report(self, o: Order, pid: ProtectiveId, action: str, outcome: str) -> None:
        """Journal (``ReconciliationDiff``, kind order; ``outcome`` a ``ReconciliationOutcome`` value) and
        publish (ORDER event) what was done with an orphan."""
        text = f"{pid.purpose} {o.side.value} {o.order_type} {o.size} ({o.cli_ord_id}) of an earlier run"
        await self.io.write(ReconciliationDiff(self.io.now_ms(), "order", o.symbol, text, f"{o.order_id} open",
                                               action, outcome=outcome))
        self.io.emit(EventKind.ORDER, f"{o.symbol} orphaned protective order {o.cli_ord_id}: {action}",
                     symbol=o.symbol, severity=Severity.WARNING, data={"cli_ord_id": o.cli_ord_id, "orphan": action})
