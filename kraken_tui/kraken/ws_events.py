"""Typed events of the Kraken Futures WebSocket v1 API (spec §7), and the client's own signals.

Owns: the frozen dataclasses that ``kraken_tui.kraken.ws_parse.parse_ws_message`` returns (one per
wire message) and the connection-state events ``kraken_tui.kraken.ws.KrakenWsClient`` adds to the
stream (Connected, Disconnected, Reconnected, FeedStale, FeedResumed, SeqGap, MalformedMessage).
Market data inside the events is the shared domain vocabulary (``Ticker``, ``PublicTrade``,
``BookSnapshot``, ``BookDelta``, ``Order``, ``Fill``, ``Position``, ``Account``); units are those of
``kraken_tui.domain`` (prices USD, sizes contracts, times UTC epoch ms).
Must not import: websockets, httpx, textual, the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kraken_tui.domain import (
    Account,
    BookDelta,
    BookSnapshot,
    CoinAccount,
    Fill,
    Order,
    Position,
    PublicTrade,
    Ticker,
)
from kraken_tui.errors import ProtocolError

__all__ = [
    "BalancesEvent",
    "BookDeltaEvent",
    "BookSnapshotEvent",
    "ChallengeEvent",
    "Connected",
    "Disconnected",
    "FeedResumed",
    "FeedStale",
    "FillsEvent",
    "HeartbeatEvent",
    "InfoEvent",
    "MalformedMessage",
    "OpenOrdersSnapshotEvent",
    "OrderUpdateEvent",
    "PositionsEvent",
    "Reconnected",
    "SeqGap",
    "SubscriptionEvent",
    "TickerEvent",
    "TickerLiteEvent",
    "TradeEvent",
    "TradeSnapshotEvent",
    "UnknownMessage",
    "WsAlert",
    "WsEvent",
]

# ----------------------------------------------------------------------------- control messages


@dataclass(frozen=True, slots=True)
class InfoEvent:
    """``{"event":"info","version":1}``, sent by the server on connect (spec §7.1)."""

    version: int


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """A subscription acknowledgement (spec §7.2).

    Attributes:
        event: ``subscribed``, ``unsubscribed``, ``subscribed_failed`` or ``unsubscribed_failed``.
        feed: the feed name (``book``), None when the server omitted it.
        product_ids: upper-case products of the ack; the server sends one ack per product; empty for
            feeds without products (heartbeat, private feeds).
        message: the server's reason text on a ``*_failed`` ack, else None.
    The echoed ``api_key``/``signed_challenge`` of private acks are deliberately not kept.
    """

    event: str
    feed: str | None
    product_ids: tuple[str, ...] = ()
    message: str | None = None

    @property
    def ok(self) -> bool:
        """False for the ``*_failed`` acks."""
        return not self.event.endswith("_failed")


@dataclass(frozen=True, slots=True)
class WsAlert:
    """``{"event":"error"|"alert","message":...}`` from the server (spec §7.2): ``kind`` is the event."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class ChallengeEvent:
    """``{"event":"challenge","message":"<uuid>"}`` (spec §2.4). The challenge is kept out of repr."""

    challenge: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    """``{"feed":"heartbeat","time":ms}`` (spec §7.5)."""

    ts_ms: int


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed message of a feed or event this client does not model (spec §7.12 account_log,
    §7.13 notifications_auth, or anything new). It is reported, never fatal. ``raw`` is the message."""

    feed: str | None
    event: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


# ----------------------------------------------------------------------------- public feeds


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """One ``ticker`` message (spec §7.3). ``ticker.funding_rate`` is the relative rate per hour,
    ``ticker.funding_rate_abs`` Kraken's absolute rate; ``next_funding_ts_ms`` an epoch-ms instant.

    Attributes:
        premium_pct: Kraken's ``premium`` (mark vs index, percent) or None.
        change_24h_pct: 24 h change, percent, or None.
        tag: ``perpetual``, ``month``, ``quarter``... or None.
    """

    ticker: Ticker
    premium_pct: float | None = None
    change_24h_pct: float | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class TickerLiteEvent:
    """One ``ticker_lite`` message (spec §7.4): bid/ask/24 h volume only, in a ``Ticker``."""

    ticker: Ticker
    premium_pct: float | None = None
    change_24h_pct: float | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class TradeSnapshotEvent:
    """``trade_snapshot`` (spec §7.6): recent trades of ``symbol``, most recent first as sent."""

    symbol: str
    trades: tuple[PublicTrade, ...]


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One ``trade`` print (spec §7.6)."""

    trade: PublicTrade


@dataclass(frozen=True, slots=True)
class BookSnapshotEvent:
    """``book_snapshot`` (spec §7.7); zero-size levels are already dropped."""

    snapshot: BookSnapshot


