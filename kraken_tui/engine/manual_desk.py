"""The operator's manual actions carried out: preview against the engine's state now, then the orders sent.

Owns: ``ManualDesk``, the engine's collaborator behind ``EngineControl.preview_manual`` / ``manual``. The rules
(what is refused, rounding, the risk gate) are ``manual.preview``'s; this module reads the state a preview
needs (``DeskView``) and sends what a preview allowed:
- The action runs as a job on the engine's job worker (one order flow at a time, as the strategy's), previewed
  again when the job runs (a position closed meanwhile is refused then). A job a flatten dropped, or one not
  started within ``timeout_s``, is never sent later: its answer is "not sent".
- Opening market orders go through ``order_flow.OrderFlow.enter`` like a strategy entry (same purpose ``entry``
  / ``add``, same protective stop and take-profit ladder after the fill, same trailing and time exit); a
  resting opening order (``lmt``/``stp``/``take_profit``) gets them when it fills (``on_event`` sees the fill).
  The position's signal id is listed in ``manual_ids`` (the position is tagged manual). Without
  ``attach_exits`` the position is managed without protective exits.
- Closes (whole or part; market or limit) and reduce-only orders are sent with intent purpose ``manual``, so
  the journal's trade gets exit reason ``manual``; stop moves, edits and cancels go through the ``Executor``.
- Every action, refused or sent, is journaled as an operator action with its source (``record``) and
  published as an event with the exchange's answer. An override of the risk gate is journaled as such.
Units: prices USD, sizes contracts, times UTC ms (the engine clock).
Must not import: textual, the client, the journal writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from kraken_tui.config import Config
from kraken_tui.domain import (
    ZERO,
    Instrument,
    OrderRequest,
    OrderResult,
    OrderType,
    PositionSide,
    Side,
    TriggerSignal,
    to_decimal,
)
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import Executor, make_signal_id
from kraken_tui.engine.exits import ClosePosition, ExitReason
from kraken_tui.engine.facade import EngineEvent, EventKind, Severity
from kraken_tui.engine.manual import (
    CancelOrder,
    CancelTakeProfits,
    DeskView,
    EditOrder,
    ManualAction,
    ManualClose,
    ManualOrder,
    ManualPreview,
    ManualResult,
    MoveStopTo,
    Reprotect,
    SentOrder,
    preview,
)
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import OperatorStateMachine, TransitionSource
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.risk import AccountSnapshot
from kraken_tui.journal.records import IntentPurpose

__all__ = ["ManualDesk"]

log = logging.getLogger(__name__)

#: Seconds an action may wait for the job worker before it is answered "not sent" (and never sent later).
JOB_TIMEOUT_S = 30.0


def _answer(r: OrderResult) -> dict[str, Any]:
    return {"status": r.raw_status or r.status.value, "order_id": r.order_id, "cli_ord_id": r.cli_ord_id,
            "filled": str(r.filled_size), "error": r.error}


class ManualDesk:
    """Manual actions of one engine (module docstring).

    Args:
        io: events, clock, journal, job worker (``context.EngineIO``).
        cfg: the configuration (``[risk]``, ``[exits]``).
        run_id: this run's id (signal ids of manual positions).
        sm: the operator state machine.
        account: positions, open orders, managed positions.
        market: marks and funding rates of the followed symbols.
        instruments: every listed instrument.
        executor: sends, edits and cancels orders (intents journaled first).
        flow: entries with their protective orders, closes, protective order placement.
        risk_account: the risk gate's account snapshot now.
        record: journals an operator action ``(action, reason, source)`` (``controls.OperatorControls.record``).
        timeout_s: seconds an action may wait for the job worker.

    Attributes:
        manual_ids: signal ids of the positions opened by manual orders (tagged manual).
    """

    def __init__(self, io: EngineIO, *, cfg: Config, run_id: str, sm: OperatorStateMachine, account: AccountTracker,
                 market: MarketState, instruments: Mapping[str, Instrument], executor: Executor, flow: OrderFlow,
                 risk_account: Callable[[], AccountSnapshot], record: Callable[[str, str, TransitionSource], None],
                 timeout_s: float = JOB_TIMEOUT_S) -> None:
        self.io, self.cfg, self.run_id, self.sm = io, cfg, run_id, sm
        self.account, self.market, self.instruments = account, market, instruments
        self.executor, self.flow = executor, flow
        self._risk_account, self._record = risk_account, record
        self.timeout_s = timeout_s
        self.manual_ids: set[str] = set()
        self._resting: dict[str, tuple[str, bool]] = {}
        """cliOrdId of a resting manual opening order -> (signal id, attach exits)."""

    # ------------------------------------------------------------------ preview
    def view(self) -> DeskView:
        """The state a preview reads, now (no I/O)."""
        marks: dict[str, Decimal] = {}
        for sym, pos in self.account.positions.items():
            if pos.mark_price:
                marks[sym] = pos.mark_price
        funding: dict[str, float] = {}
        for sym in self.market.symbols:
            m = self.market.mark_price(sym)
            if m:
                marks[sym] = to_decimal(m)
            f = self.market.funding_rate(sym)
            if f is not None:
                funding[sym] = f
        managed_stop = {s: (mp.exits.stop_price, mp.orders.get("stop")) for s, mp in self.account.managed.items()
                        if mp.exits.stop_price is not None or "stop" in mp.orders}
        managed_tps = {s: tuple(c for k, c in mp.orders.items() if k.startswith("tp"))
                       for s, mp in self.account.managed.items()}
        return DeskView(self.sm.state, self.instruments, marks, dict(self.account.positions),
                        dict(self.account.orders), self._risk_account(), self.cfg.risk, self.cfg.exits,
                        entry_blockers=self.sm.entry_blockers, managed_stop=managed_stop, managed_tps=managed_tps,
                        unresolved=len(self.executor.unresolved), funding=funding)

    def preview(self, action: ManualAction) -> ManualPreview:
        """``manual.preview`` of ``action`` on the state now (no side effects)."""
        return preview(action, self.view())

    # ------------------------------------------------------------------ run
    async def run(self, action: ManualAction, source: TransitionSource, *, override: bool = False) -> ManualResult:
        """Preview ``action``, then carry it out on the job worker (module docstring). Never raises for bad input
        or exchange errors: the result says what happened.

        ``override`` sends an opening order the risk gate refused (journaled as an override); it does not lift
        any other refusal."""
        p = self.preview(action)
        refused = self._refusal(p, override)
        if refused is not None:
            return self._refused(refused, p, source)
        fut: asyncio.Future[ManualResult] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            if fut.done():  # answered "not sent" already: never send it later
                return
            try:
                fut.set_result(await self._carry_out(action, source, override))
            except Exception as exc:  # a bug: answered, published, and reported by the job worker
                if not fut.done():
                    res = ManualResult(False, f"internal error: {type(exc).__name__}: {exc}", p.order,
                                       status="error", error=str(exc))
                    self._publish(res, source)
                    fut.set_result(res)
                raise

        assert p.order is not None
        self.io.submit(f"manual {p.order.verb} {p.order.symbol}", job)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.timeout_s)
        except TimeoutError:
            fut.cancel()
            res = ManualResult(False, f"not sent: the engine's order work did not reach it within "
                                      f"{self.timeout_s:g} s (a flatten, or the engine stopping)", p.order)
            self._publish(res, source)
            return res

    def _refusal(self, p: ManualPreview, override: bool) -> str | None:
        if p.ok:
            return None
        if p.overridable and override:
            return None
        if p.overridable:
            return f"{p.message}; an override needs the typed confirmation"
        return p.message

    def _refused(self, message: str, p: ManualPreview, source: TransitionSource) -> ManualResult:
        res = ManualResult(False, f"refused: {message}", p.order, notes=p.notes)
        self._record("manual refused", message, source)
        self._publish(res, source)
        return res

    async def _carry_out(self, action: ManualAction, source: TransitionSource, override: bool) -> ManualResult:
        p = self.preview(action)  # the state when the job runs (a position may have closed meanwhile)
        refused = self._refusal(p, override)
        if refused is not None:
            return self._refused(refused, p, source)
        sent = p.order
        assert sent is not None
        overridden = not p.ok and override
        self._record(f"manual {sent.verb}" + (" override" if overridden else ""),
                     sent.line() + (f" (risk gate overridden: {p.gate_refusal})" if overridden else ""), source)
        if isinstance(action, ManualOrder):
            res = await self._order(sent)
        elif isinstance(action, ManualClose):
            res = await self._close(sent)
        elif isinstance(action, CancelOrder):
            res = await self._cancel(sent)
        elif isinstance(action, EditOrder):
            res = await self._edit(sent)
        elif isinstance(action, MoveStopTo):
            res = await self._move_stop(sent)
        elif isinstance(action, CancelTakeProfits):
            res = await self._cancel_tps(sent)
        else:
            assert isinstance(action, Reprotect)
            res = await self._reprotect(sent)
        res = replace(res, overridden=overridden, notes=p.notes)
        self._publish(res, source)
        return res

    def _publish(self, res: ManualResult, source: TransitionSource) -> None:
        sym = res.sent.symbol if res.sent is not None else None
        self.io.emit(EventKind.ORDER, f"operator ({source.value}): {res.message}", symbol=sym,
                     severity=Severity.INFO if res.ok else Severity.WARNING,
                     data={"manual": True, "source": source.value, "status": res.status, "order_id": res.order_id,
                           "cli_ord_id": res.cli_ord_id, "error": res.error, "overridden": res.overridden})

    # ------------------------------------------------------------------ the actions
    def _sid(self, symbol: str) -> str:
        sid = make_signal_id(self.run_id, symbol, self.io.now_ms())
        self.manual_ids.add(sid)
        return sid

    def _result(self, sent: SentOrder, r: OrderResult | None, what: str) -> ManualResult:
        if r is None:
            return ManualResult(False, f"{what}: not sent (a close of this position is already in flight)", sent,
                                status="not sent")
        status = r.raw_status or r.status.value
        msg = f"{what}: {status}" + (f", {r.filled_size} filled" if r.filled_size > 0 else "") \
            + (f" - {r.error}" if r.error else "")
        return ManualResult(r.accepted, msg, sent, status, r.order_id, r.cli_ord_id, r.filled_size, r.error,
                            answers=(_answer(r),))

    def _request(self, sent: SentOrder, cid: str) -> OrderRequest:
        otype = OrderType(sent.order_type or "mkt")
        trigger = TriggerSignal.MARK if otype.is_trigger else None
        return OrderRequest(sent.symbol, sent.side or Side.BUY, otype, sent.size or ZERO, limit_price=sent.limit_price,
                            stop_price=sent.stop_price, trigger_signal=trigger, reduce_only=sent.reduce_only,
                            cli_ord_id=cid)

    async def _send(self, sent: SentOrder, purpose: IntentPurpose, ref: str,
                    attach: bool | None = None) -> OrderResult:
        """Send ``sent`` with a new cliOrdId of ``ref``; ``attach`` not None: a resting opening order whose fills
        ``on_event`` manages (registered before the send, so no fill is missed)."""
        cid = self.executor.ids.make(ref, purpose.value)
        self.flow.cid_ref[cid] = ref
        if attach is not None:
            self._resting[cid] = (ref, attach)
        req = self._request(sent, cid)
        r = await self.executor.submit(req, purpose, signal_id=ref, instrument=self.instruments.get(sent.symbol))
        if r.filled_size > 0:  # let the fills reach the account before the answer (as a strategy close does)
            await self.flow.await_fills(cid, r.filled_size)
        return r

    def _ref(self, symbol: str) -> str:
        mp = self.account.managed.get(symbol)
        return mp.signal_id if mp is not None else self._sid(symbol)

    async def _order(self, sent: SentOrder) -> ManualResult:
        what = sent.line()
        assert sent.side is not None and sent.size is not None
        if sent.reduce_only:
            return self._result(sent, await self._send(sent, IntentPurpose.MANUAL, self._ref(sent.symbol)), what)
        sid = self._sid(sent.symbol)
        if sent.order_type == "mkt":
            side = PositionSide.LONG if sent.side is Side.BUY else PositionSide.SHORT
            mark = self.view().marks.get(sent.symbol) or ZERO
            act = Enter(sent.symbol, side, sent.size, mark, None, sent.attach_exits, ZERO, ("manual",))
            return self._result(sent, await self.flow.enter(act, sid), what)
        before = self.account.signed_size(sent.symbol)
        purpose = IntentPurpose.ADD if before * sent.side.sign > 0 else IntentPurpose.ENTRY
        r = await self._send(sent, purpose, sid, attach=sent.attach_exits)
        if not r.accepted and r.cli_ord_id:
            self._resting.pop(r.cli_ord_id, None)
        return self._result(sent, r, what)

    async def _close(self, sent: SentOrder) -> ManualResult:
        what = sent.line()
        pos = self.account.positions.get(sent.symbol)
        if sent.order_type == "mkt" and pos is not None and sent.size == pos.size:
            r = await self.flow.close(ClosePosition(ExitReason.MANUAL), sent.symbol, None)
            return self._result(sent, r, what)
        return self._result(sent, await self._send(sent, IntentPurpose.MANUAL, self._ref(sent.symbol)), what)

    def _forget_protective(self, cli_ord_id: str | None) -> None:
        for mp in self.account.managed.values():
            for key, cid in list(mp.orders.items()):
                if cid == cli_ord_id:
                    mp.orders.pop(key)

    async def _cancel(self, sent: SentOrder) -> ManualResult:
        o = self.account.orders.get(sent.order_id or "")
        cid = o.cli_ord_id if o is not None else None
        oid, ocid = self._which(sent.order_id, cid)
        r = await self.executor.cancel(order_id=oid, cli_ord_id=ocid)
        if r.accepted:
            self._forget_protective(cid)
            self._resting.pop(cid or "", None)
        return self._result(sent, r, sent.line())

    @staticmethod
    def _which(order_id: str | None, cli_ord_id: str | None) -> tuple[str | None, str | None]:
        """Exactly one of the two ids for editorder/cancelorder, as (order_id, cli_ord_id): the cliOrdId of an
        order of ours (the executor tracks its orders by it), else the exchange's order id."""
        if cli_ord_id and cli_ord_id.startswith("kt-"):
            return None, cli_ord_id
        return order_id, None

    def _managed_by_cid(self, cli_ord_id: str | None) -> tuple[ManagedPosition, str] | None:
        for mp in self.account.managed.values():
            for key, cid in mp.orders.items():
                if cid == cli_ord_id:
                    return mp, key
        return None

    async def _edit(self, sent: SentOrder) -> ManualResult:
        o = self.account.orders.get(sent.order_id or "")
        cid = o.cli_ord_id if o is not None else None
        oid, ocid = self._which(sent.order_id, cid)
        r = await self.executor.edit(order_id=oid, cli_ord_id=ocid, size=sent.size,
                                     stop_price=sent.stop_price, limit_price=sent.limit_price,
                                     instrument=self.instruments.get(sent.symbol))
        found = self._managed_by_cid(cid)
        if r.accepted and found is not None and found[1] == "stop" and sent.stop_price is not None:
            found[0].exits.stop_price = sent.stop_price
        return self._result(sent, r, sent.line())

    async def _move_stop(self, sent: SentOrder) -> ManualResult:
        assert sent.stop_price is not None
        mp = self.account.managed.get(sent.symbol)
        if mp is not None:
            mp.exits.stop_price = sent.stop_price
        if sent.order_id is not None:
            o = self.account.orders.get(sent.order_id)
            oid, ocid = self._which(sent.order_id, o.cli_ord_id if o else None)
            r = await self.executor.edit(order_id=oid, cli_ord_id=ocid,
                                         stop_price=sent.stop_price, instrument=self.instruments.get(sent.symbol))
            return self._result(sent, r, sent.line())
        stop = mp.exits.stop_order() if mp is not None else None
        if mp is None or stop is None:
            return ManualResult(False, f"{sent.symbol}: no stop to move", sent, status="not sent")
        return self._result(sent, await self.flow.place(mp, stop, mp.stop_purpose), sent.line())

    async def _cancel_tps(self, sent: SentOrder) -> ManualResult:
        mp = self.account.managed.get(sent.symbol)
        answers: list[dict[str, Any]] = []
        ok = True
        for key in [k for k in (mp.orders if mp is not None else {}) if k.startswith("tp")]:
            assert mp is not None
            r = await self.executor.cancel(cli_ord_id=mp.orders.pop(key))
            answers.append({"purpose": key, **_answer(r)})
            ok = ok and r.accepted
        statuses = ", ".join(f"{a['purpose']} {a['status']}" for a in answers) or "none resting"
        return ManualResult(ok and bool(answers), f"{sent.line()}: {statuses}", sent,
                            "cancelled" if ok and answers else "partly cancelled" if answers else "not sent",
                            answers=tuple(answers))

    async def _reprotect(self, sent: SentOrder) -> ManualResult:
        pos = self.account.positions.get(sent.symbol)
        inst = self.instruments.get(sent.symbol)
        if pos is None or inst is None:
            return ManualResult(False, f"no open {sent.symbol} position", sent, status="not sent")
        mp = self.account.managed.get(sent.symbol)
        results: list[OrderResult] = []
        if mp is not None and mp.exits.protective:
            placed = await self.flow.resync(mp, replace_tps=True)
            results = [placed] if placed is not None else []
        else:
            if mp is not None:  # managed without protective exits: its orders (none by rule) are cancelled first
                for cid in list(mp.orders.values()):
                    await self.executor.cancel(cli_ord_id=cid)
            _mp, results = await self.flow.manage(inst, pos.side, pos.entry_price, pos.size, self._sid(sent.symbol))
        ok = all(r.accepted for r in results)
        answers = tuple(_answer(r) for r in results)
        mp = self.account.managed.get(sent.symbol)
        what = f"{sent.line()}: stop {mp.exits.stop_price if mp else '-'}, {len(mp.orders) if mp else 0} protective " \
               f"order(s) resting"
        return ManualResult(ok, what, sent, "placed" if ok else "partly placed", answers=answers)

    # ------------------------------------------------------------------ fills of resting opening orders
    def on_event(self, ev: EngineEvent) -> None:
        """Engine listener: a fill of a resting manual opening order starts (or grows) its managed position, on
        the job worker. Returns at once (never blocks)."""
        if ev.kind is not EventKind.FILL:
            return
        cid = ev.data.get("cli_ord_id")
        if not cid or cid not in self._resting:
            return
        sid, attach = self._resting[cid]
        sym = ev.symbol or ""
        intent = self.executor.intents.get(cid)
        if intent is None:
            return
        try:
            size, price = Decimal(str(ev.data["size"])), Decimal(str(ev.data["price"]))
        except (KeyError, ArithmeticError, ValueError):
            return
        if self.account.cli_filled.get(cid, ZERO) >= intent.size:
            self._resting.pop(cid, None)
        self.io.submit(f"manage manual {sym}", lambda: self._manage_fill(sym, intent.side, sid, attach, size, price))

    async def _manage_fill(self, symbol: str, side: Side, sid: str, attach: bool, size: Decimal,
                           price: Decimal) -> None:
        inst = self.instruments.get(symbol)
        if inst is None or size <= 0 or price <= 0:
            return
        pside = PositionSide.LONG if side is Side.BUY else PositionSide.SHORT
        mp = self.account.managed.get(symbol)
        if mp is not None and mp.exits.side is pside:
            mp.exits.add(size, price)
            await self.flow.resync(mp, replace_tps=True)
            return
        if self.account.signed_size(symbol) * pside.sign <= 0:
            return  # the fill reduced an opposite position: nothing to manage
        _mp, results = await self.flow.manage(inst, pside, price, size, sid, protective=attach)
        stop = results[0] if results and attach else None
        if self.flow.on_unprotected is not None and attach:
            self.flow.on_unprotected(_mp, stop)
