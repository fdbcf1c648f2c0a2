"""Kraken REST JSON shapes of the paper exchange (spec §3-§4, §6): the only place REST field names are written.

Owns: rendering of envelopes, instruments, tickers, accounts (flex and the inverse margin accounts), openpositions, openorders, fills,
orderEvents (ORDER / TRIGGER objects), send/edit/cancel/batch statuses, orders/status, account-log rows and
candles. Times are ISO-8601 UTC with milliseconds in /derivatives responses, epoch ms in history/charts.
Numbers follow the captures quoted in the spec: orderEvents, accounts and account-log use JSON numbers;
openpositions, openorders, fills and tickers use numeric strings (2024-2026 captures, spec §4.3, §4.7-§4.9).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kraken_tui.domain import AccountLogEntry, Instrument
from kraken_tui.domain.money import is_inverse_symbol, symbol_settlement_currency
from kraken_tui.paper.account import FLEX_ACCOUNT, CoinAccountFigures, inverse_account_name
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.orders import OrderEventRec, Outcome, PaperOrder

__all__ = [
    "account_log_row", "accounts", "candle_rows", "coin_account", "dstr", "error", "fee_schedule", "fill_row", "instrument",
    "iso", "market_execution", "num", "public_trade_row",
    "open_order_row", "order_object", "order_status_row", "outcome_body", "position_row", "success", "ticker",
]

_SIGNAL = {"mark": "mark_price", "index": "spot_price", "last": "last_price"}
_OPEN_SIGNAL = {"mark": "mark", "index": "spot", "last": "last"}


def iso(ms: int) -> str:
    """Epoch ms -> ``2016-02-26T12:09:38.830Z`` (spec §1 "Time format")."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def num(d: Decimal | float | None) -> float | None:
    """A Decimal as a JSON number (None stays null)."""
    return None if d is None else float(d)


def dstr(d: Decimal | float | None) -> str | None:
    """A number as a plain decimal string without exponent (``"0.1"``, ``"68.54"``)."""
    if d is None:
        return None
    if isinstance(d, float):
        d = Decimal(repr(d))
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def success(now_ms: int, **payload: Any) -> dict[str, Any]:
    """``{"result":"success","serverTime":…, <payload>}`` (spec §3.1)."""
    return {"result": "success", "serverTime": iso(now_ms), **payload}


def error(now_ms: int, err: str) -> dict[str, Any]:
    """``{"result":"error","serverTime":…,"error":<Kraken string>}`` (spec §3.2 item 1)."""
    return {"result": "error", "serverTime": iso(now_ms), "error": err}


def order_object(o: PaperOrder) -> dict[str, Any]:
    """The ORDER object of orderEvents (spec §4.10); ``quantity`` is the remaining size (spec §7.8 note)."""
    return {"orderId": o.order_id, "cliOrdId": o.cli_ord_id, "type": o.order_type, "symbol": o.symbol,
            "side": o.side.value, "quantity": num(o.remaining), "filled": num(o.filled),
            "limitPrice": num(o.limit_price), "reduceOnly": o.reduce_only, "timestamp": iso(o.received_ms),
            "lastUpdateTimestamp": iso(o.last_update_ms or o.received_ms)}


def _trigger(o: PaperOrder) -> dict[str, Any]:
    return {"uid": o.order_id, "clientId": o.cli_ord_id, "type": "lmt" if o.limit_price is not None else "mkt",
            "symbol": o.symbol, "side": o.side.value, "quantity": num(o.remaining), "limitPrice": num(o.limit_price),
            "triggerPrice": num(o.stop_price), "triggerSide": "trigger_above" if o.trigger_above else "trigger_below",
            "triggerSignal": _SIGNAL[o.trigger_signal.value if o.trigger_signal else "mark"],
            "reduceOnly": o.reduce_only, "timestamp": iso(o.received_ms),
            "lastUpdateTimestamp": iso(o.last_update_ms or o.received_ms), "startTime": None}


