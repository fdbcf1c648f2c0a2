"""Exchange rules a client meets: rate-limit budgets with Kraken's errors, nonce checks."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from kraken_tui.kraken.ratelimit import DERIVATIVES_COSTS, account_log_cost, batch_cost
from kraken_tui.paper.nonces import WINDOW, NonceGuard
from kraken_tui.paper.ratelimit import ServerBudget, request_cost
from kraken_tui.paper.routes import ROUTES, resolve
from kraken_tui.paper.server import PaperServer, Request

from .helpers import T0, D, call, make_exchange, quote

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
    from pydantic import SecretStr

    from kraken_tui.config import Credentials
    from kraken_tui.domain import OrderRequest, OrderType, Side
    from kraken_tui.kraken.rest import KrakenRestClient
    from kraken_tui.kraken.rest_http import new_session
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
        async with new_session() as http:
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


async def _send(srv, query):
    return (await call(srv, "POST", V3 + "sendorder", query)).json()["sendStatus"]


async def test_order_rules_answer_krakens_status_words():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    ex.apply_event(__import__("kraken_tui.paper.sources.base", fromlist=["MarketTick"]).MarketTick(
        "PF_XBTUSD", T0 + 1500, bid=49_990.0, ask=50_010.0, bid_size=0.5, ask_size=0.5, mark_price=50_000.0,
        index_price=50_000.0, depth=(((49_990.0, 0.5), (49_980.0, 0.5)), ((50_010.0, 0.5), (50_020.0, 0.5)))))
    srv = PaperServer(ex)
    await srv.start()
    try:
        sym = "symbol=PF_XBTUSD"
        # fok: 1.5 > the 1.0 on the asks up to 50 020 -> refused whole; 0.8 fills across two levels
        st = await _send(srv, f"orderType=fok&{sym}&side=buy&size=1.5&limitPrice=50020")
        assert st["status"] == "iocWouldNotExecute" and not ex.fills
        st = await _send(srv, f"orderType=fok&{sym}&side=buy&size=0.8&limitPrice=50020")
        assert st["status"] == "placed" and [e["type"] for e in st["orderEvents"]] == ["EXECUTION", "EXECUTION"]
        assert ex.positions["PF_XBTUSD"].size == D("0.8")
        # wouldNotReducePosition: a reduce-only buy on a long
        st = await _send(srv, f"orderType=lmt&{sym}&side=buy&size=0.1&limitPrice=49000&reduceOnly=true")
        assert st["status"] == "wouldNotReducePosition"
        # postWouldExecute
        st = await _send(srv, f"orderType=post&{sym}&side=sell&size=0.1&limitPrice=49980")
        assert st["status"] == "postWouldExecute"
        # selfFill: a resting sell at 50 100, then a buy limit reaching it
        assert (await _send(srv, f"orderType=lmt&{sym}&side=sell&size=0.1&limitPrice=50100"))["status"] == "placed"
        st = await _send(srv, f"orderType=lmt&{sym}&side=buy&size=0.1&limitPrice=50100")
        assert st["status"] == "selfFill" and st["orderEvents"][0]["reason"] == "SELF_FILL"
        assert (await _send(srv, f"orderType=lmt&{sym}&side=buy&size=0.1&limitPrice=50000"))["status"] != "selfFill"
        # insufficientAvailableFunds: 100 BTC on 10 000 USD
        st = await _send(srv, f"orderType=lmt&{sym}&side=buy&size=100&limitPrice=40000")
        assert st["status"] == "insufficientAvailableFunds"
        # marketSuspended, with a notice
        ex.suspend_market("PF_XBTUSD", True)
        assert (await _send(srv, f"orderType=mkt&{sym}&side=sell&size=0.1"))["status"] == "marketSuspended"
        notes = (await call(srv, "GET", V3 + "notifications")).json()["notifications"]
        assert notes[-1]["type"] == "market" and "suspended" in notes[-1]["note"]
        ex.suspend_market("PF_XBTUSD", False)
        assert (await _send(srv, f"orderType=mkt&{sym}&side=sell&size=0.1"))["status"] == "selfFill"  # own bid
        ex.cancel_all()
        assert (await _send(srv, f"orderType=mkt&{sym}&side=sell&size=0.1"))["status"] == "placed"
    finally:
        await srv.stop()


def test_too_many_small_orders():
    from kraken_tui.paper.entry import MAX_SMALL_ORDERS

    ex = make_exchange()
    quote(ex, T0 + 1000)
    for i in range(MAX_SMALL_ORDERS):
        out = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.0001",
                             "limitPrice": str(40_000 + i)})
        assert out.status == "placed"
    out = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.0001",
                         "limitPrice": "39000"})
    assert out.status == "tooManySmallOrders"
    big = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.01",
                         "limitPrice": "39000"})
    assert big.status == "placed"


def test_trailing_stop_follows_the_price_and_fires():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1"})
    bad = ex.send_order({"orderType": "trailing_stop", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.1",
                         "trailingStopMaxDeviation": "60"})
    assert bad.status == "invalidArgument"
    out = ex.send_order({"orderType": "trailing_stop", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.1",
                         "trailingStopMaxDeviation": "1", "trailingStopDeviationUnit": "PERCENT", "reduceOnly": "true"})
    assert out.status == "placed"
    order = ex.open_orders[out.order_id]
    assert order.stop_price == D(49_500)  # 1 % under mark 50 000
    quote(ex, T0 + 2000, bid=50_990, ask=51_010, mark=51_000)
    assert order.stop_price == D(50_490)  # followed the mark up
    quote(ex, T0 + 3000, bid=50_590, ask=50_610, mark=50_600)
    assert order.stop_price == D(50_490)  # never back down
    quote(ex, T0 + 4000, bid=50_470, ask=50_490, mark=50_480)
    assert out.order_id not in ex.open_orders and "PF_XBTUSD" not in ex.positions  # fired, closed the long
    usd = ex.send_order({"orderType": "trailing_stop", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1",
                         "trailingStopMaxDeviation": "250", "trailingStopDeviationUnit": "QUOTE_CURRENCY"})
    assert ex.open_orders[usd.order_id].stop_price == D(50_730)  # 250 USD above mark 50 480


async def test_bankrupt_position_is_assigned_at_the_bankruptcy_price_and_the_unwind_queue_reads():
    ex = make_exchange()  # 10 000 USD
    ex.assignment_stage = True
    quote(ex, T0 + 1000, bid_size=100.0, ask_size=100.0)
    ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "2"})  # ~100 000 USD long
    pos = ex.positions["PF_XBTUSD"]
    entry, balance = pos.entry_price, ex.balances.quantities["usd"]
    srv = PaperServer(ex)
    await srv.start()
    try:
        q = (await call(srv, "GET", V3 + "unwindqueue")).json()["queue"]
        assert q == [{"symbol": "PF_XBTUSD", "percentile": 20}]  # not in profit: back of the queue
        # the market gaps 10 % down: equity = balance + 2 x (45 000 - entry) < 0
        quote(ex, T0 + 2000, bid=44_990, ask=45_010, mark=45_000)
    finally:
        await srv.stop()
    assert "PF_XBTUSD" not in ex.positions
    fill = ex.fills[-1]
    assert fill.fill_type == "assignor"
    # bankruptcy price: 45 000 - equity / 2, rounded up to the tick; the balance ends at 0 .. one tick x 2
    equity = balance + 2 * (D(45_000) - entry)
    assert equity < 0 and fill.price == (D(45_000) - equity / 2).to_integral_value(rounding="ROUND_CEILING")
    assert D(0) <= ex.balances.quantities["usd"] < D(2)
    assert ex.account_log[-1].info == "futures assignor"
