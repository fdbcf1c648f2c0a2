"""The private WebSocket feeds (Kraken Futures docs, WebSocket API v1: ``fills``, ``open_orders``,
``open_positions``, ``balances``; docs/kraken-futures-api.md §7) into the account: fills booked, journaled and
published and driving the managed positions' exits, order updates, position and balance reports.

Owns: ``AccountEvents``:
- ``on_fill``: one fill booked (``AccountTracker.apply_fill``; a fill already booked is ignored), journaled,
  published (FILL event with its purpose); the managed position it belongs to is exited, grown or resynced:
  an entry of this run for the position's own signal is its entry; a fill on the position's own side that is
  no entry of this run grows it (``grow``; never an exit); any other fill of the position reduces it
  (``OrderFlow.on_exit_fill``) and, once nothing is left, closes it with its exit reason (liquidation,
  flatten, the exit order's purpose) and cleans up its protective orders; a closing fill of a position the
  engine does not manage counts as an ``external`` exit.
- ``protective_gone``: a protective order that left the book without filling (exchange cancel, dead man's
  switch) is forgotten with a WARNING alert; the position is then unprotected until the operator acts.
- ``ws_positions``/``known_positions``: the positions as the exchange last pushed them (a flatten sizes its
  closes from them while the private feed is live).
- ``handle``: the dispatch of the private feed events.
- ``observe_account`` / ``ExternalFlattenWatch``: after every positions or orders report (and every
  reconciliation pass) the account as the exchange reports it goes to ``guards.ExternalFlattenGuard``; a flatten done behind the engine's back
  (positions and orders gone without an action of ours) latches HALTED after ``EXTERNAL_FLATTEN_SETTLE_S``.
  Fills and filled or triggered orders of our own exits (stop, take-profits, exits) are reported to it as
  ``own_exit`` so that our own closes never count.
Fill snapshots (at start and after every reconnect) are not all history: which of their fills are booked is
``fill_origin.FillOrigin.snapshot``'s rule.
Units: sizes contracts, prices and P&L USD (Decimal), times UTC ms.
Must not import: textual, the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kraken_tui.domain import Fill, FillType, Position
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.account_watch import AccountWatch
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.fill_origin import FillOrigin
from kraken_tui.engine.guards import ExternalFlattenGuard, GuardAction, GuardApplier
from kraken_tui.engine.order_flow import OrderFlow, exit_reason_for
from kraken_tui.journal.records import Alert, IntentPurpose
from kraken_tui.kraken import ws_events as W

__all__ = ["EXTERNAL_FLATTEN_SETTLE_S", "AccountEvents", "ExitOwner", "ExternalFlattenWatch"]

#: Order-update reasons that are no loss of a protective order (it filled, triggered, or we cancelled it).
_EXPECTED_GONE = (None, "full_fill", "stop_order_triggered", "cancelled_by_user")
#: Order-update reasons of an order that left the book by filling or triggering (Kraken Futures docs,
#: WebSocket API v1 ``open_orders`` reasons).
_FILLED_GONE = ("full_fill", "stop_order_triggered")
#: Intent purposes that open or grow a position (every other purpose of ours closes or reduces one).
_OPENING = ("entry", "add")
#: Seconds an emptied account waits for a late fill of ours before it counts as flattened behind our back.
EXTERNAL_FLATTEN_SETTLE_S = 1.0


class ExitOwner(Protocol):
    """Who decides about exits while a flatten runs (``flatten.EngineFlatten``)."""

    def owns_exits(self) -> bool:
        """True while FLATTENING or HALTED: the flatten closes the positions, no exit order is resynced."""
        ...

    def exit_reason(self, ours: bool, cli_ord_id: str | None = None) -> str | None:
        """The exit reason of a position closed now (``flatten`` for a flatten's close or a fill not ours while
        flattening), None = no override."""
        ...

    def fill_label(self, cli_ord_id: str | None) -> str | None:
        """``flatten (<source>)`` for a fill of a flatten's close, None for any other fill."""
        ...

    def position_closed(self, mp: ManagedPosition, reason: str) -> bool:
        """``mp`` closed with ``reason``; True when the flatten took its protective orders (no clean-up)."""
        ...


