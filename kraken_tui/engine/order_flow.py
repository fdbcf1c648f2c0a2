"""The engine's order flows: entries, closes, protective orders, trailing moves and clean-up.

Owns: ``OrderFlow`` - what the ``Engine`` does with an ``Enter``/``Close`` action (engine.decide) or an
exit action (engine.exits ``MoveStop``/``ClosePosition``), and how it reacts to exit fills. Every order
goes through ``Executor`` (intent journaled first, unknown outcomes resolved). The flows run one at a
time on the engine's job worker, so decisions always see the state the previous flow left.

Rules:
- Entry and stop: a market entry that opens a position (none on the symbol) with protective exits is sent in
  ONE ``batchorder`` request together with its reduce-only stop (trigger on mark, sized as the entry, priced
  ``Enter.stop_price`` from the mark; ``Executor.submit_batch``; Kraken Futures docs, REST v3 "Batch order
  management"). The exchange executes the batch in order: the entry fills, then the stop is accepted as
  reducing the new position. A crash can therefore never leave the entry's position on the exchange without
  its stop having been asked for. When the entry fills, that stop becomes the position's stop and is edited to
  the filled size and the fill price's stop (``PositionExits.stop_order``) when they differ; the take-profit
  ladder follows. When the entry does not fill, the exchange refuses the reduce-only stop
  (``wouldNotReducePosition``: nothing to reduce) or, if it accepted it, it is cancelled at once. A limit
  entry (an order that may rest) must never be batched this way: a reduce-only stop cannot rest before the
  position exists; this engine sends only market entries, and an add (a position exists) keeps its resting
  stop, resized after the fill (``resync``).
- After an entry fills without a batched stop (an add, or a stop the exchange refused), a reduce-only stop
  (trigger on mark) and the take-profit ladder are placed for the filled size at the exchange's fill prices
  (``PositionExits.initial_orders``). When the stop does not
  rest after an entry or an add (refused by the exchange), ``on_unprotected`` is told (the engine wires
  ``takeover.Takeover.guard``: entries paused, CRITICAL alert, stop retried after every reconciliation pass).
- MoveStop edits the resting stop (spec §4.11); the first trailing move re-places the stop with purpose
  ``trailing`` (new order first, then the old one is cancelled) so the journal's exit reason is right.
- ClosePosition / Close send one reduce-only market order sized from the position (never a second
  one while one is in flight).
- When a position reaches zero every protective order it still has is cancelled (never left behind).
Units: prices USD, sizes contracts (Decimal), times UTC ms.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import (
    ZERO,
    Instrument,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TriggerSignal,
)
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import Emit
from kraken_tui.engine.decide import Close, Enter
from kraken_tui.engine.execution import Executor, intent_purpose
from kraken_tui.engine.exits import (
    ClosePosition,
    ExitAction,
    ExitReason,
    MoveStop,
    PositionExits,
    ProtectiveOrder,
)
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.journal.records import IntentPurpose

__all__ = ["OrderFlow"]

log = logging.getLogger(__name__)


def _filled(result: OrderResult) -> tuple[Decimal, Decimal | None]:
    """(contracts executed, size-weighted average price USD or None) from a result's EXECUTION events."""
    size, notional = ZERO, ZERO
    for e in result.events:
        if e.type.value == "EXECUTION" and e.amount and e.price:
            size += e.amount
            notional += e.amount * e.price
    return size, (notional / size if size > 0 else None)


