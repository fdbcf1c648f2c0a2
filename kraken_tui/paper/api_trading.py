"""Private trading handlers of the paper exchange under /derivatives/api/v3 (spec §4.6-§4.17): accounts,
positions, orders, fills, order entry, batch, dead man's switch, orders/status, leverage and PnL preferences,
fee-schedule volumes, notifications, unwind queue, transfers and the initial-margin estimate.
Each takes (exchange, parsed request) and returns a JSON-able object or (body, HTTP status).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.domain.money import notional_usd
from kraken_tui.kraken.fields import parse_ts_ms
from kraken_tui.paper import margin, unwind, wire
from kraken_tui.paper.account import FLEX_ACCOUNT, inverse_account_name
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.ledger import new_log_entry
from kraken_tui.paper.orders import PaperOrder, parse_order_params


def accounts(ex: PaperExchange, req: Any) -> Any:
    """GET accounts: flex + inverse margin accounts (spec §4.6)."""
    inverse = {inverse_account_name(c): wire.coin_account(ex.coin_figures(c), margin.coin_trigger_prices(ex, c))
               for c in margin.coin_currencies(ex)}
    return wire.success(ex.now_ms, accounts=wire.accounts(ex.figures(), inverse))


def openpositions(ex: PaperExchange, req: Any) -> Any:
    """GET openpositions, newest fill first (spec §4.7)."""
    rows = [wire.position_row(p.symbol, p.size, p.entry_price, p.fill_ts_ms, ex.upnl_usd(p),
                              ex.instruments[p.symbol].is_linear)
            for p in sorted(ex.positions.values(), key=lambda p: -p.fill_ts_ms)]
    return wire.success(ex.now_ms, openPositions=rows)


def openorders(ex: PaperExchange, req: Any) -> Any:
    """GET openorders, newest first (spec §4.8)."""
    rows = [wire.open_order_row(o) for o in sorted(ex.open_orders.values(), key=lambda o: -o.received_ms)]
    return wire.success(ex.now_ms, openOrders=rows)


def fills(ex: PaperExchange, req: Any) -> Any:
    """GET fills: last 100, before ``lastFillTime`` when given (spec §4.9)."""
    fills = list(ex.fills)
    if req.params.get("lastFillTime"):
        try:
            before = parse_ts_ms(req.params["lastFillTime"])
        except ValueError:
            return wire.error(ex.now_ms, "invalidArgument")
        fills = [f for f in fills if f.ts_ms < before]
    return wire.success(ex.now_ms, fills=[wire.fill_row(f) for f in reversed(fills[-100:])])


def sendorder(ex: PaperExchange, req: Any) -> Any:
    """POST sendorder (spec §4.10)."""
    if str(req.params.get("symbol", "")).upper() not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    return wire.success(ex.now_ms, sendStatus=wire.outcome_body(ex.send_order(req.params), "send"))


def editorder(ex: PaperExchange, req: Any) -> Any:
    """POST editorder (spec §4.11)."""
    return wire.success(ex.now_ms, editStatus=wire.outcome_body(ex.edit_order(req.params), "edit"))


def cancelorder(ex: PaperExchange, req: Any) -> Any:
    """POST cancelorder (spec §4.12)."""
    out = ex.cancel_order(req.params.get("order_id") or None, req.params.get("cliOrdId") or None)
    return wire.success(ex.now_ms, cancelStatus=wire.outcome_body(out, "cancel"))


def cancelall(ex: PaperExchange, req: Any) -> Any:
    """POST cancelallorders, all or one ``symbol`` (spec §4.13)."""
    symbol = req.params.get("symbol")
    if symbol and symbol.upper() not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    status, orders = ex.cancel_all(symbol.upper() if symbol else None)
    events = [{"type": "CANCEL", "uid": o.order_id, "order": wire.order_object(o)} for o in orders]
    body = {"receivedTime": wire.iso(ex.now_ms), "cancelOnly": symbol.upper() if symbol else "all", "status": status,
            "cancelledOrders": [{"order_id": o.order_id, **({"cliOrdId": o.cli_ord_id} if o.cli_ord_id else {})}
                                for o in orders], "orderEvents": events}
    return wire.success(ex.now_ms, cancelStatus=body)


def cancelafter(ex: PaperExchange, req: Any) -> Any:
    """POST cancelallordersafter: the dead man's switch (spec §4.14)."""
    raw = req.params.get("timeout", "")
    if not raw.isdigit() or int(raw) > 2**32 - 1:
        return wire.error(ex.now_ms, "invalidArgument")
    now, trigger = ex.cancel_all_after(int(raw))
    return wire.success(ex.now_ms, status={"currentTime": wire.iso(now),
                                           "triggerTime": wire.iso(trigger) if trigger is not None else "0"})


