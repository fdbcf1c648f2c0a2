"""Order entry of the paper exchange: sendorder, editorder, cancelorder, trigger firing, admission checks.

Owns: the rules that decide an order's fate (spec §4.10-§4.12, §9 "Order admission", §10): reduce-only
(reject ``wouldNotReducePosition`` or trim, reporting ``reducedQuantity``), post-only (``postWouldExecute``),
IOC/market (``iocWouldNotExecute``; ``mkt`` = IOC 1% through the market), cliOrdId unique among open orders
(``clientOrderIdAlreadyExist``), margin (``insufficientAvailableFunds`` when IM with orders would exceed
margin equity, for a PI_ order the coin account's IM and portfolio value; ``wouldCauseLiquidation`` when a fill worse than mark would leave equity below MM).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from kraken_tui.domain import ZERO, Side
from kraken_tui.domain.money import fee_amount, notional_usd, settlement_margins, unrealized_pnl
from kraken_tui.paper.account import FLEX_ACCOUNT
from kraken_tui.paper.ledger import book_fill
from kraken_tui.paper.margin import account_of, coin_figures, im_with_orders
from kraken_tui.paper.matching import fillable, protection_limit, taker_fills
from kraken_tui.paper.orders import OrderEventRec, Outcome, PaperOrder, _dec, parse_order_params
from kraken_tui.paper.venue import Venue

__all__ = ["edit_order", "execute", "fire_trigger", "send_order", "cancel_order"]


def _position(ex: Venue, symbol: str) -> Decimal:
    pos = ex.positions.get(symbol)
    return pos.size if pos else ZERO


def _reduce_only_cap(ex: Venue, order: PaperOrder) -> Decimal:
    """Contracts a reduce-only order may still trade: 0 when it would not reduce the position."""
    pos = _position(ex, order.symbol)
    if pos == 0 or (pos > 0) == (order.side is Side.BUY):
        return ZERO
    return min(order.remaining, abs(pos))


def execute(ex: Venue, order: PaperOrder, price: Decimal, qty: Decimal, fill_type: str) -> OrderEventRec | None:
    """Fill ``qty`` of ``order`` at ``price`` (reduce-only capped to the position), close the order when done,
    and return the EXECUTION event (None when a reduce-only order had nothing left to reduce: it is cancelled)."""
    if order.reduce_only:
        qty = min(qty, _reduce_only_cap(ex, order))
        if qty <= 0:
            ex.close_order(order, "CANCELLED", "would_not_reduce_position", "WOULD_NOT_REDUCE_POSITION")
            return None
    prior = order.snapshot()
    book_fill(ex, order, price, qty, fill_type)
    if order.remaining <= 0:
        ex.close_order(order, "FULLY_EXECUTED", "full_fill", "FULL_FILL")
    elif order.order_id in ex.open_orders:
        ex.notify("order", (order.snapshot(), False, "partial_fill"))
    return OrderEventRec("EXECUTION", prior, price=price, amount=qty, execution_id=str(uuid.uuid4()))


def _admission(ex: Venue, order: PaperOrder) -> str | None:
    """Margin admission (spec §9): None when the order may trade, else the Kraken status. A PF_ order is
    checked against the flex account (USD), a PI_ order against its coin's inverse margin account (portfolio
    value, IM and MM in the coin, ``paper.margin``)."""
    if order.reduce_only:
        return None
    inst = ex.instruments[order.symbol]
    account = account_of(inst)
    if account == FLEX_ACCOUNT:
        figs = ex.figures()
        im_now, equity, mm_total = figs.initial_margin_with_orders, figs.margin_equity, figs.maintenance_margin
    else:
        coin = coin_figures(ex, account)
        im_now, equity, mm_total = coin.initial_margin_with_orders, coin.portfolio_value, coin.maintenance_margin
    im_after = im_with_orders(ex, account, order)
    if im_after > im_now and im_after > equity:
        return "insufficientAvailableFunds"
    market = ex.markets[order.symbol]
    quote = market.ask if order.side is Side.BUY else market.bid
    if quote is None or market.mark is None or order.limit_price is None:
        return None
    price = Decimal(repr(quote))
    if (order.side is Side.BUY and price > order.limit_price) or (order.side is Side.SELL and price < order.limit_price):
        return None
    mark = Decimal(repr(market.mark))
    signed = order.remaining * order.side.sign
    # loss at mark and fee of the fill, in the account's unit (USD for PF_, the coin for PI_)
    loss = -unrealized_pnl(inst, signed, price, mark)
    fee = fee_amount(inst, order.remaining, price, ex.taker_fee_bps)
    pos = ex.positions.get(order.symbol)
    new_size = (pos.size if pos else ZERO) + signed
    mm_other = mm_total - (settlement_margins(inst, pos.size, pos.entry_price)[1] if pos else ZERO)
    mm_after = mm_other + settlement_margins(inst, new_size, price if not pos else pos.entry_price)[1]
    if loss > 0 and equity - loss - fee < mm_after:
        return "wouldCauseLiquidation"
    return None


_REJECT_REASONS = {
    "postWouldExecute": "POST_WOULD_EXECUTE", "iocWouldNotExecute": "IOC_WOULD_NOT_EXECUTE",
    "wouldNotReducePosition": "WOULD_NOT_REDUCE_POSITION", "insufficientAvailableFunds": "INSUFFICIENT_MARGIN",
    "wouldCauseLiquidation": "WOULD_CAUSE_LIQUIDATION", "clientOrderIdAlreadyExist": "CLIENT_ORDER_ID_IN_USE",
    "selfFill": "SELF_FILL", "tooManySmallOrders": "TOO_MANY_SMALL_ORDERS", "marketSuspended": "MARKET_SUSPENDED",
}
SMALL_ORDER_USD = Decimal(10)
MAX_SMALL_ORDERS = 50
"""[GAP] Kraken does not publish its ``tooManySmallOrders`` thresholds: the paper exchange refuses a resting
order under 10 USD notional while 50 such orders are open."""


def _self_fill(ex: Venue, order: PaperOrder) -> bool:
    """True when the order's limit reaches one of the account's own resting orders on the other side
    (spec §4.10 ``selfFill``: "would trade against own order"; the incoming order is refused)."""
    if order.limit_price is None:
        return False
    for o in ex.open_orders.values():
        if o.symbol != order.symbol or o.side is order.side or o.is_trigger or o.limit_price is None:
            continue
        if (order.limit_price >= o.limit_price) if order.side is Side.BUY else (order.limit_price <= o.limit_price):
            return True
    return False


def _too_many_small(ex: Venue, order: PaperOrder) -> bool:
    inst = ex.instruments[order.symbol]
    ref = order.limit_price or order.stop_price
    if ref is None or notional_usd(inst, order.size, ref) >= SMALL_ORDER_USD:
        return False
    small = sum(1 for o in ex.open_orders.values()
                if (o.limit_price or o.stop_price) is not None
                and notional_usd(ex.instruments[o.symbol], o.size, o.limit_price or o.stop_price or ZERO) < SMALL_ORDER_USD)
    return small >= MAX_SMALL_ORDERS


def _reject(ex: Venue, order: PaperOrder, status: str, out: Outcome, reason: str) -> Outcome:
    order.status, order.closed_ms, order.update_reason = "REJECTED", ex.now_ms, reason.upper()
    ex.closed_orders.append(order)
    out.status = status
    out.events.append(OrderEventRec("REJECT", order.snapshot(), reason=_REJECT_REASONS.get(status, "INVALID_ARGUMENT")))
    ex.notify("order_rejected", order.snapshot())
    if status == "postWouldExecute":
        ex.notify("order_verbose", (order.snapshot(), True, "post_order_failed_because_it_would_filled"))
    return out


def _run_taker(ex: Venue, order: PaperOrder, out: Outcome, rest_reason: str) -> Outcome:
    """Take liquidity now; rest the remainder (lmt) or cancel it (ioc). Admission already passed."""
    inst = ex.instruments[order.symbol]
    fills = taker_fills(order, inst, ex.markets[order.symbol])
    for price, qty in fills:
        if order.status != "open":
            break
        ev = execute(ex, order, price, qty, "taker")
        if ev is None:
            break
        out.events.append(ev)
    if fills:
        ex.notify("book", order.symbol)  # the levels taken are gone: WS book deltas
    if order.remaining > 0 and order.status == "open":
        if order.order_type in ("ioc", "fok"):
            if order.filled == 0:
                ex.closed_orders.append(order)
                order.status, order.closed_ms, order.update_reason = "REJECTED", ex.now_ms, "IOC_WOULD_NOT_EXECUTE"
                out.status = "iocWouldNotExecute"
                out.events.append(OrderEventRec("REJECT", order.snapshot(), reason="IOC_WOULD_NOT_EXECUTE"))
                ex.notify("order_rejected", order.snapshot())
            else:
                ex.close_order(order, "CANCELLED", "ioc_order_failed_because_it_would_not_be_executed",
                               "PARTIAL_FILL")
        elif order.order_id not in ex.open_orders:
            out.events.insert(0, OrderEventRec("PLACE", order.snapshot()))
            ex.add_open(order, rest_reason)
    return out


def send_order(ex: Venue, params: dict[str, object], order_tag: str | None = None) -> Outcome:
    """sendorder (spec §4.10). Returns an Outcome whose ``status`` is ``placed`` or a Kraken rejection status;
    an unknown symbol gives ``contractNotFound`` (used by batchorder; the REST route answers an error
    envelope before calling this)."""
    out = Outcome("placed", ex.now_ms, order_tag=order_tag)
    inst = ex.instruments.get(str(params.get("symbol", "")).upper())
    if inst is None:
        out.status = "contractNotFound"
        return out
    parsed = parse_order_params(params, inst)
    if isinstance(parsed, str):
        out.status = parsed
        return out
    out.cli_ord_id = parsed.cli_ord_id
    if parsed.cli_ord_id and ex.find_open(cli_ord_id=parsed.cli_ord_id) is not None:
        out.status = "clientOrderIdAlreadyExist"
        return out
    market = ex.markets[inst.symbol]
    if not market.has_price or inst.symbol in ex.suspended:
        out.status = "marketSuspended"
        return out
    trailing = parsed.order_type == "trailing_stop"
    order = PaperOrder(str(uuid.uuid4()), inst.symbol, parsed.side, parsed.order_type, parsed.size, ex.now_ms,
                       parsed.limit_price, parsed.stop_price,
                       parsed.trigger_signal if parsed.stop_price or trailing else None,
                       parsed.reduce_only, parsed.cli_ord_id, last_update_ms=ex.now_ms,
                       trail_deviation=parsed.trail_deviation, trail_unit=parsed.trail_unit)
    if trailing:
        order.trail(market.signal_price(order.trigger_signal))
    out.order_id = order.order_id
    reduced = None
    if order.reduce_only:
        cap = _reduce_only_cap(ex, order)
        if cap <= 0:
            return _reject(ex, order, "wouldNotReducePosition", out, "would_not_reduce_position")
        if cap < order.size:
            reduced, order.size = order.size - cap, cap
    if order.order_type in ("lmt", "post", "stp", "take_profit", "trailing_stop") and _too_many_small(ex, order):
        return _reject(ex, order, "tooManySmallOrders", out, "too_many_small_orders")
    if order.is_trigger:
        out.events.append(OrderEventRec("PLACE", order.snapshot(), reduced_quantity=reduced))
        ex.add_open(order)
        return out
    if order.order_type == "mkt":
        order.order_type, order.limit_price = "ioc", protection_limit(inst, order.side, market)
    if order.order_type != "post" and _self_fill(ex, order):
        return _reject(ex, order, "selfFill", out, "self_fill")
    if order.order_type == "fok" and fillable(order, inst, market) < order.remaining:
        # [GAP] the status enum has no FOK-specific word; the IOC one is the closest Kraken status
        return _reject(ex, order, "iocWouldNotExecute", out, "fok_would_not_fill")
    if order.order_type == "post":
        quote = market.ask if order.side is Side.BUY else market.bid
        limit = order.limit_price
        if quote is not None and limit is not None and (Decimal(repr(quote)) <= limit if order.side is Side.BUY
                                                        else Decimal(repr(quote)) >= limit):
            return _reject(ex, order, "postWouldExecute", out, "post_would_execute")
    status = _admission(ex, order)
    if status is not None:
        return _reject(ex, order, status, out, status)
    return _run_taker(ex, order, out, "new_placed_order_by_user")


def fire_trigger(ex: Venue, order: PaperOrder) -> None:
    """A stop / take-profit reached its stop price: it leaves the trigger book (WS reason
    ``stop_order_triggered``) and comes back, same id, as a limit (``limit_order_from_stop``) or as a
    market IOC with 1% protection, subject to reduce-only and margin checks (spec §10)."""
    ex.open_orders.pop(order.order_id, None)
    ex.notify("order", (order.snapshot(), True, "stop_order_triggered"))
    inst = ex.instruments[order.symbol]
    order.order_type = "lmt" if order.limit_price is not None else "ioc"
    if order.limit_price is None:
        order.limit_price = protection_limit(inst, order.side, ex.markets[order.symbol])
    order.last_update_ms = ex.now_ms
    if order.reduce_only and _reduce_only_cap(ex, order) <= 0:
        ex.close_order(order, "CANCELLED", "would_not_reduce_position", "WOULD_NOT_REDUCE_POSITION")
        return
    if _admission(ex, order) is not None:
        ex.close_order(order, "CANCELLED", "not_enough_margin", "INSUFFICIENT_MARGIN")
        return
    _run_taker(ex, order, Outcome("placed", ex.now_ms), "limit_order_from_stop")


def edit_order(ex: Venue, p: dict[str, object]) -> Outcome:
    """editorder (spec §4.11): ``orderId``/``order_id`` or ``cliOrdId``; ``size`` (qtyMode RELATIVE = new open
    size, ABSOLUTE = total incl. fills), ``limitPrice``, ``stopPrice``. An amended limit that now crosses
    executes at once (status ``filled`` when fully filled); no change gives ``edited`` with a REJECT
    ``EDIT_HAS_NO_EFFECT`` event (ROQ capture)."""
    oid = str(p.get("orderId") or p.get("order_id") or "") or None
    cli = str(p.get("cliOrdId") or "") or None
    out = Outcome("edited", ex.now_ms, order_id=oid, cli_ord_id=cli)
    order = ex.find_open(oid, cli) if (oid or cli) else None
    if order is None:
        out.status = "orderForEditNotFound"
        return out
    out.order_id, out.cli_ord_id = order.order_id, order.cli_ord_id
    inst = ex.instruments[order.symbol]
    new = order.snapshot()
    if p.get("size") not in (None, ""):
        size = _dec(p.get("size"))
        if size is None or size <= 0 or size % inst.lot_size != 0:
            out.status = "invalidSize"
            return out
        new.size = size if str(p.get("qtyMode", "RELATIVE")).upper() == "ABSOLUTE" else order.filled + size
        if new.size <= order.filled:
            out.status = "invalidSize"
            return out
    for key, attr in (("limitPrice", "limit_price"), ("stopPrice", "stop_price")):
        if p.get(key) in (None, ""):
            continue
        price = _dec(p.get(key))
        if price is None or price <= 0 or price % inst.tick_size != 0:
            out.status = "invalidPrice"
            return out
        if attr == "stop_price" and not order.is_trigger:
            out.status = "orderForEditNotAStop"
            return out
        setattr(new, attr, price)
    if (new.size, new.limit_price, new.stop_price) == (order.size, order.limit_price, order.stop_price):
        out.events.append(OrderEventRec("REJECT", order.snapshot(), reason="EDIT_HAS_NO_EFFECT"))
        return out
    market = ex.markets[order.symbol]
    quote = market.ask if order.side is Side.BUY else market.bid
    crosses = (not new.is_trigger and new.limit_price is not None and quote is not None
               and (Decimal(repr(quote)) <= new.limit_price if new.side is Side.BUY
                    else Decimal(repr(quote)) >= new.limit_price))
    if crosses and order.order_type == "post":
        out.status = "postWouldExecute"
        return out
    ex.open_orders.pop(order.order_id)
    status = _admission(ex, new) if new.size > order.size or crosses else None
    ex.open_orders[order.order_id] = order
    if status is not None:
        out.status = status
        return out
    old = order.snapshot()
    order.size, order.limit_price, order.stop_price, order.last_update_ms = (new.size, new.limit_price,
                                                                             new.stop_price, ex.now_ms)
    out.events.append(OrderEventRec("EDIT", order.snapshot(), old=old))
    ex.notify("order", (order.snapshot(), False, "edited_by_user"))
    if crosses:
        _run_taker(ex, order, out, "edited_by_user")
        if order.remaining <= 0:
            out.status = "filled"
    return out


def cancel_order(ex: Venue, order_id: str | None, cli_ord_id: str | None) -> Outcome:
    """cancelorder (spec §4.12): ``cancelled`` with a CANCEL event, ``filled`` when the order was closed by a
    full fill within the last 5 s, else ``notFound``."""
    out = Outcome("cancelled", ex.now_ms, order_id=order_id, cli_ord_id=cli_ord_id)
    order = ex.find_open(order_id, cli_ord_id) if (order_id or cli_ord_id) else None
    if order is None:
        recent = ex.find_recent(order_id, cli_ord_id) if (order_id or cli_ord_id) else None
        out.status = "filled" if recent is not None and recent.status == "FULLY_EXECUTED" else "notFound"
        return out
    out.order_id = order.order_id
    ex.close_order(order, "CANCELLED", "cancelled_by_user", "CANCELLED_BY_USER")
    out.events.append(OrderEventRec("CANCEL", order.snapshot()))
    return out
