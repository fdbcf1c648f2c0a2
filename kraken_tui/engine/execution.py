"""Order execution: deterministic cliOrdIds, intent journaled before send, ambiguous outcomes resolved.

Owns: ``Executor`` (send / batch send / edit / cancel through ``KrakenRestClient``, journaling every intent and
result). ``ClientOrderIds``, ``intent_purpose`` and ``make_signal_id`` live in ``engine.order_ids`` (re-exported).

Rules (a deterministic cliOrdId per order, the intent journaled before the send, a timeout "unknown" until
resolved and never "failed"; spec §4.10-§4.16):
- cliOrdId scheme: ``kt-<signal_id>-<purpose>`` where ``signal_id`` is ``<run8>-<SYMBOL>-<ts_ms>`` (the
  first 8 characters of the run id, the symbol, and the close time of the candle that produced the
  signal, UTC ms); the protective orders of a position reuse the signal id of the entry that opened it
  (``kt-<signal_id>-stop``, ``-tp1``...). A second order with the same base in one run gets ``-1``,
  ``-2``... appended, so the same sequence of decisions yields the same ids (deterministic) and no id is
  used twice. At most 100 characters (spec §4.10); a longer base is cut from the left of the signal id.
- The ``IntentRecord`` is queued on the journal BEFORE the request is sent, and with ``durable=True``
  (the default) it is committed first (``synchronous=FULL``: fsynced) through the journal's priority lane
  (``context.commit_now``: one transaction at once, not the writer task's batch), for one order (``submit``) and
  for a batch (``submit_batch``, every intent in the same transaction), so after a crash or a power cut the
  journal always knows the cliOrdId of every order that may exist on the exchange.
- The durability rule, and what may overlap the fsync: NO BYTE of an order's request leaves before the commit
  of its intent has returned; work that sends nothing may run before or during it. With a client that
  prepares (``prepare_send_order`` / ``prepare_batch_order``, kraken.rest_trading "Prepare, then send") the
  call is checked before the commit and the request built and signed while the fsync runs (``alongside`` of
  the journal's priority lane: on the journal's writer thread, the loop thread being held by the fsync with the
  GIL released; built and signed on the loop after the commit when that job has not run, or with
  ``sign_during_fsync`` False); only once the commit returned is ``PreparedOrder.send`` called, which spends
  the rate-limit budget and writes the bytes. A client without ``prepare_*``
  gets ``send_order``/``batch_order`` called after the commit (build, sign and send then).
- An order call whose answer was lost (``OrderStatus.UNKNOWN``) is never treated as failed and never
  re-sent: ``client.resolve_unknown`` is asked (with backoff) until it says what happened. If it cannot
  tell, the cliOrdId stays in ``unresolved`` and the caller blocks entries until reconciliation.
- A definite refusal (an ``ExchangeError`` raised by the client: nothing was placed) comes back as an
  ``OrderResult`` with status ``UNRECOGNISED``, ``raw_status="refused"`` and the error text.
- No new exposure once a flatten has begun: ``may_add_exposure`` (the engine wires ``EngineFlatten.exposure_refusal``:
  FLATTENING, HALTED) is asked for every entry and add before its intent is written and again at the last moment
  before its bytes leave (after the commit). When it gives a reason nothing is sent: the intent is journaled with a
  ``refused`` result (``UNRECOGNISED``, ``raw_status="refused"``, error ``not sent: <reason>``, the record of an
  order that placed nothing), the caller gets that result, and the orders batched with it (the entry's stop) are
  not sent either. Exits (closes, stops, take-profits, cancels, edits) are never asked. ``exposure_landing``
  says whether an entry or add may have left during the order work in flight (the flatten waits only for that);
  ``exposure_fills`` what the exchange's answers to those entries and adds say they filled (spec §4.10 sendorder's
  ``sendStatus.orderEvents``: EXECUTION amounts), so a flatten closes that position from the answer instead of waiting
  for the position feed (``exposure_answered`` is called as each such answer arrives).
Must not import: textual, the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from kraken_tui.domain import ZERO, Instrument, OrderRequest, OrderResult, OrderStatus
from kraken_tui.engine.context import commit_now
from kraken_tui.engine.order_ids import ClientOrderIds, intent_purpose, make_signal_id
from kraken_tui.engine.ports import JournalSink, OrderClient
from kraken_tui.engine.reconcile import KnownOrder
from kraken_tui.errors import ExchangeError, JournalError
from kraken_tui.journal.encode import JournalRecord
from kraken_tui.journal.records import IntentPurpose, IntentRecord
from kraken_tui.kraken.rest_orders import BatchSend

__all__ = ["EXPOSURE_PURPOSES", "NOT_SENT", "ClientOrderIds", "Executor", "JournalSink", "intent_purpose",
           "make_signal_id", "not_sent_reason"]

#: The intent purposes that add exposure (``may_add_exposure`` is asked for them; exits never are).
EXPOSURE_PURPOSES = frozenset({IntentPurpose.ENTRY, IntentPurpose.ADD})
#: How the error of a result ``may_add_exposure`` refused begins (``not_sent_reason``).
NOT_SENT = "not sent: "


def not_sent_reason(result: OrderResult | None) -> str | None:
    """The reason an order was refused unsent by ``Executor.may_add_exposure`` (``flatten in progress``...), None
    for any other result (sent, refused by the exchange, or no result)."""
    if result is None or result.raw_status != "refused" or not (result.error or "").startswith(NOT_SENT):
        return None
    return (result.error or "")[len(NOT_SENT):]

log = logging.getLogger(__name__)

T_co = TypeVar("T_co", covariant=True)


class Prepared(Protocol[T_co]):
    """An order request built but not sent (kraken.rest_trading ``PreparedOrder``)."""

    def sign(self) -> None:
        """Sign it now; thread-safe, once."""
        ...

    async def send(self) -> T_co:
        """Send it once; its result (UNKNOWN on an ambiguous failure; ``ExchangeError`` on a refusal)."""
        ...


class Executor:
    """Sends orders for the engine (module docstring for the rules).

    Args:
        client: a ``KrakenRestClient`` (or anything with its order methods).
        journal: where intents and results go (``JournalWriter``).
        clock_ms: engine clock, UTC ms (the data clock in replay) for record timestamps.
        durable: flush the journal before each send (the intent is committed before the order exists).
        resolve_attempts: how many times ``resolve_unknown`` is asked before giving up (never re-sent).
        resolve_backoff_s: first wait between attempts, seconds; doubles each attempt.
        sleep: async sleep (tests pass a fake).
        may_add_exposure: asked before an entry or add is journaled and again right before it is sent; returns
            None when it may go, else the reason it may not (module docstring). None: never asked.

    Attributes:
        intents: cliOrdId -> the IntentRecord sent in this run.
        unresolved: cliOrdIds whose outcome is still unknown after every attempt.
        sent: number of order requests handed to the client (send, edit, cancel).
        live: cliOrdId -> the order (unfilled contracts) this run believes is resting on the exchange:
            added when a send is answered placed / partly filled (or stays unknown), updated by ``filled``,
            removed by ``gone`` (cancel answers, the order feed, reconciliation). Reconciliation compares it
            with openorders (engine.reconcile ``KnownState.orders``).
    """

    def __init__(
        self,
        client: OrderClient,
        journal: JournalSink,
        clock_ms: Callable[[], int],
        *,
        durable: bool = True,
        resolve_attempts: int = 5,
        resolve_backoff_s: float = 0.2,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        may_add_exposure: Callable[[], str | None] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.clock_ms = clock_ms
        self.durable = durable
        self.resolve_attempts = max(1, resolve_attempts)
        self.resolve_backoff_s = resolve_backoff_s
        self._sleep = sleep
        self.ids = ClientOrderIds()
        self.intents: dict[str, IntentRecord] = {}
        self.unresolved: set[str] = set()
        self.sent = 0
        self.live: dict[str, KnownOrder] = {}
        self._adopted: dict[str, IntentPurpose] = {}
        self.may_add_exposure = may_add_exposure
        """None, or the guard asked for entries and adds (module docstring); None from it: may send."""
        self._exposure_sending = 0  # entry/add requests handed to the client whose call has not returned
        self._exposure_sent = False  # an entry/add left since the last ``settle_exposure``
        self._exposure_fills: dict[str, Decimal] = {}  # symbol -> signed contracts the answers say filled
        self._exposure_unanswered = 0  # entries/adds sent since ``settle_exposure`` without a definite answer yet
        self.exposure_answered: Callable[[], None] | None = None
        """None, or called as the answer to an entry or add arrives, after ``exposure_fills`` took it in (engine.flatten
        closes from it). Must be quick and must not raise (its failure is logged)."""
        self.sign_during_fsync = True
        """Hand the prepared request's building and signing to the journal's writer thread during the intent's
        fsync (module docstring); False: built and signed on the loop after the commit (``bench_engine``
        measures both)."""

    def _track(self, req: OrderRequest, purpose: IntentPurpose, result: OrderResult) -> None:
        """Believe ``req`` resting when the answer says it is (or cannot say); forget it otherwise."""
        cid = req.cli_ord_id or ""
        rest = req.size - (result.filled_size or ZERO)
        if result.status in (OrderStatus.PLACED, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN) and rest > 0:
            self.live[cid] = KnownOrder(req.symbol, req.side, rest, result.order_id or None, cid, purpose.value)
        else:
            self.live.pop(cid, None)

    def filled(self, cli_ord_id: str | None, size: Decimal) -> None:
        """A fill of ``size`` contracts of one of our resting orders: shrink (or forget) it."""
        k = self.live.get(cli_ord_id or "")
        if k is None:
            return
        rest = k.size - size
        if rest > 0:
            self.live[k.cli_ord_id or ""] = dataclasses.replace(k, size=rest)
        else:
            self.live.pop(k.cli_ord_id or "", None)

    def gone(self, cli_ord_id: str | None) -> KnownOrder | None:
        """One of our orders left the book (cancelled, filled, resolved): forget it; returns it or None."""
        return self.live.pop(cli_ord_id or "", None)

    def adopt(self, order: KnownOrder, purpose: IntentPurpose) -> None:
        """Take over a resting order an earlier run of ours sent (engine.orphans): believe it resting and
        answer ``purpose`` for its cliOrdId from ``purpose_of``. Nothing is sent or journaled."""
        cid = order.cli_ord_id or ""
        self.live[cid] = order
        self._adopted[cid] = purpose

    def purpose_of(self, cli_ord_id: str | None) -> IntentPurpose | None:
        """The purpose of one of our cliOrdIds (sent in this run or adopted from an earlier one, ``adopt``),
        None for an order this run neither sent nor adopted."""
        intent = self.intents.get(cli_ord_id) if cli_ord_id else None
        if intent is None:
            return self._adopted.get(cli_ord_id or "")
        return intent.purpose

    # ------------------------------------------------------------------ no new exposure during a flatten
    @property
    def exposure_landing(self) -> bool:
        """True while an entry or add request is being sent, and from then until ``settle_exposure``: the order
        work in flight may have opened a position the exchange has not reported yet (engine.flatten waits for
        such work only)."""
        return self._exposure_sending > 0 or self._exposure_sent

    @property
    def exposure_fills(self) -> dict[str, Decimal]:
        """Symbol -> signed contracts (negative: sold) the exchange's answers to the entries and adds sent since
        ``settle_exposure`` say were executed (the sum of their EXECUTION events, spec §4.10 ``orderEvents``); a
        symbol whose answers executed nothing is absent. An answer that was lost (UNKNOWN) adds nothing."""
        return self._exposure_fills

    @property
    def exposure_answered_all(self) -> bool:
        """True when every entry and add sent since ``settle_exposure`` has its definite answer (``exposure_fills``
        holds all they executed; False while one is being sent or its answer was lost and is being resolved)."""
        return self._exposure_unanswered == 0 and self._exposure_sending == 0

    def settle_exposure(self) -> None:
        """The order work that sent entries or adds ended (the engine calls it after each job): their
        positions are the exchange's to report now (``exposure_landing`` False unless a send is in progress;
        ``exposure_fills`` emptied)."""
        self._exposure_sent = False
        self._exposure_fills = {}
        self._exposure_unanswered = 0

    def _note_exposure(self, req: OrderRequest, purpose: IntentPurpose, result: OrderResult) -> None:
        """Take the answer to an entry or add into ``exposure_fills`` and tell ``exposure_answered``."""
        if purpose not in EXPOSURE_PURPOSES or result.status is OrderStatus.UNKNOWN:
            return
        self._exposure_unanswered = max(0, self._exposure_unanswered - 1)
        filled = result.filled_size
        if filled > 0:
            self._exposure_fills[req.symbol] = self._exposure_fills.get(req.symbol, ZERO) + filled * req.side.sign
        if self.exposure_answered is not None:
            try:
                self.exposure_answered()
            except Exception:
                log.exception("exposure_answered failed")

    def _exposure_refusal(self, purposes: Sequence[IntentPurpose]) -> str | None:
        """Why the orders of these ``purposes`` may not be sent now: the guard's reason when one adds exposure,
        else None. A guard that raises refuses (its error is the reason): no entry leaves on a broken guard."""
        guard = self.may_add_exposure
        if guard is None or not any(p in EXPOSURE_PURPOSES for p in purposes):
            return None
        try:
            return guard()
        except Exception as exc:
            log.exception("may_add_exposure failed; the entry is not sent")
            return f"exposure guard failed ({type(exc).__name__}: {exc})"

    def _sending(self, purposes: Sequence[IntentPurpose]) -> contextlib.AbstractContextManager[None]:
        """Count an entry/add send in progress (``exposure_landing``) around the call that sends it, and each
        entry/add of it as unanswered until its definite answer is taken in (``exposure_answered_all``)."""
        exposures = sum(1 for p in purposes if p in EXPOSURE_PURPOSES)
        if not exposures:
            return contextlib.nullcontext()
        self._exposure_unanswered += exposures
        return self._exposure_send()

    @contextlib.contextmanager
    def _exposure_send(self) -> Iterator[None]:
        self._exposure_sending += 1
        self._exposure_sent = True
        try:
            yield
        finally:
            self._exposure_sending -= 1

    async def _not_sent(self, orders: Sequence[tuple[OrderRequest, IntentPurpose]], reason: str,
                        signal_id: str | None, *, journaled: bool) -> list[OrderResult]:
        """Refuse ``orders`` unsent (``may_add_exposure`` gave ``reason``): their intents journaled (unless
        ``journaled`` already) with a ``refused`` result each; one result per order, in order."""
        out = []
        for req, purpose in orders:
            cid = req.cli_ord_id or ""
            if not journaled:
                intent = IntentRecord(ts_ms=self.clock_ms(), cli_ord_id=cid, symbol=req.symbol, side=req.side,
                                      size=req.size, order_type=req.order_type, purpose=purpose,
                                      limit_price=req.limit_price, stop_price=req.stop_price,
                                      reduce_only=req.reduce_only, signal_id=signal_id)
                self.intents[cid] = intent
                await self._journal(intent)
            why = reason if purpose in EXPOSURE_PURPOSES else f"its entry was not sent ({reason})"
            result = OrderResult(status=OrderStatus.UNRECOGNISED, cli_ord_id=cid, received_ts_ms=self.clock_ms(),
                                 raw_status="refused", error=f"{NOT_SENT}{why}")
            await self._journal(result)
            out.append(result)
        log.warning("not sent (%s): %s", reason, ", ".join(r.cli_ord_id or "" for r, _ in orders))
        return out

    async def _journal(self, record: JournalRecord) -> None:
        """Queue a record; a journal failure is logged, never raised into order handling."""
        try:
            await self.journal.write(record)
        except (JournalError, ValueError, TypeError) as exc:
            log.error("journal write failed for %s: %s", type(record).__name__, exc)

    def _stamp(self, result: OrderResult) -> OrderResult:
        if result.received_ts_ms is None:
            return dataclasses.replace(result, received_ts_ms=self.clock_ms())
        return result

    async def submit(
        self,
        req: OrderRequest,
        purpose: IntentPurpose,
        *,
        signal_id: str | None = None,
        instrument: Instrument | None = None,
        priority: bool = False,
    ) -> OrderResult:
        """Journal the intent, send ``req`` once, resolve an unknown outcome (spec §4.10, §4.16).

        ``req.cli_ord_id`` must be set (use ``ids.make``). Returns the exchange's answer, the resolved
        answer of an UNKNOWN one, or an UNKNOWN result when it could not be resolved (``unresolved``); an entry or
        add ``may_add_exposure`` refuses is not sent: a ``refused`` result, error ``not sent: <reason>``.

        Raises:
            ValueError: ``req`` has no cliOrdId, or the same cliOrdId was already sent in this run.
            JournalError: ``durable`` and the journal cannot commit the intent of an entry or add (nothing is
                sent); an exit's intent that cannot be committed is logged and the exit is sent.
        """
        cid = req.cli_ord_id
        if not cid:
            raise ValueError("every order needs a deterministic cliOrdId before it is sent")
        if cid in self.intents:
            raise ValueError(f"cliOrdId {cid} was already sent in this run; orders are never re-sent")
        refusal = self._exposure_refusal((purpose,))  # before the intent is written (module docstring)
        if refusal is not None:
            return (await self._not_sent([(req, purpose)], refusal, signal_id, journaled=False))[0]
        intent = IntentRecord(
            ts_ms=self.clock_ms(),
            cli_ord_id=cid,
            symbol=req.symbol,
            side=req.side,
            size=req.size,
            order_type=req.order_type,
            purpose=purpose,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            reduce_only=req.reduce_only,
            signal_id=signal_id,
        )
        self.intents[cid] = intent
        await self.journal.write(intent)
        prepare = getattr(self.client, "prepare_send_order", None)
        try:
            prepared: Prepared[OrderResult] | None = (
                await prepare(req, instrument=instrument, priority=priority) if prepare is not None else None)
            await self._durable(prepared, purpose in (IntentPurpose.ENTRY, IntentPurpose.ADD), f"{purpose.value} {cid}")
            refusal = self._exposure_refusal((purpose,))  # the last moment before the bytes leave
            if refusal is not None:
                return (await self._not_sent([(req, purpose)], refusal, signal_id, journaled=True))[0]
            self.sent += 1
            with self._sending((purpose,)):
                if prepared is not None:
                    result = await prepared.send()  # the bytes leave here, after the commit (module docstring)
                else:
                    result = await self.client.send_order(req, instrument=instrument, priority=priority)
        except ExchangeError as exc:  # a definite refusal: nothing was placed
            result = OrderResult(status=OrderStatus.UNRECOGNISED, cli_ord_id=cid, raw_status="refused",
                                 error=str(exc))
        result = self._stamp(result)
        self._note_exposure(req, purpose, result)
        await self._journal(result)
        if result.status is OrderStatus.UNKNOWN:
            result = await self.resolve(cid, size=req.size, last=result)
            self._note_exposure(req, purpose, result)
        self._track(req, purpose, result)
        return result

    async def submit_batch(
        self,
        orders: Sequence[tuple[OrderRequest, IntentPurpose]],
        *,
        signal_id: str | None = None,
        instrument: Instrument | None = None,
    ) -> list[OrderResult]:
        """Journal every intent, then send ``orders`` in ONE ``batchorder`` request, executed by the exchange in
        the given order (Kraken Futures docs, REST v3 "Batch order management"; spec §4.15): an entry and its
        reduce-only stop travel together, so no instant exists at which the exchange holds the entry's position
        and the engine has not yet asked for its stop (a crash after this call's send leaves both or neither).

        Same rules as ``submit`` for each order: every cliOrdId new in this run; the intents are committed
        (one flush) before the send; a lost answer is resolved per cliOrdId (never re-sent); a definite refusal
        of the whole request is an ``UNRECOGNISED`` "refused" result for each order. A client without
        ``batch_order`` gets the orders one by one through ``submit``. When ``may_add_exposure`` refuses an
        entry or add of the batch, no order of it is sent (each gets a ``refused`` "not sent" result).

        Returns:
            One result per order, in order.

        Raises:
            ValueError: empty ``orders``, a missing or repeated cliOrdId.
            JournalError: ``durable`` and the journal cannot commit the intents while one of them is an entry or
                an add (nothing is sent).
        """
        if not orders:
            raise ValueError("submit_batch: no orders")
        cids = [r.cli_ord_id for r, _ in orders]
        if not all(cids) or len(set(cids)) != len(cids):
            raise ValueError(f"every order of a batch needs its own deterministic cliOrdId, got {cids}")
        for cid in cids:
            if cid in self.intents:
                raise ValueError(f"cliOrdId {cid} was already sent in this run; orders are never re-sent")
        purposes = [p for _, p in orders]
        refusal = self._exposure_refusal(purposes)  # before the intents are written (module docstring)
        if refusal is not None:
            return await self._not_sent(orders, refusal, signal_id, journaled=False)
        batch = getattr(self.client, "batch_order", None)
        if batch is None:
            return [await self.submit(r, p, signal_id=signal_id, instrument=instrument) for r, p in orders]
        for req, purpose in orders:
            intent = IntentRecord(ts_ms=self.clock_ms(), cli_ord_id=req.cli_ord_id or "", symbol=req.symbol,
                                  side=req.side, size=req.size, order_type=req.order_type, purpose=purpose,
                                  limit_price=req.limit_price, stop_price=req.stop_price,
                                  reduce_only=req.reduce_only, signal_id=signal_id)
            self.intents[intent.cli_ord_id] = intent
            await self.journal.write(intent)
        instructions = [BatchSend(r, str(k)) for k, (r, _) in enumerate(orders)]
        prepare = getattr(self.client, "prepare_batch_order", None)
        try:
            prepared: Prepared[list[OrderResult]] | None = (
                await prepare(instructions, priority=False) if prepare is not None else None)
            await self._durable(prepared, any(p in (IntentPurpose.ENTRY, IntentPurpose.ADD) for _, p in orders),
                                f"batch {cids}")
            refusal = self._exposure_refusal(purposes)  # the last moment before the bytes leave
            if refusal is not None:
                return await self._not_sent(orders, refusal, signal_id, journaled=True)
            self.sent += len(orders)
            with self._sending(purposes):
                results = list(await prepared.send() if prepared is not None
                               else await batch(instructions, priority=False))
        except ExchangeError as exc:
            results = [OrderResult(status=OrderStatus.UNRECOGNISED, cli_ord_id=cid, raw_status="refused",
                                   error=str(exc)) for cid in cids]
        by_cid = {r.cli_ord_id: r for r in results if r.cli_ord_id}
        out: list[OrderResult] = []
        for k, (req, purpose) in enumerate(orders):
            cid = req.cli_ord_id or ""
            result = by_cid.get(cid) or (results[k] if k < len(results) else
                                         OrderResult(status=OrderStatus.UNKNOWN, cli_ord_id=cid,
                                                     error="no answer for this order in the batch"))
            result = self._stamp(dataclasses.replace(result, cli_ord_id=cid) if not result.cli_ord_id else result)
            self._note_exposure(req, purpose, result)
            await self._journal(result)
            if result.status is OrderStatus.UNKNOWN:
                result = await self.resolve(cid, size=req.size, last=result)
                self._note_exposure(req, purpose, result)
            self._track(req, purpose, result)
            out.append(result)
        return out

    async def _durable(self, prepared: Prepared[Any] | None, exposure: bool, what: str) -> None:
        """With ``durable``: commit every intent written so far through the journal's priority lane, signing
        ``prepared`` meanwhile (module docstring); without, nothing (``send`` signs). A commit that fails raises for new
        ``exposure`` (an entry or an add: nothing is sent), else is logged (an exit never waits on the journal).

        Raises:
            JournalError: ``exposure`` and the journal cannot commit.
        """
        if not self.durable:
            return
        try:
            alongside = prepared.sign if prepared is not None and self.sign_during_fsync else None
            await commit_now(self.journal, alongside)
        except JournalError as exc:
            if exposure:
                raise  # no new exposure without its durable intent
            log.error("%s: sending %s anyway (an exit never waits on the journal)", exc, what)

    async def resolve(self, cli_ord_id: str, *, size: Decimal | None, last: OrderResult) -> OrderResult:
        """Ask the exchange what happened to ``cli_ord_id`` (orders/status, then fills), with backoff.

        Returns the resolved result (journaled), ``NOT_FOUND`` when the exchange has no trace of it (it
        never reached the book), or ``last`` (UNKNOWN) after ``resolve_attempts`` failed reads, in which
        case the id is added to ``unresolved``. Never re-sends.
        """
        delay = self.resolve_backoff_s
        for attempt in range(self.resolve_attempts):
            try:
                found = await self.client.resolve_unknown(cli_ord_id, size=size)
            except ExchangeError as exc:
                log.warning("resolving %s (attempt %d): %s", cli_ord_id, attempt + 1, exc)
                found = None
                failed = True
            else:
                failed = False
            if found is not None:
                found = self._stamp(found)
                await self._journal(found)
                self.unresolved.discard(cli_ord_id)
                return found
            if not failed and attempt >= 1:
                # Two clean answers with no trace: the order never reached the book (spec §4.16).
                gone = OrderResult(status=OrderStatus.NOT_FOUND, cli_ord_id=cli_ord_id, received_ts_ms=self.clock_ms(),
                                   error="resolved: no open order and no fill carry this cliOrdId")
                await self._journal(gone)
                self.unresolved.discard(cli_ord_id)
                return gone
            await self._sleep(delay)
            delay *= 2
        self.unresolved.add(cli_ord_id)
        return last

    async def edit(
        self,
        *,
        order_id: str | None = None,
        cli_ord_id: str | None = None,
        size: Decimal | None = None,
        stop_price: Decimal | None = None,
        limit_price: Decimal | None = None,
        instrument: Instrument | None = None,
    ) -> OrderResult:
        """Amend a resting order (spec §4.11), journaling the result. An edit is idempotent, so an
        UNKNOWN outcome is left to the next order-feed update; a definite refusal is a result too."""
        self.sent += 1
        try:
            result = await self.client.edit_order(order_id=order_id, cli_ord_id=cli_ord_id, size=size,
                                                  stop_price=stop_price, limit_price=limit_price,
                                                  instrument=instrument)
        except ExchangeError as exc:
            result = OrderResult(status=OrderStatus.UNRECOGNISED, order_id=order_id, cli_ord_id=cli_ord_id,
                                 raw_status="refused", error=str(exc))
        result = self._stamp(result)
        await self._journal(result)
        k = self.live.get(cli_ord_id or "")
        if k is not None and size is not None and result.accepted:
            self.live[cli_ord_id or ""] = dataclasses.replace(k, size=size)
        return result

    async def cancel(self, *, order_id: str | None = None, cli_ord_id: str | None = None) -> OrderResult:
        """Cancel one order (spec §4.12), journaling the result (``notFound`` when already gone)."""
        self.sent += 1
        try:
            result = await self.client.cancel_order(order_id=order_id, cli_ord_id=cli_ord_id)
        except ExchangeError as exc:
            result = OrderResult(status=OrderStatus.UNRECOGNISED, order_id=order_id, cli_ord_id=cli_ord_id,
                                 raw_status="refused", error=str(exc))
        result = self._stamp(result)
        await self._journal(result)
        if result.status in (OrderStatus.CANCELLED, OrderStatus.NOT_FOUND, OrderStatus.FILLED):
            self.gone(cli_ord_id)
        return result
