"""The core trading endpoints over loopback after the scripted trading sequence: each response's shape against
the spec's example (docs/kraken-futures-api.md §4, §6) and ccxt's capture where one exists, its values against the
paper account's state; and a registry proving every route of the coverage table has such a test."""

from __future__ import annotations

import importlib
import json
from datetime import datetime
from decimal import Decimal

import pytest

from kraken_tui.paper.routes import ROUTES
from kraken_tui.paper.server import PaperServer

from .helpers import T0, call, make_exchange, scripted_sequence
from .shapes import assert_shape, ccxt_response

V3 = "/derivatives/api/v3/"
D = Decimal

# spec examples (docs/kraken-futures-api.md), trimmed of "…" placeholders
SPEC_INSTRUMENT = {"symbol": "PF_ETHUSD", "type": "flexible_futures", "tickSize": 0.1, "contractSize": 1,
                   "tradeable": True, "impactMidSize": 1.5, "maxPositionSize": 16000.0,
                   "openingDate": "2022-03-22T13:18:45Z",
                   "marginLevels": [{"numNonContractUnits": 0.0, "initialMargin": 0.02, "maintenanceMargin": 0.01}],
                   "fundingRateCoefficient": 24, "maxRelativeFundingRate": 0.0025,
                   "contractValueTradePrecision": 3, "postOnly": False, "base": "ETH", "quote": "USD",
                   "pair": "ETH:USD"}  # §4.2
SPEC_ORDER = {"orderId": "", "type": "lmt", "symbol": "PI_XBTUSD", "side": "buy", "quantity": 10000, "filled": 0,
              "limitPrice": 9400, "reduceOnly": False, "timestamp": "", "lastUpdateTimestamp": ""}  # §4.10
SPEC_SEND = {"result": "success", "serverTime": "", "sendStatus": {"order_id": "", "status": "placed",
                                                                   "receivedTime": "",
                                                                   "orderEvents": [{"type": "PLACE",
                                                                                    "order": SPEC_ORDER}]}}
SPEC_CANDLES = {"candles": [{"time": 1731715200000, "open": "91069", "high": "91373.5", "low": "90956",
                             "close": "91045.5", "volume": "319499"}], "more_candles": False}  # §6
SPEC_RATES = {"result": "success", "serverTime": "", "rates": [
    {"timestamp": "2022-06-28T00:00:00.000Z", "fundingRate": -8.15861558e-10,
     "relativeFundingRate": -0.000016898883333333}]}  # §4.5
FLEX_FIELDS = ("type", "currencies", "initialMargin", "initialMarginWithOrders", "maintenanceMargin", "balanceValue",
               "portfolioValue", "collateralValue", "pnl", "unrealizedFunding", "totalUnrealized",
               "totalUnrealizedAsMargin", "availableMargin", "marginEquity")  # §4.6 table


def _tickers_example():
    got = ccxt_response("fetchFundingRates")
    if got is not None:
        return got
    return {"result": "success", "serverTime": "", "tickers": [
        {"symbol": "PF_DOGEUSD", "last": "0.096326", "tag": "perpetual", "markPrice": "0.0962", "bid": "0.096",
         "ask": "0.097", "fundingRate": "-0.0000007", "suspended": False, "indexPrice": "0.096", "postOnly": False}]}


@pytest.fixture
async def srv():
    ex = make_exchange()
    tp_id, stop_id = scripted_sequence(ex)
    bid = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1",
                         "limitPrice": "49000", "cliOrdId": "bid-1"})
    assert bid.status == "placed"
    server = PaperServer(ex)
    server.ids = {"tp": tp_id, "stop": stop_id, "bid": bid.order_id}
    await server.start()
    yield server
    await server.stop()


