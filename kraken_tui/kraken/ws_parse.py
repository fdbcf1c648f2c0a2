"""Kraken Futures WebSocket v1 message (a decoded JSON dict) -> one typed event (spec §7).

Owns: ``parse_ws_message`` (the one entry point, used by the live client and by anyone replaying a
recorded WS file), the control-message and public-feed parsers, and the feed-name helpers. The
private feeds (open_orders, fills, open_positions, balances) live in ``ws_parse_private``.

Contract: every message either becomes an event from ``ws_events`` or raises ``ProtocolError`` whose
``source`` is ``"ws feed <feed>"`` / ``"ws event <event>"`` and whose ``field`` names the bad JSON
field (nested as ``bids[3].price``). A well-formed message of a feed or event we do not model
(``account_log``, ``notifications_auth``, a future feed) is NOT an error: it becomes
``UnknownMessage`` so a new Kraken feed never floods the error log. Nothing else is ever raised.
Must not import: websockets, httpx, textual, the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kraken_tui.domain import BookDelta, BookLevel, BookSnapshot, PublicTrade, Side, Ticker
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken import ws_parse_private as _private
from kraken_tui.kraken.fields import get_bool, get_float, get_int, get_str, get_ts_ms
from kraken_tui.kraken.ws_events import (
    BookDeltaEvent,
    BookSnapshotEvent,
    ChallengeEvent,
    HeartbeatEvent,
    InfoEvent,
    SubscriptionEvent,
    TickerEvent,
    TickerLiteEvent,
    TradeEvent,
    TradeSnapshotEvent,
    UnknownMessage,
    WsAlert,
    WsEvent,
)
from kraken_tui.kraken.ws_fields import get_choice, get_dict_items, get_symbol, nested, parse_objects

__all__ = ["PRIVATE_FEEDS", "PUBLIC_FEEDS", "base_feed", "parse_ws_message"]

#: Subscribable public feeds (spec §7.2).
PUBLIC_FEEDS = frozenset({"ticker", "ticker_lite", "trade", "book", "heartbeat"})
#: Subscribable private feeds; these need the challenge fields (spec §2.4, §7.2).
PRIVATE_FEEDS = frozenset(
    {
        "open_orders",
        "open_orders_verbose",
        "open_positions",
        "fills",
        "balances",
        "account_log",
        "notifications_auth",
        "account_balances_and_margins",
        "deposits_withdrawals",
    }
)

#: Echoed credential fields (spec §7.2 private acks) are never kept in an event.
_CREDENTIAL_KEYS = frozenset({"api_key", "original_challenge", "signed_challenge"})
_SUB_EVENTS = frozenset({"subscribed", "unsubscribed", "subscribed_failed", "unsubscribed_failed"})
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
#: ms instants before 1973-03-03 cannot be "next funding"; such a value is read as a duration (spec §7.3).
_MIN_EPOCH_MS = 100_000_000_000


def base_feed(feed: str) -> str:
    """The subscribable feed a message belongs to: ``book_snapshot`` -> ``book`` (spec §7)."""
    return feed[: -len("_snapshot")] if feed.endswith("_snapshot") else feed


# ----------------------------------------------------------------------------- control messages


def _unknown(feed: str | None, event: str | None, msg: dict[str, Any]) -> UnknownMessage:
    raw = {k: v for k, v in msg.items() if k not in _CREDENTIAL_KEYS}
    return UnknownMessage(feed=feed, event=event, raw=raw)


def _parse_event(event: str, msg: dict[str, Any]) -> WsEvent:
    src = f"ws event {event}"
    if event == "info":
        return InfoEvent(version=get_int(msg, "version", src))
    if event in _SUB_EVENTS:
        pids = msg.get("product_ids")
        if pids is None:
            products: tuple[str, ...] = ()
        elif isinstance(pids, list) and all(isinstance(p, str) for p in pids):
            products = tuple(p.upper() for p in pids)
        else:
            raise ProtocolError(src, "expected an array of strings", field="product_ids")
        return SubscriptionEvent(
            event=event,
            feed=get_str(msg, "feed", src, required=False),
            product_ids=products,
            message=get_str(msg, "message", src, required=False),
        )
    if event in ("error", "alert"):
        return WsAlert(kind=event, message=get_str(msg, "message", src, required=False) or "")
    if event == "challenge":
        return ChallengeEvent(challenge=get_str(msg, "message", src))
    return _unknown(None, event, msg)


# ----------------------------------------------------------------------------- public feeds


def _funding(msg: dict[str, Any], key: str, src: str, perpetual: bool) -> float | None:
    """Funding fields are omitted when zero and exist only for perpetuals (spec §7.3)."""
    v = get_float(msg, key, src, required=False)
    return 0.0 if v is None and perpetual else v


def _next_funding(msg: dict[str, Any], src: str, ts_ms: int | None) -> int | None:
    """spec §7.3 [CONFLICT -> trust the wire]: an absolute epoch-ms instant. A value too small to be an
    instant is read as the documented "time until" (ms after ``time``), or dropped without ``time``."""
    v = get_int(msg, "next_funding_rate_time", src, required=False)
    if v is None or v >= _MIN_EPOCH_MS:
        return v
    return ts_ms + v if ts_ms is not None and v >= 0 else None


def _parse_ticker(feed: str, msg: dict[str, Any]) -> TickerEvent:
    src = f"ws feed {feed}"
    symbol = get_symbol(msg, "product_id", src)
    tag = get_str(msg, "tag", src, required=False)
    perp = tag == "perpetual" or symbol.startswith(("PI_", "PF_"))
    ts_ms = get_ts_ms(msg, "time", src, required=False)
    ticker = Ticker(
        symbol=symbol,
        ts_ms=ts_ms,
        last=get_float(msg, "last", src, required=False),
        mark_price=get_float(msg, "markPrice", src, required=False),
        index_price=get_float(msg, "index", src, required=False),
        bid=get_float(msg, "bid", src, required=False),
        ask=get_float(msg, "ask", src, required=False),
        bid_size=get_float(msg, "bid_size", src, required=False, nonneg=True),
        ask_size=get_float(msg, "ask_size", src, required=False, nonneg=True),
        funding_rate=_funding(msg, "relative_funding_rate", src, perp),
        funding_rate_prediction=_funding(msg, "relative_funding_rate_prediction", src, perp),
        funding_rate_abs=_funding(msg, "funding_rate", src, perp),
        funding_rate_prediction_abs=_funding(msg, "funding_rate_prediction", src, perp),
        next_funding_ts_ms=_next_funding(msg, src, ts_ms),
        open_interest=get_float(msg, "openInterest", src, required=False, nonneg=True),
        volume_24h=get_float(msg, "volume", src, required=False, nonneg=True),
        suspended=bool(get_bool(msg, "suspended", src, required=False)),
        post_only=bool(get_bool(msg, "post_only", src, required=False)),
    )
    return TickerEvent(
        ticker=ticker,
        premium_pct=get_float(msg, "premium", src, required=False),
        change_24h_pct=get_float(msg, "change", src, required=False),
        tag=tag,
    )


def _parse_ticker_lite(feed: str, msg: dict[str, Any]) -> TickerLiteEvent:
    src = f"ws feed {feed}"
    ticker = Ticker(
        symbol=get_symbol(msg, "product_id", src),
        bid=get_float(msg, "bid", src, required=False),
        ask=get_float(msg, "ask", src, required=False),
        volume_24h=get_float(msg, "volume", src, required=False, nonneg=True),
    )
    return TickerLiteEvent(
        ticker=ticker,
        premium_pct=get_float(msg, "premium", src, required=False),
        change_24h_pct=get_float(msg, "change", src, required=False),
        tag=get_str(msg, "tag", src, required=False),
    )


def _trade(obj: dict[str, Any], src: str, symbol: str | None = None) -> PublicTrade:
    return PublicTrade(
        symbol=symbol or get_symbol(obj, "product_id", src),
        ts_ms=get_ts_ms(obj, "time", src),
        price=get_float(obj, "price", src, positive=True),
        size=get_float(obj, "qty", src, positive=True),
        side=get_choice(obj, "side", src, _SIDES),
        seq=get_int(obj, "seq", src, required=False),
        trade_id=get_str(obj, "uid", src, required=False),
        kind=get_str(obj, "type", src, required=False) or "fill",
    )


def _parse_trade(feed: str, msg: dict[str, Any]) -> TradeEvent:
    return TradeEvent(trade=_trade(msg, f"ws feed {feed}"))


def _parse_trade_snapshot(feed: str, msg: dict[str, Any]) -> TradeSnapshotEvent:
    src = f"ws feed {feed}"
    symbol = get_symbol(msg, "product_id", src)
    trades = parse_objects(msg, "trades", src, lambda item: _trade(item, src, symbol))
    return TradeSnapshotEvent(symbol=symbol, trades=tuple(trades))


def _levels(msg: dict[str, Any], key: str, src: str, descending: bool) -> tuple[BookLevel, ...]:
    out = []
    for i, item in get_dict_items(msg, key, src):
        with nested(f"{key}[{i}]"):
            price = get_float(item, "price", src, positive=True)
            qty = get_float(item, "qty", src, nonneg=True)
        if qty:  # spec §7.7: snapshot levels can carry qty 0 -> skip them
            out.append(BookLevel(price=price, size=qty))
    out.sort(key=lambda lv: lv.price, reverse=descending)
    return tuple(out)


def _parse_book_snapshot(feed: str, msg: dict[str, Any]) -> BookSnapshotEvent:
    src = f"ws feed {feed}"
    snap = BookSnapshot(
        symbol=get_symbol(msg, "product_id", src),
        seq=get_int(msg, "seq", src),
        ts_ms=get_ts_ms(msg, "timestamp", src),
        bids=_levels(msg, "bids", src, descending=True),
        asks=_levels(msg, "asks", src, descending=False),
    )
    return BookSnapshotEvent(snapshot=snap)


def _parse_book(feed: str, msg: dict[str, Any]) -> BookDeltaEvent:
    src = f"ws feed {feed}"
    delta = BookDelta(
        symbol=get_symbol(msg, "product_id", src),
        seq=get_int(msg, "seq", src),
        ts_ms=get_ts_ms(msg, "timestamp", src),
        side=get_choice(msg, "side", src, _SIDES),
        price=get_float(msg, "price", src, positive=True),
        size=get_float(msg, "qty", src, nonneg=True),
    )
    return BookDeltaEvent(delta=delta)


def _parse_heartbeat(feed: str, msg: dict[str, Any]) -> HeartbeatEvent:
    return HeartbeatEvent(ts_ms=get_ts_ms(msg, "time", f"ws feed {feed}"))


_FEED_PARSERS: dict[str, Callable[[str, dict[str, Any]], WsEvent]] = {
    "ticker": _parse_ticker,
    "ticker_lite": _parse_ticker_lite,
    "trade": _parse_trade,
    "trade_snapshot": _parse_trade_snapshot,
    "book": _parse_book,
    "book_snapshot": _parse_book_snapshot,
    "heartbeat": _parse_heartbeat,
    **_private.FEED_PARSERS,
}


def parse_ws_message(msg: dict[str, Any]) -> WsEvent:
    """Turn one decoded Kraken Futures WS v1 message into a typed event (spec §7.1-§7.11).

    Args:
        msg: the JSON object of one text frame (for a recorded ``.jsonl`` line, its ``msg``).

    Returns:
        One of the ``ws_events.WsEvent`` dataclasses; ``UnknownMessage`` for a well-formed message of a
        feed or event that is not modelled.

    Raises:
        ProtocolError: the message is not an object, has neither a string ``event`` nor ``feed``, or a
            field is missing or malformed; ``source`` names the feed/event and ``field`` the field.
    """
    if not isinstance(msg, dict):
        raise ProtocolError("ws", f"expected a JSON object, got {type(msg).__name__}")
    event = msg.get("event")
    if event is not None:
        if not isinstance(event, str):
            src = f"ws feed {msg['feed']}" if isinstance(msg.get("feed"), str) else "ws"
            raise ProtocolError(src, f"expected a string, got {type(event).__name__}", field="event")
        return _parse_event(event, msg)
    feed = msg.get("feed")
    if not isinstance(feed, str):
        reason = "neither 'event' nor 'feed' present" if feed is None else "expected a string"
        raise ProtocolError("ws", reason, field="feed")
    parser = _FEED_PARSERS.get(feed)
    if parser is None:
        return _unknown(feed, None, msg)
    return parser(feed, msg)
