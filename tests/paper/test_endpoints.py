"""Every endpoint added to the paper exchange, over loopback, after a scripted trading sequence: the shape
against the spec's example (and ccxt's capture where one exists) and the values against the account's state."""

from __future__ import annotations

import base64
import csv
import io
from decimal import Decimal

import pytest

from kraken_tui.paper.server import PaperServer

from .helpers import HOUR, T0, call, make_exchange, scripted_sequence
from .shapes import assert_shape, ccxt_response

V3 = "/derivatives/api/v3/"


@pytest.fixture
async def srv():
    ex = make_exchange()
    ids = scripted_sequence(ex)
    server = PaperServer(ex)
    server.ids = ids
    await server.start()
    yield server
    await server.stop()


async def test_orderbook_and_public_trade_history(srv):
    r = (await call(srv, "GET", V3 + "orderbook", "symbol=PF_XBTUSD", sign=False)).json()
    assert_shape({"result": "success", "serverTime": "", "orderBook": {"bids": [[1.0, 1.0]], "asks": [[1.0, 1.0]]}}, r)
    bids, asks = r["orderBook"]["bids"], r["orderBook"]["asks"]
    assert bids[0][0] == 50_600 and asks[0][0] == 50_620
    assert all(a[0] > b[0] for a, b in zip(bids, bids[1:], strict=False)) or len(bids) == 1
    r = (await call(srv, "GET", V3 + "orderbook", "symbol=PF_NOPEUSD", sign=False)).json()
    assert r["error"] == "contractNotFound"
    h = (await call(srv, "GET", V3 + "history", "symbol=PF_XBTUSD", sign=False)).json()
    assert_shape({"result": "success", "history": [{"time": "", "trade_id": 100, "price": 61081, "size": 25,
                                                    "side": "sell", "type": "fill", "uid": ""}], "serverTime": ""}, h)
    # newest first: the print at 50610, the maker fill of our sell at 50500 (taker bought), our taker buy
    rows = h["history"]
    assert [(t["price"], t["size"], t["side"]) for t in rows[:3]] == [(50610.0, 1.0, "buy"), (50500.0, 0.2, "buy"),
                                                                       (50010.0, 0.5, "buy")]
    assert rows[0]["trade_id"] > rows[1]["trade_id"] > rows[2]["trade_id"]
    older = (await call(srv, "GET", V3 + "history", f"symbol=PF_XBTUSD&lastTime={rows[1]['time']}",
                        sign=False)).json()["history"]
    assert [t["trade_id"] for t in older] == [rows[2]["trade_id"]]


async def test_market_executions_pages_with_continuation_token(srv):
    path = "/api/history/v3/market/PF_XBTUSD/executions"
    first = (await call(srv, "GET", path, "count=2", sign=False)).json()
    example = ccxt_response("fetchTrades")
    if example is not None:
        assert_shape(example, first)
    assert first["len"] == "2" and "result" not in first
    ex0 = first["elements"][0]["event"]["Execution"]["execution"]
    assert (ex0["price"], ex0["quantity"], ex0["takerOrder"]["direction"]) == ("50610", "1", "Buy")
    token = first["continuationToken"]
    assert base64.b64decode(token).decode().count("/") == 1
    rest = (await call(srv, "GET", path, f"count=2&continuation_token={token}", sign=False)).json()
    assert [e["event"]["Execution"]["execution"]["price"] for e in rest["elements"]] == ["50010"]
    assert "continuationToken" not in rest
    asc = (await call(srv, "GET", path, f"sort=asc&since={T0 + 1500}", sign=False)).json()
    assert [e["event"]["Execution"]["execution"]["price"] for e in asc["elements"]] == ["50500", "50610"]
    assert (await call(srv, "GET", path, "sort=sideways", sign=False)).status_code == 400


async def test_instrument_status_and_fee_schedules(srv):
    r = (await call(srv, "GET", V3 + "instruments/status", sign=False)).json()
    assert_shape({"result": "success", "serverTime": "", "instrumentStatus": [
        {"tradeable": "PF_COMPUSD", "experiencingDislocation": False, "priceDislocationDirection": None,
         "experiencingExtremeVolatility": False, "extremeVolatilityInitialMarginMultiplier": 1}]}, r)
    assert {s["tradeable"] for s in r["instrumentStatus"]} == set(srv.exchange.instruments)
    one = (await call(srv, "GET", V3 + "instruments/PF_XBTUSD/status", sign=False)).json()
    assert one["tradeable"] == "PF_XBTUSD" and one["experiencingDislocation"] is False
    fees = (await call(srv, "GET", V3 + "feeschedules", sign=False)).json()
    example = ccxt_response("fetchTradingFees")
    if example is not None:
        assert_shape({k: v for k, v in example.items() if k != "volumesByFeeSchedule"}, fees)
    tier = fees["feeSchedules"][0]["tiers"][0]
    assert (tier["makerFee"], tier["takerFee"]) == (0.02, 0.05)  # 2 / 5 bps in percent
    vol = (await call(srv, "GET", V3 + "feeschedules/volumes")).json()
    # 0.5 x 50010 + 0.2 x 50500 traded by the account
    assert vol["volumesByFeeSchedule"] == {fees["feeSchedules"][0]["uid"]: pytest.approx(0.5 * 50_010 + 0.2 * 50_500)}