async def test_instruments_and_tickers(srv):
    ex = srv.exchange
    r = (await call(srv, "GET", V3 + "instruments", sign=False)).json()
    assert_shape({"result": "success", "serverTime": "", "instruments": [SPEC_INSTRUMENT]}, r)
    assert {i["symbol"] for i in r["instruments"]} == set(ex.instruments)
    xbt = next(i for i in r["instruments"] if i["symbol"] == "PF_XBTUSD")
    assert D(str(xbt["tickSize"])) == ex.instruments["PF_XBTUSD"].tick_size
    t = (await call(srv, "GET", V3 + "tickers", sign=False)).json()
    example = _tickers_example()
    assert_shape(example, t)
    row = next(x for x in t["tickers"] if x["symbol"] == "PF_XBTUSD")
    assert (D(row["bid"]), D(row["ask"]), D(row["markPrice"]), D(row["last"])) == (50_600, 50_620, 50_610, 50_610)
    market = ex.markets["PF_XBTUSD"]
    assert D(row["fundingRate"]) == pytest.approx(D(str(market.charged_rates[T0][1])), rel=D("1e-6"))
    one = (await call(srv, "GET", V3 + "tickers/PF_XBTUSD", sign=False)).json()
    assert_shape({"result": "success", "serverTime": "", "ticker": example["tickers"][0]}, one)
    assert one["ticker"] == row | {k: one["ticker"][k] for k in ("lastTime",) if k in row}


async def test_charts_listings_and_candles(srv):
    assert (await call(srv, "GET", "/api/charts/v1", sign=False)).json() == ["mark", "spot", "trade"]
    assert (await call(srv, "GET", "/api/charts/v1/", sign=False)).json() == ["mark", "spot", "trade"]
    assert "PF_XBTUSD" in (await call(srv, "GET", "/api/charts/v1/trade", sign=False)).json()
    c = (await call(srv, "GET", "/api/charts/v1/trade/PF_XBTUSD/1h", f"from={T0 // 1000}&to={T0 // 1000 + 3599}",
                    sign=False)).json()
    assert_shape(SPEC_CANDLES, c)
    first = c["candles"][0]
    assert first["time"] == T0
    # trade candles are the market source's prints (one of 1.0 at 50610 in the first hour); mark candles its marks
    assert (D(first["open"]), D(first["high"]), D(first["low"]), D(first["close"])) == (50_610,) * 4
    assert D(first["volume"]) == 1
    m = (await call(srv, "GET", "/api/charts/v1/mark/PF_XBTUSD/1h", f"from={T0 // 1000}&to={T0 // 1000 + 3599}",
                    sign=False)).json()["candles"][0]
    assert (D(m["open"]), D(m["high"]), D(m["low"]), D(m["close"]), D(m["volume"])) == (50_000, 50_610, 50_000,
                                                                                         50_610, 0)
    assert (await call(srv, "GET", "/api/charts/v1/index", sign=False)).status_code == 400


async def test_funding_rates_documented_path(srv):
    r = (await call(srv, "GET", V3 + "historical-funding-rates", "symbol=PF_XBTUSD", sign=False)).json()
    assert_shape(SPEC_RATES, r)
    charged = srv.exchange.markets["PF_XBTUSD"].charged_rates[T0]
    row = next(x for x in r["rates"] if datetime.fromisoformat(x["timestamp"]).timestamp() * 1000 == T0)
    assert (row["relativeFundingRate"], row["fundingRate"]) == pytest.approx(charged)


async def test_accounts(srv):
    ex = srv.exchange
    r = (await call(srv, "GET", V3 + "accounts")).json()
    flex = r["accounts"]["flex"]
    assert_shape({"result": "success", "serverTime": "", "accounts": {"flex": {k: flex[k] for k in FLEX_FIELDS}}}, r)
    assert flex["type"] == "multiCollateralMarginAccount"
    usd = ex.balances.quantities["usd"]
    assert D(str(flex["currencies"]["USD"]["quantity"])) == usd if "USD" in flex["currencies"] else True
    assert D(str(flex["balanceValue"])) == pytest.approx(usd)
    # unrealised P&L of the 0.3 long from 50010 at mark 50610
    assert flex["pnl"] == pytest.approx(0.3 * 600)
    assert flex["portfolioValue"] == pytest.approx(float(usd) + 0.3 * 600 + flex["unrealizedFunding"])
    assert flex["initialMargin"] > 0 and flex["initialMarginWithOrders"] > flex["initialMargin"]


async def test_openpositions(srv):
    r = (await call(srv, "GET", V3 + "openpositions")).json()
    example = ccxt_response("fetchPositions") or {"result": "success", "serverTime": "", "openPositions": [
        {"side": "long", "symbol": "PF_LTCUSD", "price": "68.54", "fillTime": "", "size": "0.1"}]}
    assert_shape(example, r)
    pos = srv.exchange.positions["PF_XBTUSD"]
    [row] = r["openPositions"]
    assert (row["symbol"], row["side"], D(str(row["size"])), D(str(row["price"]))) == ("PF_XBTUSD", "long",
                                                                                       pos.size, pos.entry_price)
    assert (pos.size, pos.entry_price) == (D("0.3"), D(50_010))


