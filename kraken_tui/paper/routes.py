"""REST route table and handlers of the paper exchange (spec §4, §6): parameters in, Kraken JSON out.

Owns: ``resolve`` (method + path -> handler, auth flag, required arguments, captured path segments) and one
handler per endpoint the client implements: instruments, tickers(/symbol), accounts, openpositions,
openorders, fills (lastFillTime), sendorder, editorder, cancelorder, cancelallorders, cancelallordersafter,
batchorder, orders/status, leveragepreferences GET/PUT, historical funding rates (v4 and the documented v3
path), /api/history/v2|v3/account-log and /api/charts/v1/*. Handlers return a JSON-able object, a string
(text/plain) or (body, HTTP status); auth, parsing and faults are ``paper.server``'s job.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.kraken.fields import parse_ts_ms
from kraken_tui.paper import margin, wire
from kraken_tui.paper.account import inverse_account_name
from kraken_tui.paper.candles import RESOLUTIONS_MS, TICK_TYPES
from kraken_tui.paper.exchange import PaperExchange

__all__ = ["resolve"]

V3 = "/derivatives/api/v3/"
Handler = Callable[[PaperExchange, Any], Any]


def _err(ex: PaperExchange, err: str) -> dict[str, Any]:
    return wire.error(ex.now_ms, err)


def _instruments(ex: PaperExchange, req: Any) -> Any:
    return wire.success(ex.now_ms, instruments=[wire.instrument(i) for i in ex.instruments.values()])


def _ticker(ex: PaperExchange, sym: str) -> dict[str, Any]:
    pos = ex.positions.get(sym)
    return wire.ticker(ex.instruments[sym], ex.markets[sym], ex.candles.stats_24h(sym, ex.now_ms),
                       abs(pos.size) if pos else Decimal(0), ex.now_ms)


def _tickers(ex: PaperExchange, req: Any) -> Any:
    wanted = {s.upper() for s in req.multi.get("symbol", [])}
    rows = [_ticker(ex, s) for s in ex.instruments if (not wanted or s in wanted) and ex.markets[s].has_price]
    return wire.success(ex.now_ms, tickers=rows)


def _ticker_one(ex: PaperExchange, req: Any) -> Any:
    sym = req.args[0].upper()
    if sym not in ex.instruments:
        return _err(ex, "contractNotFound")
    if not ex.markets[sym].has_price:
        return _err(ex, "marketUnavailable")
    return wire.success(ex.now_ms, ticker=_ticker(ex, sym))


def _accounts(ex: PaperExchange, req: Any) -> Any:
    inverse = {inverse_account_name(c): wire.coin_account(ex.coin_figures(c), margin.coin_trigger_prices(ex, c))
               for c in margin.coin_currencies(ex)}
    return wire.success(ex.now_ms, accounts=wire.accounts(ex.figures(), inverse))


def _openpositions(ex: PaperExchange, req: Any) -> Any:
    rows = [wire.position_row(p.symbol, p.size, p.entry_price, p.fill_ts_ms, ex.upnl_usd(p),
                              ex.instruments[p.symbol].is_linear)
            for p in sorted(ex.positions.values(), key=lambda p: -p.fill_ts_ms)]
    return wire.success(ex.now_ms, openPositions=rows)


def _openorders(ex: PaperExchange, req: Any) -> Any:
    rows = [wire.open_order_row(o) for o in sorted(ex.open_orders.values(), key=lambda o: -o.received_ms)]
    return wire.success(ex.now_ms, openOrders=rows)


def _fills(ex: PaperExchange, req: Any) -> Any:
    fills = list(ex.fills)
    if req.params.get("lastFillTime"):
        try:
            before = parse_ts_ms(req.params["lastFillTime"])
        except ValueError:
            return _err(ex, "invalidArgument")
        fills = [f for f in fills if f.ts_ms < before]
    return wire.success(ex.now_ms, fills=[wire.fill_row(f) for f in reversed(fills[-100:])])


def _sendorder(ex: PaperExchange, req: Any) -> Any:
    if str(req.params.get("symbol", "")).upper() not in ex.instruments:
        return _err(ex, "contractNotFound")
    return wire.success(ex.now_ms, sendStatus=wire.outcome_body(ex.send_order(req.params), "send"))


def _editorder(ex: PaperExchange, req: Any) -> Any:
    return wire.success(ex.now_ms, editStatus=wire.outcome_body(ex.edit_order(req.params), "edit"))


def _cancelorder(ex: PaperExchange, req: Any) -> Any:
    out = ex.cancel_order(req.params.get("order_id") or None, req.params.get("cliOrdId") or None)
    return wire.success(ex.now_ms, cancelStatus=wire.outcome_body(out, "cancel"))


def _cancelall(ex: PaperExchange, req: Any) -> Any:
    symbol = req.params.get("symbol")
    if symbol and symbol.upper() not in ex.instruments:
        return _err(ex, "contractNotFound")
    status, orders = ex.cancel_all(symbol.upper() if symbol else None)
    events = [{"type": "CANCEL", "uid": o.order_id, "order": wire.order_object(o)} for o in orders]
    body = {"receivedTime": wire.iso(ex.now_ms), "cancelOnly": symbol.upper() if symbol else "all", "status": status,
            "cancelledOrders": [{"order_id": o.order_id, **({"cliOrdId": o.cli_ord_id} if o.cli_ord_id else {})}
                                for o in orders], "orderEvents": events}
    return wire.success(ex.now_ms, cancelStatus=body)


def _cancelafter(ex: PaperExchange, req: Any) -> Any:
    raw = req.params.get("timeout", "")
    if not raw.isdigit() or int(raw) > 2**32 - 1:
        return _err(ex, "invalidArgument")
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


def _batchorder(ex: PaperExchange, req: Any) -> Any:
    try:
        payload = json.loads(req.params["json"])
    except (ValueError, TypeError):
        return _err(ex, "Json Parse Error")
    items = payload.get("batchOrder") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return _err(ex, "requiredArgumentMissing")
    return wire.success(ex.now_ms, batchStatus=[_batch_one(ex, it) for it in items])


def _orders_status(ex: PaperExchange, req: Any) -> Any:
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


def _leverage_get(ex: PaperExchange, req: Any) -> Any:
    sym = (req.params.get("symbol") or "").upper()
    prefs = [{"symbol": s, "maxLeverage": float(v)} for s, v in ex.leverage_preferences.items() if not sym or s == sym]
    return wire.success(ex.now_ms, leveragePreferences=prefs)


def _leverage_put(ex: PaperExchange, req: Any) -> Any:
    sym = req.params["symbol"].upper()
    inst = ex.instruments.get(sym)
    if inst is None:
        return _err(ex, "contractNotFound")
    if not inst.is_linear:
        return _err(ex, "invalidArgument")
    raw = req.params.get("maxLeverage")
    if not raw:
        ex.leverage_preferences.pop(sym, None)
        return wire.success(ex.now_ms)
    try:
        lev = Decimal(raw)
    except InvalidOperation:
        return _err(ex, "invalidArgument")
    if not lev.is_finite() or lev < 1:
        return _err(ex, "invalidArgument")
    ex.leverage_preferences[sym] = lev
    return wire.success(ex.now_ms)


def _funding_rates(ex: PaperExchange, req: Any) -> Any:
    sym = req.params["symbol"].upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound"), 400
    inst, m = ex.instruments[sym], ex.markets[sym]
    price = m.index or m.mark or 0.0
    rows = [{"timestamp": wire.iso(ts), "fundingRate": (rel * price if inst.is_linear else (rel / price if price else 0.0)),
             "relativeFundingRate": rel} for ts, rel in m.funding_rates]
    return wire.success(ex.now_ms, rates=rows)


def _int_param(req: Any, name: str) -> int | None:
    raw = req.params.get(name)
    return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None


def _account_log(ex: PaperExchange, req: Any) -> Any:
    since, before = _int_param(req, "since"), _int_param(req, "before")
    id_from, id_to = _int_param(req, "from"), _int_param(req, "to")
    count = _int_param(req, "count") or 500
    infos = set(req.multi.get("info", []))
    rows = [e for e in ex.account_log
            if (since is None or e.ts_ms >= since) and (before is None or e.ts_ms < before)
            and (id_from is None or e.id >= id_from) and (id_to is None or e.id <= id_to)
            and (not infos or e.info in infos)]
    if req.params.get("sort", "desc") != "asc":
        rows.reverse()
    return {"accountUid": ex.account_uid, "logs": [wire.account_log_row(e) for e in rows[: max(count, 0)]]}


def _charts(ex: PaperExchange, req: Any) -> Any:
    args = [a for a in req.args if a]
    if not args:
        return list(TICK_TYPES)
    if args[0] not in TICK_TYPES:
        return "Invalid tick type", 400
    if len(args) == 1:
        return list(ex.instruments)
    sym = args[1].upper()
    if sym not in ex.instruments:
        return "Invalid symbol", 400
    if len(args) == 2:
        return list(RESOLUTIONS_MS)
    if args[2] not in RESOLUTIONS_MS:
        return "Invalid resolution", 400
    f, t, c = _int_param(req, "from"), _int_param(req, "to"), _int_param(req, "count")
    rows, more = ex.candles.query(args[0], sym, args[2], f * 1000 if f is not None else None,
                                  t * 1000 if t is not None else None, min(c, 2000) if c is not None else 2000)
    return {"candles": wire.candle_rows(rows), "more_candles": more}


# (method, path pattern ('*' = one segment, '**' = the rest), handler, private, required arguments ('a|b' = either))
_ROUTES: list[tuple[str, str, Handler, bool, tuple[str, ...]]] = [
    ("GET", V3 + "instruments", _instruments, False, ()),
    ("GET", V3 + "tickers", _tickers, False, ()),
    ("GET", V3 + "tickers/*", _ticker_one, False, ()),
    ("GET", V3 + "accounts", _accounts, True, ()),
    ("GET", V3 + "openpositions", _openpositions, True, ()),
    ("GET", V3 + "openorders", _openorders, True, ()),
    ("GET", V3 + "fills", _fills, True, ()),
    ("POST", V3 + "sendorder", _sendorder, True, ("orderType", "symbol", "side", "size")),
    ("POST", V3 + "editorder", _editorder, True, ("orderId|order_id|cliOrdId",)),
    ("POST", V3 + "cancelorder", _cancelorder, True, ("order_id|cliOrdId",)),
    ("POST", V3 + "cancelallorders", _cancelall, True, ()),
    ("POST", V3 + "cancelallordersafter", _cancelafter, True, ("timeout",)),
    ("POST", V3 + "batchorder", _batchorder, True, ("json",)),
    ("POST", V3 + "orders/status", _orders_status, True, ()),
    ("GET", V3 + "leveragepreferences", _leverage_get, True, ()),
    ("PUT", V3 + "leveragepreferences", _leverage_put, True, ("symbol",)),
    ("GET", "/derivatives/api/v4/historicalfundingrates", _funding_rates, False, ("symbol",)),
    ("GET", V3 + "historical-funding-rates", _funding_rates, False, ("symbol",)),
    ("GET", "/api/history/v3/account-log", _account_log, True, ()),
    ("GET", "/api/history/v2/account-log", _account_log, True, ()),
    ("GET", "/api/charts/v1/**", _charts, False, ()),
    ("GET", "/api/charts/v1", _charts, False, ()),
]


def resolve(method: str, path: str) -> tuple[Handler, bool, tuple[str, ...], tuple[str, ...]] | None:
    """(handler, private, required, captured segments) for a request, or None (-> 404)."""
    segs = path.rstrip("/").split("/") if path != "/" else [""]
    for m, pattern, handler, private, required in _ROUTES:
        if m != method:
            continue
        pat = pattern.split("/")
        if pat[-1] == "**":
            if segs[: len(pat) - 1] == pat[:-1] and len(segs) <= len(pat) + 2:
                return handler, private, required, tuple(segs[len(pat) - 1:])
            continue
        if len(pat) == len(segs) and all(p in ("*", s) for p, s in zip(pat, segs, strict=True)):
            return handler, private, required, tuple(s for p, s in zip(pat, segs, strict=True) if p == "*")
    return None
