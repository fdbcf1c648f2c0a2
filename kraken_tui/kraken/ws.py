"""The Kraken Futures WebSocket v1 client: one connection, typed events, books, reconnects (spec §7).

Owns: ``KrakenWsClient`` - connecting (``websockets``) with protocol ping frames every
``ClientConfig.ws_ping_interval_s`` (never a JSON ping, spec §7.1); public and private subscriptions
(challenge auth once per connection, signed with ``kraken.auth.sign_challenge`` and sent on every
private subscribe and unsubscribe, spec §2.4); bounded work per event-loop turn (``FRAMES_PER_TURN`` frames,
``ws_turns.TurnBudget``); batched reads (``ws_turns.ReadHold``: after a read the socket is left unread for
``ClientConfig.ws_read_batch_ms``, so a busy feed is decoded a batch per wake-up); reconnecting with exponential backoff and full jitter
up to ``reconnect_max_backoff_s`` and re-sending every subscription; the order books (a sequence gap
resubscribes that product's book to get a fresh snapshot, spec §7.7); stale-feed detection; and the
event stream (``async for event in client``). Malformed frames become ``MalformedMessage`` events;
nothing here ends the process. Secrets never reach an event, a log line or a repr.
Compression: permessage-deflate (RFC 7692) is offered and the server decides. Inflating a Kraken ticker frame
costs about 2.4 us (about 1 % of a core at 5,000 frames/s) and the compressed frame is about a tenth of its
600 bytes, so a trader's link carries a tenth of the traffic for almost no CPU. The paper exchange declines
it (loopback: bandwidth is free, deflating costs the exchange about 13 us a frame).
Must not import: textual, httpx, the engine, the paper exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Collection, Iterable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.errors import AuthenticationError, ProtocolError, TransportError
from kraken_tui.kraken import jsoncodec
from kraken_tui.kraken.auth import sign_challenge
from kraken_tui.kraken.book import OrderBook, OrderBooks
from kraken_tui.kraken.ws_events import (
    BookDeltaEvent,
    BookSnapshotEvent,
    ChallengeEvent,
    Connected,
    Disconnected,
    MalformedMessage,
    Reconnected,
    SubscriptionEvent,
    WsAlert,
)
from kraken_tui.kraken.ws_parse import PRIVATE_FEEDS, PUBLIC_FEEDS, base_feed, parse_ws_message
from kraken_tui.kraken.ws_turns import ReadHold, TurnBudget
from kraken_tui.kraken.ws_watch import FeedWatch, backoff_delay_s, feed_keys

__all__ = ["DEFAULT_STALE_FEEDS", "KrakenWsClient"]

log = logging.getLogger(__name__)

#: Feeds watched for silence. Trades, private feeds and heartbeats may legitimately be quiet for long.
DEFAULT_STALE_FEEDS = frozenset({"ticker", "ticker_lite", "book"})
_NEEDS_PRODUCTS = frozenset({"ticker", "ticker_lite", "trade", "book"})
_SECRET_MARKERS = ("api_key", "signed_challenge", "original_challenge")
_STOP = object()
_MAX_FRAME_BYTES = 16 * 2**20  # full-depth book snapshots are large (spec §7.7)
#: Frames decoded per event-loop turn at most: a burst that piled up while the process waited for a core is
#: decoded over several turns, so other tasks (a flatten, a key) get the loop in between.
FRAMES_PER_TURN = 256


def _excerpt(raw: str | bytes) -> str:
    """The first 200 characters of a frame, or a placeholder when it carries credential fields."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if any(m in text for m in _SECRET_MARKERS):
        return "<frame withheld: it carries credential fields>"
    return text[:200]


def _read_hold(ws: ClientConnection, batch_ms: float) -> ReadHold | None:
    """The connection's read hold of ``batch_ms`` milliseconds; None when 0 or the connection has no transport.

    Reading resumes at the end of a hold unless the ``websockets`` connection paused it itself (its buffer of
    decoded frames above ``max_queue``): it then resumes it when its buffer drains.
    """
    transport = getattr(ws, "transport", None)
    if batch_ms <= 0 or transport is None:
        return None
    frames = getattr(ws, "recv_messages", None)
    return ReadHold(transport, batch_ms / 1000, lambda: not getattr(frames, "paused", False))