async def test_openorders_and_orders_status(srv):
    r = (await call(srv, "GET", V3 + "openorders")).json()
    example = ccxt_response("fetchOpenOrders") or {"result": "success", "serverTime": "", "openOrders": [
        {"order_id": "", "symbol": "PF_LTCUSD", "side": "buy", "orderType": "lmt", "limitPrice": "50",
         "unfilledSize": "0.1", "receivedTime": "", "status": "untouched", "filledSize": "0", "reduceOnly": False}]}
    assert_shape(example, r)
    [row] = r["openOrders"]
    assert (row["order_id"], row["cliOrdId"], D(str(row["limitPrice"])), D(str(row["unfilledSize"]))) == (
        srv.ids["bid"], "bid-1", 49_000, D("0.1"))
    assert set(srv.exchange.open_orders) == {srv.ids["bid"]}
    s = (await call(srv, "POST", V3 + "orders/status", f"orderIds={srv.ids['bid']}&orderIds=nope")).json()
    assert_shape({"result": "success", "serverTime": "", "orders": [
        {"order": {"type": "ORDER", "orderId": "", "symbol": "", "side": "", "quantity": 1, "filled": 0,
                   "limitPrice": 1, "reduceOnly": False, "timestamp": "", "lastUpdateTimestamp": ""},
         "status": "ENTERED_BOOK", "updateReason": None, "error": None}]}, s)
    [o] = s["orders"]
    assert (o["order"]["orderId"], o["status"], o["order"]["cliOrdId"]) == (srv.ids["bid"], "ENTERED_BOOK", "bid-1")


async def test_fills(srv):
    r = (await call(srv, "GET", V3 + "fills")).json()
    example = ccxt_response("fetchMyTrades") or {"result": "success", "serverTime": "", "fills": [
        {"fill_id": "", "symbol": "", "side": "buy", "order_id": "", "size": "0.1", "price": "68.54", "fillTime": "",
         "fillType": "taker"}]}
    assert_shape(example, r)
    ours = srv.exchange.fills
    # newest first: the maker sell of the take-profit, then the taker buy
    assert [(x["fill_id"], x["side"], D(str(x["size"])), D(str(x["price"])), x["fillType"]) for x in r["fills"]] == [
        (f.fill_id, f.side.value, f.size, f.price, f.fill_type) for f in reversed(ours)]
    assert [x["fillType"] for x in r["fills"]] == ["maker", "taker"]
    assert r["fills"][0]["order_id"] == srv.ids["tp"] and r["fills"][0]["cliOrdId"] == "tp-1"
    older = (await call(srv, "GET", V3 + "fills", f"lastFillTime={r['fills'][0]['fillTime']}")).json()
    assert [x["fill_id"] for x in older["fills"]] == [r["fills"][1]["fill_id"]]


async def test_sendorder_editorder_cancelorder(srv):
    ex = srv.exchange
    s = (await call(srv, "POST", V3 + "sendorder",
                    "orderType=lmt&symbol=PF_XBTUSD&side=sell&size=0.05&limitPrice=52000&cliOrdId=ask-1")).json()
    assert_shape(SPEC_SEND, s)
    oid = s["sendStatus"]["order_id"]
    assert ex.open_orders[oid].limit_price == D(52_000) and ex.open_orders[oid].size == D("0.05")
    ev = s["sendStatus"]["orderEvents"][0]["order"]
    assert (ev["orderId"], ev["cliOrdId"], ev["side"], ev["quantity"], ev["limitPrice"]) == (oid, "ask-1", "sell",
                                                                                              0.05, 52_000)
    e = (await call(srv, "POST", V3 + "editorder", f"orderId={oid}&limitPrice=51900&size=0.04")).json()
    assert_shape({"result": "success", "serverTime": "", "editStatus": {
        "status": "edited", "orderId": "", "receivedTime": "",
        "orderEvents": [{"type": "EDIT", "old": SPEC_ORDER, "new": SPEC_ORDER}]}}, e)
    assert e["editStatus"]["orderEvents"][0]["new"]["limitPrice"] == 51_900
    assert (ex.open_orders[oid].limit_price, ex.open_orders[oid].size) == (D(51_900), D("0.04"))
    c = (await call(srv, "POST", V3 + "cancelorder", f"order_id={oid}")).json()
    assert_shape({"result": "success", "serverTime": "", "cancelStatus": {
        "status": "cancelled", "order_id": "", "receivedTime": "",
        "orderEvents": [{"type": "CANCEL", "uid": "", "order": SPEC_ORDER}]}}, c)
    assert oid not in ex.open_orders and c["cancelStatus"]["order_id"] == oid
    nf = (await call(srv, "POST", V3 + "cancelorder", f"order_id={oid}")).json()
    assert nf["cancelStatus"]["status"] == "notFound"


