"""KrakenWsClient against a loopback ``websockets`` server that speaks Kraken Futures WS v1 (spec §7, §2.4).

The fake server answers subscribes with one ack per product, serves book snapshots, verifies the
challenge signature with ``sign_challenge`` and counts the protocol ping frames it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import pytest
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.errors import AuthenticationError
from kraken_tui.kraken.auth import sign_challenge
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.kraken.ws_events import (
    BookSnapshotEvent,
    Connected,
    Disconnected,
    FeedResumed,
    FeedStale,
    FillsEvent,
    MalformedMessage,
    Reconnected,
    SeqGap,
    SubscriptionEvent,
    TickerEvent,
    WsAlert,
)

# spec §2.4 official test vector secret
SECRET = "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm"
KEY = "test-api-key"
CFG = ClientConfig(ws_ping_interval_s=0.1, ws_stale_after_s=0.3, reconnect_max_backoff_s=0.05, timeout_s=2)
PRIVATE = {"open_orders", "fills", "open_positions", "balances"}


def _snapshot(pid: str, seq: int, bid: float = 100.0, ask: float = 101.0) -> dict:
    return {
        "feed": "book_snapshot", "product_id": pid, "timestamp": 1, "seq": seq,
        "bids": [{"price": bid, "qty": 5}, {"price": bid - 1, "qty": 0}], "asks": [{"price": ask, "qty": 7}],
    }  # fmt: skip


def _delta(pid: str, seq: int, price: float, qty: float, side: str = "buy") -> dict:
    return {
        "feed": "book",
        "product_id": pid,
        "side": side,
        "seq": seq,
        "price": price,
        "qty": qty,
        "timestamp": 2,
    }


class FakeKraken:
    """A scripted Kraken Futures WS v1 endpoint on 127.0.0.1 (ephemeral port)."""

    def __init__(self) -> None:
        self.received: list[tuple[int, dict]] = []  # (connection number, message)
        self.texts: list[str] = []
        self.pings = 0
        self.conns: list[ServerConnection] = []
        self.challenges: dict[int, str] = {}
        self.auth_failures: list[dict] = []
        self.close_codes: list[int | None] = []
        self.ignore_challenge = False
        self.book_seq = 10
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        n = len(self.conns)
        self.conns.append(ws)
        orig = ws.protocol.recv_frame

        def spy(frame):
            if frame.opcode is Opcode.PING:
                self.pings += 1
            return orig(frame)

        ws.protocol.recv_frame = spy  # type: ignore[method-assign]
        await ws.send(json.dumps({"event": "info", "version": 1}))
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self.texts.append(raw)
                msg = json.loads(raw)
                self.received.append((n, msg))
                await self.answer(n, ws, msg)
        self.close_codes.append(ws.close_code)

    async def answer(self, n: int, ws: ServerConnection, msg: dict) -> None:
        if msg.get("event") == "challenge":
            assert msg["api_key"] == KEY
            if self.ignore_challenge:
                return
            self.challenges[n] = str(uuid.uuid4())
            await ws.send(json.dumps({"event": "challenge", "message": self.challenges[n]}))
            return
        feed = msg["feed"]
        if feed in PRIVATE:
            ok = msg.get("api_key") == KEY and msg.get("signed_challenge") == sign_challenge(
                SECRET, msg.get("original_challenge", "")
            ) and msg.get("original_challenge") == self.challenges.get(n)  # fmt: skip
            if not ok:
                self.auth_failures.append(msg)
                await ws.send(json.dumps({"event": "error", "message": "Invalid signature"}))
                return
        event = "subscribed" if msg["event"] == "subscribe" else "unsubscribed"
        for pid in msg.get("product_ids") or [None]:
            ack = {"event": event, "feed": feed} | ({"product_ids": [pid]} if pid else {})
            await ws.send(json.dumps(ack))
            if event == "subscribed" and feed == "book":
                await ws.send(json.dumps(_snapshot(pid, self.book_seq)))
        if event == "subscribed" and feed == "fills":
            await ws.send(json.dumps({"feed": "fills_snapshot", "account": "acc", "fills": []}))

    def subs(self, conn: int | None = None, event: str = "subscribe") -> list[dict]:
        return [m for n, m in self.received if m.get("event") == event and (conn is None or n == conn)]

    async def send(self, payload: dict | str | bytes, conn: int = -1) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        await self.conns[conn].send(data)


@pytest.fixture
async def fake():
    server = FakeKraken()
    async with serve(server.handler, "127.0.0.1", 0, ping_interval=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        server.url = f"ws://127.0.0.1:{port}/ws/v1"
        yield server


async def next_of(client: KrakenWsClient, kind: type, within_s: float = 3.0, seen: list | None = None):
    """The next event of ``kind``; every event passed on the way is appended to ``seen``."""

    async def _find():
        async for ev in client:
            if seen is not None:
                seen.append(ev)
            if isinstance(ev, kind):
                return ev
        raise AssertionError("stream ended")

    return await asyncio.wait_for(_find(), within_s)


async def wait_until(cond, within_s: float = 3.0) -> None:
    """Poll a condition on the fake server's recorded state (it has no event to wait on)."""

    async def _poll():
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_poll(), within_s)


