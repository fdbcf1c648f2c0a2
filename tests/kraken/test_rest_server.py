"""KrakenRestClient against the loopback signing server: real HTTP over 127.0.0.1, every signature
recomputed by the server over the raw bytes it received (spec §2.2)."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.domain import OrderEventType, OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.errors import (
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    TransportError,
)
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_http import new_session
from kraken_tui.kraken.rest_orders import BatchCancel, BatchSend
from tests.kraken.signing_server import Canned, FakeClock, SigningServer

KEY = "test-api-key"
SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="  # spec §2.3 vector A
OTHER_SECRET = "b3RoZXIgc2VjcmV0IHZhbHVlIGZvciB0ZXN0cw=="
V3 = "/derivatives/api/v3"

PLACED = {
    "result": "success",
    "serverTime": "2026-01-01T00:00:00.000Z",
    "sendStatus": {
        "order_id": "179f9af8-e45e-469d-b3e9-2fd4675cb7d0",
        "status": "placed",
        "receivedTime": "2026-01-01T00:00:00.000Z",
        "orderEvents": [
            {
                "type": "PLACE",
                "order": {
                    "orderId": "179f9af8-e45e-469d-b3e9-2fd4675cb7d0",
                    "cliOrdId": "a+b/=c",
                    "type": "lmt",
                    "symbol": "PF_XBTUSD",
                    "side": "buy",
                    "quantity": 0.001,
                    "filled": 0,
                    "limitPrice": 50000,
                    "reduceOnly": False,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                    "lastUpdateTimestamp": "2026-01-01T00:00:00.000Z",
                },
            }
        ],
    },
}
OPEN_ORDERS = {"result": "success", "openOrders": [], "serverTime": "2026-01-01T00:00:00.000Z"}


async def _nosleep(_s: float) -> None:
    return None


def _creds(secret: str = SECRET) -> Credentials:
    return Credentials(api_key=SecretStr(KEY), api_secret=SecretStr(secret), source="test")


@contextlib.asynccontextmanager
async def _backend(name: str):
    """The client's HTTP backend: the default aiohttp session or an httpx client (both judged here)."""
    if name == "aiohttp":
        session = new_session()
        try:
            yield session
        finally:
            await session.close()
    else:
        async with httpx.AsyncClient() as http:
            yield http


@pytest.fixture(params=["aiohttp", "httpx"])
async def env(request):
    async with SigningServer(KEY, SECRET) as srv, _backend(request.param) as http:
        # 1.5 s: far above a loopback answer even on a loaded machine; the delayed answers below take 3 s
        cfg = ClientConfig(timeout_s=1.5, read_retries=2, retry_backoff_s=0.01)
        clock = FakeClock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        client = KrakenRestClient(
            http, srv.base_url, _creds(), config=cfg, sleep=_nosleep, rate_limit=limiter
        )
        client.clock = clock  # type: ignore[attr-defined]
        yield srv, client, http


async def test_sendorder_with_reserved_characters_in_cliordid_verifies(env):
    srv, client, _ = env
    srv.reply(f"{V3}/sendorder", Canned(PLACED))
    req = OrderRequest(
        "pf_xbtusd", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("50000"), cli_ord_id="a+b/=c"
    )
    res = await client.send_order(req)
    [rec] = srv.seen(f"{V3}/sendorder")
    assert rec.verified is True and rec.method == "POST"
    assert rec.raw_query == ""  # parameters travel in the form body
    assert b"cliOrdId=a%2Bb%2F%3Dc" in rec.raw_body  # encoded on the wire, signature over that
    assert rec.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(rec.params)["cliOrdId"] == "a+b/=c"
    assert dict(rec.params)["symbol"] == "PF_XBTUSD"
    assert res.status is OrderStatus.PLACED and res.cli_ord_id == "a+b/=c"
    assert res.events[0].type is OrderEventType.PLACE and res.events[0].order.limit_price == Decimal("50000")


async def test_query_with_reserved_characters_is_sent_as_signed(env):
    """The query string goes out byte for byte (``%3A`` stays encoded): the signature covers those bytes."""
    srv, client, _ = env
    srv.reply(f"{V3}/fills", Canned({"result": "success", "fills": [], "serverTime": "2026-01-01T00:00:00.000Z"}))
    await client.fills(last_fill_time_ms=1_767_225_600_000)
    [rec] = srv.seen(f"{V3}/fills")
    assert rec.raw_query == "lastFillTime=2026-01-01T00%3A00%3A00.000Z"
    assert rec.verified is True and rec.method == "GET"


async def test_bad_signature_is_refused_with_authentication_error(env):
    srv, _, http = env
    bad = KrakenRestClient(http, srv.base_url, _creds(OTHER_SECRET), sleep=_nosleep)
    with pytest.raises(AuthenticationError) as ei:
        await bad.open_orders()
    assert srv.requests[-1].verified is False
    assert ei.value.kraken_error == "authenticationError" and ei.value.endpoint == f"{V3}/openorders"
    assert OTHER_SECRET not in str(ei.value) and KEY not in str(ei.value)