async def test_batchorder(srv):
    ex = srv.exchange
    batch = {"batchOrder": [
        {"order": "send", "order_tag": "1", "orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": 0.01,
         "limitPrice": 48_000},
        {"order": "edit", "order_id": srv.ids["bid"], "size": 0.2, "limitPrice": 48_500},
        {"order": "cancel", "order_id": "e35d61dd-0000"}]}
    from urllib.parse import quote as q

    r = (await call(srv, "POST", V3 + "batchorder", body="json=" + q(json.dumps(batch)))).json()
    assert_shape({"result": "success", "serverTime": "", "batchStatus": [
        {"status": "placed", "order_tag": "1", "order_id": "", "dateTimeReceived": "",
         "orderEvents": [{"type": "PLACE", "order": SPEC_ORDER}]}]}, r)
    placed, edited, missing = r["batchStatus"]
    assert (placed["status"], edited["status"], missing["status"]) == ("placed", "edited", "notFound")
    assert ex.open_orders[placed["order_id"]].limit_price == D(48_000)
    assert ex.open_orders[srv.ids["bid"]].limit_price == D(48_500) and ex.open_orders[srv.ids["bid"]].size == D("0.2")


async def test_cancelallorders_and_cancelallordersafter(srv):
    ex = srv.exchange
    a = (await call(srv, "POST", V3 + "cancelallordersafter", "timeout=60")).json()
    assert_shape({"result": "success", "serverTime": "", "status": {"currentTime": "", "triggerTime": ""}}, a)
    cur, trig = (datetime.fromisoformat(a["status"][k]) for k in ("currentTime", "triggerTime"))
    assert (trig - cur).total_seconds() == 60 and cur.timestamp() * 1000 == ex.now_ms
    off = (await call(srv, "POST", V3 + "cancelallordersafter", "timeout=0")).json()
    assert off["status"]["triggerTime"] == "0"
    c = (await call(srv, "POST", V3 + "cancelallorders", "symbol=PF_XBTUSD")).json()
    assert_shape({"result": "success", "serverTime": "", "cancelStatus": {
        "receivedTime": "", "cancelOnly": "PF_XBTUSD", "status": "cancelled",
        "cancelledOrders": [{"order_id": "", "cliOrdId": ""}], "orderEvents": [{"type": "CANCEL", "uid": ""}]}}, c)
    assert c["cancelStatus"]["cancelledOrders"] == [{"order_id": srv.ids["bid"], "cliOrdId": "bid-1"}]
    assert not ex.open_orders
    again = (await call(srv, "POST", V3 + "cancelallorders")).json()
    assert again["cancelStatus"]["status"] == "noOrdersToCancel" and again["cancelStatus"]["cancelOnly"] == "all"


async def test_leverage_preferences(srv):
    ex = srv.exchange
    put = (await call(srv, "PUT", V3 + "leveragepreferences", "symbol=PF_XBTUSD&maxLeverage=10")).json()
    assert put["result"] == "success"
    r = (await call(srv, "GET", V3 + "leveragepreferences")).json()
    assert_shape({"result": "success", "serverTime": "",
                  "leveragePreferences": [{"symbol": "PF_XBTUSD", "maxLeverage": 10}]}, r)
    assert r["leveragePreferences"] == [{"symbol": "PF_XBTUSD", "maxLeverage": 10}]
    assert ex.leverage_preferences["PF_XBTUSD"] == D(10)
    back = (await call(srv, "PUT", V3 + "leveragepreferences", "symbol=PF_XBTUSD")).json()
    assert back["result"] == "success" and "PF_XBTUSD" not in ex.leverage_preferences