def _event(e: OrderEventRec) -> dict[str, Any]:
    if e.type == "EXECUTION":
        return {"type": "EXECUTION", "executionId": e.execution_id, "price": num(e.price), "amount": num(e.amount),
                "orderPriorEdit": None, "orderPriorExecution": order_object(e.order), "takerReducedQuantity": None}
    if e.type == "EDIT":
        return {"type": "EDIT", "old": order_object(e.old or e.order), "new": order_object(e.order), "reducedQuantity": None}
    key, body = ("orderTrigger", _trigger(e.order)) if e.order.is_trigger else ("order", order_object(e.order))
    out: dict[str, Any] = {"type": e.type, key: body}
    if e.type == "PLACE":
        out["reducedQuantity"] = num(e.reduced_quantity)
    else:
        out["uid"] = e.order.order_id
    if e.type == "REJECT":
        out["reason"] = e.reason
    return out


def outcome_body(out: Outcome, kind: str) -> dict[str, Any]:
    """The ``sendStatus`` / ``editStatus`` / ``cancelStatus`` / one ``batchStatus`` element (spec §4.10-4.15).

    ``kind`` is ``send``, ``edit``, ``cancel`` or ``batch``; ids use ``order_id`` except editStatus
    (``orderId``); batch elements carry ``order_tag`` and ``dateTimeReceived``.
    """
    body: dict[str, Any] = {"status": out.status}
    if out.order_id:
        body["orderId" if kind == "edit" else "order_id"] = out.order_id
    if out.cli_ord_id:
        body["cliOrdId"] = out.cli_ord_id
    if kind == "batch":
        if out.order_tag is not None:
            body["order_tag"] = out.order_tag
        body["dateTimeReceived"] = iso(out.received_ms)
    else:
        body["receivedTime"] = iso(out.received_ms)
    body["orderEvents"] = [_event(e) for e in out.events]
    return body


def instrument(inst: Instrument) -> dict[str, Any]:
    """One ``instruments[]`` element (spec §4.2)."""
    linear = inst.is_linear
    key = "numNonContractUnits" if linear else "contracts"
    levels = [{key: num(lv.threshold), "initialMargin": num(lv.initial_margin_rate),
               "maintenanceMargin": num(lv.maintenance_margin_rate)} for lv in inst.margin_levels]
    precision = -inst.lot_size.normalize().as_tuple().exponent  # type: ignore[operator]
    out: dict[str, Any] = {
        "symbol": inst.symbol, "type": inst.type.value, "tradeable": inst.tradeable, "tickSize": num(inst.tick_size),
        "contractSize": num(inst.contract_size), "contractValueTradePrecision": precision,
        "impactMidSize": 1.0, "maxPositionSize": num(inst.max_position_size), "openingDate": "2022-03-22T13:18:45Z",
        "marginLevels": levels, "retailMarginLevels": levels,
        "fundingRateCoefficient": num(inst.funding_rate_coefficient),
        "maxRelativeFundingRate": num(inst.max_relative_funding_rate), "postOnly": inst.post_only,
        "base": inst.base, "quote": inst.quote, "pair": f"{inst.base}:{inst.quote}", "isExpired": False,
        "tags": [], "category": "",
    }
    if not linear:
        out["underlying"] = f"rr_{inst.base.lower()}usd"
    return out


