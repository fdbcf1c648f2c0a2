"""Reconciliation applied by the engine: the journal's view against the exchange's, at start, after every
WebSocket reconnect, every ``[operator] reconcile_interval_s`` and every few seconds while the feed is down.

Owns: ``Reconciler`` (one per ``core.Engine``, attribute ``rec``). It starts from ``journal_view`` (what a
journal file says the engine holds; ``engine.journal_view``, re-exported here). It gets the few things it
uses (client, account, executor, order flow, state machine, ``context.EngineIO``) and hooks into the
engine (book a fill, a protective order gone, a take-over, after a pass) as callables.
The comparison itself is ``engine.reconcile.reconcile`` (pure); this module reads the exchange (spec §4.6
accounts, §4.7 openpositions, §4.8 openorders, §4.9 fills, §4.16 orders/status), books the fills the
journal misses (no lost fills, also those made while the WebSocket was down), applies the actions and
journals one ``ReconciliationDiff`` per difference (``action.diff_fields()``).

Rules:
- An order of ours missing from openorders is resolved from fills, then orders/status, before anything
  is concluded (a fast fill that vanished from openorders is "filled", never "rejected" or
  "cancelled": nautilus_trader #3870); the conclusion is journaled as an ``OrderResult`` too, so the
  journal's belief converges.
- A position the fills of our own orders do not explain - opened or grown by an order the engine did not
  send (a foreign cliOrdId, a manual order), or found on the exchange with no fill at all - is adopted:
  tagged external (``PositionView.external``), entry blocker ``reconcile.BLOCKER_NAME`` set and the state
  goes RUNNING -> PAUSED with the reason. ``Engine.resume`` acknowledges every adopted position and
  clears the blocker (documented in ``core.Engine.resume``). The tag and the acknowledgement
  are journaled (position diffs) and restored at start by ``journal_view``, so they survive a restart.
- A position the engine had and the exchange no longer has is closed in the engine (protective orders
  cancelled) with the reason reconcile gives (liquidation when a liquidation fill explains it; the
  journal's trades take their exit reason from the fills themselves).
- Which fills are booked (engine.fill_origin, whose docstring has the whole rule): every fill not in the
  journal whose cliOrdId is one of our intents (journaled by any run, or sent in this one) or whose order id
  we know is ours and booked exactly once - from the start-up REST read, the WS fills snapshot or a later
  pass alike, so a crash between send and fill, or a fill between the start-up read and the snapshot, is
  never taken for history (and never adopted as external). Other fills older than the history boundary
  (``history_ms``, fixed by the first successful pass) are the account's history; newer ones are booked.
  A fill of an earlier run's order that leaves a position this run does not manage has it taken over and
  protected (stop, take-profits) on the job worker (engine.takeover; entries blocked with a CRITICAL
  alert while its stop cannot be placed, retried after every pass).
- Differences that need a second look (an unexplained position) are confirmed by a second read a moment
  later before anything is adopted, so a fill racing the reads does not pause trading.
- An exchange that cannot be read is an ERROR event and (at start) an entry blocker; never a crash.
Units: sizes signed contracts (Decimal), prices USD, times UTC ms (the engine clock for records).
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from kraken_tui.domain import ZERO, Account, Fill, FillType, Order, OrderResult, OrderStatus, Position, Side
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.fill_origin import FillOrigin, OurOrders
from kraken_tui.engine.journal_view import ACKNOWLEDGED_ACTION, JournalView, journal_view
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    TransitionRefused,
    TransitionSource,
)
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.ports import KrakenClient
from kraken_tui.engine.reconcile import (
    BLOCKER_NAME,
    AdoptPosition,
    BlockEntries,
    ExchangeState,
    ExternalOrder,
    KnownOrder,
    KnownPosition,
    KnownState,
    OrderResolved,
    PositionGone,
    ReconcileAction,
    ResolveOrder,
    SyncPosition,
    reconcile,
    statuses_from,
)
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import ReconciliationDiff
from kraken_tui.wording import counted

__all__ = ["JournalView", "Reconciler", "journal_view"]

log = logging.getLogger(__name__)

#: cliOrdId prefixes of orders this program sends (engine ``kt-``, flatten ``flat-``).
OUR_PREFIXES = ("kt-", "flat-")
#: Seconds between REST polls (reconciliation passes) while the WebSocket is down.
OFFLINE_POLL_S = 5.0
#: Seconds before the confirming second read of an unexplained difference.
CONFIRM_S = 0.3
_LIQ = frozenset(t for t in FillType if t.is_liquidation)


class Reconciler:
    """The engine's reconciliation (module docstring); runs on the engine's job worker (``EngineIO.submit``)
    except at start.

    Args:
        io: events, clock, journal, job worker.
        client: reads the exchange (accounts, openpositions, openorders, fills, orders/status).
        account: the account the passes update.
        executor: this run's intents and resting orders.
        flow: cancels a closed position's protective orders (``OrderFlow.cleanup``).
        sm: the operator state machine (entry blocker, pause).
        interval_s: seconds between timer passes (``[operator] reconcile_interval_s``).
        book_fill: books, journals and publishes one fill (``core.Engine.on_fill``).
        protective_gone: (cliOrdId, why) a protective order left the book without filling.
        earlier_run_fill: (fill, signed contracts before, after) a fill of an earlier run's order left a
            position this run does not manage (``takeover.Takeover.note``).
        after_pass: called after every successful pass (take-over retries, equity checks).
        stopped: True once the engine stops (no pass is queued then).
        feed_offline: True while the WebSocket is down (passes every ``OFFLINE_POLL_S``).

    Attributes:
        booked: signed contracts per symbol as the journal has them (journaled fills, adoptions).
        external: adopted symbols -> acknowledged by the operator.
        origin: which fills are ours, new or history (engine.fill_origin ``FillOrigin``).
        passes: completed passes. last_ms: engine time of the last pass. last_error: the last failure text.
    """

    def __init__(self, io: EngineIO, *, client: KrakenClient, account: AccountTracker, executor: Executor,
                 flow: OrderFlow, sm: OperatorStateMachine, interval_s: float,
                 book_fill: Callable[[Fill], Awaitable[None]],
                 protective_gone: Callable[[str | None, str | None], None],
                 earlier_run_fill: Callable[[Fill, Decimal, Decimal], None],
                 after_pass: Callable[[], None], stopped: Callable[[], bool],
                 feed_offline: Callable[[], bool]) -> None:
        self.io, self.client, self.account, self.executor, self.flow, self.sm = io, client, account, executor, flow, sm
        self.interval_s = interval_s
        self._book_fill, self._protective_gone, self._earlier_run_fill = book_fill, protective_gone, earlier_run_fill
        self._after_pass, self._stopped, self._feed_offline = after_pass, stopped, feed_offline
        self.booked: dict[str, Decimal] = {}
        self.external: dict[str, bool] = {}
        self.believed: dict[str, KnownOrder] = {}
        self.since_ms: int | None = None
        self.origin = FillOrigin(account, executor, lambda: self.believed.values(), self.schedule)
        self.passes = 0
        self.last_ms: int | None = None
        self.last_error: str | None = None
        self._reported: set[str] = set()
        self._block_detail: str | None = None
        self._queued = False
        self._last_wall = time.monotonic()

    # ------------------------------------------------------------------ state
    def load(self, view: JournalView, ours: OurOrders | None = None) -> None:
        """Start from what the journal says (``journal_view``; ``ours``: ``fill_origin.our_orders``):
        positions, fills already journaled (never booked again), our orders that may still rest, every
        intent's cliOrdId and the order ids they got, and which positions are external (adopted by an
        earlier run; an unacknowledged one keeps entries blocked at the first pass)."""
        self.booked = dict(view.positions)
        self.believed = dict(view.orders)
        self.since_ms = view.last_fill_ms
        self.external = dict(view.external)
        self.origin.load(view, ours)
        for fid in view.fill_ids:
            self.account.mark_seen(fid)

    def is_ours(self, cli_ord_id: str | None) -> bool:
        """True for an order this program sent (this run's intents, the journal's, or our cliOrdId prefixes)."""
        return cli_ord_id is not None and cli_ord_id != "" and (cli_ord_id in self.executor.intents
                                                                or cli_ord_id in self.origin.ours.purposes
                                                                or cli_ord_id.startswith(OUR_PREFIXES))

    def is_external(self, symbol: str) -> bool:
        """True when ``symbol``'s position was adopted from the exchange."""
        return symbol in self.external

    def booked_size(self, symbol: str) -> Decimal:
        """Signed contracts of ``symbol`` as the journal's fills give them (0 when none)."""
        return self.booked.get(symbol, ZERO)

    def forget_believed(self, cli_ord_id: str) -> None:
        """``cli_ord_id`` no longer rests (cancelled, or taken over as this run's order)."""
        self.believed.pop(cli_ord_id, None)

    def known(self) -> KnownState:
        """The engine's side for ``reconcile``: booked positions (with external flags) and orders we believe rest."""
        positions = {}
        for sym, q in self.booked.items():
            if q == 0:
                continue
            p = self.account.positions.get(sym)
            positions[sym] = KnownPosition(sym, q, p.entry_price if p is not None else ZERO,
                                           external=sym in self.external, acknowledged=self.external.get(sym, True))
        orders = {**self.believed, **self.executor.live}
        return KnownState(positions, tuple(orders.values()))

    # ------------------------------------------------------------------ fills (called after booking a fill)
    async def on_booked_fill(self, f: Fill) -> None:
        """A new fill was booked and journaled: move ``booked``; a fill of an order we did not send that
        leaves a position adopts it (external, entries paused)."""
        before = self.booked.get(f.symbol, ZERO)
        after = before + (f.size if f.side is Side.BUY else -f.size)
        self.booked[f.symbol] = after
        self.since_ms = f.ts_ms if self.since_ms is None else max(self.since_ms, f.ts_ms)
        self.executor.filled(f.cli_ord_id, f.size)
        k = self.believed.get(f.cli_ord_id or "")
        if k is not None:
            if k.size > f.size:
                self.believed[f.cli_ord_id or ""] = dataclasses.replace(k, size=k.size - f.size)
            else:
                self.believed.pop(f.cli_ord_id or "", None)
        if f.fill_type in _LIQ or self.is_ours(f.cli_ord_id):
            if after == 0:
                self.external.pop(f.symbol, None)
            elif f.fill_type not in _LIQ and self._earlier_run(f.cli_ord_id) and f.symbol not in self.account.managed:
                self._earlier_run_fill(f, before, after)  # taken over and protected on the job worker
            return
        why = f"fill {f.fill_id} of an order the engine did not send (cliOrdId {f.cli_ord_id or '-'})"
        if after == 0:
            self.external.pop(f.symbol, None)
            await self._diff(PositionGone(f.symbol, before, "manual"), ts_ms=f.ts_ms)
            return
        p = self.account.positions.get(f.symbol)
        await self.adopt(AdoptPosition(f.symbol, after, p.entry_price if p is not None else f.price, before), why,
                         ts_ms=f.ts_ms)

    def _earlier_run(self, cli_ord_id: str | None) -> bool:
        """True for an engine order of an earlier run that this run neither sent nor took over (orphans)."""
        return cli_ord_id is not None and cli_ord_id != "" and self.executor.purpose_of(cli_ord_id) is None \
            and not cli_ord_id.startswith("flat-")

    # ------------------------------------------------------------------ adoption and acknowledgement
    async def adopt(self, a: AdoptPosition, why: str, *, ts_ms: int | None = None) -> None:
        """Adopt an exchange position: tag it external (unacknowledged), block entries, pause, journal."""
        self.booked[a.symbol] = a.size
        self.external[a.symbol] = False
        side = "long" if a.size > 0 else "short"
        detail = f"{a.symbol} {side} {abs(a.size)} adopted as external ({why}); resume acknowledges it"
        self._block(detail)
        self.io.emit(EventKind.ALERT, f"reconciliation: {detail}", symbol=a.symbol, severity=Severity.WARNING,
                     data={"level": "HIGH", "external": True})
        await self._diff(a, ts_ms=ts_ms)

    def _block(self, detail: str) -> None:
        sm = self.sm
        sm.block_entries(BLOCKER_NAME, detail)
        if sm.state is OperatorState.RUNNING:
            with contextlib.suppress(TransitionRefused):
                sm.pause(f"reconciliation: {detail}", TransitionSource.AUTOMATIC)

    def acknowledge(self) -> list[str]:
        """The operator accepted the adopted positions (``Engine.resume``): mark them acknowledged (one
        position ``ReconciliationDiff`` with ``ACKNOWLEDGED_ACTION`` each, so a restart knows) and clear the
        reconciliation blocker. Returns the symbols acknowledged."""
        syms = [s for s, ok in self.external.items() if not ok]
        for s in syms:
            self.external[s] = True
            size = self.booked.get(s, ZERO)
            pos = "flat" if size == 0 else f"{'long' if size > 0 else 'short'} {abs(size)}"
            self.io.write_soon(ReconciliationDiff(self.io.now_ms(), "position", s, "external, not acknowledged",
                                                  pos, ACKNOWLEDGED_ACTION, outcome="acknowledged",
                                                  exchange_size=size))
        self.sm.clear_blocker(BLOCKER_NAME)
        self._block_detail = None
        return syms

    # ------------------------------------------------------------------ a pass
    async def _read(self) -> tuple[Account, list[Position], list[Order], list[Fill]]:
        c = self.client
        acct, positions, orders, fills = await asyncio.gather(c.account(), c.open_positions(), c.open_orders(),
                                                              c.fills())
        since = self.since_ms
        if since is not None and len(fills) >= 100 and min(f.ts_ms for f in fills) >= since:  # page back
            try:
                fills = await c.fills_since(since)
            except ExchangeError as exc:
                self.io.emit(EventKind.ERROR, f"reconciliation: older fills could not be paged ({exc}); "
                              "using the latest 100", severity=Severity.WARNING)
        return acct, positions, orders, fills

    async def _statuses(self, ask: Sequence[KnownOrder]) -> dict[str, str]:
        """orders/status for orders missing from openorders (spec §4.16); unanswered ids are NOT_FOUND."""
        oids = [k.order_id for k in ask if k.order_id]
        cids = [k.cli_ord_id for k in ask if k.cli_ord_id and not k.order_id]
        infos = await self.client.orders_status(order_ids=oids, cli_ord_ids=cids)
        return statuses_from(infos, [*oids, *cids])

    async def run(self, why: str, *, first: bool = False) -> list[ReconcileAction]:
        """One pass (module docstring): read, compare, book missing fills, apply and journal the actions.

        ``first``: the start-up pass (no confirming second read). The first successful pass fixes the
        history boundary (``fill_origin``): a fresh journal's earlier fills of other orders are history,
        fills of our journaled intents are booked. Returns the actions applied. Never raises for exchange
        errors (ERROR event; at start an entry blocker until a later pass succeeds).
        """
        try:
            actions, acct, positions, orders, missing = await self._compare(first)
        except (ExchangeError, OSError, ValueError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.io.emit(EventKind.ERROR, f"reconciliation ({why}) failed: {self.last_error}",
                         severity=Severity.ERROR)
            if first:
                self.sm.block_entries(BLOCKER_NAME, f"start-up reconciliation failed: {self.last_error}")
            return []
        finally:
            self._queued = False
            self._last_wall = time.monotonic()
        for f in missing:
            await self._book_fill(f)
        self.account.set_account(acct)
        self.account.set_positions(positions)
        self.account.set_orders(orders)
        for a in actions:
            await self._apply(a)
        if not any(isinstance(a, BlockEntries) for a in actions) and all(self.external.values()) \
                and BLOCKER_NAME in self.sm.entry_blockers:
            self.sm.clear_blocker(BLOCKER_NAME)
            self._block_detail = None
        self.passes += 1
        self.last_ms = self.io.now_ms()
        self.last_error = None
        if missing:
            self.io.emit(EventKind.INFO, f"reconciliation ({why}): {counted(len(missing), 'fill')} booked from REST")
        self._after_pass()
        return actions

    async def _compare(self, first: bool) -> tuple[list[ReconcileAction], Account, list[Position], list[Order],
                                                   list[Fill]]:
        for attempt in (0, 1):
            acct, positions, orders, fills = await self._read()
            first_boundary = self.origin.history_ms is None
            missing = self.origin.rest(fills, journal_last_ms=self.since_ms)
            if first_boundary and self.since_ms is None:
                self.since_ms = max((f.ts_ms for f in fills), default=None)  # where paging back starts
            known = self.known()
            state = ExchangeState(tuple(positions), tuple(orders))
            actions = reconcile(known, state, missing)
            ask = [a.order for a in actions if isinstance(a, ResolveOrder)]
            if ask:
                state = ExchangeState(tuple(positions), tuple(orders), await self._statuses(ask))
                actions = reconcile(known, state, missing)
            unexplained = any(isinstance(a, AdoptPosition) or (isinstance(a, PositionGone)
                                                               and a.reason in ("external", "manual")) for a in actions)
            if attempt == 0 and unexplained and not first:
                await asyncio.sleep(CONFIRM_S)
                continue
            return actions, acct, positions, orders, missing
        raise AssertionError("unreachable")

    async def _apply(self, a: ReconcileAction) -> None:
        if isinstance(a, OrderResolved):
            k = a.order
            self.executor.gone(k.cli_ord_id)
            self.believed.pop(k.cli_ord_id or "", None)
            status = {"filled": OrderStatus.FILLED, "cancelled": OrderStatus.CANCELLED}.get(a.outcome,
                                                                                         OrderStatus.UNRECOGNISED)
            await self.io.write(OrderResult(status=status, order_id=k.order_id, cli_ord_id=k.cli_ord_id,
                                            received_ts_ms=self.io.now_ms(), raw_status=a.outcome,
                                            error=f"reconciliation: {a.detail}"))
            self.io.emit(EventKind.ORDER, f"{k.symbol} {k.purpose} order {k.cli_ord_id or k.order_id} {a.outcome} "
                     f"({a.detail})", symbol=k.symbol, data={"cli_ord_id": k.cli_ord_id, "status": a.outcome})
            if a.outcome != "filled":
                self._protective_gone(k.cli_ord_id, f"reconciliation: {a.detail}")
            await self._diff(a)
        elif isinstance(a, ResolveOrder | ExternalOrder):
            key = a.order.order_id if isinstance(a, ExternalOrder) else (a.order.cli_ord_id or a.order.order_id)
            if key not in self._reported:  # journaled once, not at every pass
                self._reported.add(key or "")
                await self._diff(a)
        elif isinstance(a, AdoptPosition):
            if self.booked.get(a.symbol) == a.size and self.external.get(a.symbol) is False:
                return  # adopted by the fill that made it
            await self.adopt(a, "on the exchange, not explained by the journal's fills")
        elif isinstance(a, PositionGone):
            await self._close(a.symbol, a.reason)
            await self._diff(a)
        elif isinstance(a, SyncPosition):
            # Fills explain it. Fills of orders we did not send were adopted when booked (on_booked_fill);
            # reconcile calls fills of our orders from earlier runs "manual" too (it knows this run's orders).
            if self.booked.get(a.symbol) == a.new and self.external.get(a.symbol) is False:
                return
            self.booked[a.symbol] = a.new
            await self._diff(a)
        elif isinstance(a, BlockEntries):
            if a.detail != self._block_detail:
                self._block_detail = a.detail
                self._block(a.detail)
                await self._diff(a)

    async def _close(self, symbol: str, reason: str) -> None:
        """The exchange no longer has ``symbol``'s position: forget it, cancel its protective orders."""
        self.booked[symbol] = ZERO
        self.external.pop(symbol, None)
        mp = self.account.managed.pop(symbol, None)
        self.io.emit(EventKind.INFO, f"{symbol} position closed on the exchange ({reason})", symbol=symbol,
                 severity=Severity.WARNING, data={"exit_reason": reason})
        if mp is not None:
            await self.flow.cleanup(mp, reason)

    async def _diff(self, a: ReconcileAction, *, ts_ms: int | None = None) -> None:
        await self.io.write(ReconciliationDiff(ts_ms=ts_ms if ts_ms is not None else self.io.now_ms(),
                                               **a.diff_fields()))

    # ------------------------------------------------------------------ timer
    def tick(self) -> None:
        """Called every second (wall clock): queue a pass when the interval elapsed, or every
        ``OFFLINE_POLL_S`` while the WebSocket is down (REST fills polled meanwhile)."""
        if self._queued or self._stopped():
            return
        age = time.monotonic() - self._last_wall
        offline = self._feed_offline()
        if age >= self.interval_s or (offline and age >= OFFLINE_POLL_S):
            self.schedule("offline poll" if offline else "interval")

    def schedule(self, why: str) -> None:
        """Queue one pass on the job worker (at most one queued at a time)."""
        if self._queued:
            return
        self._queued = True
        self.io.submit(f"reconcile ({why})", lambda: self.run(why))