@dataclass(frozen=True, slots=True)
class BookDeltaEvent:
    """One ``book`` level update (spec §7.7)."""

    delta: BookDelta


# ----------------------------------------------------------------------------- private feeds


@dataclass(frozen=True, slots=True)
class OpenOrdersSnapshotEvent:
    """``open_orders_snapshot`` / ``open_orders_verbose_snapshot`` (spec §7.8): all open orders.

    ``Order.size`` is the REMAINING open size in contracts (spec §7.8 quantity semantics).
    """

    account: str | None
    orders: tuple[Order, ...]
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class OrderUpdateEvent:
    """An ``open_orders`` / ``open_orders_verbose`` delta (spec §7.8).

    Attributes:
        order_id: always set.
        order: the order after the change; None for the short cancel form.
        is_cancel: True when the order left the book (fully filled, cancelled or rejected): remove it.
        reason: Kraken's reason (``new_placed_order_by_user``, ``full_fill``...). The post-only reject is
            normalised to ``post_order_failed_because_it_would_filled`` whichever spelling came.
        cli_ord_id: the cliOrdId when known.
    """

    order_id: str
    order: Order | None
    is_cancel: bool
    reason: str | None
    cli_ord_id: str | None = None
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class FillsEvent:
    """``fills_snapshot`` (``snapshot=True``) or ``fills`` (spec §7.9); ``account`` from ``account``
    or ``username``. Fees are in ``Fill.fee`` / ``Fill.fee_currency`` (negative = rebate)."""

    account: str | None
    fills: tuple[Fill, ...]
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class PositionsEvent:
    """``open_positions`` (spec §7.10). Positions with a zero balance are listed in ``closed``.

    Attributes:
        positions: open positions (side from the sign of ``balance``; liquidation price None when
            Kraken reports 0).
        closed: symbols reported with ``balance`` 0.
        ts_ms: the message ``timestamp`` or None; seq: the message ``seq`` or None.
    """

    account: str | None
    positions: tuple[Position, ...]
    closed: tuple[str, ...] = ()
    ts_ms: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class BalancesEvent:
    """``balances_snapshot`` / ``balances`` (spec §7.11).

    Attributes:
        flex: the multi-collateral account (from ``flex_futures``), None when the message lacks it.
        holding: cash wallet, currency -> quantity (in that currency); empty when absent.
        snapshot: True for ``balances_snapshot``.
        coin_accounts: the inverse margin accounts of the ``futures`` section (coin figures); empty when absent.
    """

    account: str | None
    flex: Account | None
    holding: dict[str, Decimal] = field(default_factory=dict)
    ts_ms: int | None = None
    seq: int | None = None
    snapshot: bool = False
    coin_accounts: tuple[CoinAccount, ...] = ()


# ----------------------------------------------------------------------------- client signals


@dataclass(frozen=True, slots=True)
class Connected:
    """The client connected for the first time (``url`` without credentials)."""

    url: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection was lost or could not be made; the client will retry. ``reason`` is text."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The client is connected again after ``attempts`` tries and has re-sent every subscription.

    Everything that happened while offline is unknown: the engine must reconcile (REST) now.
    """

    url: str
    attempts: int
    offline_s: float


@dataclass(frozen=True, slots=True)
class FeedStale:
    """A subscribed feed (``product_id`` None for feeds without products) has been silent
    ``silent_for_s`` seconds, longer than ``ClientConfig.ws_stale_after_s``."""

    feed: str
    product_id: str | None
    silent_for_s: float


@dataclass(frozen=True, slots=True)
class FeedResumed:
    """A feed reported stale delivered a message again."""

    feed: str
    product_id: str | None


@dataclass(frozen=True, slots=True)
class SeqGap:
    """A book delta's ``seq`` was not ``expected_seq`` (prev + 1, spec §7.7): the book of ``symbol``
    is invalid until a new snapshot arrives (the client resubscribes it)."""

    symbol: str
    expected_seq: int
    got_seq: int


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    """A frame that could not be understood. ``error`` names feed and field; ``raw_excerpt`` is the
    start of the frame (at most 200 characters). The client keeps going."""

    error: ProtocolError
    raw_excerpt: str = ""


WsEvent = (
    InfoEvent
    | SubscriptionEvent
    | WsAlert
    | ChallengeEvent
    | HeartbeatEvent
    | UnknownMessage
    | TickerEvent
    | TickerLiteEvent
    | TradeSnapshotEvent
    | TradeEvent
    | BookSnapshotEvent
    | BookDeltaEvent
    | OpenOrdersSnapshotEvent
    | OrderUpdateEvent
    | FillsEvent
    | PositionsEvent
    | BalancesEvent
)
"""Everything ``parse_ws_message`` can return (one wire message -> one event)."""