def _batch_one(ex: PaperExchange, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or item.get("order") not in ("send", "edit", "cancel"):
        return {"status": "requiredArgumentMissing", "orderEvents": []}
    kind = item["order"]
    if kind == "send":
        if "order_tag" not in item:
            return {"status": "requiredArgumentMissing", "orderEvents": []}
        out = ex.send_order(item, str(item["order_tag"]))
    elif kind == "edit":
        out = ex.edit_order(item)
    else:
        out = ex.cancel_order(item.get("order_id") or None, item.get("cliOrdId") or None)
    return wire.outcome_body(out, "batch")


def batchorder(ex: PaperExchange, req: Any) -> Any:
    """POST batchorder: send/edit/cancel instructions in order (spec §4.15)."""
    try:
        payload = json.loads(req.params["json"])
    except (ValueError, TypeError):
        return wire.error(ex.now_ms, "Json Parse Error")
    items = payload.get("batchOrder") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return wire.error(ex.now_ms, "requiredArgumentMissing")
    return wire.success(ex.now_ms, batchStatus=[_batch_one(ex, it) for it in items])


def orders_status(ex: PaperExchange, req: Any) -> Any:
    """POST orders/status: open orders and those closed in the last 5 s (spec §4.16)."""
    rows = []
    for oid in req.multi.get("orderIds", []):
        o = ex.find_recent(order_id=oid)
        if o is not None:
            rows.append(wire.order_status_row(o))
    for cid in req.multi.get("cliOrdIds", []):
        o = ex.find_recent(cli_ord_id=cid)
        if o is not None:
            rows.append(wire.order_status_row(o))
    return wire.success(ex.now_ms, orders=rows)


def leverage_get(ex: PaperExchange, req: Any) -> Any:
    """GET leveragepreferences (spec §4.17)."""
    sym = (req.params.get("symbol") or "").upper()
    prefs = [{"symbol": s, "maxLeverage": float(v)} for s, v in ex.leverage_preferences.items() if not sym or s == sym]
    return wire.success(ex.now_ms, leveragePreferences=prefs)


def leverage_put(ex: PaperExchange, req: Any) -> Any:
    """PUT leveragepreferences: isolated max leverage, or cross when omitted (spec §4.17)."""
    sym = req.params["symbol"].upper()
    inst = ex.instruments.get(sym)
    if inst is None:
        return wire.error(ex.now_ms, "contractNotFound")
    if not inst.is_linear:
        return wire.error(ex.now_ms, "invalidArgument")
    raw = req.params.get("maxLeverage")
    if not raw:
        ex.leverage_preferences.pop(sym, None)
        return wire.success(ex.now_ms)
    try:
        lev = Decimal(raw)
    except InvalidOperation:
        return wire.error(ex.now_ms, "invalidArgument")
    if not lev.is_finite() or lev < 1:
        return wire.error(ex.now_ms, "invalidArgument")
    ex.leverage_preferences[sym] = lev
    return wire.success(ex.now_ms)


THIRTY_DAYS_MS = 30 * 24 * 3_600_000


def feeschedule_volumes(ex: PaperExchange, req: Any) -> Any:
    """GET feeschedules/volumes: the account's 30-day traded notional (USD) per fee schedule
    (``volumesByFeeSchedule``, spec §12.2 ``fetchTradingFees``), from its own fills."""
    since = ex.now_ms - THIRTY_DAYS_MS
    volume = sum((notional_usd(ex.instruments[f.symbol], f.size, f.price) for f in ex.fills if f.ts_ms >= since),
                 Decimal(0))
    return wire.success(ex.now_ms, volumesByFeeSchedule={ex.fee_schedule_uid: float(volume)})


def pnl_get(ex: PaperExchange, req: Any) -> Any:
    """GET pnlpreferences: ``preferences[{symbol, pnlCurrency}]`` as set by PUT (spec §4.17)."""
    return wire.success(ex.now_ms, preferences=[{"symbol": s, "pnlCurrency": c}
                                                for s, c in sorted(ex.pnl_preferences.items())])


def pnl_put(ex: PaperExchange, req: Any) -> Any:
    """PUT pnlpreferences ``symbol``, ``pnlPreference`` (spec §4.17): PF_ contracts only; the currency is a
    quote currency or the contract's base. [GAP] the paper exchange records the preference and serves it back,
    but settles PF_ P&L in USD whatever it says (coverage: partial)."""
    sym = req.params["symbol"].upper()
    inst = ex.instruments.get(sym)
    if inst is None:
        return wire.error(ex.now_ms, "contractNotFound")
    cur = req.params["pnlPreference"].upper()
    allowed = {"USD", "USDT", "USDC", "EUR", "GBP", inst.base.upper(), "BTC" if inst.base.upper() == "XBT" else "USD"}
    if not inst.is_linear or cur not in allowed:
        return wire.error(ex.now_ms, "invalidArgument")
    ex.pnl_preferences[sym] = cur
    return wire.success(ex.now_ms)


def notifications(ex: PaperExchange, req: Any) -> Any:
    """GET notifications: platform notices ``{type, priority, note, effectiveTime}`` (spec §4.1, §7.13), e.g.
    the suspension of a market."""
    return wire.success(ex.now_ms, notifications=list(ex.notifications))


def unwindqueue(ex: PaperExchange, req: Any) -> Any:
    """GET unwindqueue: ``queue[{symbol, percentile}]`` for each open position (spec §4.1, cost 200):
    the account's place in the auto-deleveraging queue (``paper.unwind``)."""
    return wire.success(ex.now_ms, queue=unwind.queue(ex))


def transfer(ex: PaperExchange, req: Any) -> Any:
    """POST transfer ``fromAccount``, ``toAccount``, ``unit``, ``amount`` (spec §4.1, §3.3 errors): move funds
    between a margin account (``flex`` holds USD; ``fi_<coin>usd`` holds its coin) and the ``cash`` (holding)
    wallet. Errors ``invalidAccount``, ``invalidUnit``, ``invalidAmount``, ``insufficientFunds``; writes an
    account-log ``transfer`` row for the margin account."""
    src, dst = req.params["fromAccount"].lower(), req.params["toAccount"].lower()
    unit = req.params["unit"].lower()
    accounts = {FLEX_ACCOUNT: "usd", "cash": None,
                **{inverse_account_name(c): c for c in margin.coin_currencies(ex)}}
    if src not in accounts or dst not in accounts or src == dst or "cash" not in (src, dst):
        return wire.error(ex.now_ms, "invalidAccount")
    margin_acct = dst if src == "cash" else src
    if unit != accounts[margin_acct]:
        return wire.error(ex.now_ms, "invalidUnit")
    try:
        amount = Decimal(req.params["amount"])
    except InvalidOperation:
        return wire.error(ex.now_ms, "invalidAmount")
    if not amount.is_finite() or amount <= 0:
        return wire.error(ex.now_ms, "invalidAmount")
    if src == "cash":
        available = ex.cash_balances.get(unit, Decimal(0))
    elif margin_acct == FLEX_ACCOUNT:
        available = min(ex.figures().available_margin, ex.balances.quantities.get("usd", Decimal(0)))
    else:
        available = ex.coin_figures(unit).available_funds
    if amount > available:
        return wire.error(ex.now_ms, "insufficientFunds")
    signed = amount if src == "cash" else -amount
    ex.cash_balances[unit] = ex.cash_balances.get(unit, Decimal(0)) - signed
    old, new = ex.balances.add(unit, signed)
    new_log_entry(ex, ts_ms=ex.now_ms, asset=unit, info="transfer", contract=None, old_balance=old, new_balance=new)
    ex.notify("balance", None)
    return wire.success(ex.now_ms)


def initialmargin(ex: PaperExchange, req: Any) -> Any:
    """GET initialmargin ``orderType``, ``symbol``, ``side``, ``size``, ``limitPrice`` (spec §0: removed from
    Kraken's API in 2025; kept for older clients): the initial margin the order would add to its margin account
    (USD for PF_, the coin for PI_) and the ``price`` it was valued at. [GAP] no published response example;
    the fields are those of the removed PKS/JK client methods (``initialMargin``, ``price``)."""
    sym = req.params["symbol"].upper()
    inst = ex.instruments.get(sym)
    if inst is None:
        return wire.error(ex.now_ms, "contractNotFound")
    params = {k: req.params.get(k) for k in ("orderType", "side", "size", "limitPrice")}
    parsed = parse_order_params({**params, "symbol": sym}, inst)
    if isinstance(parsed, str):
        return wire.error(ex.now_ms, "invalidArgument")
    m = ex.markets[sym]
    ref = parsed.limit_price or (Decimal(repr(m.mark)) if m.mark is not None else None)
    if ref is None:
        return wire.error(ex.now_ms, "marketUnavailable")
    order = PaperOrder("initialmargin", sym, parsed.side, "lmt", parsed.size, ex.now_ms, ref)
    account = margin.account_of(inst)
    delta = margin.im_with_orders(ex, account, order) - margin.im_with_orders(ex, account)
    return wire.success(ex.now_ms, initialMargin=float(max(delta, Decimal(0))), price=float(ref))