class KrakenWsClient:
    """A self-healing Kraken Futures WS v1 connection producing typed events (spec §7, §2.4).

    Use ``async with KrakenWsClient(url, creds, config=cfg) as client:`` (or ``start()``/``stop()``),
    ``await client.subscribe("book", ["PF_XBTUSD"])``, then ``async for event in client``. Events are
    the ``ws_events`` dataclasses: parsed wire messages plus ``Connected``, ``Disconnected(reason)``,
    ``Reconnected`` (reconcile now: anything may have happened offline), ``FeedStale``/``FeedResumed``,
    ``SeqGap`` and ``MalformedMessage``. Challenge answers are consumed internally. The event queue is
    unbounded: a consumer that stops reading grows memory, it never stalls the connection.

    Args:
        url: ``wss://futures.kraken.com/ws/v1`` or the paper exchange's ``ws://127.0.0.1:<port>/ws/v1``.
        credentials: needed only for private feeds.
        config: ``ws_ping_interval_s`` (protocol pings), ``ws_stale_after_s``, ``reconnect_max_backoff_s``,
            ``timeout_s`` (connect and challenge timeout), ``ws_read_batch_ms`` (read hold, ms; 0 = none).
        stale_feeds: feeds checked for silence (default ticker, ticker_lite, book).
        backoff_base_s: first reconnect backoff ceiling, seconds; doubles per failed attempt.
        rng: uniform [0, 1) source for the full jitter (tests pass a fixed one).
    """

    def __init__(
        self,
        url: str,
        credentials: Credentials | None,
        *,
        config: ClientConfig,
        stale_feeds: Collection[str] = DEFAULT_STALE_FEEDS,
        backoff_base_s: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._url = url
        self._creds = credentials
        self._cfg = config
        self._watch = FeedWatch(config.ws_stale_after_s, stale_feeds)
        self._backoff_base_s = backoff_base_s
        self._rng = rng
        self._subs: dict[str, set[str]] = {}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._books = OrderBooks()
        self._ws: ClientConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._run_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._challenge: asyncio.Future[str] | None = None
        self._signed: tuple[str, str] | None = None  # (challenge, signature) of this connection
        self._challenge_lock = asyncio.Lock()
        self._healthy = False
        self._resyncing: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start connecting in the background (idempotent). Events begin with ``Connected``."""
        if self._run_task is None:
            self._stopping = False
            self._run_task = asyncio.create_task(self._run(), name="kraken-ws")
            self._watch_task = asyncio.create_task(self._watch_stale(), name="kraken-ws-stale")

    async def stop(self) -> None:
        """Close the connection and end the event iteration (after queued events are drained)."""
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), timeout=2)  # code 1000
        tasks = [t for t in (self._run_task, self._watch_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._run_task = self._watch_task = None
        self._queue.put_nowait(_STOP)

    async def __aenter__(self) -> KrakenWsClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __aiter__(self) -> KrakenWsClient:
        return self

    async def __anext__(self) -> Any:
        event = await self._queue.get()
        if event is _STOP:
            self._queue.put_nowait(_STOP)  # every later iteration ends too
            raise StopAsyncIteration
        return event

    def __repr__(self) -> str:
        return f"KrakenWsClient({self._url!r}, connected={self.connected}, feeds={sorted(self._subs)})"

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._ws is not None

    def book(self, symbol: str) -> OrderBook | None:
        """The maintained book of ``symbol`` (check ``.valid``), None when never subscribed/seen."""
        return self._books.get(symbol)

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, feed: str, product_ids: Iterable[str] | None = None) -> None:
        """Subscribe now (when connected) and after every reconnect (spec §7.2).

        Raises:
            ValueError: unknown feed, or products missing for ticker/ticker_lite/trade/book.
            AuthenticationError: a private feed without credentials.
        """
        products = self._check(feed, product_ids)
        self._subs.setdefault(feed, set()).update(products)
        self._watch.track(feed_keys(feed, products), self._now())
        ws = self._ws
        if ws is not None:
            await self._send_sub(ws, "subscribe", feed, products)

    async def unsubscribe(self, feed: str, product_ids: Iterable[str] | None = None) -> None:
        """Unsubscribe (all products of ``feed`` when ``product_ids`` is None) and forget it."""
        products = (
            self._check(feed, product_ids) if product_ids is not None else set(self._subs.get(feed, ()))
        )  # fmt: skip
        remaining = self._subs.get(feed, set()) - products
        if remaining:
            self._subs[feed] = remaining
        else:
            self._subs.pop(feed, None)
        self._watch.forget(feed_keys(feed, products))
        ws = self._ws
        if ws is not None:
            await self._send_sub(ws, "unsubscribe", feed, products)

    def _check(self, feed: str, product_ids: Iterable[str] | None) -> set[str]:
        if feed not in PUBLIC_FEEDS and feed not in PRIVATE_FEEDS:
            raise ValueError(f"unknown Kraken Futures feed {feed!r} (spec §7.2)")
        if feed in PRIVATE_FEEDS and self._creds is None:
            raise AuthenticationError(
                f"private feed {feed!r} needs API credentials", endpoint=f"ws feed {feed}"
            )
        products = {p.upper() for p in product_ids or ()}
        if feed in _NEEDS_PRODUCTS and not products:
            raise ValueError(f"feed {feed!r} needs product_ids (spec §7.2)")
        return products

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _send_sub(self, ws: ClientConnection, event: str, feed: str, products: set[str]) -> None:
        """Send one (un)subscribe; private ones carry the challenge fields. Errors become events."""
        msg: dict[str, Any] = {"event": event, "feed": feed}
        if products:
            msg["product_ids"] = sorted(products)
        try:
            if feed in PRIVATE_FEEDS:
                msg.update(await self._auth_fields(ws))
            await ws.send(json.dumps(msg))
        except ConnectionClosed:
            pass  # the reconnect re-sends every subscription
        except (TransportError, ValueError) as exc:  # no challenge answer, or a secret that is not base64
            self._emit(WsAlert(kind="client", message=f"{event} {feed} not sent: {exc}"))
            await ws.close(code=1011, reason="challenge failed")  # reconnect and retry

    async def _auth_fields(self, ws: ClientConnection) -> dict[str, str]:
        """Challenge once per connection, sign it, return the three private-request fields (spec §2.4)."""
        assert self._creds is not None
        async with self._challenge_lock:
            if self._signed is None:
                fut = self._challenge = asyncio.get_running_loop().create_future()
                await ws.send(
                    json.dumps({"event": "challenge", "api_key": self._creds.api_key.get_secret_value()})
                )
                try:
                    challenge = await asyncio.wait_for(fut, timeout=self._cfg.timeout_s)
                except TimeoutError:
                    raise TransportError(
                        f"no challenge answer within {self._cfg.timeout_s} s", endpoint="ws event challenge"
                    ) from None
                signed = sign_challenge(self._creds.api_secret.get_secret_value(), challenge)
                self._signed = (challenge, signed)
        challenge, signed = self._signed
        return {
            "api_key": self._creds.api_key.get_secret_value(),
            "original_challenge": challenge,
            "signed_challenge": signed,
        }

    async def _resubscribe_all(self, ws: ClientConnection) -> None:
        for feed, products in list(self._subs.items()):
            await self._send_sub(ws, "subscribe", feed, set(products))

    async def _resync_book(self, ws: ClientConnection, symbol: str) -> None:
        """After a seq gap: unsubscribe and resubscribe the product's book for a new snapshot (spec §7.7)."""
        try:
            await self._send_sub(ws, "unsubscribe", "book", {symbol})
            await self._send_sub(ws, "subscribe", "book", {symbol})
        finally:
            self._resyncing.discard(symbol)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ connection loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        attempts = 0
        offline_since: float | None = None
        ever_connected = False
        while not self._stopping:
            reason = "connection closed"
            try:
                async with connect(
                    self._url,
                    ping_interval=self._cfg.ws_ping_interval_s,
                    ping_timeout=self._cfg.ws_ping_interval_s,
                    open_timeout=self._cfg.timeout_s,
                    close_timeout=2,
                    max_size=_MAX_FRAME_BYTES,
                    compression="deflate",  # offered; the server decides (see the module docstring)
                ) as ws:
                    self._on_open(ws)
                    if ever_connected:
                        offline = loop.time() - offline_since if offline_since is not None else 0.0
                        self._emit(Reconnected(url=self._url, attempts=attempts, offline_s=offline))
                    else:
                        self._emit(Connected(url=self._url))
                    ever_connected, offline_since = True, None
                    self._spawn(self._resubscribe_all(ws))
                    budget = TurnBudget(FRAMES_PER_TURN)
                    hold = _read_hold(ws, self._cfg.ws_read_batch_ms)
                    try:
                        async for raw in ws:
                            self._handle_frame(ws, raw)
                            if hold is not None:
                                hold.frame_read()
                            if budget.spend():
                                await asyncio.sleep(0)  # the frames waiting are decoded in the next turns
                    finally:
                        if hold is not None:
                            hold.release()
                    reason = f"closed by server (code {ws.close_code}, {ws.close_reason or 'no reason'})"
            except asyncio.CancelledError:
                raise
            except ConnectionClosed as exc:
                reason = f"connection lost ({exc})"
            except Exception as exc:  # OSError, handshake errors, timeouts: never fatal
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._on_close()
            if self._stopping:
                break
            offline_since = offline_since if offline_since is not None else loop.time()
            attempts = 1 if self._healthy else attempts + 1
            self._emit(Disconnected(reason=reason))
            cap = self._cfg.reconnect_max_backoff_s
            await asyncio.sleep(
                backoff_delay_s(attempts, base_s=self._backoff_base_s, cap_s=cap, u=self._rng())
            )

    def _on_open(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._signed = None
        self._healthy = False
        self._resyncing.clear()
        self._books.invalidate_all()
        self._watch.restart(self._now())

    def _on_close(self) -> None:
        self._ws = None
        self._signed = None
        if self._challenge is not None and not self._challenge.done():
            self._challenge.set_exception(TransportError("connection lost", endpoint="ws event challenge"))
        self._challenge = None

    # ------------------------------------------------------------------ frames

    def _emit(self, event: Any) -> None:
        self._queue.put_nowait(event)

    def _handle_frame(self, ws: ClientConnection, raw: str | bytes) -> None:
        """Decode, parse, track and dispatch one frame; every failure becomes an event."""
        try:
            if isinstance(raw, bytes):
                raise ProtocolError("ws", "unexpected binary frame")
            try:
                msg = jsoncodec.loads(raw)
            except ValueError as exc:
                raise ProtocolError("ws", f"invalid JSON ({exc})") from None
            event = parse_ws_message(msg)
        except ProtocolError as exc:
            self._emit(MalformedMessage(error=exc, raw_excerpt=_excerpt(raw)))
            return
        self._touch(msg)
        if isinstance(event, ChallengeEvent):
            if self._challenge is not None and not self._challenge.done():
                self._challenge.set_result(event.challenge)
            return
        if isinstance(event, SubscriptionEvent) and event.event == "subscribed_failed" and event.feed:
            self._forget_failed(event)
        self._emit(event)
        if isinstance(event, BookSnapshotEvent | BookDeltaEvent):
            gap = self._books.apply(event)
            if gap is not None:
                self._emit(gap)
                if gap.symbol not in self._resyncing and gap.symbol in self._subs.get("book", ()):
                    self._resyncing.add(gap.symbol)
                    self._spawn(self._resync_book(ws, gap.symbol))

    def _forget_failed(self, event: SubscriptionEvent) -> None:
        """A refused subscription is not retried on reconnect nor watched for staleness."""
        feed = event.feed or ""
        products = self._subs.get(feed)
        if products is None:
            return
        products.difference_update(event.product_ids)
        self._watch.forget(feed_keys(feed, event.product_ids))
        if not products:
            self._subs.pop(feed, None)

    def _touch(self, msg: dict[str, Any]) -> None:
        feed = msg.get("feed")
        if not isinstance(feed, str) or "event" in msg:
            return
        self._healthy = True
        pid = msg.get("product_id")
        resumed = self._watch.seen(
            (base_feed(feed), pid.upper() if isinstance(pid, str) else None), self._now()
        )
        if resumed is not None:
            self._emit(resumed)

    async def _watch_stale(self) -> None:
        """Every ~1 s, report each watched feed silent longer than ``ws_stale_after_s`` (once per silence)."""
        while True:
            await asyncio.sleep(min(1.0, self._cfg.ws_stale_after_s / 4))
            if self._ws is None:
                continue
            for stale in self._watch.check(self._now()):
                self._emit(stale)
                log.warning(
                    "feed %s %s silent for %.1f s", stale.feed, stale.product_id or "", stale.silent_for_s
                )