async def test_analytics(srv):
    base = "/api/charts/v1/analytics/PF_XBTUSD/"
    r = (await call(srv, "GET", base + "trade-count", f"interval=3600&since={T0 // 1000}", sign=False)).json()
    assert r["errors"] == [] and r["result"]["timestamp"][0] == T0 // 1000
    assert r["result"]["data"][0] == 3  # three prints in the first hour
    f = (await call(srv, "GET", base + "funding", f"interval=3600&since={T0 // 1000}", sign=False)).json()
    assert f["result"]["data"][0] == pytest.approx(0.0001)
    assert (await call(srv, "GET", base + "open-interest", "interval=3600", sign=False)).status_code == 400
    assert (await call(srv, "GET", base + "trade-count", "interval=7", sign=False)).status_code == 400
    assert (await call(srv, "GET", base + "bogus", "interval=60", sign=False)).status_code == 400


async def test_funding_history_holds_the_rate_charged(srv):
    r = (await call(srv, "GET", "/derivatives/api/v4/historicalfundingrates", "symbol=PF_XBTUSD", sign=False)).json()
    rates = r["rates"]
    charged = srv.exchange.markets["PF_XBTUSD"].charged_rates[T0]
    first = next(x for x in rates if x["relativeFundingRate"] == 0.0001)
    assert first["fundingRate"] == pytest.approx(charged[1])
    log = [e for e in srv.exchange.account_log if e.info == "funding rate change"]
    assert float(log[0].funding_rate) == pytest.approx(first["fundingRate"])


async def test_pnl_preferences_notifications_unwindqueue_initialmargin(srv):
    assert (await call(srv, "GET", V3 + "pnlpreferences")).json()["preferences"] == []
    put = (await call(srv, "PUT", V3 + "pnlpreferences", "symbol=PF_XBTUSD&pnlPreference=BTC")).json()
    assert put["result"] == "success"
    got = (await call(srv, "GET", V3 + "pnlpreferences")).json()
    assert_shape({"preferences": [{"symbol": "PF_XBTUSD", "pnlCurrency": "BTC"}]}, got)
    assert got["preferences"] == [{"symbol": "PF_XBTUSD", "pnlCurrency": "BTC"}]
    bad = (await call(srv, "PUT", V3 + "pnlpreferences", "symbol=PF_XBTUSD&pnlPreference=DOGE")).json()
    assert bad["error"] == "invalidArgument"
    n = (await call(srv, "GET", V3 + "notifications")).json()
    assert n["result"] == "success" and n["notifications"] == []
    q = (await call(srv, "GET", V3 + "unwindqueue")).json()
    assert_shape({"result": "success", "serverTime": "", "queue": [{"symbol": "PF_XBTUSD", "percentile": 100}]}, q)
    assert [x["symbol"] for x in q["queue"]] == ["PF_XBTUSD"] and q["queue"][0]["percentile"] in (20, 40, 60, 80, 100)
    im = (await call(srv, "GET", V3 + "initialmargin", "orderType=lmt&symbol=PF_XBTUSD&side=buy&size=1&limitPrice=50000")
          ).json()
    assert im["price"] == 50_000 and im["initialMargin"] == pytest.approx(50_000 * 0.02, rel=0.5)


async def test_transfer_moves_funds_and_logs_it(srv):
    ex = srv.exchange
    usd_before = ex.balances.quantities["usd"]
    r = (await call(srv, "POST", V3 + "transfer", body="fromAccount=flex&toAccount=cash&unit=usd&amount=100")).json()
    assert r["result"] == "success"
    assert ex.balances.quantities["usd"] == usd_before - 100 and ex.cash_balances["usd"] == Decimal(100)
    assert ex.account_log[-1].info == "transfer" and ex.account_log[-1].new_balance == usd_before - 100
    errs = [
        ("fromAccount=flex&toAccount=moon&unit=usd&amount=1", "invalidAccount"),
        ("fromAccount=flex&toAccount=cash&unit=xbt&amount=1", "invalidUnit"),
        ("fromAccount=flex&toAccount=cash&unit=usd&amount=-1", "invalidAmount"),
        ("fromAccount=cash&toAccount=flex&unit=usd&amount=101", "insufficientFunds"),
        ("fromAccount=flex&toAccount=cash&unit=usd&amount=1000000", "insufficientFunds"),
    ]
    for body, err in errs:
        assert (await call(srv, "POST", V3 + "transfer", body=body)).json()["error"] == err, body


