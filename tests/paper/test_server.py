"""The paper exchange over loopback with raw signed httpx requests and websockets (spec §2-§4, §6, §7)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from kraken_tui.domain import Side
from kraken_tui.kraken.auth import sign_challenge, sign_rest
from kraken_tui.paper.faults import Faults
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer

from .helpers import T0, make_exchange, quote


@pytest.fixture
async def server():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    srv = PaperServer(ex, ticker_interval_s=0, heartbeat_interval_s=0.2)
    await srv.start()
    yield srv
    await srv.stop()


_nonce = iter(range(1, 10**9))


async def call(srv, method, path, query="", body="", key=PAPER_API_KEY, secret=PAPER_API_SECRET, sign=True, nonce=None):
    nonce = str(next(_nonce)) if nonce is None else nonce
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers.update(APIKey=key, Nonce=nonce, Authent=sign_rest(secret, query + body, nonce, path))
    url = srv.rest_url + path + (f"?{query}" if query else "")
    async with httpx.AsyncClient() as c:
        r = await c.request(method, url, content=body.encode(), headers=headers)
    return r


async def test_public_instruments_and_tickers(server):
    r = await call(server, "GET", "/derivatives/api/v3/instruments", sign=False)
    body = r.json()
    assert body["result"] == "success" and "serverTime" in body
    xbt = next(i for i in body["instruments"] if i["symbol"] == "PF_XBTUSD")
    assert xbt["type"] == "flexible_futures" and xbt["contractValueTradePrecision"] == 4
    assert xbt["marginLevels"][0] == {"numNonContractUnits": 0.0, "initialMargin": 0.01, "maintenanceMargin": 0.005}
    pi = next(i for i in body["instruments"] if i["symbol"] == "PI_XBTUSD")
    assert "contracts" in pi["marginLevels"][0]
    t = (await call(server, "GET", "/derivatives/api/v3/tickers/pf_xbtusd", sign=False)).json()
    assert t["ticker"]["markPrice"] == "50000" and t["ticker"]["bid"] == "49990"
    bad = (await call(server, "GET", "/derivatives/api/v3/tickers/PF_NOPEUSD", sign=False)).json()
    assert bad == {"result": "error", "serverTime": bad["serverTime"], "error": "contractNotFound"}


async def test_auth_errors_use_krakens_strings(server):
    p = "/derivatives/api/v3/openpositions"
    assert (await call(server, "GET", p, sign=False)).json()["error"] == "authenticationError"
    wrong = "c2VjcmV0LXRoYXQtaXMtd3Jvbmc="
    r = await call(server, "GET", p, secret=wrong)
    assert r.status_code == 200 and r.json()["error"] == "authenticationError"
    assert (await call(server, "GET", p, key="other")).json()["error"] == "authenticationError"
    assert (await call(server, "GET", p, nonce="777")).json()["result"] == "success"
    assert (await call(server, "GET", p, nonce="777")).json()["error"] == "nonceDuplicate"
    # signing the decoded instead of the url-encoded parameters is refused (spec §2.2)
    q = urlencode({"symbol": "PF_XBTUSD", "side": "buy", "size": "0.1", "orderType": "mkt", "cliOrdId": "a b+/="})
    headers = {"APIKey": PAPER_API_KEY, "Nonce": "5", "Authent": sign_rest(
        PAPER_API_SECRET, q.replace("+", " "), "5", "/derivatives/api/v3/sendorder")}
    async with httpx.AsyncClient() as c:
        r = await c.post(server.rest_url + "/derivatives/api/v3/sendorder?" + q, headers=headers)
    assert r.json()["error"] == "authenticationError"


async def test_missing_arguments_come_before_auth_and_unknown_paths_are_json_404(server):
    r = await call(server, "POST", "/derivatives/api/v3/sendorder", sign=False)
    assert r.json()["error"] == "requiredArgumentMissing"
    r = await call(server, "GET", "/derivatives/api/v3/nope", sign=False)
    assert r.status_code == 404 and r.json()["error"] == "Not Found"


async def test_sendorder_from_query_and_from_body(server):
    q = "orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.1&cliOrdId=q%2B1"
    r = (await call(server, "POST", "/derivatives/api/v3/sendorder", query=q)).json()
    st = r["sendStatus"]
    assert st["status"] == "placed" and st["cliOrdId"] == "q+1"
    ev = st["orderEvents"][0]
    assert ev["type"] == "EXECUTION" and ev["price"] == 50010.0 and ev["amount"] == 0.1
    assert ev["orderPriorExecution"]["type"] == "ioc" and ev["orderPriorExecution"]["limitPrice"] == 50510.0
    body = "orderType=lmt&symbol=PF_XBTUSD&side=sell&size=0.1&limitPrice=51000"
    st = (await call(server, "POST", "/derivatives/api/v3/sendorder", body=body)).json()["sendStatus"]
    assert st["status"] == "placed" and st["orderEvents"][0]["type"] == "PLACE"
    oo = (await call(server, "GET", "/derivatives/api/v3/openorders")).json()["openOrders"]
    assert oo[0]["order_id"] == st["order_id"] and oo[0]["status"] == "untouched" and oo[0]["unfilledSize"] == "0.1"
    pos = (await call(server, "GET", "/derivatives/api/v3/openpositions")).json()["openPositions"]
    assert pos[0]["side"] == "long" and pos[0]["size"] == "0.1" and pos[0]["price"] == "50010"
    fills = (await call(server, "GET", "/derivatives/api/v3/fills")).json()["fills"]
    assert fills[0]["fillType"] == "taker" and fills[0]["cliOrdId"] == "q+1"
    acc = (await call(server, "GET", "/derivatives/api/v3/accounts")).json()["accounts"]["flex"]
    # balance 10 000 - fee 2.5005; uPnL at mark 50 000 = (50 000 - 50 010) x 0.1 = -1
    assert acc["balanceValue"] == pytest.approx(9997.4995) and acc["pnl"] == pytest.approx(-1.0)
    assert acc["marginEquity"] == pytest.approx(9996.4995)
    # IM 0.1 x 50 010 x 1% = 50.01
    assert acc["initialMargin"] == pytest.approx(50.01)
    assert acc["availableMargin"] == pytest.approx(9996.4995 - 50.01)


async def test_bad_order_input_gets_kraken_statuses(server):
    async def send(q):
        return (await call(server, "POST", "/derivatives/api/v3/sendorder", query=q)).json()

    assert (await send("orderType=mkt&symbol=PF_NOPEUSD&side=buy&size=1"))["error"] == "contractNotFound"
    assert (await send("orderType=xyz&symbol=PF_XBTUSD&side=buy&size=1"))["sendStatus"]["status"] == "invalidOrderType"
    assert (await send("orderType=mkt&symbol=PF_XBTUSD&side=up&size=1"))["sendStatus"]["status"] == "invalidSide"
    assert (await send("orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.00001"))["sendStatus"]["status"] == "invalidSize"
    assert (await send("orderType=mkt&symbol=PF_XBTUSD&side=buy&size=abc"))["sendStatus"]["status"] == "invalidSize"
    r = await send("orderType=lmt&symbol=PF_XBTUSD&side=buy&size=1&limitPrice=100.5")
    assert r["sendStatus"]["status"] == "invalidPrice"
    r = await call(server, "POST", "/derivatives/api/v3/batchorder", body="json=%7Bnot-json")
    assert r.json()["error"] == "Json Parse Error"


async def test_batchorder_mixed_send_edit_cancel(server):
    send = await call(server, "POST", "/derivatives/api/v3/sendorder",
                      query="orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.1&limitPrice=49000")
    oid = send.json()["sendStatus"]["order_id"]
    batch = {"batchOrder": [
        {"order": "send", "order_tag": "1", "orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": 0.2,
         "limitPrice": 48000, "cliOrdId": "b1"},
        {"order": "edit", "order_id": oid, "limitPrice": 48500},
        {"order": "cancel", "cliOrdId": "b1"},
        {"order": "cancel", "order_id": "00000000-0000-0000-0000-000000000000"},
        {"order": "wat"},
    ]}
    body = urlencode({"json": json.dumps(batch)})
    st = (await call(server, "POST", "/derivatives/api/v3/batchorder", body=body)).json()["batchStatus"]
    assert [s["status"] for s in st] == ["placed", "edited", "cancelled", "notFound", "requiredArgumentMissing"]
    assert st[0]["order_tag"] == "1" and "dateTimeReceived" in st[0]


async def test_cancel_all_after_orders_status_and_account_log(server):
    r = (await call(server, "POST", "/derivatives/api/v3/cancelallordersafter", query="timeout=60")).json()
    assert r["status"]["triggerTime"] != "0"
    r = (await call(server, "POST", "/derivatives/api/v3/cancelallordersafter", query="timeout=0")).json()
    assert r["status"]["triggerTime"] == "0"
    s = (await call(server, "POST", "/derivatives/api/v3/sendorder",
                    query="orderType=lmt&symbol=PF_XBTUSD&side=buy&size=0.1&limitPrice=49000&cliOrdId=x1")).json()
    oid = s["sendStatus"]["order_id"]
    st = (await call(server, "POST", "/derivatives/api/v3/orders/status", body=f"orderIds={oid}&cliOrdIds=x1")).json()
    assert [o["status"] for o in st["orders"]] == ["ENTERED_BOOK", "ENTERED_BOOK"]
    ca = (await call(server, "POST", "/derivatives/api/v3/cancelallorders", body="symbol=PF_XBTUSD")).json()
    assert ca["cancelStatus"]["status"] == "cancelled" and ca["cancelStatus"]["cancelOnly"] == "PF_XBTUSD"
    await call(server, "POST", "/derivatives/api/v3/sendorder", query="orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.1")
    log = (await call(server, "GET", "/api/history/v3/account-log", query="sort=asc&count=10")).json()
    assert "result" not in log and [e["info"] for e in log["logs"]] == ["futures trade", "futures trade"]
    assert log["logs"][0]["id"] == 1 and log["logs"][0]["fee"] == pytest.approx(2.5005)


async def test_charts_and_funding_rates(server):
    ex = server.exchange
    quote(ex, T0 + 61_000, bid=50_100, ask=50_120, mark=50_110, last=50_110, trade=1)
    r = (await call(server, "GET", "/api/charts/v1/mark/PF_XBTUSD/1m", sign=False)).json()
    assert [c["close"] for c in r["candles"]] == ["50000", "50110"] and r["more_candles"] is False
    assert r["candles"][0]["time"] == T0
    r = await call(server, "GET", "/api/charts/v1/index/PF_XBTUSD/1m", sign=False)
    assert r.status_code == 400 and r.text == "Invalid tick type"
    assert (await call(server, "GET", "/api/charts/v1/", sign=False)).json() == ["mark", "spot", "trade"]
    r = (await call(server, "GET", "/derivatives/api/v4/historicalfundingrates", query="symbol=PF_XBTUSD",
                    sign=False)).json()
    assert r["result"] == "success" and r["rates"] == []


async def test_faults_5xx_429_and_lost_response():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    srv = PaperServer(ex, faults=Faults(http_429_rate=1.0))
    await srv.start()
    try:
        r = await call(srv, "GET", "/derivatives/api/v3/instruments", sign=False)
        assert r.status_code == 429 and r.json()["error"] == "apiLimitExceeded"
        srv.faults = Faults(http_5xx_rate=1.0)
        assert (await call(srv, "GET", "/derivatives/api/v3/instruments", sign=False)).status_code == 503
        srv.faults = Faults(lost_response_rate=1.0)
        with pytest.raises(httpx.HTTPError):
            await call(srv, "POST", "/derivatives/api/v3/sendorder", query="orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.1")
        assert ex.positions["PF_XBTUSD"].size > 0  # accepted although the answer was lost
    finally:
        await srv.stop()


async def _recv(ws, feed, wait_s=2.0):
    async def loop():
        while True:
            m = json.loads(await ws.recv())
            if m.get("feed") == feed or m.get("event") == feed:
                return m
    return await asyncio.wait_for(loop(), wait_s)


async def test_ws_public_book_seq_and_private_feeds(server):
    ex = server.exchange
    async with websockets.connect(server.ws_url) as ws:
        assert json.loads(await ws.recv()) == {"event": "info", "version": 1}
        await ws.send(json.dumps({"event": "subscribe", "feed": "book", "product_ids": ["pf_xbtusd"]}))
        assert (await _recv(ws, "subscribed"))["product_ids"] == ["PF_XBTUSD"]
        snap = await _recv(ws, "book_snapshot")
        assert snap["bids"][0] == {"price": 49990.0, "qty": 10.0} and len(snap["bids"]) > 1  # multi-level
        bids = {b["price"]: b["qty"] for b in snap["bids"]}
        quote(ex, T0 + 2000, bid=49_995, ask=50_010)
        seq = snap["seq"]
        while True:
            try:
                d = await _recv(ws, "book", wait_s=0.3)
            except TimeoutError:
                break
            assert d["seq"] == seq + 1  # contiguous
            seq = d["seq"]
            if d["side"] == "buy":
                if d["qty"] == 0:
                    bids.pop(d["price"])
                else:
                    bids[d["price"]] = d["qty"]
        assert sorted(bids.items(), reverse=True) == list(ex.book_levels("PF_XBTUSD")[0])
        assert max(bids) == 49_995.0 and bids[49_995.0] == 10.0
        await ws.send(json.dumps({"event": "challenge", "api_key": PAPER_API_KEY}))
        challenge = (await _recv(ws, "challenge"))["message"]
        bad = {"event": "subscribe", "feed": "fills", "api_key": PAPER_API_KEY, "original_challenge": challenge,
               "signed_challenge": sign_challenge("c2VjcmV0LXRoYXQtaXMtd3Jvbmc=", challenge)}
        await ws.send(json.dumps(bad))
        assert (await _recv(ws, "error"))["message"] == "authenticationError"
        snaps = {}
        for feed in ("fills", "open_orders", "open_positions", "balances"):
            await ws.send(json.dumps({**bad, "feed": feed, "signed_challenge": sign_challenge(PAPER_API_SECRET, challenge)}))
            assert (await _recv(ws, "subscribed"))["feed"] == feed
            snap = json.loads(await ws.recv())
            snaps[snap["feed"]] = snap
        assert snaps["fills_snapshot"]["fills"] == [] and snaps["open_orders_snapshot"]["orders"] == []
        assert snaps["balances_snapshot"]["flex_futures"]["margin_equity"] == 10_000
        ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1", "cliOrdId": "w1"})
        f = (await _recv(ws, "fills"))["fills"][0]
        assert f["cli_ord_id"] == "w1" and f["fill_type"] == "taker" and f["fee_paid"] == pytest.approx(0.50010 * 5)
        pos = await _recv(ws, "open_positions")
        while not pos["positions"]:
            pos = await _recv(ws, "open_positions")
        assert pos["positions"][0]["balance"] == 0.1
        bal = await _recv(ws, "balances")
        # equity = 10 000 - fee 2.5005 + uPnL (mark 50 000 - entry 50 010) x 0.1 = 9 996.4995
        assert bal["flex_futures"]["margin_equity"] == pytest.approx(9996.4995)
        await ws.send("not json")
        assert (await _recv(ws, "error"))["message"] == "Json Error"
        await ws.send(json.dumps({"event": "subscribe", "feed": "nope"}))
        assert (await _recv(ws, "error"))["message"] == "Invalid feed"
        await ws.send(json.dumps({"event": "ping"}))
        assert (await _recv(ws, "alert"))["message"] == "Bad websocket message"


async def test_ws_batched_frames_arrive_whole_and_in_order(server):
    """Messages queued together leave corked in one segment; each is still one text frame, in order."""
    ex = server.exchange
    async with websockets.connect(server.ws_url) as ws:
        assert json.loads(await ws.recv()) == {"event": "info", "version": 1}
        await ws.send(json.dumps({"event": "subscribe", "feed": "trade", "product_ids": ["PF_XBTUSD"]}))
        await _recv(ws, "subscribed")
        await _recv(ws, "trade_snapshot")
        for i in range(50):  # 50 trade prints queued before the writer runs
            quote(ex, T0 + 3000 + i, last=50_000.0 + i, trade=0.1, side=Side.BUY)
        got = [json.loads(await ws.recv()) for _ in range(50)]
        assert [m["feed"] for m in got] == ["trade"] * 50
        assert [m["price"] for m in got] == [50_000.0 + i for i in range(50)]
        assert [m["seq"] for m in got] == list(range(got[0]["seq"], got[0]["seq"] + 50))
        assert len({m["uid"] for m in got}) == 50
