"""The paper account's event history and the market's public trade tape (spec §4.4, §4.18).

Owns: ``HistoryRecorder``, an exchange listener that turns order, fill and market-trade notifications into
Kraken's history-API elements as they happen (``OrderPlaced``, ``OrderUpdated``, ``OrderEdited``,
``OrderCancelled``, ``OrderRejected``, ``OrderTriggerPlaced``, ``OrderTriggerActivated``,
``OrderTriggerCancelled``, ``Execution``, ``PositionUpdate``), each stored once with a sequence number, and a
per-symbol public trade tape (market prints from the source plus the account's own executions).
``query`` pages any stream with Kraken's parameters (``since``/``before`` epoch ms, ``sort``, ``count``,
``continuation_token``, ``tradeable``). Element shapes follow the ccxt static responses (spec §12.2,
``fetchClosedOrders``, ``fetchCanceledOrders``, ``fetchTrades``).
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from kraken_tui.domain import Side
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.orders import PaperOrder

__all__ = ["HistoryElement", "HistoryRecorder", "PublicTrade", "decode_token", "encode_token"]

MAX_EVENTS = 200_000
MAX_TAPE = 20_000
_ORDER_TYPE = {"lmt": "Limit", "post": "Post", "ioc": "IoC", "mkt": "Market", "stp": "Stop",
               "take_profit": "TakeProfit", "liquidation": "Liquidation", "fok": "FillOrKill",
               "trailing_stop": "TrailingStop"}
_SIGNAL = {"mark": "MarkPrice", "index": "SpotPrice", "last": "LastPrice"}


@dataclass(frozen=True, slots=True)
class HistoryElement:
    """One history element: ``seq`` (increasing, the pagination key), ``ts_ms``, ``symbol``, ``stream``
    (orders | triggers | executions | positions) and the rendered ``{"uid","timestamp","event"}`` body."""

    seq: int
    ts_ms: int
    symbol: str
    stream: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One public trade print: price USD, size contracts (floats from market data, Decimals from the account's
    own executions), taker ``side`` (buy|sell), ``kind`` (fill, liquidation, partial liquidation, assignment,
    spec §4.4), ``trade_id`` increasing per symbol, ``mark`` the mark price then (USD, None when unknown)."""

    trade_id: int
    symbol: str
    ts_ms: int
    price: Decimal | float
    size: Decimal | float
    side: str
    kind: str
    mark: float | None

    @property
    def uid(self) -> str:
        """A stable uid for the print (derived from symbol and trade id: built only when rendered)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"paper-trade/{self.symbol}/{self.trade_id}"))


def _s(d: Decimal | None) -> str:
    if d is None:
        return ""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def encode_token(ts_ms: int, seq: int) -> str:
    """Kraken-style opaque continuation token: base64 of ``"<ts_ms>/<seq>"`` (the ccxt captures decode so)."""
    return base64.b64encode(f"{ts_ms}/{seq}".encode()).decode()


def decode_token(token: str) -> int:
    """The ``seq`` a continuation token points at.

    Raises:
        ValueError: not a token this exchange issued.
    """
    try:
        raw = base64.b64decode(token.encode(), validate=True).decode()
        _, seq = raw.split("/")
        return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"bad continuation token {token!r}") from exc


class HistoryRecorder:
    """Records history elements and public trades from exchange notifications (``PaperExchange.notify``).

    Args:
        account_uid: the account's uid, written into every order object.
        mark_of: the current mark price of a symbol (USD float, None when unknown).
    """

    def __init__(self, account_uid: str, mark_of: Callable[[str], float | None]) -> None:
        self.account_uid = account_uid
        self._mark_of = mark_of
        self.events: deque[HistoryElement] = deque(maxlen=MAX_EVENTS)
        self.tape: dict[str, deque[PublicTrade]] = {}
        self._seq = 0
        self._trade_ids: dict[str, int] = {}
        self._last: dict[str, PaperOrder] = {}
        self._pos: dict[str, tuple[Decimal, Decimal | None]] = {}

    # ------------------------------------------------------------------ rendering
    def order_obj(self, o: PaperOrder, *, filled_override: Decimal | None = None) -> dict[str, Any]:
        """A history order object: ``quantity`` is the unfilled size, epoch-ms strings (spec §4.18)."""
        filled = o.filled if filled_override is None else filled_override
        body: dict[str, Any] = {
            "uid": o.order_id, "accountUid": self.account_uid, "tradeable": o.symbol,
            "direction": "Buy" if o.side is Side.BUY else "Sell", "quantity": _s(o.size - filled),
            "filled": _s(filled), "timestamp": str(o.received_ms), "limitPrice": _s(o.limit_price),
            "orderType": _ORDER_TYPE.get(o.order_type, o.order_type), "clientId": o.cli_ord_id or "",
            "reduceOnly": o.reduce_only, "lastUpdateTimestamp": str(o.last_update_ms or o.received_ms)}
        if o.stop_price is not None:
            body["accountId"] = str(int(self.account_uid.replace("-", "")[:7], 16))
            body["triggerOptions"] = {"triggerPrice": _s(o.stop_price),
                                      "triggerSignal": _SIGNAL[o.trigger_signal.value if o.trigger_signal else "mark"],
                                      "triggerSide": "Above" if o.trigger_above else "Below"}
        return body

    def _add(self, ts_ms: int, symbol: str, stream: str, name: str, payload: dict[str, Any]) -> None:
        self._seq += 1
        body = {"uid": str(uuid.uuid4()), "timestamp": str(ts_ms), "event": {name: payload}}
        self.events.append(HistoryElement(self._seq, ts_ms, symbol, stream, body))

    # ------------------------------------------------------------------ listener
    def on_event(self, kind: str, payload: object) -> None:
        """The exchange listener: ``order``, ``order_rejected``, ``fill``, ``trade`` notifications."""
        if kind == "market":
            return
        if kind == "order":
            snap, is_cancel, reason = cast(tuple[PaperOrder, bool, str], payload)
            self._on_order(snap, is_cancel, reason)
        elif kind == "order_rejected":
            o: PaperOrder = payload  # type: ignore[assignment]
            self._add(o.last_update_ms or o.received_ms, o.symbol, "orders", "OrderRejected",
                      {"order": self.order_obj(o), "reason": (o.update_reason or "").lower(), "orderError": "",
                       "algoId": "", "origin": "Paper"})
        elif kind == "fill":
            self._on_fill(payload)  # type: ignore[arg-type]
        elif kind == "trade":
            sym, price, size, side, ts = cast(tuple[str, float, float, Side, int], payload)
            self.add_trade(sym, ts, price, size, side.value, "fill")

    def _on_order(self, o: PaperOrder, is_cancel: bool, reason: str) -> None:
        ts = o.last_update_ms or o.received_ms
        prev = self._last.get(o.order_id)
        trigger = o.order_type in ("stp", "take_profit", "trailing_stop")
        if prev is None and reason not in ("new_placed_order_by_user", "stop_order_triggered"):
            placed = PaperOrder(o.order_id, o.symbol, o.side, o.order_type, o.size, o.received_ms, o.limit_price,
                                o.stop_price, o.trigger_signal, o.reduce_only, o.cli_ord_id,
                                last_update_ms=o.received_ms)
            self._add(o.received_ms, o.symbol, "orders", "OrderPlaced", {
                "order": self.order_obj(placed), "reason": "new_user_order", "reducedQuantity": "", "algoId": "",
                "origin": "Paper"})
            prev = placed
        if reason == "new_placed_order_by_user":
            name = "OrderTriggerPlaced" if trigger else "OrderPlaced"
            stream = "triggers" if trigger else "orders"
            self._add(ts, o.symbol, stream, name, {"order": self.order_obj(o), "reason": "new_user_order",
                                                   "reducedQuantity": "", "algoId": "", "origin": "Paper"})
        elif reason == "stop_order_triggered":
            self._add(ts, o.symbol, "triggers", "OrderTriggerActivated", {"order": self.order_obj(o)})
        elif reason == "limit_order_from_stop":
            self._add(ts, o.symbol, "orders", "OrderPlaced", {"order": self.order_obj(o), "reason": "trigger_activated",
                                                              "reducedQuantity": "", "algoId": "", "origin": "Paper"})
        elif reason == "edited_by_user":
            self._add(ts, o.symbol, "triggers" if trigger else "orders", "OrderEdited",
                      {"oldOrder": self.order_obj(prev) if prev else None, "newOrder": self.order_obj(o),
                       "reason": "edited_by_user", "algoId": "", "origin": "Paper"})
        elif is_cancel and o.status == "FULLY_EXECUTED" or reason == "partial_fill":
            self._add(ts, o.symbol, "orders", "OrderUpdated", {
                "oldOrder": self.order_obj(prev) if prev else None, "newOrder": self.order_obj(o),
                "reason": "full_fill" if o.status == "FULLY_EXECUTED" else "partial_fill", "reducedQuantity": "0",
                "algoId": "", "origin": "Paper"})
        elif is_cancel:
            name = "OrderTriggerCancelled" if trigger else "OrderCancelled"
            self._add(ts, o.symbol, "triggers" if trigger else "orders", name,
                      {"order": self.order_obj(o), "reason": reason, "algoId": "", "origin": "Paper"})
        if is_cancel and reason != "stop_order_triggered":
            self._last.pop(o.order_id, None)
        else:
            self._last[o.order_id] = o

    def _on_fill(self, f: PaperFill) -> None:
        maker = f.fill_type == "maker"
        own = {"uid": f.order_id, "tradeable": f.symbol, "direction": "Buy" if f.side is Side.BUY else "Sell",
               "quantity": _s(f.size + f.remaining_order_qty), "timestamp": str(f.ts_ms), "limitPrice": _s(f.price),
               "orderType": _ORDER_TYPE.get(f.order_type, f.order_type), "reduceOnly": False,
               "lastUpdateTimestamp": str(f.ts_ms), "clientId": f.cli_ord_id or ""}
        other = {**own, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f.fill_id)), "clientId": "",
                 "direction": "Sell" if f.side is Side.BUY else "Buy", "orderType": "Limit" if not maker else "IoC"}
        old_size, _ = self._pos.get(f.symbol, (Decimal(0), None))
        new_size = old_size + f.size * f.side.sign
        data = {"fee": _s(f.fee), "positionSize": _s(new_size)}
        mark = self._mark_of(f.symbol)
        execution = {"uid": f.fill_id, "makerOrder": own if maker else other, "takerOrder": other if maker else own,
                     "timestamp": str(f.ts_ms), "quantity": _s(f.size), "price": _s(f.price),
                     "markPrice": repr(mark) if mark is not None else "", "limitFilled": f.remaining_order_qty == 0,
                     "usdValue": _s((f.size * f.price).quantize(Decimal("0.01"))),
                     ("makerOrderData" if maker else "takerOrderData"): data}
        self._add(f.ts_ms, f.symbol, "executions", "Execution", {"execution": execution, "takerReducedQuantity": ""})
        self._position_update(f, old_size, new_size)
        taker_side = ("sell" if f.side is Side.BUY else "buy") if maker else f.side.value
        kind = {"liquidation": "liquidation", "partialLiquidation": "partial liquidation",
                "assignor": "assignment"}.get(f.fill_type, "fill")
        self.add_trade(f.symbol, f.ts_ms, f.price, f.size, taker_side, kind)

    def _position_update(self, f: PaperFill, old: Decimal, new: Decimal) -> None:
        _, old_entry = self._pos.get(f.symbol, (Decimal(0), None))
        if old == 0:
            change, new_entry = "open", f.price
        elif new == 0:
            change, new_entry = "close", None
        elif (old > 0) != (new > 0):
            change, new_entry = "reverse", f.price
        elif abs(new) > abs(old):
            change = "increase"
            new_entry = (abs(old) * (old_entry or f.price) + f.size * f.price) / abs(new)
        else:
            change, new_entry = "decrease", old_entry
        self._pos[f.symbol] = (new, new_entry)
        self._add(f.ts_ms, f.symbol, "positions", "PositionUpdate", {
            "accountUid": self.account_uid, "tradeable": f.symbol, "timestamp": str(f.ts_ms),
            "oldPosition": _s(old), "newPosition": _s(new), "oldAverageEntryPrice": _s(old_entry),
            "newAverageEntryPrice": _s(new_entry), "positionChange": change, "executionPrice": _s(f.price),
            "executionSize": _s(f.size), "executionUid": f.fill_id, "fee": _s(f.fee), "feeCurrency": f.fee_currency,
            "realizedFunding": "0", "updateReason": "liquidation" if "iquidation" in f.fill_type else "trade"})

    def add_trade(self, symbol: str, ts_ms: int, price: Decimal | float, size: Decimal | float, side: str,
                  kind: str) -> None:
        """Append a print to ``symbol``'s public tape (spec §4.4 ``history``)."""
        tid = self._trade_ids[symbol] = self._trade_ids.get(symbol, 0) + 1
        tape = self.tape.get(symbol)
        if tape is None:
            tape = self.tape[symbol] = deque(maxlen=MAX_TAPE)
        tape.append(PublicTrade(tid, symbol, ts_ms, price, size, side, kind, self._mark_of(symbol)))

    # ------------------------------------------------------------------ queries
    def query(self, stream: str, *, since: int | None, before: int | None, sort: str, count: int,
              token: int | None, tradeable: str | None) -> tuple[list[HistoryElement], HistoryElement | None]:
        """(page, the last element returned when more remain else None) of one stream.

        ``since`` inclusive, ``before`` exclusive (epoch ms); ``sort`` asc|desc by time; ``token`` = the seq of
        the last element of the previous page (the next page starts after it in ``sort`` order).
        """
        rows = [e for e in self.events if e.stream == stream and (since is None or e.ts_ms >= since)
                and (before is None or e.ts_ms < before) and (tradeable is None or e.symbol == tradeable)]
        if sort == "desc":
            rows.reverse()
        if token is not None:
            rows = [e for e in rows if (e.seq > token if sort == "asc" else e.seq < token)]
        page = rows[:count]
        return page, (page[-1] if len(rows) > count and page else None)