async def test_history_orders_triggers_executions_positions(srv):
    sell_id, stop_id = srv.ids
    o = (await call(srv, "GET", "/api/history/v2/orders", "sort=asc")).json()
    example = ccxt_response("fetchClosedOrders", 2)
    if example is not None:
        assert_shape({k: v for k, v in example.items() if k != "continuationToken"}, o)
    names = [next(iter(e["event"])) for e in o["elements"]]
    assert names == ["OrderPlaced", "OrderUpdated", "OrderPlaced", "OrderRejected", "OrderUpdated"]
    full = o["elements"][4]["event"]["OrderUpdated"]
    assert full["reason"] == "full_fill" and full["newOrder"]["uid"] == sell_id and full["newOrder"]["filled"] == "0.2"
    assert full["newOrder"]["clientId"] == "tp-1" and full["newOrder"]["direction"] == "Sell"
    page = (await call(srv, "GET", "/api/history/v2/orders", "count=2")).json()
    assert page["len"] == "2" and "continuationToken" in page
    nxt = (await call(srv, "GET", "/api/history/v2/orders", f"count=10&continuation_token={page['continuationToken']}")
           ).json()
    assert len(nxt["elements"]) == 3
    assert (await call(srv, "GET", "/api/history/v2/orders", "continuation_token=zz")).status_code == 400
    t = (await call(srv, "GET", "/api/history/v2/triggers")).json()
    example = ccxt_response("fetchCanceledOrders")
    if example is not None:
        assert_shape({k: v for k, v in example.items() if k != "continuationToken"}, t)
    assert [next(iter(e["event"])) for e in t["elements"]] == ["OrderTriggerCancelled", "OrderTriggerPlaced"]
    assert t["elements"][0]["event"]["OrderTriggerCancelled"]["order"]["uid"] == stop_id
    ex_ = (await call(srv, "GET", "/api/history/v2/executions", "sort=asc")).json()
    execs = [e["event"]["Execution"]["execution"] for e in ex_["elements"]]
    assert [(x["price"], x["quantity"]) for x in execs] == [("50010", "0.5"), ("50500", "0.2")]
    assert execs[0]["takerOrderData"]["positionSize"] == "0.5" and execs[1]["makerOrderData"]["positionSize"] == "0.3"
    fills = {f.fill_id: f for f in srv.exchange.fills}
    assert Decimal(execs[1]["makerOrderData"]["fee"]) == fills[execs[1]["uid"]].fee
    p = (await call(srv, "GET", "/api/history/v3/positions", "sort=asc&tradeable=PF_XBTUSD")).json()
    ups = [e["event"]["PositionUpdate"] for e in p["elements"]]
    assert [(u["positionChange"], u["oldPosition"], u["newPosition"]) for u in ups] == [("open", "0", "0.5"),
                                                                                          ("decrease", "0.5", "0.3")]
    assert Decimal(ups[1]["newAverageEntryPrice"]) == srv.exchange.positions["PF_XBTUSD"].entry_price


async def test_account_log_csv(srv):
    r = await call(srv, "GET", "/api/history/v2/accountlogcsv")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    ex = srv.exchange
    assert len(rows) == len(ex.account_log)
    assert [row["type"] for row in rows] == [e.info for e in ex.account_log]
    funding_row = next(row for row in rows if row["type"] == "funding rate change")
    entry = next(e for e in ex.account_log if e.info == "funding rate change")
    assert Decimal(funding_row["realized funding"]) == entry.realized_funding


async def test_history_api_needs_auth(srv):
    r = await call(srv, "GET", "/api/history/v2/orders", sign=False)
    assert r.json()["error"] == "authenticationError"


async def test_synthetic_run_serves_a_seeded_funding_backfill_then_the_rates_charged():
    from kraken_tui.paper.funding_backfill import BACKFILL_HOURS
    from kraken_tui.paper.sources.synthetic import SyntheticSource

    ex = make_exchange()
    src = SyntheticSource(["PF_XBTUSD"], seed=7, tick_ms=60_000, start_ms=T0 + 30 * 60_000, speed=None,
                          end_ms=T0 + 3 * HOUR)
    server = PaperServer(ex, source=src)
    await server.start()
    try:
        await server.source_done.wait()
        rates = (await call(server, "GET", "/derivatives/api/v4/historicalfundingrates", "symbol=PF_XBTUSD",
                            sign=False)).json()["rates"]
    finally:
        await server.stop()
    assert len(rates) >= BACKFILL_HOURS + 2
    assert rates[0]["timestamp"] < rates[-1]["timestamp"]
    charged = ex.markets["PF_XBTUSD"].charged_rates
    assert sorted(charged) == [T0, T0 + HOUR, T0 + 2 * HOUR]  # hours settled at T0+1h, +2h, +3h
    by_ts = {r["timestamp"]: r for r in rates}
    from kraken_tui.paper.wire import iso

    for ts, (rel, absolute) in charged.items():
        assert by_ts[iso(ts)]["relativeFundingRate"] == rel and by_ts[iso(ts)]["fundingRate"] == absolute
    # deterministic: the same seed gives the same backfill
    again = make_exchange()
    from kraken_tui.paper.funding_backfill import backfill

    backfill(again.markets["PF_XBTUSD"], T0 + 30 * 60_000, 7)
    assert again.markets["PF_XBTUSD"].funding_rates[0] == (T0 - BACKFILL_HOURS * HOUR,
                                                          rates[0]["relativeFundingRate"])
