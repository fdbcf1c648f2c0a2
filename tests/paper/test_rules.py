"""Exchange rules a client meets: rate-limit budgets with Kraken's errors, nonce checks."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from kraken_tui.kraken.ratelimit import DERIVATIVES_COSTS, account_log_cost, batch_cost
from kraken_tui.paper.nonces import WINDOW, NonceGuard
from kraken_tui.paper.ratelimit import ServerBudget, request_cost
from kraken_tui.paper.routes import ROUTES, resolve
from kraken_tui.paper.server import PaperServer, Request

from .helpers import T0, call, make_exchange, paper_client, quote

V3 = "/derivatives/api/v3/"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _cost(method, path, pairs=()):
    found = resolve(method, path)
    return request_cost(found.route, Request(path, list(pairs)))


def test_server_costs_are_the_clients_costs():
    names = {"leveragepreferences_get": ("GET", "leveragepreferences"),
             "leveragepreferences_put": ("PUT", "leveragepreferences"), "fills_paged": ("GET", "fills")}
    for name, cost in DERIVATIVES_COSTS.items():
        method, path = names.get(name, ("POST" if name in ("sendorder", "editorder", "cancelorder", "cancelallorders",
                                                          "cancelallordersafter", "orders/status") else "GET", name))
        pairs = [("lastFillTime", "2024-01-01T00:00:00.000Z")] if name == "fills_paged" else []
        assert _cost(method, V3 + path, pairs) == cost, name
    batch = json.dumps({"batchOrder": [{"order": "cancel", "order_id": "x"}] * 4})
    assert _cost("POST", V3 + "batchorder", [("json", batch)]) == batch_cost(4) == 13
    for count in (None, "10", "50", "500", "2000", "9000"):
        pairs = [("count", count)] if count else []
        assert _cost("GET", "/api/history/v3/account-log", pairs) == account_log_cost(int(count) if count else None)
    assert _cost("GET", V3 + "unwindqueue") == 200
    assert all(r.cost == 0 for r in ROUTES if not r.private)


def test_budget_refills_like_the_clients_bucket():
    clock = Clock()
    b = ServerBudget(clock)
    for _ in range(50):
        assert b.charge("k", "derivatives", 10) is None
    assert b.charge("k", "derivatives", 10) == 1  # 10 points refill in 0.2 s -> hint rounded up to 1 s
    assert b.charge("other", "derivatives", 10) is None  # per key
    clock.t += 0.2
    assert b.charge("k", "derivatives", 10) is None
    assert b.charge("k", "derivatives", 200) == 4  # 200 points at 50/s
    for _ in range(33):
        assert b.charge("k", "history", 3) is None
    assert b.charge("k", "history", 3) == 12  # 2 tokens missing at 1 token / 6 s


def test_nonce_guard():
    g = NonceGuard()
    assert g.check("k", "100") is None
    assert g.check("k", "100") == "nonceDuplicate"
    assert g.check("k", "99") is None  # out of order inside the window
    for n in range(200, 200 + WINDOW):
        assert g.check("k", str(n)) is None
    assert g.check("k", "150") == "nonceBelowThreshold"
    assert g.check("k", str(200 + WINDOW // 2) + "5") is None  # a larger nonce is fine
    assert g.check("other", "1") is None


async def test_over_budget_gets_krakens_error_with_a_retry_hint():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    srv = PaperServer(ex)
    await srv.start()
    try:
        answers = [await call(srv, "GET", V3 + "unwindqueue") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert answers[2].json() == {"result": "error", "serverTime": answers[2].json()["serverTime"],
                                     "error": "apiLimitExceeded"}
        assert 1 <= int(answers[2].headers["Retry-After"]) <= 10
        public = await call(srv, "GET", V3 + "tickers", sign=False)
        assert public.status_code == 200  # public endpoints cost nothing
        hist = [await call(srv, "GET", "/api/history/v2/account-log", "count=9000") for _ in range(11)]
        assert [r.status_code for r in hist][-1] == 429
        assert hist[-1].headers["content-type"].startswith("text/plain")
        assert int(hist[-1].headers["rate-limit-reset"]) > 0
    finally:
        await srv.stop()


async def test_nonce_errors_over_loopback():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    srv = PaperServer(ex)
    await srv.start()
    try:
        assert (await call(srv, "POST", V3 + "orders/status", nonce="5000")).json()["result"] == "success"
        assert (await call(srv, "POST", V3 + "orders/status", nonce="5000")).json()["error"] == "nonceDuplicate"
        for n in range(6000, 6000 + WINDOW):
            await call(srv, "POST", V3 + "orders/status", nonce=str(n))
        r = (await call(srv, "POST", V3 + "orders/status", nonce="5500")).json()
        assert r["error"] == "nonceBelowThreshold"
    finally:
        await srv.stop()


async def test_client_backs_off_and_its_flatten_reserve_still_gets_through():
    """The project's client spends the same points as the server counts: it waits instead of exceeding (the
    server never answers 429), and the flatten's priority calls (cancel-all, positions read, reduce-only close)
    fit in the reserve right after normal calls used everything else."""
    import httpx
    from pydantic import SecretStr

    from kraken_tui.config import Credentials
    from kraken_tui.domain import OrderRequest, OrderType, Side
    from kraken_tui.kraken.rest import KrakenRestClient
    from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET

    ex = make_exchange(starting_balance_usd=1e7)
    quote(ex, T0 + 1000, bid_size=1e3, ask_size=1e3)
    srv = PaperServer(ex)
    await srv.start()
    refused = []
    orig = srv.budget.charge

    def spy(key, pool, cost):
        wait = orig(key, pool, cost)
        if wait is not None:
            refused.append((pool, cost))
        return wait

    srv.budget.charge = spy
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    try:
        async with httpx.AsyncClient() as http:
            client = KrakenRestClient(http, srv.rest_url, creds)
            await client.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("0.01")))
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            for i in range(44):  # 440 points + 10 above: more than the 400 a normal call may use
                await client.send_order(OrderRequest("PF_XBTUSD", Side.BUY if i % 2 else Side.SELL, OrderType.LIMIT,
                                                     Decimal("0.001"), limit_price=Decimal(40_000 if i % 2 else 60_000)))
            assert loop.time() - t0 > 0.5  # the client paced itself
            server_left = srv.budget.bucket(PAPER_API_KEY, "derivatives").available()
            client_left = client.rate_limit.derivatives.available()
            assert abs(server_left - client_left) < 15  # same accounting (a few ms of refill apart)
            assert client_left < 150
            t1 = loop.time()
            await client.cancel_all_orders()
            positions = await client.open_positions(priority=True)
            size = positions[0].size
            await client.send_order(OrderRequest("PF_XBTUSD", Side.SELL, OrderType.MARKET, abs(size),
                                                 reduce_only=True), priority=True)
            assert loop.time() - t1 < 0.5  # the reserve let the flatten through without waiting
    finally:
        await srv.stop()
    assert refused == []
    assert not ex.open_orders and "PF_XBTUSD" not in ex.positions
