"""Order calls of the Kraken Futures REST client: send, edit, cancel, cancel-all, dead man's switch,
batch, and resolving orders whose outcome is unknown (spec §4.10-4.16).

Owns: ``OrderCalls``, the base class of ``KrakenRestClient`` that holds the order rules:
- every sendorder carries a cliOrdId (uuid4 when the request has none) and the result carries it;
- ORDERS ARE NEVER RE-SENT: the POST is made once (``retry=False``); a timeout, connection failure,
  5xx or unreadable answer returns ``OrderResult(status=OrderStatus.UNKNOWN, error=...)``, resolved
  with ``resolve_unknown`` (orders/status, then fills);
- a definite refusal in an error envelope (``authenticationError``, ``apiLimitExceeded``,
  ``requiredArgumentMissing``...) is raised as its typed ``ExchangeError``: nothing was placed;
- rate-limit priority: cancel_order, cancel_all_orders and cancel_all_orders_after may spend the
  reserve; send_order/batch_order only with ``priority=True`` and only for reduce-only orders.
Prepare, then send: ``prepare_send_order`` / ``prepare_batch_order`` check the call and return a
``PreparedOrder``; its ``sign()`` builds (rounding, encoding) and signs the request and may run on another thread
meanwhile; its ``send()`` spends the rate-limit budget and puts the request on the wire, once. A caller
that must not let an order leave before something else happened (the engine: the order's intent durable in the
journal) prepares, waits for it, then sends. ``send_order`` / ``batch_order`` are prepare + send.
Must not import: websockets, aiohttp, textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

from kraken_tui.domain import (
    DeadManSwitchStatus,
    Fill,
    Instrument,
    OrderEvent,
    OrderEventType,
    OrderRequest,
    OrderResult,
    OrderStatus,
)
from kraken_tui.errors import ProtocolError, ServerError, TransportError
from kraken_tui.kraken import rest_parse as P
from kraken_tui.kraken import rest_parse_orders as PO
from kraken_tui.kraken.ratelimit import DERIVATIVES_COSTS, batch_cost
from kraken_tui.kraken.rest_orders import (
    BatchInstruction,
    BatchSend,
    batch_json,
    edit_params,
    new_cli_ord_id,
    order_params,
)
from kraken_tui.kraken.rest_transport import PreparedRequest, RestTransport

__all__ = ["OrderCalls", "PreparedOrder"]

V3 = "/derivatives/api/v3"
_AMBIGUOUS = (TransportError, ServerError, ProtocolError)
T = TypeVar("T")


class OrderCalls:
    """Order endpoints; mixed into ``KrakenRestClient`` (which provides ``_t``, ``_instruments``,
    ``instrument``, ``orders_status`` and ``fills``)."""

    _t: RestTransport
    _instruments: dict[str, Instrument]

    def instrument(self, symbol: str) -> Instrument | None:  # pragma: no cover - provided by the client
        """The cached Instrument of ``symbol``."""
        raise NotImplementedError

    async def orders_status(
        self, *, order_ids: Sequence[str] = (), cli_ord_ids: Sequence[str] = ()
    ) -> list[PO.OrderStatusInfo]:  # pragma: no cover - provided by the client
        """orders/status (spec §4.16)."""
        raise NotImplementedError

    async def fills(self, last_fill_time_ms: int | None = None) -> list[Fill]:  # pragma: no cover
        """fills (spec §4.9)."""
        raise NotImplementedError

    async def _order_call(
        self,
        endpoint: str,
        form: list[tuple[str, str]],
        cost: int,
        priority: bool,
        parse: Callable[[Any, str], T],
        unknown: Callable[[str], T],
    ) -> T:
        """POST once (never retried); an ambiguous failure becomes ``unknown(reason)``."""
        return await PreparedOrder(self._t, f"{V3}/{endpoint}", priority, lambda: (form, cost, parse, unknown)).send()

    async def _single(
        self,
        endpoint: str,
        form: list[tuple[str, str]],
        key: str,
        priority: bool,
        order_id: str | None,
        cli_ord_id: str | None,
    ) -> OrderResult:
        """One send/edit/cancel call whose answer is ``body[key]`` (``sendStatus``...); ids we sent fill
        in what the answer omits, and an ambiguous failure is UNKNOWN carrying them."""
        return await self._prepare_single(endpoint, lambda: form, key, priority, order_id, cli_ord_id).send()

    def _prepare_single(
        self,
        endpoint: str,
        make_form: Callable[[], list[tuple[str, str]]],
        key: str,
        priority: bool,
        order_id: str | None,
        cli_ord_id: str | None,
    ) -> PreparedOrder[OrderResult]:
        """``_single`` as a ``PreparedOrder`` whose form ``make_form`` builds when it is signed or sent."""

        def parse(body: Any, path: str) -> OrderResult:
            block = _payload(body, key, path)
            return PO.parse_order_result(block, f"{path} {key}", cli_ord_id=cli_ord_id, order_id=order_id)

        def unknown(why: str) -> OrderResult:
            return OrderResult(
                status=OrderStatus.UNKNOWN, order_id=order_id, cli_ord_id=cli_ord_id, error=why
            )

        return PreparedOrder(self._t, f"{V3}/{endpoint}", priority,
                             lambda: (make_form(), DERIVATIVES_COSTS[endpoint], parse, unknown))

    def _check_priority(self, reqs: Sequence[OrderRequest], priority: bool) -> None:
        if priority and not all(r.reduce_only for r in reqs):
            raise ValueError("priority (rate-limit reserve) is only for reduce-only orders (flatten)")

    async def send_order(
        self, req: OrderRequest, *, instrument: Instrument | None = None, priority: bool = False
    ) -> OrderResult:
        """Place one order (spec §4.10). Size rounds down to the lot, prices to the tick, using
        ``instrument`` or the ``instruments()`` cache.

        Returns:
            OrderResult: the exchange's status (rejections are statuses), or UNKNOWN with ``error``
            on timeout/connection failure/5xx/unreadable answer. ``cli_ord_id`` is always set.

        Raises:
            ValueError: size rounds to zero; ``priority`` on a non-reduce-only order.
            ExchangeError subclasses for definite refusals (``authenticationError``, ``apiLimitExceeded``...).
        """
        prepared = await self.prepare_send_order(req, instrument=instrument, priority=priority)
        return await prepared.send()

    async def prepare_send_order(
        self, req: OrderRequest, *, instrument: Instrument | None = None, priority: bool = False
    ) -> PreparedOrder[OrderResult]:
        """``send_order`` up to the send: checked, built and signed by ``PreparedOrder.sign`` (any thread) or
        ``send``, which alone spends the rate budget and puts it on the wire (module docstring, "Prepare, then
        send").

        Raises:
            ValueError: ``priority`` on a non-reduce-only order (a request that cannot be built raises from
                ``sign``/``send``).
        """
        self._check_priority([req], priority)
        cid = req.cli_ord_id or new_cli_ord_id()
        inst = instrument or self.instrument(req.symbol)
        return self._prepare_single("sendorder", lambda: order_params(req, inst, cli_ord_id=cid), "sendStatus",
                                    priority, None, cid)

    async def edit_order(
        self,
        *,
        order_id: str | None = None,
        cli_ord_id: str | None = None,
        size: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        instrument: Instrument | None = None,
    ) -> OrderResult:
        """Amend an order (spec §4.11; ``qtyMode`` default RELATIVE: ``size`` = new open size).

        Returns an OrderResult (UNKNOWN on an ambiguous failure). Raises ValueError on bad arguments.
        """
        form = edit_params(
            order_id=order_id,
            cli_ord_id=cli_ord_id,
            size=size,
            limit_price=limit_price,
            stop_price=stop_price,
            inst=instrument,
        )

        return await self._single("editorder", form, "editStatus", False, order_id, cli_ord_id)

    async def cancel_order(
        self, *, order_id: str | None = None, cli_ord_id: str | None = None
    ) -> OrderResult:
        """Cancel one order (spec §4.12; ``order_id`` snake-case). Priority. Statuses: cancelled,
        filled (too late), notFound; UNKNOWN on an ambiguous failure.

        Raises:
            ValueError: neither or both ids given.
        """
        if (order_id is None) == (cli_ord_id is None):
            raise ValueError("give exactly one of order_id or cli_ord_id")
        if order_id is not None:
            form = [("order_id", order_id)]
        else:
            assert cli_ord_id is not None
            form = [("cliOrdId", cli_ord_id)]

        return await self._single("cancelorder", form, "cancelStatus", True, order_id, cli_ord_id)

    async def cancel_all_orders(self, symbol: str | None = None) -> PO.CancelAllResult:
        """Cancel every order, trigger orders included, on all symbols or one (spec §4.13). Priority.
        UNKNOWN on an ambiguous failure (re-read openorders)."""
        form = [("symbol", symbol.upper())] if symbol else []
        return await self._order_call(
            "cancelallorders",
            form,
            DERIVATIVES_COSTS["cancelallorders"],
            True,
            PO.parse_cancel_all,
            lambda why: PO.CancelAllResult(status=OrderStatus.UNKNOWN, cancel_only=symbol, error=why),
        )

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitchStatus:
        """Arm (``timeout_s`` > 0) or disarm (0) the dead man's switch (spec §4.14; seconds). Priority;
        idempotent, so retried like a read.

        Raises:
            ValueError: ``timeout_s`` outside 0..2**32-1.
        """
        if not 0 <= timeout_s < 2**32:
            raise ValueError(f"timeout_s must be a uint32, got {timeout_s}")
        path = f"{V3}/cancelallordersafter"
        body = await self._t.call(
            "POST",
            path,
            form=[("timeout", str(int(timeout_s)))],
            private=True,
            cost=DERIVATIVES_COSTS["cancelallordersafter"],
            priority=True,
        )
        return PO.parse_dead_man_switch(body, path)

    async def batch_order(
        self, instructions: Sequence[BatchInstruction], *, priority: bool = False
    ) -> list[OrderResult]:
        """Send/edit/cancel in one call (spec §4.15; ``json=`` form body; cost 9 + n).

        Returns one OrderResult per ``batchStatus`` entry (send results carry their cliOrdId and
        ``order_tag``); on an ambiguous failure one UNKNOWN result per instruction, in order.

        Raises:
            ValueError: empty batch, bad instruction, or ``priority`` with a non-reduce-only send.
        """
        prepared = await self.prepare_batch_order(instructions, priority=priority)
        return await prepared.send()

    async def prepare_batch_order(
        self, instructions: Sequence[BatchInstruction], *, priority: bool = False
    ) -> PreparedOrder[list[OrderResult]]:
        """``batch_order`` up to the send: checked, built and signed by ``PreparedOrder.sign`` (any thread) or
        ``send``, which alone spends the rate budget and puts it on the wire (module docstring, "Prepare, then
        send").

        Raises:
            ValueError: an empty batch, ``priority`` with a non-reduce-only send (a bad instruction raises from
                ``sign``/``send``).
        """
        sends = [i.request for i in instructions if isinstance(i, BatchSend)]
        self._check_priority(sends, priority)
        if not instructions:
            raise ValueError("a batch needs at least one instruction")
        instruments = self._instruments
        instructions = list(instructions)

        def make() -> tuple[list[tuple[str, str]], int, Callable[[Any, str], list[OrderResult]],
                            Callable[[str], list[OrderResult]]]:
            text, sent = batch_json(instructions, instruments)
            tags = {i.order_tag: i.request.cli_ord_id for i in sent if isinstance(i, BatchSend)}

            def parse(body: Any, path: str) -> list[OrderResult]:
                items = P.get_list(body, "batchStatus", path)
                out = []
                for k, raw in enumerate(items):
                    tag = raw.get("order_tag") if isinstance(raw, dict) else None
                    out.append(PO.parse_order_result(raw, f"{path} batchStatus[{k}]", cli_ord_id=tags.get(tag)))
                return out

            return [("json", text)], batch_cost(len(sent)), parse, lambda why: [_unknown_for(i, why) for i in sent]

        return PreparedOrder(self._t, f"{V3}/batchorder", priority, make)

    async def resolve_unknown(self, cli_ord_id: str, *, size: Decimal | None = None) -> OrderResult | None:
        """Find out what happened to an order whose answer was lost (status UNKNOWN).

        1. ``orders/status`` by cliOrdId (open orders, and orders closed in the last ~5 s, spec §4.16):
           mapped with ``OrderStatusInfo.to_order_result``.
        2. Otherwise the last 100 fills with that cliOrdId: the order traded and is no longer open ->
           FILLED (or CANCELLED when ``size`` is given and the fills sum to less), with one
           EXECUTION event per fill so ``filled_size`` is exact.
        3. Otherwise None: no open order and no recent fill carry this cliOrdId - the order never
           reached the book, or was rejected/cancelled without trading. Nothing is exposed.
        Reads, so retried; raises like any read (the outcome then stays unknown).
        """
        for info in await self.orders_status(cli_ord_ids=[cli_ord_id]):
            if info.order.cli_ord_id in (None, cli_ord_id):
                return info.to_order_result()
        fills = [f for f in await self.fills() if f.cli_ord_id == cli_ord_id]
        if not fills:
            return None
        events = tuple(
            OrderEvent(
                type=OrderEventType.EXECUTION,
                order_id=f.order_id,
                cli_ord_id=cli_ord_id,
                price=f.price,
                amount=f.size,
                execution_id=f.fill_id,
            )
            for f in sorted(fills, key=lambda f: f.ts_ms)
        )
        executed = sum((f.size for f in fills), Decimal(0))
        status = OrderStatus.CANCELLED if size is not None and executed < size else OrderStatus.FILLED
        return OrderResult(status=status, order_id=fills[0].order_id, cli_ord_id=cli_ord_id, events=events)


def _payload(body: Any, key: str, path: str) -> Any:
    """The status block of an order answer; ProtocolError names it when missing."""
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ProtocolError(path, "missing or not an object", field=key)
    return body[key]


def _unknown_for(ins: BatchInstruction, why: str) -> OrderResult:
    if isinstance(ins, BatchSend):
        return OrderResult(
            status=OrderStatus.UNKNOWN, cli_ord_id=ins.request.cli_ord_id, order_tag=ins.order_tag, error=why
        )
    return OrderResult(
        status=OrderStatus.UNKNOWN, order_id=ins.order_id, cli_ord_id=ins.cli_ord_id, error=why
    )


class PreparedOrder(Generic[T]):
    """An order call made ready by ``OrderCalls.prepare_send_order`` / ``prepare_batch_order``, not sent (module
    docstring, "Prepare, then send").

    ``sign()`` builds the request (wire parameters, rounding, encoding) and signs it: thread-safe, once (the
    engine runs it on the journal's writer thread while its own thread waits for the intent's fsync).
    ``await send()`` builds it if ``sign`` did not, spends its rate-limit budget (waiting when short), signs it
    (again when another request was signed after it: nonces leave in increasing order), sends it ONCE and returns
    the call's result: an ambiguous failure (timeout, connection failure, 5xx, unreadable answer) is the UNKNOWN
    result, a definite refusal raises its ``ExchangeError``, a request that cannot be built raises its
    ``ValueError`` - exactly as the one-step call.
    """

    __slots__ = ("_call", "_lock", "_make", "_path", "_priority", "_t")

    def __init__(self, transport: RestTransport, path: str, priority: bool,
                 make: Callable[[], tuple[list[tuple[str, str]], int, Callable[[Any, str], T], Callable[[str], T]]],
                 ) -> None:
        self._t, self._path, self._priority, self._make = transport, path, priority, make
        self._call: tuple[PreparedRequest, Callable[[Any, str], T], Callable[[str], T]] | None = None
        self._lock = threading.Lock()

    def _built(self) -> tuple[PreparedRequest, Callable[[Any, str], T], Callable[[str], T]]:
        with self._lock:
            if self._call is None:
                form, cost, parse, unknown = self._make()
                req = self._t.build("POST", self._path, form=form, private=True, cost=cost, priority=self._priority)
                self._call = (req, parse, unknown)
            return self._call

    @property
    def request(self) -> PreparedRequest:
        """The built request (built now if it was not).

        Raises:
            ValueError: the order cannot be put on the wire (see ``rest_orders``).
        """
        return self._built()[0]

    def sign(self) -> None:
        """Build and sign the request now (see ``rest_transport.PreparedRequest.sign``); any thread.

        Raises:
            ValueError: the order cannot be put on the wire. AuthenticationError: no usable credentials.
        """
        self._built()[0].sign()

    async def send(self) -> T:
        """Send once; the parsed result, or ``unknown(reason)`` on an ambiguous failure.

        Raises:
            ExchangeError subclasses for definite refusals (``rest_errors.check_response``). ValueError: the
            order cannot be put on the wire.
        """
        req, parse, unknown = self._built()
        try:
            body = await self._t.send_prepared(req)
            return parse(body, req.path)
        except _AMBIGUOUS as exc:
            return unknown(f"outcome unknown, resolve before acting: {exc}")