@pytest.mark.parametrize("version", ["v2", "v3"])
async def test_account_log(srv, version):
    ex = srv.exchange
    r = (await call(srv, "GET", f"/api/history/{version}/account-log", "sort=asc")).json()
    example = ccxt_response("fetchLedger") or {"accountUid": "", "logs": [
        {"asset": "usd", "booking_uid": "", "contract": "pf_xrpusd", "date": "", "execution": None, "fee": None,
         "funding_rate": 5.44e-06, "id": 2, "info": "funding rate change", "margin_account": "flex",
         "mark_price": 1.01013, "new_balance": 1068.0355, "old_balance": 1068.0239, "realized_funding": 0.0116,
         "realized_pnl": None, "trade_price": None}]}
    assert_shape(example, r)
    assert "result" not in r
    assert [(x["id"], x["info"]) for x in r["logs"]] == [(e.id, e.info) for e in ex.account_log]
    funding_row = next(x for x in r["logs"] if x["info"] == "funding rate change")
    entry = next(e for e in ex.account_log if e.info == "funding rate change")
    assert D(str(funding_row["realized_funding"])) == entry.realized_funding
    assert D(str(funding_row["new_balance"])) == entry.new_balance
    trades = [x for x in r["logs"] if x["info"] == "futures trade"]
    assert {x["asset"] for x in trades} == {"usd", "pf_xbtusd"}  # cash leg and position-size leg
    page = (await call(srv, "GET", f"/api/history/{version}/account-log", "sort=desc&count=1")).json()
    assert [x["id"] for x in page["logs"]] == [ex.account_log[-1].id]


