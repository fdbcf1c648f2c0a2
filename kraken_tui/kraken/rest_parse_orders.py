"""Kraken Futures order answers -> typed results: send/edit/cancel/batch status, events, cancel-all, DMS.

Owns: ``parse_order_result`` (``sendStatus``/``editStatus``/``cancelStatus``/one ``batchStatus``
element, spec §4.10-4.12, §4.15), ``parse_order_event`` (``orderEvents[]`` incl. ``orderTrigger``
variants, §4.10), ``parse_cancel_all`` (§4.13), ``parse_dead_man_switch`` (§4.14) and
``parse_orders_status`` (§4.16).
Rule: an answer whose ``status`` can be read always becomes an ``OrderResult``; unknown status
strings become ``OrderStatus.UNRECOGNISED`` with ``raw_status``; a malformed ``orderEvents`` list
does not hide the status: the result keeps the status and says so in ``error``.
Must not import: httpx, websockets, aiohttp, textual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from kraken_tui.domain import (
    ZERO,
    DeadManSwitchStatus,
    Order,
    OrderEvent,
    OrderEventType,
    OrderResult,
    OrderStatus,
)
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.fields import get_bool, get_decimal, get_str, get_ts_ms, require_dict
from kraken_tui.kraken.rest_parse import get_list, get_side, get_symbol, iter_rows
from kraken_tui.kraken.rest_parse_account import parse_trigger_signal

__all__ = [
    "CancelAllResult",
    "OrderStatusInfo",
    "order_status_from_str",
    "parse_cancel_all",
    "parse_dead_man_switch",
    "parse_order_event",
    "parse_order_object",
    "parse_order_result",
    "parse_orders_status",
    "parse_trigger_object",
]

log = logging.getLogger(__name__)

_STATUSES = {s.value: s for s in OrderStatus if s not in (OrderStatus.UNKNOWN, OrderStatus.UNRECOGNISED)}
_EVENT_TYPES = {t.value: t for t in OrderEventType}


def order_status_from_str(raw: str) -> tuple[OrderStatus, str | None]:
    """Kraken status string -> (OrderStatus, raw_status). Unknown strings -> (UNRECOGNISED, raw)."""
    st = _STATUSES.get(raw)
    return (st, None) if st is not None else (OrderStatus.UNRECOGNISED, raw)


def parse_order_object(obj: Any, where: str) -> Order:
    """An ``ORDER`` object of orderEvents / orders/status (spec §4.10, §4.16) -> Order.

    ``size`` = ``quantity`` (the remaining size at that moment), ``filled`` = ``filled``.

    Raises:
        ProtocolError: ``orderId``/``symbol``/``side``/``quantity`` missing or malformed.
    """
    o = require_dict(obj, where)
    return Order(
        order_id=get_str(o, "orderId", where),
        symbol=get_symbol(o, "symbol", where),  # type: ignore[arg-type]
        side=get_side(o, "side", where),
        order_type=(get_str(o, "type", where, required=False) or "lmt").lower(),
        size=get_decimal(o, "quantity", where, nonneg=True),
        filled=get_decimal(o, "filled", where, required=False, nonneg=True) or ZERO,
        limit_price=get_decimal(o, "limitPrice", where, required=False),
        stop_price=get_decimal(o, "stopPrice", where, required=False),
        reduce_only=bool(get_bool(o, "reduceOnly", where, required=False)),
        cli_ord_id=get_str(o, "cliOrdId", where, required=False),
        received_ts_ms=get_ts_ms(o, "timestamp", where, required=False),
        last_update_ts_ms=get_ts_ms(o, "lastUpdateTimestamp", where, required=False),
    )


def parse_trigger_object(obj: Any, where: str) -> Order:
    """A ``TRIGGER`` object (``orderTrigger``, spec §4.10) -> an untriggered Order.

    ``order_type`` is derived from side and ``triggerSide`` (spec §4.10 "Observed trigger sides"):
    buy+trigger_above or sell+trigger_below -> ``stp``; the other two -> ``take_profit``.
    ``stop_price`` = ``triggerPrice``; ``limit_price`` None means market-on-trigger.

    Raises:
        ProtocolError: ``uid``/``symbol``/``side``/``quantity``/``triggerPrice`` missing, or an
            unknown ``triggerSide``/``triggerSignal``.
    """
    o = require_dict(obj, where)
    side = get_side(o, "side", where)
    tside = (get_str(o, "triggerSide", where) or "").lower()
    if tside not in ("trigger_above", "trigger_below"):
        raise ProtocolError(where, f"unknown trigger side {tside!r}", field="triggerSide")
    is_stop = (side.value == "buy") == (tside == "trigger_above")
    return Order(
        order_id=get_str(o, "uid", where),
        symbol=get_symbol(o, "symbol", where),  # type: ignore[arg-type]
        side=side,
        order_type="stp" if is_stop else "take_profit",
        size=get_decimal(o, "quantity", where, nonneg=True),
        limit_price=get_decimal(o, "limitPrice", where, required=False),
        stop_price=get_decimal(o, "triggerPrice", where, positive=True),
        trigger_signal=parse_trigger_signal(o, "triggerSignal", where),
        reduce_only=bool(get_bool(o, "reduceOnly", where, required=False)),
        cli_ord_id=get_str(o, "clientId", where, required=False),
        received_ts_ms=get_ts_ms(o, "timestamp", where, required=False),
        last_update_ts_ms=get_ts_ms(o, "lastUpdateTimestamp", where, required=False),
    )


def parse_order_event(obj: Any, where: str) -> OrderEvent:
    """One ``orderEvents[]`` element -> OrderEvent (spec §4.10).

    PLACE/CANCEL/REJECT carry ``order`` or ``orderTrigger``; EDIT carries ``old``/``new`` (``order`` =
    new); EXECUTION carries ``executionId``, ``price`` (USD), ``amount`` (contracts) and
    ``orderPriorExecution`` (the ``order``).

    Raises:
        ProtocolError: unknown ``type``, or the fields that type needs missing/malformed.
    """
    e = require_dict(obj, where)
    t = get_str(e, "type", where)
    etype = _EVENT_TYPES.get((t or "").upper())
    if etype is None:
        raise ProtocolError(where, f"unknown event type {t!r}", field="type")
    order: Order | None = None
    if etype is OrderEventType.EDIT:
        order = parse_order_object(e.get("new"), f"{where} new")
    elif etype is OrderEventType.EXECUTION:
        order = parse_order_object(e.get("orderPriorExecution"), f"{where} orderPriorExecution")
    elif e.get("orderTrigger") is not None:
        order = parse_trigger_object(e["orderTrigger"], f"{where} orderTrigger")
    elif e.get("order") is not None:
        order = parse_order_object(e["order"], f"{where} order")
    execution = etype is OrderEventType.EXECUTION
    return OrderEvent(
        type=etype,
        order_id=(order.order_id if order else None) or get_str(e, "uid", where, required=False),
        cli_ord_id=order.cli_ord_id if order else None,
        price=get_decimal(e, "price", where, positive=True) if execution else None,
        amount=get_decimal(e, "amount", where, positive=True) if execution else None,
        reason=get_str(e, "reason", where, required=False),
        execution_id=get_str(e, "executionId", where, required=execution),
        order=order,
    )


def parse_order_result(
    block: Any, where: str, *, cli_ord_id: str | None = None, order_id: str | None = None
) -> OrderResult:
    """A ``sendStatus``/``editStatus``/``cancelStatus``/``batchStatus[i]`` object -> OrderResult.

    ``cli_ord_id``/``order_id`` fill in what the answer omits (a sendorder result always carries the
    cliOrdId we sent). Time is ``receivedTime`` or ``dateTimeReceived``.

    Raises:
        ProtocolError: only when ``status`` itself is missing or not a string. A malformed event list
            is reported in ``OrderResult.error`` with the status kept.
    """
    b = require_dict(block, where)
    raw = get_str(b, "status", where)
    status, raw_status = order_status_from_str(raw)
    error: str | None = None
    events: list[OrderEvent] = []
    try:
        oid = get_str(b, "order_id", where, required=False) or get_str(b, "orderId", where, required=False)
        cid = get_str(b, "cliOrdId", where, required=False)
        tag = get_str(b, "order_tag", where, required=False)
        ts = get_ts_ms(b, "receivedTime", where, required=False)
        if ts is None:
            ts = get_ts_ms(b, "dateTimeReceived", where, required=False)
        if b.get("orderEvents") is not None:
            items = get_list(b, "orderEvents", where)
            events = [parse_order_event(items[i], f"{where} orderEvents[{i}]") for i in range(len(items))]
    except ProtocolError as exc:
        log.warning("order answer with readable status %r but malformed details: %s", raw, exc)
        error = f"status {raw!r} read, but the rest of the answer is malformed: {exc}"
        oid, cid, tag, ts, events = None, None, None, None, []
    if oid is None:
        oid = next((ev.order_id for ev in events if ev.order_id), None) or order_id
    return OrderResult(
        status=status,
        order_id=oid,
        cli_ord_id=cid or cli_ord_id,
        received_ts_ms=ts,
        events=tuple(events),
        order_tag=tag,
        raw_status=raw_status,
        error=error,
    )


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    """cancelallorders answer (spec §4.13), or UNKNOWN when no answer came back.

    ``status`` CANCELLED / NO_ORDERS_TO_CANCEL / UNKNOWN (timeout, 5xx: re-read openorders);
    ``cancel_only`` is ``"all"`` or the symbol; ``cancelled`` holds (order_id, cliOrdId or None).
    """

    status: OrderStatus
    cancel_only: str | None = None
    cancelled: tuple[tuple[str, str | None], ...] = ()
    events: tuple[OrderEvent, ...] = ()
    received_ts_ms: int | None = None
    raw_status: str | None = None
    error: str | None = None


def parse_cancel_all(body: Any, endpoint: str) -> CancelAllResult:
    """cancelallorders body -> CancelAllResult.

    Raises:
        ProtocolError: ``cancelStatus``/``status`` missing or ``cancelledOrders`` malformed.
    """
    w = f"{endpoint} cancelStatus"
    b = require_dict(require_dict(body, endpoint).get("cancelStatus"), endpoint, "cancelStatus")
    res = parse_order_result(b, w)
    cancelled = []
    if b.get("cancelledOrders") is not None:
        for row, rw in iter_rows(b, "cancelledOrders", w):
            cancelled.append((get_str(row, "order_id", rw), get_str(row, "cliOrdId", rw, required=False)))
    return CancelAllResult(
        status=res.status,
        cancel_only=get_str(b, "cancelOnly", w, required=False),
        cancelled=tuple(cancelled),
        events=res.events,
        received_ts_ms=res.received_ts_ms,
        raw_status=res.raw_status,
        error=res.error,
    )


def parse_dead_man_switch(body: Any, endpoint: str) -> DeadManSwitchStatus:
    """cancelallordersafter body -> DeadManSwitchStatus (spec §4.14); ``triggerTime`` "0" -> None.

    Raises:
        ProtocolError: ``status``/``currentTime`` missing or a time malformed.
    """
    st = require_dict(require_dict(body, endpoint).get("status"), endpoint, "status")
    w = f"{endpoint} status"
    trig = st.get("triggerTime")
    disarmed = trig is None or trig in ("0", 0)
    return DeadManSwitchStatus(
        current_ts_ms=get_ts_ms(st, "currentTime", w),
        trigger_ts_ms=None if disarmed else get_ts_ms(st, "triggerTime", w),
    )


@dataclass(frozen=True, slots=True)
class OrderStatusInfo:
    """One ``orders/status`` entry (spec §4.16): the order, Kraken's upper-case ``status``
    (ENTERED_BOOK, FULLY_EXECUTED, REJECTED, CANCELLED, TRIGGER_PLACED, TRIGGER_ACTIVATION_FAILURE),
    ``update_reason`` and the OrderError ``error`` when any."""

    order: Order
    status: str
    update_reason: str | None = None
    error: str | None = None

    def to_order_result(self) -> OrderResult:
        """Map to an OrderResult: ENTERED_BOOK/TRIGGER_PLACED -> PLACED (PARTIALLY_FILLED when some
        filled), FULLY_EXECUTED -> FILLED, CANCELLED -> CANCELLED, anything else -> UNRECOGNISED."""
        mapping = {
            "ENTERED_BOOK": OrderStatus.PARTIALLY_FILLED if self.order.filled > 0 else OrderStatus.PLACED,
            "TRIGGER_PLACED": OrderStatus.PLACED,
            "FULLY_EXECUTED": OrderStatus.FILLED,
            "CANCELLED": OrderStatus.CANCELLED,
        }
        st = mapping.get(self.status, OrderStatus.UNRECOGNISED)
        return OrderResult(
            status=st,
            order_id=self.order.order_id,
            cli_ord_id=self.order.cli_ord_id,
            received_ts_ms=self.order.received_ts_ms,
            raw_status=None if st is not OrderStatus.UNRECOGNISED else self.status,
            error=self.error,
        )


def _status_order(o: dict[str, Any], w: str) -> Order:
    order = parse_order_object(o, w)
    opts = o.get("priceTriggerOptions")
    if opts is None:
        return order
    opts = require_dict(opts, w, "priceTriggerOptions")
    wt = f"{w} priceTriggerOptions"
    return replace(
        order,
        stop_price=get_decimal(opts, "triggerPrice", wt, positive=True),
        trigger_signal=parse_trigger_signal(opts, "triggerSignal", wt),
    )


def parse_orders_status(body: Any, endpoint: str) -> list[OrderStatusInfo]:
    """``orders/status`` body -> OrderStatusInfo list (spec §4.16).

    Raises:
        ProtocolError: ``orders`` missing or an entry malformed.
    """
    out = []
    for row, w in iter_rows(body, "orders", endpoint):
        out.append(
            OrderStatusInfo(
                order=_status_order(require_dict(row.get("order"), w, "order"), f"{w} order"),
                status=get_str(row, "status", w),
                update_reason=get_str(row, "updateReason", w, required=False),
                error=get_str(row, "error", w, required=False),
            )
        )
    return out
