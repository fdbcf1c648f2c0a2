"""Private trading handlers of the paper exchange under /derivatives/api/v3 (spec §4.6-§4.17): accounts,
positions, orders, fills, order entry, batch, dead man's switch, orders/status, leverage preferences.
Each takes (exchange, parsed request) and returns a JSON-able object or (body, HTTP status).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.kraken.fields import parse_ts_ms
from kraken_tui.paper import margin, wire
from kraken_tui.paper.account import inverse_account_name
from kraken_tui.paper.exchange import PaperExchange

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
