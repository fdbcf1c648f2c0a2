"""Parsers of the private Kraken Futures WebSocket v1 feeds (spec §7.8-§7.11) -> typed events.

Owns: ``open_orders``/``open_orders_verbose`` (+ ``_snapshot``), ``fills`` (+ ``_snapshot``),
``open_positions``, ``balances`` (+ ``_snapshot``) -> ``ws_events``; exposed to ``ws_parse`` through
``FEED_PARSERS``. Prices and sizes are ``Decimal`` (they reach orders, fills, positions, accounts).
Every failure is a ``ProtocolError`` naming the feed and the (nested) field.
Must not import: websockets, httpx, textual, the engine, ``ws_parse`` (it imports us).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import (
    ZERO,
    Account,
    CoinAccount,
    Fill,
    FillType,
    Order,
    Position,
    PositionSide,
    Side,
    TriggerSignal,
)
from kraken_tui.kraken.fields import get_bool, get_decimal, get_int, get_str, get_ts_ms, require_dict
from kraken_tui.kraken.ws_events import (
    BalancesEvent,
    FillsEvent,
    OpenOrdersSnapshotEvent,
    OrderUpdateEvent,
    PositionsEvent,
)
from kraken_tui.kraken.ws_fields import get_choice, get_symbol, nested, parse_objects

__all__ = ["FEED_PARSERS", "POST_ONLY_REJECT_REASON"]

#: The documented spelling of the post-only reject reason (spec §7.8, §10); the verbose doc example's
#: ``post_order_failed_because_it_would_be_filled`` [CONFLICT] is normalised to it.
POST_ONLY_REJECT_REASON = "post_order_failed_because_it_would_filled"
_REASON_ALIASES = {"post_order_failed_because_it_would_be_filled": POST_ONLY_REJECT_REASON}
_DIRECTIONS = {0: Side.BUY, 1: Side.SELL}
_TRIGGER = {
    "last": TriggerSignal.LAST,
    "mark": TriggerSignal.MARK,
    "spot": TriggerSignal.INDEX,
    "index": TriggerSignal.INDEX,
}
#: WS order types in the REST vocabulary (spec §4.8 ``lmt``); the others are the same words on both.
_ORDER_TYPES = {"limit": "lmt"}
_FILL_TYPES = {ft.value: ft for ft in FillType}
#: Cancel reasons that mean "fully filled" rather than "cancelled or rejected" (spec §7.8).
_FILLED_REASONS = frozenset({"full_fill"})


def _account(msg: dict[str, Any], src: str) -> str | None:
    """``account`` on snapshots, ``username`` on real updates (spec §7.9)."""
    return get_str(msg, "account", src, required=False) or get_str(msg, "username", src, required=False)


def _reason(msg: dict[str, Any], src: str) -> str | None:
    r = get_str(msg, "reason", src, required=False)
    return _REASON_ALIASES.get(r, r) if r is not None else None


def _order(obj: dict[str, Any], src: str, *, is_cancel: bool = False, reason: str | None = None) -> Order:
    """One order object of spec §7.8. ``qty`` is the remaining open size; ``stop_price`` 0 means none."""
    filled = get_decimal(obj, "filled", src, required=False, nonneg=True) or ZERO
    stop = get_decimal(obj, "stop_price", src, required=False, nonneg=True)
    limit = get_decimal(obj, "limit_price", src, required=False, nonneg=True)
    trig = obj.get("triggerSignal")
    if is_cancel:
        status = "filled" if reason in _FILLED_REASONS else "cancelled"
    else:
        status = "partiallyFilled" if filled > 0 else "untouched"
    kind = get_str(obj, "type", src)
    return Order(
        order_id=get_str(obj, "order_id", src),
        symbol=get_symbol(obj, "instrument", src),
        side=get_choice(obj, "direction", src, _DIRECTIONS),
        order_type=_ORDER_TYPES.get(kind, kind),
        size=get_decimal(obj, "qty", src, nonneg=True),
        filled=filled,
        limit_price=limit or None,
        stop_price=stop or None,
        trigger_signal=None if trig is None else get_choice(obj, "triggerSignal", src, _TRIGGER),
        reduce_only=bool(get_bool(obj, "reduce_only", src, required=False)),
        cli_ord_id=get_str(obj, "cli_ord_id", src, required=False),
        status=status,
        received_ts_ms=get_ts_ms(obj, "time", src, required=False),
        last_update_ts_ms=get_ts_ms(obj, "last_update_time", src, required=False),
    )


def _parse_orders_snapshot(feed: str, msg: dict[str, Any]) -> OpenOrdersSnapshotEvent:
    src = f"ws feed {feed}"
    orders = parse_objects(msg, "orders", src, lambda item: _order(item, src))
    return OpenOrdersSnapshotEvent(
        account=_account(msg, src), orders=tuple(orders), verbose="verbose" in feed
    )


def _parse_order_update(feed: str, msg: dict[str, Any]) -> OrderUpdateEvent:
    """Delta with an ``order`` object, or the short cancel form with ``order_id`` only (spec §7.8)."""
    src = f"ws feed {feed}"
    is_cancel = bool(get_bool(msg, "is_cancel", src, required=False))
    reason = _reason(msg, src)
    raw = msg.get("order")
    order = None
    if raw is not None:
        with nested("order"):
            order = _order(require_dict(raw, src), src, is_cancel=is_cancel, reason=reason)
        order_id = order.order_id
    else:
        order_id = get_str(msg, "order_id", src)
    cli = get_str(msg, "cli_ord_id", src, required=False) or (order.cli_ord_id if order else None)
    return OrderUpdateEvent(
        order_id=order_id,
        order=order,
        is_cancel=is_cancel,
        reason=reason,
        cli_ord_id=cli,
        verbose="verbose" in feed,
    )


def _fill(obj: dict[str, Any], src: str) -> Fill:
    """One fill of spec §7.9: ``buy`` bool -> side, ``qty`` contracts, ``fee_paid`` (negative = rebate)."""
    buy = get_bool(obj, "buy", src)
    return Fill(
        fill_id=get_str(obj, "fill_id", src),
        order_id=get_str(obj, "order_id", src),
        symbol=get_symbol(obj, "instrument", src),
        side=Side.BUY if buy else Side.SELL,
        size=get_decimal(obj, "qty", src, positive=True),
        price=get_decimal(obj, "price", src, positive=True),
        ts_ms=get_ts_ms(obj, "time", src),
        fill_type=_FILL_TYPES.get(get_str(obj, "fill_type", src), FillType.OTHER),  # unknown kinds kept
        cli_ord_id=get_str(obj, "cli_ord_id", src, required=False),
        fee=get_decimal(obj, "fee_paid", src, required=False),
        fee_currency=get_str(obj, "fee_currency", src, required=False),
    )


def _parse_fills(feed: str, msg: dict[str, Any]) -> FillsEvent:
    src = f"ws feed {feed}"
    fills = parse_objects(msg, "fills", src, lambda item: _fill(item, src))
    return FillsEvent(account=_account(msg, src), fills=tuple(fills), snapshot=feed.endswith("_snapshot"))


def _position(obj: dict[str, Any], src: str, ts_ms: int | None) -> tuple[str, Position | None]:
    """One position of spec §7.10 from the SIGNED ``balance``; None when the balance is 0."""
    symbol = get_symbol(obj, "instrument", src)
    balance = get_decimal(obj, "balance", src)
    assert balance is not None
    if balance == 0:
        return symbol, None
    liq = get_decimal(obj, "liquidation_threshold", src, required=False, nonneg=True)
    return symbol, Position(
        symbol=symbol,
        side=PositionSide.LONG if balance > 0 else PositionSide.SHORT,
        size=abs(balance),
        entry_price=get_decimal(obj, "entry_price", src, positive=True),
        ts_ms=ts_ms,
        unrealized_funding=get_decimal(obj, "unrealized_funding", src, required=False),
        unrealized_pnl=get_decimal(obj, "pnl", src, required=False),
        liquidation_price=liq or None,  # spec §7.10: 0 = no liquidation price applies
        mark_price=get_decimal(obj, "mark_price", src, required=False, positive=True),
    )


def _parse_positions(feed: str, msg: dict[str, Any]) -> PositionsEvent:
    src = f"ws feed {feed}"
    ts_ms = get_ts_ms(msg, "timestamp", src, required=False)
    parsed = parse_objects(msg, "positions", src, lambda item: _position(item, src, ts_ms))
    positions = [pos for _, pos in parsed if pos is not None]
    closed = [symbol for symbol, pos in parsed if pos is None]
    return PositionsEvent(
        account=_account(msg, src),
        positions=tuple(positions),
        closed=tuple(closed),
        ts_ms=ts_ms,
        seq=get_int(msg, "seq", src, required=False),
    )


def _currency_map(obj: dict[str, Any], key: str, src: str, inner: str | None) -> dict[str, Decimal]:
    """``{CUR: qty}`` (holding) or ``{CUR: {quantity: ...}}`` (flex currencies) -> currency -> Decimal."""
    raw = obj.get(key)
    if raw is None:
        return {}
    out: dict[str, Decimal] = {}
    wallet = require_dict(raw, src, key)
    with nested(key):
        for cur, val in wallet.items():
            if inner is None:
                out[cur.upper()] = get_decimal(wallet, cur, src)
            else:
                with nested(cur):
                    out[cur.upper()] = get_decimal(require_dict(val, src), inner, src)
    return out


def _flex_account(flex: dict[str, Any], src: str) -> Account:
    """``flex_futures`` -> Account (spec §7.11). WS ``initial_margin`` includes orders and
    ``initial_margin_without_orders`` does not (the opposite of REST's naming): positions-only IM is the
    latter, falling back to ``initial_margin`` when absent [INFERRED from the spec §7.11 note]."""

    def d(key: str) -> Decimal:
        return get_decimal(flex, key, src)

    im_with_orders = d("initial_margin")
    im = get_decimal(flex, "initial_margin_without_orders", src, required=False)
    return Account(
        balance_value_usd=d("balance_value"),
        portfolio_value_usd=d("portfolio_value"),
        collateral_value_usd=d("collateral_value"),
        margin_equity_usd=d("margin_equity"),
        available_margin_usd=d("available_margin"),
        initial_margin_usd=im if im is not None else im_with_orders,
        initial_margin_with_orders_usd=im_with_orders,
        maintenance_margin_usd=d("maintenance_margin"),
        unrealized_pnl_usd=d("pnl"),
        unrealized_funding_usd=d("unrealized_funding"),
        currencies=_currency_map(flex, "currencies", src, "quantity"),
    )


def _coin_accounts(msg: dict[str, Any], src: str) -> tuple[CoinAccount, ...]:
    """The ``futures`` section (spec §7.11: single-collateral wallets keyed ``F-XBT:USD``, figures in ``unit``)
    -> CoinAccount per wallet; ``balance`` required, the other figures optional."""
    raw = msg.get("futures")
    if raw is None:
        return ()
    out = []
    with nested("futures"):
        for key, val in require_dict(raw, src, "futures").items():
            with nested(key):
                w = require_dict(val, src)
                unit = get_str(w, "unit", src, required=False) or key.split(":")[0].removeprefix("F-")
                out.append(CoinAccount(
                    currency=unit.lower(), balance_coin=get_decimal(w, "balance", src),
                    portfolio_value_coin=get_decimal(w, "portfolio_value", src, required=False),
                    initial_margin_coin=get_decimal(w, "initial_margin", src, required=False),
                    maintenance_margin_coin=get_decimal(w, "maintenance_margin", src, required=False),
                    available_coin=get_decimal(w, "available", src, required=False)))
    return tuple(out)


def _parse_balances(feed: str, msg: dict[str, Any]) -> BalancesEvent:
    src = f"ws feed {feed}"
    flex_raw = msg.get("flex_futures")
    flex = None
    if flex_raw is not None:
        with nested("flex_futures"):
            flex = _flex_account(require_dict(flex_raw, src), src)
    return BalancesEvent(
        account=_account(msg, src),
        flex=flex,
        holding=_currency_map(msg, "holding", src, None),
        ts_ms=get_ts_ms(msg, "timestamp", src, required=False),
        seq=get_int(msg, "seq", src, required=False),
        snapshot=feed.endswith("_snapshot"),
        coin_accounts=_coin_accounts(msg, src),
    )


FEED_PARSERS: dict[str, Callable[[str, dict[str, Any]], Any]] = {
    "open_orders_snapshot": _parse_orders_snapshot,
    "open_orders_verbose_snapshot": _parse_orders_snapshot,
    "open_orders": _parse_order_update,
    "open_orders_verbose": _parse_order_update,
    "fills_snapshot": _parse_fills,
    "fills": _parse_fills,
    "open_positions": _parse_positions,
    "balances_snapshot": _parse_balances,
    "balances": _parse_balances,
}
"""Private feed name on the wire -> parser ``(feed, msg) -> event``; merged into ``ws_parse``."""