# Every route of the coverage table -> the loopback test(s) that check its shape and values.
ENDPOINT_TESTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", V3 + "instruments"): ("test_endpoints_core::test_instruments_and_tickers",),
    ("GET", V3 + "tickers"): ("test_endpoints_core::test_instruments_and_tickers",),
    ("GET", V3 + "tickers/*"): ("test_endpoints_core::test_instruments_and_tickers",),
    ("GET", V3 + "instruments/status"): ("test_endpoints::test_instrument_status_and_fee_schedules",),
    ("GET", V3 + "instruments/*/status"): ("test_endpoints::test_instrument_status_and_fee_schedules",),
    ("GET", V3 + "orderbook"): ("test_endpoints::test_orderbook_and_public_trade_history",
                                "test_book::test_ws_book_seq_is_contiguous_over_a_minute_of_synthetic_market_and_matches_rest"),
    ("GET", V3 + "history"): ("test_endpoints::test_orderbook_and_public_trade_history",),
    ("GET", V3 + "feeschedules"): ("test_endpoints::test_instrument_status_and_fee_schedules",),
    ("GET", "/derivatives/api/v4/historicalfundingrates"): (
        "test_endpoints::test_funding_history_holds_the_rate_charged",
        "test_endpoints::test_synthetic_run_serves_a_seeded_funding_backfill_then_the_rates_charged"),
    ("GET", V3 + "historical-funding-rates"): ("test_endpoints_core::test_funding_rates_documented_path",),
    ("GET", "/api/history/v3/market/*/executions"): (
        "test_endpoints::test_market_executions_pages_with_continuation_token",),
    ("GET", "/api/charts/v1/analytics/*/*"): ("test_endpoints::test_analytics",),
    ("GET", "/api/charts/v1/**"): ("test_endpoints_core::test_charts_listings_and_candles",),
    ("GET", "/api/charts/v1"): ("test_endpoints_core::test_charts_listings_and_candles",),
    ("GET", V3 + "accounts"): ("test_endpoints_core::test_accounts",),
    ("GET", V3 + "openpositions"): ("test_endpoints_core::test_openpositions",),
    ("GET", V3 + "openorders"): ("test_endpoints_core::test_openorders_and_orders_status",),
    ("GET", V3 + "fills"): ("test_endpoints_core::test_fills",),
    ("POST", V3 + "sendorder"): ("test_endpoints_core::test_sendorder_editorder_cancelorder",),
    ("POST", V3 + "editorder"): ("test_endpoints_core::test_sendorder_editorder_cancelorder",),
    ("POST", V3 + "cancelorder"): ("test_endpoints_core::test_sendorder_editorder_cancelorder",),
    ("POST", V3 + "cancelallorders"): ("test_endpoints_core::test_cancelallorders_and_cancelallordersafter",),
    ("POST", V3 + "cancelallordersafter"): ("test_endpoints_core::test_cancelallorders_and_cancelallordersafter",),
    ("POST", V3 + "batchorder"): ("test_endpoints_core::test_batchorder",),
    ("POST", V3 + "orders/status"): ("test_endpoints_core::test_openorders_and_orders_status",),
    ("GET", V3 + "leveragepreferences"): ("test_endpoints_core::test_leverage_preferences",),
    ("PUT", V3 + "leveragepreferences"): ("test_endpoints_core::test_leverage_preferences",),
    ("GET", V3 + "pnlpreferences"): ("test_endpoints::test_pnl_preferences_notifications_unwindqueue_initialmargin",),
    ("PUT", V3 + "pnlpreferences"): ("test_endpoints::test_pnl_preferences_notifications_unwindqueue_initialmargin",),
    ("GET", V3 + "feeschedules/volumes"): ("test_endpoints::test_instrument_status_and_fee_schedules",),
    ("GET", V3 + "notifications"): ("test_endpoints::test_pnl_preferences_notifications_unwindqueue_initialmargin",),
    ("GET", V3 + "unwindqueue"): ("test_endpoints::test_pnl_preferences_notifications_unwindqueue_initialmargin",
                                  "test_rules::test_bankrupt_position_is_assigned_at_the_bankruptcy_price_and_the_unwind_queue_reads"),
    ("POST", V3 + "transfer"): ("test_endpoints::test_transfer_moves_funds_and_logs_it",),
    ("GET", V3 + "initialmargin"): ("test_endpoints::test_pnl_preferences_notifications_unwindqueue_initialmargin",),
    ("GET", "/api/history/v3/account-log"): ("test_endpoints_core::test_account_log",),
    ("GET", "/api/history/v2/account-log"): ("test_endpoints_core::test_account_log",),
    ("GET", "/api/history/v2/accountlogcsv"): ("test_endpoints::test_account_log_csv",),
    ("GET", "/api/history/v2/orders"): ("test_endpoints::test_history_orders_triggers_executions_positions",),
    ("GET", "/api/history/v2/triggers"): ("test_endpoints::test_history_orders_triggers_executions_positions",),
    ("GET", "/api/history/v2/executions"): ("test_endpoints::test_history_orders_triggers_executions_positions",),
    ("GET", "/api/history/v3/orders"): ("test_endpoints_core::test_history_v3_reads_as_v2",),
    ("GET", "/api/history/v3/triggers"): ("test_endpoints_core::test_history_v3_reads_as_v2",),
    ("GET", "/api/history/v3/executions"): ("test_endpoints_core::test_history_v3_reads_as_v2",),
    ("GET", "/api/history/v3/positions"): ("test_endpoints::test_history_orders_triggers_executions_positions",),
}


async def test_history_v3_reads_as_v2(srv):
    for kind in ("orders", "triggers", "executions"):
        v2 = (await call(srv, "GET", f"/api/history/v2/{kind}", "sort=asc")).json()
        v3 = (await call(srv, "GET", f"/api/history/v3/{kind}", "sort=asc")).json()
        assert_shape({"accountUid": "", "len": "", "elements": [{"uid": "", "timestamp": "1761036123057", "event": {}}]},
                     v3)
        assert v3["elements"] == v2["elements"] and v3["elements"], kind
    ex_ = (await call(srv, "GET", "/api/history/v3/executions", "sort=asc")).json()
    assert [e["event"]["Execution"]["execution"]["uid"] for e in ex_["elements"]] == [
        f.fill_id for f in srv.exchange.fills]


def test_every_route_of_the_coverage_table_has_a_loopback_test():
    routes = {(r.method, r.pattern) for r in ROUTES}
    assert set(ENDPOINT_TESTS) == routes, (sorted(routes - set(ENDPOINT_TESTS)), sorted(set(ENDPOINT_TESTS) - routes))
    for key, tests in ENDPOINT_TESTS.items():
        for name in tests:
            module, func = name.split("::")
            mod = importlib.import_module(f"tests.paper.{module}")
            assert callable(getattr(mod, func, None)), (key, name)