async def test_batchorder_json_body_verifies(env):
    srv, client, _ = env
    srv.reply(
        f"{V3}/batchorder",
        Canned(
            {
                "result": "success",
                "serverTime": "2026-01-01T00:00:00.000Z",
                "batchStatus": [
                    {"status": "placed", "order_tag": "0", "order_id": "o-1", "orderEvents": []},
                    {"status": "notFound", "order_id": "3d080c9b", "orderEvents": []},
                ],
            }
        ),
    )
    req = OrderRequest(
        "PF_XBTUSD", Side.SELL, OrderType.POST, Decimal("0.01"), Decimal("60000.5"), cli_ord_id="x y"
    )
    res = await client.batch_order([BatchSend(req), BatchCancel(order_id="3d080c9b")])
    [rec] = srv.seen(f"{V3}/batchorder")
    assert rec.verified is True
    assert rec.raw_body.startswith(b"json=%7B%22batchOrder%22")
    payload = json.loads(parse_qs(rec.raw_body.decode())["json"][0])
    assert payload["batchOrder"][0]["cliOrdId"] == "x y" and payload["batchOrder"][0]["limitPrice"] == 60000.5
    assert payload["batchOrder"][1] == {"order": "cancel", "order_id": "3d080c9b"}
    assert [r.status for r in res] == [OrderStatus.PLACED, OrderStatus.NOT_FOUND]
    assert res[0].cli_ord_id == "x y"


async def test_get_with_query_verifies(env):
    srv, client, _ = env
    srv.reply(
        "/api/history/v3/account-log",
        Canned({"accountUid": "u", "logs": []}),
    )
    assert (
        await client.account_log(since_ms=1650000000000, before_ms=1660000000000, count=10, sort="asc") == []
    )
    [rec] = srv.seen("/api/history/v3/account-log")
    assert rec.verified is True and rec.method == "GET"
    assert rec.raw_query == "since=1650000000000&before=1660000000000&sort=asc&count=10"


async def test_5xx_then_success_on_a_read_is_retried(env):
    srv, client, _ = env
    srv.reply(f"{V3}/openorders", Canned({"error": "boom"}, status=503), Canned(OPEN_ORDERS))
    assert await client.open_orders() == []
    seen = srv.seen(f"{V3}/openorders")
    assert len(seen) == 2 and all(r.verified for r in seen)
    assert seen[0].headers["Nonce"] != seen[1].headers["Nonce"]  # each attempt freshly signed


async def test_5xx_on_an_order_is_unknown_and_not_resent(env):
    srv, client, _ = env
    srv.reply(f"{V3}/sendorder", Canned("Internal Server Error", status=500), Canned(PLACED))
    req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("0.001"))
    res = await client.send_order(req)
    assert len(srv.seen(f"{V3}/sendorder")) == 1  # exactly one request reached the exchange
    assert res.status is OrderStatus.UNKNOWN and not res.status.outcome_known
    assert res.cli_ord_id and len(res.cli_ord_id) == 36  # generated uuid4 is carried in the result
    assert dict(srv.seen(f"{V3}/sendorder")[0].params)["cliOrdId"] == res.cli_ord_id
    assert "HTTP 500" in res.error


async def test_timeout_on_order_is_unknown_and_not_resent(env):
    srv, client, _ = env
    srv.reply(f"{V3}/sendorder", Canned(PLACED, delay_s=3.0))
    res = await client.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("0.001")))
    assert res.status is OrderStatus.UNKNOWN and "no answer within 1.5 s" in res.error
    assert len(srv.seen(f"{V3}/sendorder")) == 1


async def test_timeout_on_a_read_raises_transport_error_after_retries(env):
    srv, client, _ = env
    srv.reply(f"{V3}/openorders", Canned(OPEN_ORDERS, delay_s=3.0))
    with pytest.raises(TransportError) as ei:
        await client.open_orders()
    assert ei.value.endpoint == f"{V3}/openorders"
    assert len(srv.seen(f"{V3}/openorders")) == 3  # 1 + read_retries


async def test_429_with_retry_after_raises_rate_limit_error(env):
    srv, client, _ = env
    srv.reply(
        "/api/history/v3/account-log", Canned("rate limited", status=429, headers={"rate-limit-reset": "7"})
    )
    with pytest.raises(RateLimitError) as ei:
        await client.account_log(count=10)
    assert ei.value.retry_after_s == 7.0 and ei.value.http_status == 429
    assert len(srv.seen("/api/history/v3/account-log")) == 3  # retried as a read, then given up
    # the history pool was drained for rate-limit-reset: the limiter waited >= 7 s before each retry
    assert sum(client.clock.slept) >= 2 * 7.0


async def test_non_json_body_is_protocol_error_naming_endpoint(env):
    srv, client, _ = env
    srv.reply(f"{V3}/openpositions", Canned("<html>oops</html>", status=200))
    with pytest.raises(ProtocolError) as ei:
        await client.open_positions()
    assert ei.value.source == f"{V3}/openpositions" and "not JSON" in str(ei.value)


async def test_unknown_path_spring_404_and_funding_fallback(env):
    srv, client, _ = env
    srv.reply(
        f"{V3}/historical-funding-rates",
        Canned(
            {
                "result": "success",
                "rates": [
                    {
                        "timestamp": "2022-06-28T00:00:00.000Z",
                        "fundingRate": -8.15861558e-10,
                        "relativeFundingRate": -0.000016898883333333,
                    }
                ],
            }
        ),
    )
    rates = await client.funding_rates("pi_xbtusd")
    assert srv.requests[0].path == "/derivatives/api/v4/historicalfundingrates"  # 404 from the server
    assert rates[0].symbol == "PI_XBTUSD" and rates[0].funding_rate == pytest.approx(-1.6898883333333e-5)
    with pytest.raises(NotFoundError):
        await client.ticker("PF_NOPE")
