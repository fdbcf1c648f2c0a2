"""WebSocket v1 endpoint of the paper exchange: subscriptions, challenge auth, feed fan-out (spec §7, §2.4).

Owns: ``WsHub`` (one per server; listens to the exchange and fans messages out) and its per-connection
state. Public feeds: ticker (throttled per product), ticker_lite, trade (snapshot + deltas, seq per product),
book (snapshot of the whole multi-level book + one delta per changed level, one contiguous seq per product),
heartbeat. Private feeds (need ``api_key``/``original_challenge``/``signed_challenge`` from a challenge issued
on the same connection): open_orders (+ open_orders_verbose), fills, open_positions, balances, account_log.
Rates as Kraken's: ticker at most once per ``ticker_interval_s`` per product (spec §7.3); open_positions at once on
a position change and otherwise with each ticker of a held symbol (its mark and P&L), never per tick while flat
(spec §7.10); balances on each balance change.
Bad messages get Kraken's answers: ``Json Error``, ``Invalid feed``, ``Invalid product id``,
``Bad websocket message``; a wrong challenge signature gets ``authenticationError``. Faults: dropped,
duplicated messages and disconnects per message sent.
Must not import: textual, the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import socket
import time
import uuid
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from kraken_tui.kraken import jsoncodec
from kraken_tui.kraken.auth import sign_challenge
from kraken_tui.paper import ws_wire
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.faults import Faults
from kraken_tui.paper.wire import account_log_row

__all__ = ["PUBLIC_FEEDS", "PRIVATE_FEEDS", "WsHub"]

log = logging.getLogger(__name__)
PUBLIC_FEEDS = ("ticker", "ticker_lite", "trade", "book", "heartbeat")
PRIVATE_FEEDS = ("open_orders", "open_orders_verbose", "fills", "open_positions", "balances", "account_log")
_NEEDS_PRODUCTS = ("ticker", "ticker_lite", "trade", "book")
_TCP_CORK = getattr(socket, "TCP_CORK", None)
_uid_rng = random.Random()


def _trade_uid() -> str:
    """A random version-4 UUID for a public trade (``uuid4`` reads os.urandom per call; a trade print needs
    uniqueness, not cryptographic strength)."""
    return str(uuid.UUID(int=_uid_rng.getrandbits(128), version=4))


def _cork(sock: Any, on: bool) -> bool:
    """Set ``TCP_CORK`` on ``sock`` (Linux; elsewhere, or on any error, nothing). True when set on."""
    if sock is None or _TCP_CORK is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1 if on else 0)
    except OSError:
        return False
    return on


class _Conn:
    def __init__(self, ws: web.WebSocketResponse, sock: Any = None) -> None:
        self.ws = ws
        self.sock = sock
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.subs: dict[str, set[str]] = {}
        self.challenges: set[str] = set()


class WsHub:
    """Fan exchange changes out to WebSocket clients. ``handle`` is the aiohttp handler of /ws/v1."""

    def __init__(self, exchange: PaperExchange, api_key: str, api_secret: str, faults: Faults,
                 ticker_interval_s: float, heartbeat_interval_s: float) -> None:
        self.ex = exchange
        self._key, self._secret = api_key, api_secret
        self.faults = faults
        self.ticker_interval_s = ticker_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.conns: set[_Conn] = set()
        self.book_seq: dict[str, int] = {}
        self.book_sent: dict[str, dict[str, dict[float, float]]] = {}
        self.trade_seq: dict[str, int] = {}
        self.trades: dict[str, deque[dict[str, Any]]] = {}
        self._dirty_tickers: set[str] = set()
        self._private_dirty: set[str] = set()
        self._seq = 0
        self._loop_task: asyncio.Task[None] | None = None
        exchange.add_listener(self._on_event)

    async def close(self) -> None:
        """Close every connection and stop the periodic task."""
        self.ex.remove_listener(self._on_event)
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for c in list(self.conns):
            with contextlib.suppress(Exception):
                await c.ws.close()

    # ------------------------------------------------------------------ fan-out
    def _send(self, conn: _Conn, msg: dict[str, Any]) -> None:
        conn.queue.put_nowait(msg)

    def _broadcast(self, feed: str, product: str | None, msg: dict[str, Any], exclude: _Conn | None = None) -> None:
        for c in self.conns:
            if c is exclude:
                continue
            subs = c.subs.get(feed)
            if subs is not None and (product is None or product in subs or "*" in subs):
                self._send(c, msg)

    def _on_event(self, kind: str, payload: object) -> None:
        if kind == "book":
            self._book_deltas(str(payload))
        elif kind == "market":
            sym = str(payload)
            self._book_deltas(sym)
            if self.ticker_interval_s <= 0:
                self._send_tickers(sym)
            else:
                self._dirty_tickers.add(sym)
        elif kind == "trade":
            assert isinstance(payload, tuple)  # (symbol, price, size, taker side, ts_ms): PaperExchange.notify
            sym, price, size, side, ts = payload
            seq = self.trade_seq[sym] = self.trade_seq.get(sym, 0) + 1
            msg = {"feed": "trade", "product_id": sym, "uid": _trade_uid(), "side": side.value, "type": "fill",
                   "seq": seq, "time": ts, "qty": size, "price": price}
            self.trades.setdefault(sym, deque(maxlen=100)).appendleft(msg)
            self._broadcast("trade", sym, msg)
        elif kind in ("order", "order_verbose"):
            assert isinstance(payload, tuple)  # (order snapshot, is_cancel, reason): PaperExchange.notify
            order, is_cancel, reason = payload
            if is_cancel and reason not in ("full_fill", "stop_order_triggered"):
                body: dict[str, Any] = {"order_id": order.order_id, "is_cancel": True, "reason": reason}
                if order.cli_ord_id:
                    body["cli_ord_id"] = order.cli_ord_id
            else:
                body = {"order": ws_wire.open_order(order), "is_cancel": is_cancel, "reason": reason}
            if kind == "order":
                self._broadcast("open_orders", None, {"feed": "open_orders", **body})
            self._broadcast("open_orders_verbose", None, {"feed": "open_orders_verbose", **body})
        elif kind == "fill":
            self._broadcast("fills", None, {"feed": "fills", "username": self.ex.account_uid,
                                            "fills": [ws_wire.fill(payload)]})  # type: ignore[arg-type]
        elif kind in ("position", "balance"):
            self._mark_private("open_positions" if kind == "position" else "balances")
        elif kind == "account_log":
            self._broadcast("account_log", None, {"feed": "account_log", "new_entry": account_log_row(payload)})  # type: ignore[arg-type]

    def _mark_private(self, feed: str) -> None:
        if not any(feed in c.subs for c in self.conns):
            return
        if not self._private_dirty:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(self._flush_private)
        self._private_dirty.add(feed)

    def _flush_private(self) -> None:
        dirty, self._private_dirty = self._private_dirty, set()
        self._seq += 1
        if "open_positions" in dirty:
            self._broadcast("open_positions", None, ws_wire.open_positions(self.ex, self._seq))
        if "balances" in dirty:
            self._broadcast("balances", None, ws_wire.balances(self.ex, self._seq, snapshot=False))

    def _send_tickers(self, sym: str) -> None:
        """The ticker messages of ``sym`` (at most one per ``ticker_interval_s``, spec §7.3) and, when the account
        holds ``sym``, an ``open_positions`` update with its new mark and P&L: a held position's figures move
        at the ticker's pace, a flat account's not at all (spec §7.10; a change of a position itself is sent at
        once, by the ``position`` event)."""
        if sym in self.ex.positions:
            self._mark_private("open_positions")
        if any("ticker" in c.subs for c in self.conns):
            self._broadcast("ticker", sym, ws_wire.ticker(self.ex, sym))
        if any("ticker_lite" in c.subs for c in self.conns):
            self._broadcast("ticker_lite", sym, ws_wire.ticker_lite(self.ex, sym))

    def _book_subscribers(self, sym: str) -> bool:
        for c in self.conns:
            subs = c.subs.get("book")
            if subs is not None and (sym in subs or "*" in subs):
                return True
        return False

    def _book_now(self, sym: str) -> dict[str, dict[float, float]]:
        bids, asks = self.ex.book_levels(sym)
        return {"buy": dict(bids), "sell": dict(asks)}

    def _book_deltas(self, sym: str, exclude: _Conn | None = None) -> None:
        """Send one ``book`` delta per changed level since the last send (qty = new absolute size, 0 = level
        removed), one contiguous ``seq`` per product across both sides (spec §7.7). Only while someone is
        subscribed: a first subscriber gets a snapshot that restarts the comparison."""
        if sym not in self.book_sent or not self._book_subscribers(sym):
            return
        sent = self.book_sent[sym]
        now = self._book_now(sym)
        ts = self.ex.now_ms
        for side in ("buy", "sell"):
            old, new = sent[side], now[side]
            if old == new:
                continue
            changes = [(p, q) for p, q in new.items() if old.get(p) != q]
            changes += [(p, 0.0) for p in old if p not in new]
            for price, qty in changes:
                seq = self.book_seq[sym] = self.book_seq.get(sym, 0) + 1
                self._broadcast("book", sym, {"feed": "book", "product_id": sym, "side": side, "seq": seq,
                                              "price": price, "qty": qty, "timestamp": ts}, exclude)
        self.book_sent[sym] = now

    def _book_snapshot(self, sym: str, conn: _Conn) -> dict[str, Any]:
        self._book_deltas(sym, exclude=conn)
        if sym not in self.book_sent:
            self.book_sent[sym] = self._book_now(sym)
        sent = self.book_sent[sym]
        return {"feed": "book_snapshot", "product_id": sym, "timestamp": self.ex.now_ms,
                "seq": self.book_seq.get(sym, 0), "tickSize": None,
                "bids": [{"price": p, "qty": q} for p, q in sent["buy"].items()],
                "asks": [{"price": p, "qty": q} for p, q in sent["sell"].items()]}

    async def _periodic(self) -> None:
        last_hb = time.monotonic()
        interval = self.ticker_interval_s if self.ticker_interval_s > 0 else 0.5
        while True:
            await asyncio.sleep(min(interval, self.heartbeat_interval_s))
            dirty, self._dirty_tickers = self._dirty_tickers, set()
            for sym in dirty:
                self._send_tickers(sym)
            if time.monotonic() - last_hb >= self.heartbeat_interval_s:
                last_hb = time.monotonic()
                self._broadcast("heartbeat", None, {"feed": "heartbeat", "time": int(time.time() * 1000)})

    # ------------------------------------------------------------------ connection
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler of /ws/v1: answers protocol pings (autoping), serves until the client leaves."""
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, compress=False)  # loopback: deflate costs CPU only
        await ws.prepare(request)
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._periodic(), name="paper-ws-periodic")
        transport = request.transport
        conn = _Conn(ws, transport.get_extra_info("socket") if transport is not None else None)
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        self._send(conn, {"event": "info", "version": 1})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_message(conn, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.conns.discard(conn)
            conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def _writer(self, conn: _Conn) -> None:
        """Send the connection's queue in order, one text frame per message. Messages queued together (a
        tick's ticker, trade and open_positions) leave in one TCP segment: the socket is corked around the
        batch (Linux ``TCP_CORK``), which saves a loopback transmit and a client wake-up per message."""
        queue, ws = conn.queue, conn.ws
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            corked = _cork(conn.sock, len(batch) > 1)
            try:
                for msg in batch:
                    if msg is None or ws.closed:
                        return
                    if not await self._write_one(ws, msg):
                        return
            finally:
                if corked:
                    _cork(conn.sock, False)

    async def _write_one(self, ws: web.WebSocketResponse, msg: dict[str, Any]) -> bool:
        """One message with the fault knobs (drop, duplicate, disconnect); False once disconnected."""
        if self.faults.roll(self.faults.ws_drop_rate):
            return True
        data = jsoncodec.dumps_bytes(msg)
        await ws.send_frame(data, WSMsgType.TEXT)
        if self.faults.roll(self.faults.ws_duplicate_rate):
            await ws.send_frame(data, WSMsgType.TEXT)
        if self.faults.roll(self.faults.ws_disconnect_rate):
            await ws.close(code=1011, message=b"paper fault: disconnect")
            return False
        return True

    def _on_message(self, conn: _Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._send(conn, {"event": "error", "message": "Json Error"})
            return
        if not isinstance(msg, dict):
            self._send(conn, {"event": "error", "message": "Json Error"})
            return
        event = msg.get("event")
        if event == "challenge":
            if not isinstance(msg.get("api_key"), str):
                self._send(conn, {"event": "error", "message": "Json Error"})
                return
            challenge = str(uuid.uuid4())
            conn.challenges.add(challenge)
            self._send(conn, {"event": "challenge", "message": challenge})
        elif event in ("subscribe", "unsubscribe"):
            self._subscribe(conn, msg, event == "subscribe")
        else:
            self._send(conn, {"event": "alert", "message": "Bad websocket message"})

    def _authorised(self, conn: _Conn, msg: dict[str, Any]) -> bool:
        key, orig, signed = msg.get("api_key"), msg.get("original_challenge"), msg.get("signed_challenge")
        if not all(isinstance(v, str) for v in (key, orig, signed)) or orig not in conn.challenges:
            return False
        if not hmac.compare_digest(str(key), self._key):
            return False
        return hmac.compare_digest(sign_challenge(self._secret, str(orig)), str(signed))

    def _subscribe(self, conn: _Conn, msg: dict[str, Any], on: bool) -> None:
        feed = msg.get("feed")
        ack = "subscribed" if on else "unsubscribed"
        if feed not in PUBLIC_FEEDS and feed not in PRIVATE_FEEDS:
            self._send(conn, {"event": "error", "message": "Invalid feed"})
            return
        if feed in PRIVATE_FEEDS:
            if not self._authorised(conn, msg):
                self._send(conn, {"event": "error", "message": "authenticationError"})
                return
            if on:
                conn.subs[feed] = {"*"}
                self._send(conn, {"event": ack, "feed": feed, "api_key": msg["api_key"],
                                  "original_challenge": msg["original_challenge"],
                                  "signed_challenge": msg["signed_challenge"]})
                self._private_snapshot(conn, feed)
            else:
                conn.subs.pop(feed, None)
                self._send(conn, {"event": ack, "feed": feed})
            return
        if feed == "heartbeat":
            conn.subs["heartbeat"] = {"*"} if on else set()
            if not on:
                conn.subs.pop("heartbeat")
            self._send(conn, {"event": ack, "feed": feed})
            return
        products = msg.get("product_ids")
        if not isinstance(products, list) or not products:
            self._send(conn, {"event": "error", "message": "Json Error"})
            return
        syms = [str(p).upper() for p in products]
        if any(s not in self.ex.instruments for s in syms):
            self._send(conn, {"event": "error", "message": "Invalid product id"})
            return
        for sym in syms:
            subs = conn.subs.setdefault(feed, set())
            (subs.add if on else subs.discard)(sym)
            self._send(conn, {"event": ack, "feed": feed, "product_ids": [sym]})
            if on:
                self._public_snapshot(conn, feed, sym)

    def _public_snapshot(self, conn: _Conn, feed: str, sym: str) -> None:
        if not self.ex.markets[sym].has_price:
            return
        if feed == "book":
            self._send(conn, self._book_snapshot(sym, conn))
        elif feed == "trade":
            self._send(conn, {"feed": "trade_snapshot", "product_id": sym, "trades": list(self.trades.get(sym, ()))})
        elif feed == "ticker":
            self._send(conn, ws_wire.ticker(self.ex, sym))
        elif feed == "ticker_lite":
            self._send(conn, ws_wire.ticker_lite(self.ex, sym))

    def _private_snapshot(self, conn: _Conn, feed: str) -> None:
        ex = self.ex
        if feed in ("open_orders", "open_orders_verbose"):
            self._send(conn, {"feed": f"{feed}_snapshot", "account": ex.account_uid,
                              "orders": [ws_wire.open_order(o) for o in ex.open_orders.values()]})
        elif feed == "fills":
            self._send(conn, {"feed": "fills_snapshot", "account": ex.account_uid,
                              "fills": [ws_wire.fill(f, with_cli=False) for f in reversed(list(ex.fills)[-100:])]})
        elif feed == "open_positions":
            self._send(conn, ws_wire.open_positions(ex, self._seq))
        elif feed == "balances":
            self._send(conn, ws_wire.balances(ex, self._seq, snapshot=True))
        elif feed == "account_log":
            self._send(conn, {"feed": "account_log_snapshot",
                              "logs": [account_log_row(e) for e in list(ex.account_log)[-100:]]})
