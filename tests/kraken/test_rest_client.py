"""KrakenRestClient over httpx.MockTransport: paths and parameters (checked against ccxt's static
request fixtures, spec §12.1), order safety (UNKNOWN, never re-sent, resolve_unknown), rounding."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.domain import (
    Instrument,
    InstrumentType,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TriggerSignal,
)
from kraken_tui.errors import AuthenticationError, InsufficientFundsError
from kraken_tui.kraken.auth import sign_rest
from kraken_tui.kraken.ratelimit import RateLimiter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_orders import BatchCancel
from kraken_tui.kraken.rest_transport import encode_params

SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
CREDS = Credentials(api_key=SecretStr("k"), api_secret=SecretStr(SECRET), source="test")
OK = {"result": "success", "serverTime": "2026-01-01T00:00:00.000Z"}


class Recorder:
    """A MockTransport handler answering from a {path: [responses]} script and recording requests."""

    def __init__(self, script: dict[str, list[httpx.Response | Exception]] | None = None) -> None:
        self.script = script or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.script.get(request.url.path, [httpx.Response(200, json=OK)])
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def _nosleep(_s: float) -> None:
    return None


def _client(rec: Recorder, *, creds: Credentials | None = CREDS) -> KrakenRestClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(rec))
    clock = [0.0]

    async def sleep(s: float) -> None:
        clock[0] += s

    limiter = RateLimiter(clock=lambda: clock[0], sleep=sleep)
    cfg = ClientConfig(read_retries=2, retry_backoff_s=0.01)
    return KrakenRestClient(
        http, "https://futures.kraken.com", creds, config=cfg, sleep=_nosleep, rate_limit=limiter
    )


def _sent(req: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(req.url.query.decode()) + parse_qsl(req.content.decode())


@pytest.fixture
def ccxt_requests(shared_data):
    d = json.loads(shared_data("ccxt/krakenfutures_static_request.json").read_text())

    def get(method: str, i: int = 0) -> tuple[str, list[tuple[str, str]], str | None]:
        e = d["methods"][method][i]
        u = urlsplit(e["url"])
        return u.path, parse_qsl(u.query), e.get("output")

    return get


async def test_public_calls_match_ccxt_paths(ccxt_requests):
    rec = Recorder()
    rec.script["/derivatives/api/v3/tickers/PF_XBTUSD"] = [
        httpx.Response(200, json={**OK, "ticker": {"symbol": "PF_XBTUSD", "markPrice": 1}})
    ]
    candles = {"candles": [], "more_candles": False}
    for kind in ("trade", "mark", "spot"):
        rec.script[f"/api/charts/v1/{kind}/PF_XBTUSD/1h"] = [httpx.Response(200, json=candles)]
    c = _client(rec)
    assert (await c.ticker("pf_xbtusd")).symbol == "PF_XBTUSD"
    # ccxt since=1650000000000 ms, limit 3 at 1h -> from=1650000000, to = from + 3*3600 - 1 = 1650010799
    await c.candles("PF_XBTUSD", "1h", from_s=1650000000, to_s=1650010799)
    await c.candles("PF_XBTUSD", "1h", tick_type="mark", from_s=1650000000, to_s=1650010799)
    await c.candles("PF_XBTUSD", "1h", tick_type="index", from_s=1650000000, to_s=1650010799)
    for req, method in zip(
        rec.requests, ["fetchTicker", "fetchOHLCV", "fetchMarkOHLCV", "fetchIndexOHLCV"], strict=True
    ):
        path, params, _ = ccxt_requests(method)
        assert req.url.path == path and sorted(_sent(req)) == sorted(params)
        assert "APIKey" not in req.headers  # public calls are not signed


async def test_private_calls_match_ccxt_parameters(ccxt_requests):
    rec = Recorder()
    rec.script["/api/history/v3/account-log"] = [httpx.Response(200, json={"accountUid": "u", "logs": []})]
    rec.script["/derivatives/api/v3/cancelallordersafter"] = [
        httpx.Response(
            200, json={**OK, "status": {"currentTime": "2026-01-01T00:00:00Z", "triggerTime": "0"}}
        )
    ]
    rec.script["/derivatives/api/v3/cancelorder"] = [
        httpx.Response(
            200, json={**OK, "cancelStatus": {"status": "cancelled", "order_id": "x", "orderEvents": []}}
        )
    ]
    c = _client(rec)
    await c.account_log(since_ms=1650000000000, before_ms=1660000000000, sort="asc", count=10)
    await c.cancel_all_orders_after(10)
    await c.cancel_all_orders_after(0)
    await c.cancel_order(order_id="6e88d923-630d-40aa-af4f-64e5e2b3ad03")
    expected = [
        ccxt_requests("fetchLedger"),
        ccxt_requests("cancelAllOrdersAfter", 0),
        ccxt_requests("cancelAllOrdersAfter", 1),
        ccxt_requests("cancelOrder"),
    ]
    for req, (path, params, _) in zip(rec.requests, expected, strict=True):
        assert req.url.path == path and sorted(_sent(req)) == sorted(params)
        assert req.headers["APIKey"] == "k" and len(req.headers["Authent"]) == 88


@pytest.mark.parametrize("idx", range(11))
async def test_sendorder_params_match_ccxt(ccxt_requests, idx):
    path, params, _ = ccxt_requests("createOrder", idx)
    p = dict(params)
    price = p.get("limitPrice")
    req = OrderRequest(
        symbol=p["symbol"],
        side=Side(p["side"]),
        order_type=OrderType(p["orderType"]),
        size=Decimal(p["size"]),
        limit_price=Decimal(price) if price else None,
        stop_price=Decimal(p["stopPrice"]) if "stopPrice" in p else None,
        trigger_signal=TriggerSignal(p["triggerSignal"]) if "triggerSignal" in p else None,
        reduce_only=p.get("reduceOnly") == "true",
        cli_ord_id=p.get("cliOrdId"),
    )
    rec = Recorder(
        {path: [httpx.Response(200, json={**OK, "sendStatus": {"status": "placed", "order_id": "o"}})]}
    )
    res = await _client(rec).send_order(req)
    [sent] = rec.requests
    got = dict(_sent(sent))
    assert sent.url.path == path and sent.method == "POST" and sent.url.query == b""
    assert got.pop("cliOrdId") == res.cli_ord_id  # always present (generated when ccxt had none)
    p.pop("cliOrdId", None)
    assert got == p and res.status is OrderStatus.PLACED


async def test_sendorder_rounds_to_lot_and_tick():
    ltc = Instrument("PF_LTCUSD", InstrumentType.LINEAR, Decimal("0.01"), Decimal(1), Decimal("0.1"))
    pepe = Instrument("PF_PEPEUSD", InstrumentType.LINEAR, Decimal("1E-10"), Decimal(1), Decimal(1000))
    rec = Recorder()
    c = _client(rec)
    # ccxt static request: size 0.1000000000000001 -> 0.1, limitPrice 55.000001 -> 55
    await c.send_order(
        OrderRequest(
            "PF_LTCUSD", Side.BUY, OrderType.LIMIT, Decimal("0.1000000000000001"), Decimal("55.000001")
        ),
        instrument=ltc,
    )
    # 98123 -> 98000 (lot 1000); price 1.2345678912e-5 -> 0.0000123457 (tick 1e-10, no exponent)
    await c.send_order(
        OrderRequest(
            "PF_PEPEUSD", Side.SELL, OrderType.LIMIT, Decimal("98123"), Decimal("0.000012345678912")
        ),
        instrument=pepe,
    )
    a, b = (dict(_sent(r)) for r in rec.requests)
    assert a["size"] == "0.1" and a["limitPrice"] == "55"
    assert b["size"] == "98000" and b["limitPrice"] == "0.0000123457"
    with pytest.raises(ValueError, match="rounds to 0"):
        await c.send_order(
            OrderRequest("PF_PEPEUSD", Side.BUY, OrderType.MARKET, Decimal("999")), instrument=pepe
        )
    assert len(rec.requests) == 2  # nothing sent for the refused order


async def test_batchorder_cancel_body_matches_ccxt(ccxt_requests):
    path, _, output = ccxt_requests("cancelOrders")
    rec = Recorder(
        {
            path: [
                httpx.Response(200, json={**OK, "batchStatus": [{"status": "cancelled", "orderEvents": []}]})
            ]
        }
    )
    [res] = await _client(rec).batch_order([BatchCancel(order_id="3d080c9b-6a50-45c1-8365-11c00295f011")])
    [sent] = rec.requests
    assert sent.url.path == path
    key, value = output.split("=", 1)
    assert parse_qsl(sent.content.decode()) == [(key, value)]
    assert json.loads(value) == json.loads(dict(parse_qsl(sent.content.decode()))["json"])
    assert res.status is OrderStatus.CANCELLED


async def test_order_timeout_connection_error_and_unreadable_are_unknown_never_resent():
    path = "/derivatives/api/v3/sendorder"
    for failure in (
        httpx.ReadTimeout("t"),
        httpx.ConnectError("c"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={**OK, "sendStatus": "??"}),
    ):
        rec = Recorder(
            {path: [failure, httpx.Response(200, json={**OK, "sendStatus": {"status": "placed"}})]}
        )
        res = await _client(rec).send_order(
            OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("1"), cli_ord_id="intent-1")
        )
        assert res.status is OrderStatus.UNKNOWN and res.cli_ord_id == "intent-1" and res.error
        assert len(rec.requests) == 1


async def test_batch_unknown_gives_one_result_per_instruction_and_cancel_all_unknown():
    rec = Recorder(
        {
            "/derivatives/api/v3/batchorder": [httpx.ReadTimeout("t")],
            "/derivatives/api/v3/cancelallorders": [httpx.Response(503, text="")],
        }
    )
    c = _client(rec)
    res = await c.batch_order([BatchCancel(order_id="a"), BatchCancel(cli_ord_id="b")])
    assert [(r.status, r.order_id, r.cli_ord_id) for r in res] == [
        (OrderStatus.UNKNOWN, "a", None),
        (OrderStatus.UNKNOWN, None, "b"),
    ]
    ca = await c.cancel_all_orders("pf_xbtusd")
    assert ca.status is OrderStatus.UNKNOWN and len(rec.requests) == 2


async def test_definite_refusals_raise_typed_errors():
    path = "/derivatives/api/v3/sendorder"
    rec = Recorder(
        {path: [httpx.Response(500, json={"errors": [{"code": 92, "message": "INSUFFICIENT_MARGIN"}]})]}
    )
    with pytest.raises(InsufficientFundsError) as ei:
        await _client(rec).send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("1")))
    assert ei.value.http_status == 500 and ei.value.endpoint == path
    with pytest.raises(AuthenticationError):
        await _client(Recorder(), creds=None).open_orders()


async def test_priority_only_for_reduce_only_orders():
    c = _client(Recorder())
    with pytest.raises(ValueError, match="reduce-only"):
        await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("1")), priority=True)
    res = await c.send_order(
        OrderRequest("PF_XBTUSD", Side.SELL, OrderType.MARKET, Decimal("1"), reduce_only=True), priority=True
    )
    assert res.status is OrderStatus.UNKNOWN  # OK body without sendStatus: unreadable -> unknown


async def test_resolve_unknown_from_status_then_fills_then_none():
    status_path, fills_path = "/derivatives/api/v3/orders/status", "/derivatives/api/v3/fills"
    entry = {
        "order": {
            "type": "ORDER",
            "orderId": "o1",
            "cliOrdId": "c1",
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "quantity": 0.5,
            "filled": 0.5,
            "limitPrice": 100,
            "reduceOnly": False,
        },
        "status": "ENTERED_BOOK",
        "updateReason": "PARTIAL_FILL",
        "error": None,
    }
    fill = {
        "fill_id": "f1",
        "symbol": "PF_XBTUSD",
        "side": "buy",
        "order_id": "o2",
        "cliOrdId": "c2",
        "size": "0.3",
        "price": "100",
        "fillTime": "2026-01-01T00:00:00.000Z",
        "fillType": "taker",
    }
    rec = Recorder(
        {
            status_path: [
                httpx.Response(200, json={**OK, "orders": [entry]}),
                httpx.Response(200, json={**OK, "orders": []}),
            ],
            fills_path: [httpx.Response(200, json={**OK, "fills": [fill]})],
        }
    )
    c = _client(rec)
    r1 = await c.resolve_unknown("c1")
    assert r1.status is OrderStatus.PARTIALLY_FILLED and r1.order_id == "o1"
    assert dict(_sent(rec.requests[0])) == {"cliOrdIds": "c1"}
    r2 = await c.resolve_unknown("c2", size=Decimal("1"))
    # 0.3 of 1 filled and no longer open -> remainder cancelled; filled_size exact
    assert r2.status is OrderStatus.CANCELLED and r2.filled_size == Decimal("0.3") and r2.order_id == "o2"
    assert await c.resolve_unknown("c3") is None


async def test_candles_range_pages_on_more_candles():
    path = "/api/charts/v1/trade/PF_XBTUSD/1m"

    def page(start_ms: int, n: int, more: bool) -> httpx.Response:
        rows = [
            {"time": start_ms + i * 60000, "open": "1", "high": "2", "low": "1", "close": "1", "volume": "0"}
            for i in range(n)
        ]
        return httpx.Response(200, json={"candles": rows, "more_candles": more})

    rec = Recorder({path: [page(0, 3, True), page(180000, 2, False)]})
    out = await _client(rec).candles_range("PF_XBTUSD", "1m", 0, 299)
    assert [c.ts_ms for c in out] == [0, 60000, 120000, 180000, 240000]
    # second call starts one resolution after the last open: 120000 ms -> 120 s + 60 s = 180
    assert dict(_sent(rec.requests[1]))["from"] == "180"


async def test_fills_paging_uses_last_fill_time_and_costs_25():
    path = "/derivatives/api/v3/fills"

    def f(i: str, t: str) -> dict:
        return {
            "fill_id": i,
            "symbol": "PF_XBTUSD",
            "side": "buy",
            "order_id": "o",
            "size": "1",
            "price": "1",
            "fillTime": t,
            "fillType": "maker",
        }

    rec = Recorder(
        {
            path: [
                httpx.Response(
                    200,
                    json={
                        **OK,
                        "fills": [f("a", "2026-01-01T00:00:02.000Z"), f("b", "2026-01-01T00:00:01.000Z")],
                    },
                ),
                httpx.Response(200, json={**OK, "fills": [f("c", "2025-12-31T23:59:59.000Z")]}),
            ]
        }
    )
    c = _client(rec)
    before = c.rate_limit.headroom()[0]
    out = await c.fills_since(1767225600000)  # 2026-01-01T00:00:00Z
    assert [x.fill_id for x in out] == ["a", "b"]
    assert dict(_sent(rec.requests[1])) == {"lastFillTime": "2026-01-01T00:00:01.000Z"}
    assert before - c.rate_limit.headroom()[0] == 2 + 25  # one plain call, one paged call


async def test_no_secret_key_or_signature_in_logs_or_errors(caplog):
    rec = Recorder(
        {
            "/derivatives/api/v3/openorders": [
                httpx.Response(200, json={"result": "error", "error": "authenticationError"})
            ]
        }
    )
    c = _client(rec)
    with caplog.at_level("DEBUG", logger="kraken_tui"):
        with pytest.raises(AuthenticationError) as ei:
            await c.open_orders()
        await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("1")))
    authent = rec.requests[0].headers["Authent"]
    text = caplog.text + str(ei.value) + repr(ei.value) + repr(c.__dict__)
    assert caplog.records  # something was logged at all
    for secret in (SECRET, authent):
        assert secret not in text


async def test_priority_reads_spend_the_reserve_and_plain_reads_wait():
    clock = [0.0]

    async def sleep(s: float) -> None:
        clock[0] += s

    limiter = RateLimiter(budget=500, window_s=10, reserve=100, clock=lambda: clock[0], sleep=sleep)
    c = KrakenRestClient(
        httpx.AsyncClient(transport=httpx.MockTransport(Recorder({
            "/derivatives/api/v3/openpositions": [httpx.Response(200, json={**OK, "openPositions": []})],
            "/derivatives/api/v3/openorders": [httpx.Response(200, json={**OK, "openOrders": []})],
        }))), "https://futures.kraken.com", CREDS,
        config=ClientConfig(), sleep=_nosleep, rate_limit=limiter,
    )  # fmt: skip
    await limiter.acquire(400)  # down to the reserve
    await c.open_positions(priority=True)
    await c.open_orders(priority=True)
    assert clock[0] == 0.0  # flatten's reads went straight through on the reserve
    await c.open_orders()
    assert clock[0] > 0.0  # a plain read waited for the bucket to refill above the reserve


_wire_text = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.characters(blacklist_categories=("Cs",)),
                     max_size=40)


@given(st.lists(st.tuples(_wire_text, _wire_text), max_size=6))
def test_encode_params_percent_encodes_exactly_like_quote(pairs):
    """The unreserved-only shortcut leaves the bytes as ``quote(..., safe="")`` would write them."""
    assert encode_params(pairs) == "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    assert encode_params([("cliOrdId", "a+b/c= d~_.-é")]) == "cliOrdId=a%2Bb%2Fc%3D%20d~_.-%C3%A9"


async def test_every_signed_request_is_signed_over_its_own_bytes_and_a_bad_secret_never_sends():
    rec = Recorder({"/derivatives/api/v3/openorders": [httpx.Response(200, json={**OK, "openOrders": []})]})
    c = _client(rec)
    await c.open_orders()
    await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("1"), limit_price=Decimal(5),
                                    cli_ord_id="a+b/c"))
    await c.cancel_order(order_id="o-1")
    for req in rec.requests:
        post = req.url.query.decode() + req.content.decode()
        assert req.headers["Authent"] == sign_rest(SECRET, post, req.headers["Nonce"], req.url.path)
    assert len({r.headers["Nonce"] for r in rec.requests}) == 3
    bad = Credentials(api_key=SecretStr("k"), api_secret=SecretStr("not*base64"), source="test")
    rec2 = Recorder()
    c2 = _client(rec2, creds=bad)
    for _ in range(2):  # refused each time, not only the first
        with pytest.raises(AuthenticationError, match="not valid base64"):
            await c2.open_orders()
    assert rec2.requests == []


async def test_send_order_gives_a_fresh_cli_ord_id_per_order_and_keeps_a_given_one():
    rec = Recorder()
    c = _client(rec)
    req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("1"), limit_price=Decimal(5))
    results = [await c.send_order(req) for _ in range(2)]
    sent = [dict(_sent(r))["cliOrdId"] for r in rec.requests]
    assert [r.cli_ord_id for r in results] == sent and sent[0] != sent[1]
    assert all(str(uuid.UUID(s, version=4)) == s for s in sent)
    own = await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("1"),
                                          limit_price=Decimal(5), cli_ord_id="mine"))
    assert own.cli_ord_id == "mine" == dict(_sent(rec.requests[-1]))["cliOrdId"]