def ticker(inst: Instrument, m: Any, stats: tuple[float, float, float, float] | None, open_interest: Decimal,
           now_ms: int) -> dict[str, Any]:
    """One ``tickers[]`` element (spec §4.3); ``fundingRate`` is Kraken's absolute rate."""
    price = m.index if m.index is not None else m.mark
    rel = m.funding_rate_for(now_ms - now_ms % 3_600_000)
    absolute = None
    if price:
        absolute = rel * price if inst.is_linear else rel / price
    o24, h24, l24, v24 = stats if stats else (m.last, m.last, m.last, 0.0)
    change = (m.last - o24) / o24 * 100 if m.last and o24 else 0.0
    return {
        "symbol": inst.symbol, "last": dstr(m.last), "lastTime": iso(m.last_ts_ms or m.ts_ms),
        "lastSize": dstr(m.last_size), "tag": "perpetual", "pair": f"{inst.base}:{inst.quote}",
        "markPrice": dstr(m.mark), "bid": dstr(m.bid), "bidSize": dstr(m.bid_size), "ask": dstr(m.ask),
        "askSize": dstr(m.ask_size), "vol24h": dstr(v24), "volumeQuote": dstr(v24 * (m.last or 0.0)),
        "openInterest": dstr(open_interest), "open24h": dstr(o24), "high24h": dstr(h24), "low24h": dstr(l24),
        "fundingRate": dstr(absolute), "fundingRatePrediction": dstr(absolute), "suspended": False,
        "indexPrice": dstr(m.index), "postOnly": inst.post_only, "change24h": dstr(round(change, 4)),
    }


def coin_account(figs: CoinAccountFigures, triggers: dict[str, Decimal] | None) -> dict[str, Any]:
    """One inverse margin account (``fi_xbtusd``...) of the ``accounts`` object (spec §4.6): ``type``
    ``marginAccount``, ``currency``, ``balances`` (signed contracts by symbol and the coin balance),
    ``auxiliary`` (``pv`` portfolio value, ``pnl``, ``af`` available funds, ``funding``; the coin),
    ``marginRequirements`` (``im``/``mm``; ``lt``/``tt`` = ``mm``: the paper exchange liquidates at the
    maintenance margin) and ``triggerEstimates`` (mark prices USD; only with one position)."""
    balances: dict[str, Any] = {sym: num(size) for sym, size in figs.positions.items()}
    balances[figs.currency] = num(figs.balance)
    out: dict[str, Any] = {
        "type": "marginAccount", "currency": figs.currency, "balances": balances,
        "auxiliary": {"usd": 0, "pv": num(figs.portfolio_value), "pnl": num(figs.pnl),
                      "af": num(figs.available_funds), "funding": 0},
        "marginRequirements": {"im": num(figs.initial_margin_with_orders), "mm": num(figs.maintenance_margin),
                               "lt": num(figs.maintenance_margin), "tt": num(figs.maintenance_margin)},
    }
    if triggers:
        out["triggerEstimates"] = {k: num(v) for k, v in triggers.items()}
    return out