class OrderFlow:
    """Order flows of the engine (module docstring).

    Args:
        executor: sends and journals orders.
        account: the account view (positions, orders, managed positions).
        instruments: symbol -> Instrument (tick and lot rounding).
        exits_cfg: the ``[exits]`` section.
        emit: ``emit(kind, message, symbol=..., severity=..., data=...)`` to publish an engine event.
        clock_ms: engine clock (UTC ms).
    """

    def __init__(self, executor: Executor, account: AccountTracker, instruments: Mapping[str, Instrument],
                 exits_cfg: ExitsConfig, emit: Emit, clock_ms: Callable[[], int]) -> None:
        self.ex = executor
        self.account = account
        self.instruments = instruments
        self.exits_cfg = exits_cfg
        self.emit = emit
        self.clock_ms = clock_ms
        self.cid_ref: dict[str, str] = {}
        """cliOrdId -> the signal id of the position it was sent for."""
        self.exit_reasons: dict[str, int] = {}
        """Count of positions closed per exit reason in this run."""
        self.on_unprotected: Callable[[ManagedPosition, OrderResult | None], None] | None = None
        """Called after an entry or add with the position and its stop's placement result (None: no stop
        sent) so a position left without a resting stop is guarded (``takeover.Takeover.guard``)."""

    # ------------------------------------------------------------------ internals
    def count_exit(self, reason: str) -> None:
        """Count one position closed with exit ``reason`` (``exit_reasons``)."""
        self.exit_reasons[reason] = self.exit_reasons.get(reason, 0) + 1

    def _cid(self, ref: str, purpose: str) -> str:
        """A new cliOrdId for ``ref`` (the signal id of the position) and remember which position it is for."""
        cid = self.ex.ids.make(ref, purpose)
        self.cid_ref[cid] = ref
        return cid

    def _inst(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)

    def _report(self, what: str, symbol: str, result: OrderResult, purpose: str) -> None:
        """Publish an ORDER event for a result (rejections and unknown outcomes as warnings)."""
        bad = not result.accepted
        status = result.raw_status or result.status.value
        self.emit(EventKind.ORDER, f"{symbol} {what} ({purpose}): {status}" + (f" - {result.error}" if result.error else ""),
                  symbol=symbol, severity=Severity.WARNING if bad else Severity.INFO,
                  data={"status": status, "purpose": purpose, "cli_ord_id": result.cli_ord_id,
                        "order_id": result.order_id})

    async def _send(self, req: OrderRequest, purpose: IntentPurpose, signal_id: str | None) -> OrderResult:
        result = await self.ex.submit(req, purpose, signal_id=signal_id, instrument=self._inst(req.symbol))
        self._report(f"{req.side.value} {req.size} {req.order_type.value}", req.symbol, result, purpose.value)
        return result

    # ------------------------------------------------------------------ entries
    async def enter(self, act: Enter, signal_id: str) -> OrderResult | None:
        """Send the market entry, then place the protective orders for what filled (module docstring)."""
        inst = self._inst(act.symbol)
        if inst is None:
            self.emit(EventKind.ERROR, f"{act.symbol}: no instrument; entry not sent", symbol=act.symbol,
                      severity=Severity.ERROR)
            return None
        before = self.account.signed_size(act.symbol)
        purpose = IntentPurpose.ADD if before * act.side.sign > 0 else IntentPurpose.ENTRY
        cid = self._cid(signal_id, purpose.value)
        req = OrderRequest(act.symbol, act.order_side, OrderType.MARKET, inst.round_size(act.size), cli_ord_id=cid)
        stop_req: OrderRequest | None = None
        if before == 0 and act.protective and act.stop_price is not None:  # module docstring "Entry and stop"
            stop_req = OrderRequest(act.symbol, act.side.closing_side, OrderType.STOP, req.size,
                                    stop_price=act.stop_price, trigger_signal=TriggerSignal.MARK, reduce_only=True,
                                    cli_ord_id=self._cid(signal_id, ExitReason.STOP.value))
            result, stop_sent = await self._send_with_stop(req, stop_req, purpose, signal_id)
        else:
            result, stop_sent = await self._send(req, purpose, signal_id), None
        size, price = _filled(result)
        if size <= 0 or price is None:
            if stop_req is not None and stop_sent is not None and stop_sent.accepted:
                await self.ex.cancel(cli_ord_id=stop_req.cli_ord_id)  # nothing to protect: never left behind
            return result
        mp = self.account.managed.get(act.symbol)
        if mp is not None and mp.exits.side is act.side:
            mp.exits.add(size, price)
            stop_result = await self.resync(mp, replace_tps=True)
        else:
            resting = stop_req if stop_req is not None and stop_sent is not None and stop_sent.accepted else None
            mp, results = await self.manage(inst, act.side, price, size, signal_id, protective=act.protective,
                                            resting_stop=resting)
            stop_result = stop_sent if resting is not None else results[0] if results else None
        if self.on_unprotected is not None:
            self.on_unprotected(mp, stop_result)
        return result

    async def _send_with_stop(self, req: OrderRequest, stop: OrderRequest, purpose: IntentPurpose,
                              signal_id: str) -> tuple[OrderResult, OrderResult | None]:
        """Send the market entry ``req`` and its reduce-only stop ``stop`` in one batch (entry first); returns
        (entry result, stop result). Each is reported like a single send."""
        results = await self.ex.submit_batch([(req, purpose), (stop, IntentPurpose.STOP)], signal_id=signal_id,
                                             instrument=self._inst(req.symbol))
        entry, placed = results[0], results[1] if len(results) > 1 else None
        self._report(f"{req.side.value} {req.size} {req.order_type.value}", req.symbol, entry, purpose.value)
        if placed is not None and (placed.accepted or _filled(entry)[0] > 0):
            # a refused stop is worth a warning only when the entry filled (else there was nothing to protect)
            self._report(f"{stop.side.value} {stop.size} {stop.order_type.value}", stop.symbol, placed, "stop")
        return entry, placed

    async def manage(self, inst: Instrument, side: PositionSide, entry_price: Decimal, size: Decimal,
                     signal_id: str, *, protective: bool = True, opened_ms: int | None = None,
                     resting_stop: OrderRequest | None = None) -> tuple[ManagedPosition, list[OrderResult]]:
        """Start managing a position of ``size`` contracts (> 0) on ``side`` at ``entry_price`` USD (> 0): its
        exit state (``PositionExits``, time-exit clock from ``opened_ms`` UTC ms, default now), registered as
        managed under ``signal_id``, then its initial protective orders placed, stop first (module
        docstring). Used after an entry fills and when an earlier run's position is taken over
        (engine.takeover). Returns the position and the placement results in order (stop first); a
        rejected order is reported (ORDER event) and missing from ``orders``.

        Raises:
            ValueError: ``entry_price`` or ``size`` not > 0.
        """
        opened = self.clock_ms() if opened_ms is None else opened_ms
        exits = PositionExits(self.exits_cfg, inst, side, entry_price, size, opened, protective)
        mp = ManagedPosition(inst.symbol, signal_id, exits)
        self.account.managed[inst.symbol] = mp
        stop = exits.stop_order()
        if resting_stop is not None and stop is not None and resting_stop.cli_ord_id:
            # the entry's batch placed the stop (sized from the request, priced from the mark): take it as the
            # position's stop and bring it to the filled size and the fill price's stop in place
            mp.orders["stop"] = resting_stop.cli_ord_id
            if (resting_stop.size, resting_stop.stop_price) != (stop.size, stop.price):
                edited = await self.ex.edit(cli_ord_id=resting_stop.cli_ord_id, size=stop.size,
                                            stop_price=stop.price, instrument=inst)
                if not edited.accepted:
                    self._report(f"move stop to {stop.price} for {stop.size}", mp.symbol, edited, "stop")
            return mp, [await self.place(mp, order) for order in exits.take_profits_left()]
        return mp, [await self.place(mp, order) for order in exits.initial_orders()]

    async def place(self, mp: ManagedPosition, order: ProtectiveOrder, purpose: str | None = None) -> OrderResult:
        """Place one reduce-only protective order for ``mp`` (``purpose``: the cliOrdId's and intent's, default
        the order's) and remember its cliOrdId by purpose when the exchange accepted it."""
        purpose = purpose or order.purpose.value
        cid = self._cid(mp.signal_id, purpose)
        if order.order_type is OrderType.STOP:
            req = OrderRequest(mp.symbol, order.side, OrderType.STOP, order.size, stop_price=order.price,
                               trigger_signal=TriggerSignal.MARK, reduce_only=True, cli_ord_id=cid)
        else:
            req = OrderRequest(mp.symbol, order.side, order.order_type, order.size, limit_price=order.price,
                               reduce_only=True, cli_ord_id=cid)
        result = await self._send(req, intent_purpose(purpose), mp.signal_id)
        if result.status in (OrderStatus.PLACED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            key = "stop" if order.purpose is ExitReason.STOP else purpose
            mp.orders[key] = cid
        return result

    # ------------------------------------------------------------------ closes
    async def close(self, act: Close | ClosePosition, symbol: str, signal_id: str | None) -> OrderResult | None:
        """Close the whole position of ``symbol`` with one reduce-only market order (size from the
        current position, not from the decision, so a partly closed position is not over-closed)."""
        q = self.account.signed_size(symbol)
        mp = self.account.managed.get(symbol)
        if q == 0 or (mp is not None and mp.closing):
            return None
        reason = act.reason
        side = Side.SELL if q > 0 else Side.BUY
        ref = mp.signal_id if mp is not None else (signal_id or f"x-{symbol}-{self.clock_ms()}")
        cid = self._cid(ref, reason.value)
        req = OrderRequest(symbol, side, OrderType.MARKET, abs(q), reduce_only=True, cli_ord_id=cid)
        if mp is not None:
            mp.closing = True
        try:
            result = await self._send(req, intent_purpose(reason.value), signal_id)
            if result.filled_size > 0:  # let the fills reach the account before the next decision
                await self.await_fills(cid, result.filled_size)
        finally:
            if mp is not None:
                mp.closing = False
        return result  # the fill handler cleans up when the position reaches zero

    async def await_fills(self, cli_ord_id: str, size: Decimal, timeout_s: float = 2.0) -> bool:
        """Wait (bounded) until fills of ``cli_ord_id`` totalling ``size`` contracts were booked from the
        fills feed; returns False on timeout (the REST fallback poll books them later)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.account.cli_filled.get(cli_ord_id, ZERO) < size:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.0005)
        return True

    # ------------------------------------------------------------------ exit actions and fills
    async def on_exit_actions(self, mp: ManagedPosition, actions: list[ExitAction]) -> None:
        """Apply ``PositionExits.on_mark`` results: trailing stop moves and the time exit."""
        for a in actions:
            if isinstance(a, MoveStop):
                await self.move_stop(mp, a.new_stop_price)
            elif isinstance(a, ClosePosition):
                self.emit(EventKind.INFO, f"{mp.symbol}: {a.reason.value} exit due", symbol=mp.symbol)
                await self.close(a, mp.symbol, mp.signal_id)

    async def move_stop(self, mp: ManagedPosition, price: Decimal) -> None:
        """Move the stop to ``price``: re-place it as ``trailing`` on the first move, edit it afterwards."""
        if self.account.managed.get(mp.symbol) is not mp:
            return
        stop = mp.exits.stop_order()
        old = mp.orders.get("stop")
        if stop is None:
            return
        if mp.stop_purpose != "trailing" or old is None:
            result = await self.place(mp, stop, "trailing")
            if result.accepted:
                mp.stop_purpose = "trailing"
                if old is not None and old != mp.orders.get("stop"):
                    await self.ex.cancel(cli_ord_id=old)
            return
        result = await self.ex.edit(cli_ord_id=old, stop_price=price, instrument=self._inst(mp.symbol))
        if not result.accepted:
            self._report(f"move stop to {price}", mp.symbol, result, "trailing")

    async def resync(self, mp: ManagedPosition, *, replace_tps: bool = False) -> OrderResult | None:
        """Bring the resting stop's size in line with ``remaining`` (after a TP fill or an add), placing it
        when none rests; with ``replace_tps`` cancel and re-place the take-profits too (after an add).
        Returns the stop's placement result when one was placed, else None."""
        placed = None
        if self.account.managed.get(mp.symbol) is not mp:
            return placed
        stop = mp.exits.stop_order()
        cid = mp.orders.get("stop")
        if stop is not None and cid is not None:
            resting = self.account.order_by_cli(cid)
            if resting is None or resting.size != stop.size or resting.stop_price != stop.price:
                await self.ex.edit(cli_ord_id=cid, size=stop.size, stop_price=stop.price,
                                   instrument=self._inst(mp.symbol))
        elif stop is not None:
            placed = await self.place(mp, stop, mp.stop_purpose)
        if replace_tps:
            for key in [k for k in mp.orders if k.startswith("tp")]:
                await self.ex.cancel(cli_ord_id=mp.orders.pop(key))
            for tp in mp.exits.take_profits_left():
                await self.place(mp, tp)
        return placed

    def on_exit_fill(self, symbol: str, purpose: str | None, size: Decimal) -> ManagedPosition | None:
        """Account an exit fill to the managed position; returns it when its stop needs a resync."""
        mp = self.account.managed.get(symbol)
        if mp is None or purpose is None:
            return None
        try:
            reason = ExitReason.STOP if purpose in ("stop", "trailing") else ExitReason(purpose)
        except ValueError:
            reason = ExitReason.MANUAL
        mp.exits.on_exit_fill(reason, size)
        if reason.is_take_profit and not any(t.purpose is reason for t in mp.exits.take_profits_left()):
            mp.orders.pop(reason.value, None)
        return mp

    async def cleanup(self, mp: ManagedPosition, reason: str) -> None:
        """``mp`` reached zero (the caller already forgot it): cancel every protective order it still has
        and count the exit reason."""
        self.count_exit(reason)
        for cid in list(mp.orders.values()):
            result = await self.ex.cancel(cli_ord_id=cid)
            if result.status not in (OrderStatus.CANCELLED, OrderStatus.NOT_FOUND, OrderStatus.FILLED):
                self._report("cancel protective order", mp.symbol, result, "cleanup")
        mp.orders.clear()

    def snapshot_orders(self) -> dict[str, str]:
        """cliOrdId -> purpose of every protective order the engine is tracking (for the order view)."""
        out: dict[str, str] = {}
        for mp in self.account.managed.values():
            for purpose, cid in mp.orders.items():
                out[cid] = mp.stop_purpose if purpose == "stop" else purpose
        return out

    def order_purposes(self) -> dict[str, str]:
        """cliOrdId -> purpose of every order of this run (its intent's purpose) and every protective order
        tracked (``snapshot_orders``, which wins); the order view labels other orders ``external``."""
        out = {cid: i.purpose.value for cid, i in self.ex.intents.items()}
        out.update(self.snapshot_orders())
        return out


def exit_reason_for(purpose: IntentPurpose | str | None, stop_trailing: bool = False) -> str:
    """The exit reason to report for a closing fill of ``purpose`` (an intent purpose; None: not our order,
    reported ``external``; ``stop`` reports ``trailing`` when the trailing stop was active)."""
    p = "external" if purpose is None else purpose.value if isinstance(purpose, IntentPurpose) else str(purpose)
    if p == "stop" and stop_trailing:
        return "trailing"
    if p in ("entry", "add"):
        return "reverse"
    return p
