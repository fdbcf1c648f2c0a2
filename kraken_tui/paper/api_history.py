"""History-API handlers of the paper exchange (spec §4.18): account log (JSON and CSV), order, trigger,
execution and position event history, public market executions. Responses carry no ``result`` key.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from kraken_tui.paper import wire
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.history import decode_token, encode_token
from kraken_tui.paper.params import BadParam, choice_param, int_param


def account_log(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2|v3/account-log (spec §4.18): ``since``/``before`` epoch ms, ``from``/``to`` entry ids
    (inclusive), ``sort`` (default desc), ``info`` (repeatable), ``count`` (default 500, at most 100000)."""
    since, before = int_param(req, "since"), int_param(req, "before")
    id_from, id_to = int_param(req, "from"), int_param(req, "to")
    count = int_param(req, "count", lo=1, hi=100_000) or 500
    choice_param(req, "sort", ("asc", "desc"), "desc")
    infos = set(req.multi.get("info", []))
    rows = [e for e in ex.account_log
            if (since is None or e.ts_ms >= since) and (before is None or e.ts_ms < before)
            and (id_from is None or e.id >= id_from) and (id_to is None or e.id <= id_to)
            and (not infos or e.info in infos)]
    if req.params.get("sort", "desc") != "asc":
        rows.reverse()
    return {"accountUid": ex.account_uid, "logs": [wire.account_log_row(e) for e in rows[: max(count, 0)]]}



MAX_COUNT = 1000
DEFAULT_COUNT = 500


def _page_params(req: Any) -> dict[str, Any]:
    token_raw = req.params.get("continuation_token") or req.params.get("continuationToken")
    try:
        token = decode_token(token_raw) if token_raw else None
    except ValueError as exc:
        raise BadParam("continuation_token", token_raw or "") from exc
    tradeable = req.params.get("tradeable")
    return {"since": int_param(req, "since", lo=0), "before": int_param(req, "before", lo=0),
            "sort": choice_param(req, "sort", ("asc", "desc"), "desc"),
            "count": int_param(req, "count", lo=1, hi=MAX_COUNT) or DEFAULT_COUNT, "token": token,
            "tradeable": tradeable.upper() if tradeable else None}


def _elements(ex: PaperExchange, req: Any, stream: str) -> dict[str, Any]:
    page, last = ex.history.query(stream, **_page_params(req))
    body: dict[str, Any] = {"accountUid": ex.account_uid, "len": str(len(page)), "elements": [e.body for e in page]}
    if last is not None:
        body["continuationToken"] = encode_token(last.ts_ms, last.seq)
    return body


def orders(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2/orders: ``OrderPlaced``/``OrderUpdated``/``OrderEdited``/``OrderCancelled``/
    ``OrderRejected`` elements (spec §4.18; shapes of the ccxt ``fetchClosedOrders`` captures). Paging:
    ``since``/``before`` (epoch ms), ``sort`` (default desc), ``count`` (1-1000, default 500),
    ``continuation_token``, ``tradeable``. [GAP] the captures carry no ``serverTime``; neither does this."""
    return _elements(ex, req, "orders")


def triggers(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2/triggers: ``OrderTriggerPlaced``/``Activated``/``Cancelled`` elements (spec §4.18)."""
    return _elements(ex, req, "triggers")


def executions(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2/executions: the account's ``Execution`` elements with its own order's
    ``makerOrderData``/``takerOrderData`` (fee, position size after), spec §4.18."""
    return _elements(ex, req, "executions")


def positions(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v3/positions: ``PositionUpdate`` elements (old/new position and average entry price,
    ``positionChange`` open|increase|decrease|close|reverse, execution price/size, fee), spec §4.18 (CCXT
    ``fetchPositionsHistory``). [GAP] field names beyond those the spec lists follow the account-log names."""
    return _elements(ex, req, "positions")


def market_executions(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v3/market/{symbol}/executions (public): the symbol's trade prints as ``Execution``
    elements with maker and taker order stubs, no account data (spec §4.18; ccxt ``fetchTrades`` capture).
    Same paging parameters as the private streams; the token is the trade id."""
    sym = req.args[0].upper()
    if sym not in ex.instruments:
        return "Invalid symbol", 400
    p = _page_params(req)
    rows = [t for t in ex.history.tape.get(sym, ()) if (p["since"] is None or t.ts_ms >= p["since"])
            and (p["before"] is None or t.ts_ms < p["before"])]
    if p["sort"] == "desc":
        rows.reverse()
    if p["token"] is not None:
        rows = [t for t in rows if (t.trade_id > p["token"] if p["sort"] == "asc" else t.trade_id < p["token"])]
    page = rows[: p["count"]]
    body: dict[str, Any] = {"elements": [wire.market_execution(sym, t) for t in page], "len": str(len(page))}
    if len(rows) > p["count"] and page:
        body["continuationToken"] = encode_token(page[-1].ts_ms, page[-1].trade_id)
    return body


CSV_COLUMNS = ("uid", "dateTime", "account", "type", "symbol", "change", "new balance", "new average entry price",
               "realized pnl", "fee", "realized funding", "liquidation fee", "funding rate", "trade price",
               "mark price", "execution")


def account_log_csv(ex: PaperExchange, req: Any) -> Any:
    """GET /api/history/v2/accountlogcsv: the whole account log as CSV, oldest first (spec §4.1, §4.18).
    [GAP] Kraken's column set is not in the spec; the columns are the account-log fields (``CSV_COLUMNS``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in ex.account_log:
        r = wire.account_log_row(e)
        change = (e.new_balance - e.old_balance) if e.new_balance is not None and e.old_balance is not None else None
        writer.writerow([r["booking_uid"], r["date"], r["margin_account"], e.info, e.contract or "",
                         wire.dstr(change) or "", wire.dstr(e.new_balance) or "", "", wire.dstr(e.realized_pnl) or "",
                         wire.dstr(e.fee) or "", wire.dstr(e.realized_funding) or "",
                         wire.dstr(e.liquidation_fee) or "", wire.dstr(e.funding_rate) or "",
                         wire.dstr(e.trade_price) or "", wire.dstr(e.mark_price) or "", e.execution or ""])
    return out.getvalue()