def _creds() -> Credentials:
    return Credentials(api_key=SecretStr(KEY), api_secret=SecretStr(SECRET), source="test")


async def test_public_subscribe_book_and_pings(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        assert isinstance(await next_of(client, Connected), Connected)
        await client.subscribe("book", ["pi_xbtusd"])
        snap = await next_of(client, BookSnapshotEvent)
        assert snap.snapshot.symbol == "PI_XBTUSD"
        assert fake.subs() == [{"event": "subscribe", "feed": "book", "product_ids": ["PI_XBTUSD"]}]
        await fake.send(_delta("PI_XBTUSD", 11, 100.5, 2))
        await wait_until(lambda: client.book("PI_XBTUSD").seq == 11)
        book = client.book("PI_XBTUSD")
        assert book.valid and book.best_bid().price == 100.5 and book.best_ask().price == 101.0
        # protocol ping frames every 0.1 s, never a JSON ping (spec §7.1)
        await wait_until(lambda: fake.pings >= 3)
    assert not any("ping" in t for t in fake.texts)
    await wait_until(lambda: fake.close_codes == [1000])  # stop() closes cleanly


async def test_challenge_auth_once_per_connection(fake):
    async with KrakenWsClient(fake.url, _creds(), config=CFG) as client:
        await next_of(client, Connected)
        await client.subscribe("open_orders")
        await client.subscribe("fills")
        await next_of(client, FillsEvent)
        challenges = [m for _, m in fake.received if m.get("event") == "challenge"]
        assert challenges == [{"event": "challenge", "api_key": KEY}]  # one challenge, reused
        subs = fake.subs()
        assert {m["feed"] for m in subs} == {"open_orders", "fills"} and fake.auth_failures == []
        expected = sign_challenge(SECRET, fake.challenges[0])
        assert all(
            m["signed_challenge"] == expected and m["original_challenge"] == fake.challenges[0] for m in subs
        )
        await client.unsubscribe("fills")
        await wait_until(lambda: fake.subs(event="unsubscribe"))
        (unsub,) = fake.subs(event="unsubscribe")
        assert unsub["signed_challenge"] == expected and unsub["api_key"] == KEY
        assert SECRET not in repr(client) and KEY not in repr(client)


async def test_private_feed_needs_credentials_and_unknown_feed_refused(fake):
    client = KrakenWsClient(fake.url, None, config=CFG)
    with pytest.raises(AuthenticationError):
        await client.subscribe("fills")
    with pytest.raises(ValueError, match="unknown"):
        await client.subscribe("liquidations", ["PF_XBTUSD"])
    with pytest.raises(ValueError, match="product_ids"):
        await client.subscribe("ticker")


async def test_server_drop_reconnects_rechallenges_and_resubscribes(fake):
    async with KrakenWsClient(fake.url, _creds(), config=CFG) as client:
        await next_of(client, Connected)
        await client.subscribe("book", ["PI_XBTUSD", "PI_ETHUSD"])
        await client.subscribe("open_positions")
        await wait_until(lambda: len(fake.subs(0)) == 2)
        fake.conns[0].transport.abort()  # abrupt drop, no close frame
        seen: list = []
        rec = await next_of(client, Reconnected, seen=seen)
        assert any(isinstance(e, Disconnected) for e in seen) and rec.attempts >= 1
        await wait_until(lambda: len(fake.subs(1)) == 2)
        again = {m["feed"]: m for m in fake.subs(1)}
        assert again["book"]["product_ids"] == ["PI_ETHUSD", "PI_XBTUSD"]
        assert 1 in fake.challenges and again["open_positions"]["original_challenge"] == fake.challenges[1]
        assert fake.auth_failures == []
        await wait_until(lambda: client.book("PI_ETHUSD") is not None and client.book("PI_ETHUSD").valid)


async def test_seq_gap_resubscribes_book_and_rebuilds(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        await client.subscribe("book", ["PI_XBTUSD"])
        await next_of(client, BookSnapshotEvent)
        await fake.send(_delta("PI_XBTUSD", 11, 100.5, 1))
        fake.book_seq = 500
        await fake.send(_delta("PI_XBTUSD", 13, 100.7, 1))  # 12 is missing
        gap = await next_of(client, SeqGap)
        assert (gap.symbol, gap.expected_seq, gap.got_seq) == ("PI_XBTUSD", 12, 13)
        snap = await next_of(client, BookSnapshotEvent)
        assert snap.snapshot.seq == 500
        assert [m["event"] for _, m in fake.received[1:]] == ["unsubscribe", "subscribe"]
        await wait_until(lambda: client.book("PI_XBTUSD").seq == 500)
        book = client.book("PI_XBTUSD")
        assert book.valid and book.best_bid().price == 100.0  # rebuilt from the new snapshot only


async def test_malformed_frames_become_events_and_client_continues(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        await client.subscribe("ticker", ["PI_XBTUSD"])
        await wait_until(lambda: fake.subs())
        await fake.send("not json{")
        await fake.send(b"\x00\x01")
        await fake.send({"feed": "ticker", "product_id": "PI_XBTUSD", "bid": "abc"})
        await fake.send({"feed": "x", "api_key": "leak", "signed_challenge": "s"} | {"event": 7})
        await fake.send({"feed": "ticker", "product_id": "PI_XBTUSD", "bid": 1.5, "time": 5})
        seen: list = []
        ticker = await next_of(client, TickerEvent, seen=seen)
        bad = [e for e in seen if isinstance(e, MalformedMessage)]
        assert len(bad) == 4 and ticker.ticker.bid == 1.5
        assert "invalid JSON" in str(bad[0].error) and bad[0].raw_excerpt == "not json{"
        assert "binary" in str(bad[1].error)
        assert bad[2].error.source == "ws feed ticker" and bad[2].error.field == "bid"
        assert "leak" not in repr(bad[3])  # a frame with credential fields is withheld
        assert client.connected


async def test_silent_feed_reports_stale_then_resumed(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        await client.subscribe("ticker", ["PI_XBTUSD"])
        await fake_wait_and_tick(fake)
        stale = await next_of(client, FeedStale, within_s=2.0)
        assert (stale.feed, stale.product_id) == ("ticker", "PI_XBTUSD") and stale.silent_for_s > 0.3
        await fake.send({"feed": "ticker", "product_id": "PI_XBTUSD", "bid": 2.0, "time": 6})
        resumed = await next_of(client, FeedResumed)
        assert resumed == FeedResumed("ticker", "PI_XBTUSD")


async def fake_wait_and_tick(fake: FakeKraken) -> None:
    await wait_until(lambda: fake.subs())
    await fake.send({"feed": "ticker", "product_id": "PI_XBTUSD", "bid": 1.0, "time": 5})


async def test_failed_subscription_is_forgotten(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        await client.subscribe("ticker", ["PI_NOPE"])
        await wait_until(lambda: fake.subs())
        await fake.send({"event": "subscribed_failed", "feed": "ticker", "product_ids": ["PI_NOPE"]})
        ack = await next_of(client, SubscriptionEvent)
        while ack.ok:  # the fake server's own "subscribed" comes first
            ack = await next_of(client, SubscriptionEvent)
        assert ack.product_ids == ("PI_NOPE",)
        await asyncio.sleep(0.5)  # longer than ws_stale_after_s: no FeedStale for a refused product
        await client.stop()
        rest = [e async for e in client]
        assert not any(isinstance(e, FeedStale) for e in rest)


async def test_unreachable_server_keeps_retrying_with_backoff():
    cfg = ClientConfig(reconnect_max_backoff_s=0.02, timeout_s=1)
    async with KrakenWsClient("ws://127.0.0.1:9/ws/v1", None, config=cfg) as client:
        first = await next_of(client, Disconnected)
        second = await next_of(client, Disconnected)
        assert "Error" in first.reason and second.reason


async def test_unanswered_challenge_is_an_alert_then_reconnect(fake):
    fake.ignore_challenge = True
    cfg = CFG.model_copy(update={"timeout_s": 0.2})
    async with KrakenWsClient(fake.url, _creds(), config=cfg) as client:
        await client.subscribe("fills")
        alert = await next_of(client, WsAlert)
        assert alert.kind == "client" and "challenge" in alert.message and SECRET not in alert.message
        fake.ignore_challenge = False
        await next_of(client, Reconnected)
        await next_of(client, FillsEvent)  # retried on the new connection
        assert fake.auth_failures == []


T0_MS = 1_700_000_000_000


async def _reads_for_a_paced_stream(fake, batch_ms: float, n: int = 40, gap_s: float = 0.01) -> tuple[int, list]:
    """The client's socket reads (``data_received`` calls) while the server sends ``n`` ticker frames
    ``gap_s`` apart, and the tickers' numbers (their time less ``T0_MS``) in the order the client emitted them."""
    cfg = CFG.model_copy(update={"ws_read_batch_ms": batch_ms})
    reads = 0
    async with KrakenWsClient(fake.url, None, config=cfg) as client:
        await next_of(client, Connected)
        conn = client._ws
        assert conn is not None and hasattr(conn.recv_messages, "paused")  # the library's flow-control flag
        received = conn.data_received

        def counted(data: bytes) -> None:
            nonlocal reads
            reads += 1
            received(data)

        conn.data_received = counted  # type: ignore[method-assign]
        for i in range(n):
            await fake.send({"feed": "ticker", "product_id": "PI_XBTUSD", "bid": 1.0, "ask": 2.0,
                             "markPrice": 1.5, "time": T0_MS + i})
            await asyncio.sleep(gap_s)
        seen: list = []
        while len([e for e in seen if isinstance(e, TickerEvent)]) < n:
            await next_of(client, TickerEvent, seen=seen)
    return reads, [e.ticker.ts_ms - T0_MS for e in seen if isinstance(e, TickerEvent)]


async def test_read_hold_reads_a_paced_stream_in_batches(fake):
    reads, seqs = await _reads_for_a_paced_stream(fake, batch_ms=80)
    assert seqs == list(range(40))  # every frame, in order
    assert reads <= 15  # 40 frames over ~0.4 s read in holds of 80 ms, not one read per frame


async def test_no_read_hold_reads_each_frame_as_it_arrives(fake):
    reads, seqs = await _reads_for_a_paced_stream(fake, batch_ms=0)
    assert seqs == list(range(40))
    assert reads >= 30


async def test_compression_is_offered_and_the_server_decides(fake):
    async with KrakenWsClient(fake.url, None, config=CFG) as client:
        await next_of(client, Connected)
        assert client._ws is not None
        assert [e.name for e in client._ws.protocol.extensions] == ["permessage-deflate"]