class ExternalFlattenWatch:
    """Runs ``guards.ExternalFlattenGuard`` on the account as the exchange reports it and carries out its
    actions; a suspicion is confirmed ``EXTERNAL_FLATTEN_SETTLE_S`` later on the event loop (a timer).

    Args:
        guards: carries out the guard's actions (``guards.GuardApplier``: blocker, HALTED, alert).
        ours_running: True while a flatten of ours runs or the engine is HALTED (``ExitOwner.owns_exits``).
        settle_s: seconds a suspicion waits for a late fill of ours.
    """

    def __init__(self, guards: GuardApplier, ours_running: Callable[[], bool],
                 settle_s: float = EXTERNAL_FLATTEN_SETTLE_S) -> None:
        self.guard = ExternalFlattenGuard()
        self.guards, self.ours_running, self.settle_s = guards, ours_running, settle_s
        self._timer: asyncio.TimerHandle | None = None

    def _apply(self, actions: list[GuardAction]) -> None:
        if actions:
            self.guards.apply(actions)

    def observe(self, account: AccountTracker) -> None:
        """The exchange's latest positions and open orders (``account``) to the guard; starts the settle timer
        when it suspects an emptied account."""
        positions = {s: p.signed_size for s, p in account.positions.items()}
        self._apply(self.guard.observe(positions, len(account.orders), self.ours_running()))
        if self.guard.pending is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.settle_s, self._confirm)

    def own_exit(self, symbol: str) -> None:
        """An order of ours closed or reduced ``symbol``'s position."""
        self._apply(self.guard.own_exit(symbol))

    def flatten_close(self, symbol: str) -> None:
        """A fill of a flatten's close (cliOrdId ``flat-``) that no flatten of ours explains: the position went
        first, the cancel-all of the same flatten follows (``guards.ExternalFlattenGuard.flatten_close``)."""
        if not self.ours_running():
            self.guard.flatten_close(symbol)

    def close(self) -> None:
        """The engine stops: a pending confirmation is dropped (nothing fires after the stop)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _confirm(self) -> None:
        self._timer = None
        self._apply(self.guard.confirm(self.ours_running()))


class AccountEvents:
    """The private feeds into the account (module docstring).

    Args:
        io: events, clock, journal and job queue (``context.EngineIO``).
        account: the account the feeds update.
        executor: this run's intents (purpose of a fill's order; orders that left the book).
        flow: the managed positions' exits, resyncs and clean-ups (``order_flow.OrderFlow``).
        origin: which fills and orders are ours (``fill_origin.FillOrigin``).
        booked: called with each newly booked fill after it is journaled (``Reconciler.on_booked_fill``).
        is_ours: whether a cliOrdId is an order of ours, this run or an earlier one.
        flatten: the flatten's say over exits (``ExitOwner``).
        watch: equity checks and the loss streak (``account_watch.AccountWatch``).
        feed_live: True while the WebSocket connection is up.
        external_flatten: notices a flatten done behind the engine's back (``ExternalFlattenWatch``); None = off.

    Attributes:
        ws_positions: positions as the exchange last pushed them on the private ``open_positions`` feed (spec
            §7.10); None until its snapshot arrived and again after a disconnect.
    """

    def __init__(self, io: EngineIO, *, account: AccountTracker, executor: Executor, flow: OrderFlow,
                 origin: FillOrigin, booked: Callable[[Fill], Awaitable[None]],
                 is_ours: Callable[[str | None], bool], flatten: ExitOwner, watch: AccountWatch,
                 feed_live: Callable[[], bool], external_flatten: ExternalFlattenWatch | None = None) -> None:
        self.io, self.account, self.executor, self.flow, self.origin = io, account, executor, flow, origin
        self._booked, self._is_ours, self.flatten, self.watch = booked, is_ours, flatten, watch
        self._feed_live = feed_live
        self.ws_positions: tuple[Position, ...] | None = None
        self.external_flatten = external_flatten

    def known_positions(self) -> tuple[Position, ...] | None:
        """The positions the exchange last pushed, when the private feed is live (connected and the
        ``open_positions`` snapshot arrived since), else None."""
        if self.ws_positions is None:
            return None
        return self.ws_positions if self._feed_live() else None

    def disconnected(self) -> None:
        """The WebSocket dropped: the pushed positions are not live any more (the next snapshot counts)."""
        self.ws_positions = None

    async def handle(self, ev: Any) -> bool:
        """Handle one private feed event (fills, order update, open orders snapshot, positions, balances);
        False when ``ev`` is none of them."""
        if isinstance(ev, W.FillsEvent):
            fills = self.origin.snapshot(ev.fills) if ev.snapshot else sorted(ev.fills, key=lambda f: f.ts_ms)
            for f in fills:
                await self.on_fill(f)
        elif isinstance(ev, W.OrderUpdateEvent):
            await self.on_order_update(ev)
        elif isinstance(ev, W.OpenOrdersSnapshotEvent):
            self.account.set_orders(ev.orders)
            self.observe_account()
        elif isinstance(ev, W.PositionsEvent):
            self.ws_positions = ev.positions  # the exchange's own report (a flatten sizes its closes from it)
            self.account.set_positions(ev.positions)
            self.observe_account()
        elif isinstance(ev, W.BalancesEvent):
            self.account.set_coin_accounts(ev.coin_accounts)
            if ev.flex is not None:
                self.account.set_account(ev.flex)
            if ev.flex is not None or ev.coin_accounts:
                self.watch.check_equity()
        else:
            return False
        return True

    async def on_order_update(self, ev: W.OrderUpdateEvent) -> None:
        """One ``open_orders`` update: remember the order id of an order of ours (a snapshot fill carries no
        cliOrdId), update the account's open orders, journal the order, and report a protective order that
        left the book for another reason than a fill, a trigger or our cancel (``protective_gone``)."""
        o = ev.order
        if o is not None and o.cli_ord_id and o.order_id and (o.cli_ord_id in self.executor.intents
                                                              or o.cli_ord_id in self.origin.ours.purposes):
            self.origin.ours.add(o.cli_ord_id, order_id=o.order_id)
        gone = self.account.update_order(ev.order_id, ev.order, ev.is_cancel)
        if gone is not None:
            self.executor.gone(gone.cli_ord_id)
        xf = self.external_flatten
        if xf is not None and gone is not None and ev.reason in _FILLED_GONE and self._own_exit_order(gone.cli_ord_id):
            xf.own_exit(gone.symbol)
        if ev.order is not None:
            await self.io.write(ev.order)
        if gone is not None and ev.reason not in _EXPECTED_GONE:
            self.protective_gone(gone.cli_ord_id, ev.reason)
        if gone is not None:
            self.observe_account()

    def _own_exit_order(self, cli_ord_id: str | None) -> bool:
        """True for an order of ours (this run or an earlier one) that closes or reduces a position; the
        ``flat-`` orders of a ``kraken-tui flatten`` run elsewhere are not ours here."""
        if not cli_ord_id or cli_ord_id.startswith("flat-"):
            return False
        p = self.executor.purpose_of(cli_ord_id)
        purpose = p.value if p is not None else self.origin.purpose_of(cli_ord_id)
        return purpose is not None and purpose not in _OPENING

    def observe_account(self) -> None:
        """Hand the account as the exchange last reported it to the external-flatten watch (if any)."""
        if self.external_flatten is not None:
            self.external_flatten.observe(self.account)

    async def on_fill(self, f: Fill) -> None:
        """Book, journal and publish one fill; drive the exits of the managed position it belongs to (module
        docstring)."""
        out = self.account.apply_fill(f)
        if not out.new:
            return
        await self.io.write(f)
        await self._booked(f)
        purpose = self.executor.purpose_of(f.cli_ord_id)
        ptxt = purpose.value if purpose is not None else "external"
        label = ptxt if purpose is not None else (self.origin.purpose_of(f.cli_ord_id)  # an earlier run's order
                                                  or self.flatten.fill_label(f.cli_ord_id) or ptxt)
        self.io.emit(EventKind.FILL, f"{f.symbol} {f.side.value} {f.size} @ {f.price} filled ({label})",
                     symbol=f.symbol,
                     data={"fill_id": f.fill_id, "cli_ord_id": f.cli_ord_id, "purpose": label, "price": str(f.price),
                           "size": str(f.size), "fee": str(f.fee) if f.fee is not None else None})
        self.watch.note_fill(f, out)
        if self.external_flatten is not None and self._own_exit_order(f.cli_ord_id):
            self.external_flatten.own_exit(f.symbol)
        elif self.external_flatten is not None and (f.cli_ord_id or "").startswith("flat-"):
            self.external_flatten.flatten_close(f.symbol)  # a flatten's close: its cancel-all follows
        mp = self.account.managed.get(f.symbol)
        if purpose in (IntentPurpose.ENTRY, IntentPurpose.ADD) and mp is not None \
                and self.flow.cid_ref.get(f.cli_ord_id or "") == mp.signal_id:
            return
        ref = self.flow.cid_ref.get(f.cli_ord_id or "")
        flattening = self.flatten.owns_exits()
        if mp is not None and ref is None and f.side.sign == mp.exits.side.sign:  # grows it: never an exit
            self.grow(mp, f, flattening)
            return
        if mp is not None and (ref is None or ref == mp.signal_id) and out.before != 0:
            trailing = mp.stop_purpose == "trailing" or mp.exits.trailing_active
            self.flow.on_exit_fill(f.symbol, ptxt, f.size)
            if mp.exits.remaining <= 0 or out.closed:
                reason = "liquidation" if f.fill_type in (FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION) \
                    else self.flatten.exit_reason(purpose is not None, f.cli_ord_id) \
                    or exit_reason_for(purpose, trailing)
                self.account.managed.pop(f.symbol, None)
                self.io.emit(EventKind.INFO, f"{f.symbol} position closed ({reason})", symbol=f.symbol,
                             data={"exit_reason": reason})
                if not self.flatten.position_closed(mp, reason):
                    self.io.submit(f"cleanup {f.symbol}", lambda: self.flow.cleanup(mp, reason))
            elif not flattening:
                self.io.submit(f"resync {f.symbol}", lambda: self.flow.resync(mp))
        elif out.closed and mp is None:
            self.flow.count_exit(self.flatten.exit_reason(purpose is not None, f.cli_ord_id) or "external")

    def grow(self, mp: ManagedPosition, f: Fill, flattening: bool) -> None:
        """A fill on the managed position's own side that is no entry of this run (an earlier run's entry that
        still rested, e.g. after a take-over; or another program's order, which reconciliation adopts)
        grows the position: added to its exits (``PositionExits.add``: size-weighted entry, stop and
        take-profits re-laid), the protective orders resynced unless a flatten runs (stop size = the new
        size), journaled (INFO ``Alert``)."""
        mp.exits.add(f.size, f.price)
        whose = f"our earlier {self.origin.purpose_of(f.cli_ord_id) or 'entry'} order" \
            if self._is_ours(f.cli_ord_id) else "an order the engine did not send"
        msg = (f"{f.symbol} {mp.exits.side.value} {mp.exits.remaining - f.size} -> {mp.exits.remaining}: fill "
               f"{f.fill_id} of {whose} {f.cli_ord_id or '-'} added to the managed position"
               + ("" if not mp.exits.protective else f"; stop {mp.exits.stop_price} and take-profits resized"))
        self.io.emit(EventKind.ALERT, msg, symbol=f.symbol, severity=Severity.INFO, data={"level": "INFO"})
        self.io.write_soon(Alert(self.io.now_ms(), "INFO", msg, f.symbol))
        if not flattening:
            self.io.submit(f"resync {f.symbol}", lambda: self.flow.resync(mp, replace_tps=True))

    def protective_gone(self, cli_ord_id: str | None, reason: str | None) -> None:
        """A protective order left the book without filling (exchange cancel, dead man's switch): forget it
        and warn (ALERT event); the position is then unprotected until the operator acts."""
        for mp in self.account.managed.values():
            for key, cid in list(mp.orders.items()):
                if cid == cli_ord_id:
                    mp.orders.pop(key)
                    self.io.emit(EventKind.ALERT,
                                 f"{mp.symbol}: protective {key} order removed by the exchange ({reason})",
                                 symbol=mp.symbol, severity=Severity.WARNING)