def accounts(figs: Any, inverse: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``accounts`` object: ``cash`` (empty holding wallet), ``flex`` (the multi-collateral account of PF_
    positions) and the inverse margin accounts, ``inverse`` = account name (``fi_xbtusd``) -> ``coin_account``
    object (spec §4.6)."""
    cur = {c.upper(): {"quantity": num(q), "value": num(v), "collateral": num(v),
                       "available": num(q if c != "usd" else figs.available_margin)}
           for c, (q, v) in figs.currencies.items()}
    flex = {
        "type": "multiCollateralMarginAccount", "currencies": cur, "initialMargin": num(figs.initial_margin),
        "initialMarginWithOrders": num(figs.initial_margin_with_orders),
        "maintenanceMargin": num(figs.maintenance_margin), "balanceValue": num(figs.balance_value),
        "portfolioValue": num(figs.portfolio_value), "collateralValue": num(figs.collateral_value),
        "pnl": num(figs.pnl), "unrealizedFunding": num(figs.unrealized_funding),
        "totalUnrealized": num(figs.pnl + figs.unrealized_funding),
        "totalUnrealizedAsMargin": num(figs.pnl + figs.unrealized_funding),
        "availableMargin": num(figs.available_margin), "marginEquity": num(figs.margin_equity),
    }
    out: dict[str, Any] = {"cash": {"type": "cashAccount", "balances": {}}, "flex": flex}
    out.update(inverse or {})
    return out


def position_row(symbol: str, size: Decimal, entry: Decimal, fill_ms: int, upnl: Decimal, linear: bool
                 ) -> dict[str, Any]:
    """One ``openPositions[]`` element (spec §4.7); ``size`` positive, side from the sign."""
    return {"side": "long" if size > 0 else "short", "symbol": symbol, "price": dstr(entry),
            "fillTime": iso(fill_ms), "size": dstr(abs(size)), "unrealizedFunding": "0",
            "unrealizedPnl": dstr(upnl), "pnlCurrency": "USD" if linear else symbol[3:6]}


def open_order_row(o: PaperOrder) -> dict[str, Any]:
    """One ``openOrders[]`` element (spec §4.8); triggers have ``orderType`` stop / take_profit."""
    row: dict[str, Any] = {
        "order_id": o.order_id, "symbol": o.symbol, "side": o.side.value,
        "orderType": {"stp": "stop"}.get(o.order_type, o.order_type if o.is_trigger else "lmt"),
        "limitPrice": dstr(o.limit_price), "unfilledSize": dstr(o.remaining), "receivedTime": iso(o.received_ms),
        "status": "partiallyFilled" if o.filled > 0 else "untouched", "filledSize": dstr(o.filled),
        "lastUpdateTime": iso(o.last_update_ms or o.received_ms), "reduceOnly": o.reduce_only,
    }
    if o.is_trigger:
        row["stopPrice"] = dstr(o.stop_price)
        row["triggerSignal"] = _OPEN_SIGNAL[o.trigger_signal.value if o.trigger_signal else "mark"]
    if o.cli_ord_id:
        row["cliOrdId"] = o.cli_ord_id
    return row


def fill_row(f: PaperFill) -> dict[str, Any]:
    """One ``fills[]`` element (spec §4.9; REST fills carry no fee)."""
    row = {"fill_id": f.fill_id, "symbol": f.symbol, "side": f.side.value, "order_id": f.order_id,
           "size": dstr(f.size), "price": dstr(f.price), "fillTime": iso(f.ts_ms), "fillType": f.fill_type}
    if f.cli_ord_id:
        row["cliOrdId"] = f.cli_ord_id
    return row


def order_status_row(o: PaperOrder) -> dict[str, Any]:
    """One ``orders[]`` element of orders/status (spec §4.16)."""
    status = {"open": "TRIGGER_PLACED" if o.is_trigger else "ENTERED_BOOK"}.get(o.status, o.status)
    opts = None
    if o.is_trigger:
        opts = {"triggerPrice": num(o.stop_price), "triggerSide": "TRIGGER_ABOVE" if o.trigger_above else "TRIGGER_BELOW",
                "triggerSignal": _SIGNAL[o.trigger_signal.value if o.trigger_signal else "mark"].upper()}
    order = {"type": "TRIGGER_ORDER" if o.is_trigger else "ORDER", "orderId": o.order_id, "cliOrdId": o.cli_ord_id,
             "symbol": o.symbol, "side": o.side.value, "quantity": num(o.remaining), "filled": num(o.filled),
             "limitPrice": num(o.limit_price), "reduceOnly": o.reduce_only, "timestamp": iso(o.received_ms),
             "lastUpdateTimestamp": iso(o.last_update_ms or o.received_ms), "priceTriggerOptions": opts,
             "triggerTime": None}
    reason = o.update_reason or ("PARTIAL_FILL" if o.filled > 0 else "NEW_USER_ORDER")
    error_ = reason if o.status == "REJECTED" else None
    return {"order": order, "status": status, "updateReason": reason, "error": error_}


def _margin_account(e: AccountLogEntry) -> str:
    """The account a log row belongs to: the inverse margin account of a PI_ contract's rows, else flex."""
    if e.contract and is_inverse_symbol(e.contract):
        return inverse_account_name(symbol_settlement_currency(e.contract))
    if e.contract is None and e.asset != "usd":  # a transfer of a coin: its inverse margin account
        return inverse_account_name(e.asset)
    return FLEX_ACCOUNT


def account_log_row(e: AccountLogEntry) -> dict[str, Any]:
    """One ``logs[]`` element of /api/history/v3/account-log (spec §4.18), JSON numbers, nulls kept."""
    return {
        "id": e.id, "date": iso(e.ts_ms), "asset": e.asset, "info": e.info,
        "booking_uid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"paper-log-{e.id}")), "margin_account": _margin_account(e),
        "contract": e.contract, "old_balance": num(e.old_balance), "new_balance": num(e.new_balance),
        "old_average_entry_price": None, "new_average_entry_price": None, "trade_price": num(e.trade_price),
        "mark_price": num(e.mark_price), "realized_pnl": num(e.realized_pnl), "fee": num(e.fee),
        "execution": e.execution, "collateral": None, "funding_rate": num(e.funding_rate),
        "realized_funding": num(e.realized_funding), "conversion_spread_percentage": None,
        "liquidation_fee": num(e.liquidation_fee),
    }


def candle_rows(rows: list[tuple[int, float, float, float, float, float]]) -> list[dict[str, Any]]:
    """Charts ``candles[]``: time in epoch ms, OHLC and volume as strings (spec §6)."""
    return [{"time": t, "open": dstr(o), "high": dstr(h), "low": dstr(lo), "close": dstr(c), "volume": dstr(v)}
            for t, o, h, lo, c, v in rows]


def public_trade_row(t: Any) -> dict[str, Any]:
    """A ``history`` row (spec §4.4): ``time`` ISO, ``trade_id``, ``price``/``size`` numbers, taker ``side``,
    ``type`` (fill | liquidation | partial liquidation), ``uid``."""
    return {"time": iso(t.ts_ms), "trade_id": t.trade_id, "price": float(t.price), "size": float(t.size),
            "side": t.side, "type": t.kind, "uid": t.uid}


def fee_schedule(uid: str, maker_bps: Decimal, taker_bps: Decimal) -> dict[str, Any]:
    """One ``feeSchedules`` element (spec §12.2 ``fetchTradingFees``): fees in percent, one tier from 0 USD."""
    return {"uid": uid, "name": "Paper Fee Schedule",
            "tiers": [{"makerFee": float(maker_bps / 100), "takerFee": float(taker_bps / 100), "usdVolume": 0}]}


def market_execution(symbol: str, t: Any) -> dict[str, Any]:
    """A public ``Execution`` element of /api/history/v3/market/{symbol}/executions (ccxt ``fetchTrades``
    capture): maker and taker order stubs (the taker on ``t.side``), epoch-ms strings, no account data."""
    ts = str(t.ts_ms)
    price_d = t.price if isinstance(t.price, Decimal) else Decimal(repr(t.price))
    size_d = t.size if isinstance(t.size, Decimal) else Decimal(repr(t.size))
    price = dstr(price_d)
    taker_dir = "Buy" if t.side == "buy" else "Sell"
    maker_dir = "Sell" if t.side == "buy" else "Buy"

    def stub(key: str, direction: str, order_type: str) -> dict[str, Any]:
        return {"uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{t.uid}/{key}")), "tradeable": symbol,
                "direction": direction, "quantity": dstr(size_d), "timestamp": ts, "limitPrice": price,
                "orderType": order_type, "reduceOnly": False, "lastUpdateTimestamp": ts}

    return {"uid": t.uid, "timestamp": ts, "event": {"Execution": {"execution": {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{t.uid}/execution")), "makerOrder": stub("maker", maker_dir, "Limit"),
        "takerOrder": stub("taker", taker_dir, "Market" if t.kind == "fill" else "Liquidation"), "timestamp": ts,
        "quantity": dstr(size_d), "price": price, "markPrice": repr(t.mark) if t.mark is not None else "",
        "limitFilled": True, "usdValue": dstr((size_d * price_d).quantize(Decimal("0.01")))},
        "takerReducedQuantity": ""}}}
