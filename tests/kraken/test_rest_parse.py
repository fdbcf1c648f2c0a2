"""REST wire JSON -> domain models, on the real ccxt fixtures, the 2021 instruments file and the
spec's documented examples (spec §4, §12.2). Values are asserted, not just "no crash"."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kraken_tui.domain import (
    FillType,
    InstrumentType,
    OrderEventType,
    OrderStatus,
    PositionSide,
    Side,
    TriggerSignal,
)
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.rest_parse import parse_account_log, parse_candles, parse_instruments, parse_tickers
from kraken_tui.kraken.rest_parse_account import (
    parse_accounts,
    parse_fills,
    parse_leverage_preferences,
    parse_open_orders,
    parse_open_positions,
)
from kraken_tui.kraken.rest_parse_orders import (
    parse_cancel_all,
    parse_dead_man_switch,
    parse_order_result,
    parse_orders_status,
)

EP = "/test"
T_2024_02_06 = 1707258274849  # 2024-02-06T22:24:34.849Z in epoch ms


@pytest.fixture
def ccxt(shared_data):
    d = json.loads(shared_data("ccxt/krakenfutures_static_response.json").read_text())
    return lambda m: [e["httpResponse"] for e in d["methods"][m]]


def test_ccxt_fetch_my_trades_fills(ccxt):
    [body] = ccxt("fetchMyTrades")
    f1, f2 = parse_fills(body, EP)
    assert f1.fill_id == "da062bc0-5901-48a5-9bb3-34c6be3ef7a5" and f1.symbol == "PF_LTCUSD"
    assert f1.side is Side.BUY and f1.size == Decimal("0.1") and f1.price == Decimal("68.54")
    assert f1.ts_ms == T_2024_02_06 and f1.fill_type is FillType.TAKER and f1.fee is None
    assert f1.notional_usd == Decimal("6.854")  # 0.1 x 68.54
    assert f2.symbol == "PF_FTMUSD" and f2.side is Side.SELL and f2.price == Decimal("0.50008")


def test_fill_of_an_unknown_type_is_kept_as_other(ccxt):
    [body] = ccxt("fetchMyTrades")
    body = json.loads(json.dumps(body))
    body["fills"][0]["fillType"] = "someNewKind"
    f1, f2 = parse_fills(body, EP)
    assert f1.fill_type is FillType.OTHER and f1.size == Decimal("0.1") and f2.fill_type is FillType.TAKER


def test_ccxt_fetch_positions(ccxt):
    [body] = ccxt("fetchPositions")
    [p] = parse_open_positions(body, EP)
    assert p.symbol == "PF_LTCUSD" and p.side is PositionSide.LONG
    assert p.size == Decimal("0.1") and p.entry_price == Decimal("68.54") and p.ts_ms == T_2024_02_06
    assert p.unrealized_funding == Decimal("-0.001878596918214635")
    assert p.unrealized_pnl is None and p.liquidation_price is None and p.max_fixed_leverage is None


def test_ccxt_fetch_open_orders(ccxt):
    first, second = ccxt("fetchOpenOrders")
    [o] = parse_open_orders(first, EP)
    assert o.order_id == "a02a5141-5156-4f62-a992-0f879b5fc989" and o.symbol == "PF_LTCUSD"
    assert o.side is Side.BUY and o.order_type == "lmt" and o.limit_price == Decimal("50")
    assert o.size == Decimal("0.1") and o.filled == 0 and o.status == "untouched" and not o.reduce_only
    assert o.received_ts_ms == 1761036123057  # 2025-10-21T08:42:03.057503Z (µs truncated)
    [o2] = parse_open_orders(second, EP)
    assert o2.order_id == "6e88d923-630d-40aa-af4f-64e5e2b3ad03" and o2.received_ts_ms == 1707396252892


def test_ccxt_fetch_funding_rates_tickers(ccxt):
    [body] = ccxt("fetchFundingRates")
    [t] = parse_tickers(body, EP)
    assert t.symbol == "PF_DOGEUSD" and t.mark_price == pytest.approx(0.09624183255)
    assert t.bid == 0.096234 and t.ask == 0.096253 and t.bid_size == 100 and t.ask_size == 1714
    assert t.last == 0.096326 and t.index_price == 0.096257 and t.open_interest == 23062948
    assert t.volume_24h == 38320755 and not t.suspended and not t.post_only
    assert t.funding_rate_abs == pytest.approx(-7.42689179664e-7)
    # PF: relative = absolute / mark = -7.42689179664e-7 / 0.09624183255 = -7.7169e-6 (ccxt's parsed value)
    assert t.funding_rate == pytest.approx(-7.7169e-6, rel=1e-4)
    assert t.funding_rate_prediction == pytest.approx(-2.53089377012e-7 / 0.09624183255)
    assert t.ts_ms == 1770572038322  # serverTime 2026-02-08T17:33:58.322Z


def test_inverse_ticker_relative_rate_multiplies():
    body = {"ticker": {"symbol": "pi_xbtusd", "markPrice": 21984.5, "fundingRate": -6.26e-11}}
    [t] = parse_tickers(body, EP)
    # PI: relative = absolute x price = -6.26e-11 x 21984.5 = -1.3762e-6 (spec §8.3 WS doc example)
    assert t.symbol == "PI_XBTUSD" and t.funding_rate == pytest.approx(-1.3762297e-6)


def test_ccxt_fetch_ledger_account_log(ccxt):
    [body] = ccxt("fetchLedger")
    rows = parse_account_log(body, EP)
    assert [r.id for r in rows] == [9, 6, 7, 2, 1]
    trade, leg, conv, funding, transfer = rows
    assert trade.asset == "USD" and trade.contract == "PF_DOGEUSD" and trade.info == "futures trade"
    assert trade.fee == Decimal("0.0035") and trade.realized_pnl == Decimal("-0.0042")
    assert (
        trade.trade_price == Decimal("0.070914") and trade.execution == "a59b8e24-89d8-4553-a084-b2de96dba5d3"
    )
    assert leg.asset == "PF_DOGEUSD" and leg.old_balance == 100 and leg.new_balance == 0
    assert conv.asset == "USDT" and conv.contract is None and conv.new_balance == Decimal("24.98878873")
    assert funding.info == "funding rate change" and funding.ts_ms == 1786377600000  # 2026-08-10T16:00Z
    assert funding.funding_rate == Decimal("0.00000544") and funding.realized_funding == Decimal("0.0116")
    # the funding booking moved the balance by exactly realized_funding: 1068.0239 + 0.0116 = 1068.0355
    assert funding.old_balance + funding.realized_funding == funding.new_balance
    assert transfer.info == "cross-exchange transfer" and transfer.fee == 0


def test_instruments_2021_file_parses_every_contract(shared_data):
    body = json.loads(shared_data("kraken/kraken_futures_rest_instruments_2021-07-22.json").read_text())
    insts = parse_instruments(body, EP)
    # 27 rows: 17 futures_inverse contracts + 10 "spot index" rows (no tickSize; not instruments)
    assert len(insts) == 17 and all(i.type is InstrumentType.INVERSE for i in insts)
    pi = next(i for i in insts if i.symbol == "PI_XBTUSD")
    assert pi.tick_size == Decimal("0.5") and pi.lot_size == 1 and pi.contract_size == 1 and pi.base == "XBT"
    assert pi.funding_rate_coefficient == 8 and pi.max_relative_funding_rate == Decimal("0.001")
    assert len(pi.margin_levels) == 8 and pi.margin_levels[1].threshold == 500000
    assert pi.margin_levels[1].initial_margin_rate == Decimal("0.04")
    assert pi.round_price(Decimal("30000.3")) == Decimal("30000.5")
    assert any(i.symbol.startswith("FI_") for i in insts)


def test_pf_instrument_lot_from_precision_including_negative():
    body = {
        "instruments": [
            {
                "symbol": "PF_ETHUSD",
                "type": "flexible_futures",
                "tickSize": 0.1,
                "contractSize": 1,
                "contractValueTradePrecision": 3,
                "maxPositionSize": 16000.0,
                "postOnly": False,
                "marginLevels": [
                    {"numNonContractUnits": 2000000.0, "initialMargin": 0.04, "maintenanceMargin": 0.02},
                    {"numNonContractUnits": 0.0, "initialMargin": 0.02, "maintenanceMargin": 0.01},
                ],
                "fundingRateCoefficient": 24,
                "maxRelativeFundingRate": 0.0025,
                "base": "ETH",
                "quote": "USD",
            },
            {
                "symbol": "PF_PEPEUSD",
                "type": "flexible_futures",
                "tickSize": "1e-10",
                "contractValueTradePrecision": -3,
            },
        ]
    }
    eth, pepe = parse_instruments(body, EP)
    assert eth.is_linear and eth.lot_size == Decimal("0.001") and eth.max_position_size == 16000
    assert [m.threshold for m in eth.margin_levels] == [0, 2000000]  # sorted ascending
    assert pepe.lot_size == 1000 and pepe.round_size(Decimal("98123")) == 98000  # ccxt static request
    assert pepe.base == "PEPE"


def test_flex_account_and_inverse_accounts():
    body = {
        "accounts": {
            "cash": {"type": "cashAccount", "balances": {"xbt": "141.31756797"}},
            "fi_xbtusd": {
                "type": "marginAccount",
                "currency": "xbt",
                "balances": {"xbt": "141.3"},
                "auxiliary": {"usd": 0, "pv": 153.7, "pnl": 12.4, "af": 100.7},
                "marginRequirements": {"im": 52.8, "mm": 23.76, "lt": 39.6, "tt": 15.84},
            },
            "flex": {
                "type": "multiCollateralMarginAccount",
                "currencies": {
                    "USDT": {"quantity": "25", "value": 24.99, "collateral": 24.9, "available": 24}
                },
                "initialMargin": 0,
                "initialMarginWithOrders": 0,
                "maintenanceMargin": 0,
                "balanceValue": 34995.52,
                "portfolioValue": 34995.52,
                "collateralValue": 34122.66,
                "pnl": 0,
                "unrealizedFunding": 0,
                "totalUnrealized": 0,
                "totalUnrealizedAsMargin": 0,
                "availableMargin": 34122.66,
                "marginEquity": 34122.66,
            },
        }
    }
    snap = parse_accounts(body, EP)
    a = snap.flex
    assert a.balance_value_usd == Decimal("34995.52") and a.collateral_value_usd == Decimal("34122.66")
    # availableMargin = marginEquity - initialMargin = 34122.66 - 0
    assert a.available_margin_usd == a.margin_equity_usd - a.initial_margin_usd
    assert a.currencies == {"USDT": Decimal("25")} and a.margin_ratio == 0
    inv = snap.inverse["FI_XBTUSD"]
    assert (
        inv.currency == "XBT"
        and inv.portfolio_value == Decimal("153.7")
        and inv.maintenance_margin == Decimal("23.76")
    )
    assert snap.cash == {"XBT": Decimal("141.31756797")}


def test_send_status_documented_examples():
    placed = parse_order_result(
        {
            "order_id": "179f9af8",
            "status": "placed",
            "receivedTime": "2019-09-05T16:33:50.734Z",
            "orderEvents": [
                {
                    "type": "PLACE",
                    "order": {
                        "orderId": "179f9af8",
                        "type": "lmt",
                        "symbol": "PI_XBTUSD",
                        "side": "buy",
                        "quantity": 10000,
                        "filled": 0,
                        "limitPrice": 9400,
                        "reduceOnly": False,
                        "timestamp": "2019-09-05T16:33:50.734Z",
                    },
                }
            ],
        },
        EP,
        cli_ord_id="mine",
    )
    assert placed.status is OrderStatus.PLACED and placed.accepted and placed.order_id == "179f9af8"
    assert placed.cli_ord_id == "mine" and placed.events[0].order.size == 10000
    reject = parse_order_result(
        {
            "order_id": "614a5298",
            "status": "iocWouldNotExecute",
            "orderEvents": [
                {"type": "REJECT", "uid": "614a5298", "reason": "IOC_WOULD_NOT_EXECUTE", "order": None}
            ],
        },
        EP,
    )
    assert reject.status is OrderStatus.IOC_WOULD_NOT_EXECUTE and not reject.accepted
    assert (
        reject.events[0].type is OrderEventType.REJECT and reject.events[0].reason == "IOC_WOULD_NOT_EXECUTE"
    )
    assert reject.events[0].order_id == "614a5298"
    market = parse_order_result(
        {
            "status": "placed",
            "order_id": "a133a4f9",
            "receivedTime": "2026-03-02T06:10:31.954Z",
            "orderEvents": [
                {
                    "type": "EXECUTION",
                    "executionId": "403bf49f",
                    "price": 66596.0,
                    "amount": 0.001,
                    "orderPriorEdit": None,
                    "orderPriorExecution": {
                        "orderId": "a133a4f9",
                        "cliOrdId": None,
                        "type": "ioc",
                        "symbol": "PF_XBTUSD",
                        "side": "buy",
                        "quantity": 0.001,
                        "filled": 0,
                        "limitPrice": 67261.000,
                        "reduceOnly": False,
                        "timestamp": "2026-03-02T06:10:31.954Z",
                        "lastUpdateTimestamp": "2026-03-02T06:10:31.954Z",
                    },
                    "takerReducedQuantity": None,
                }
            ],
        },
        EP,
    )
    ev = market.events[0]
    assert (
        ev.type is OrderEventType.EXECUTION
        and ev.price == Decimal("66596.0")
        and ev.amount == Decimal("0.001")
    )
    assert (
        ev.execution_id == "403bf49f"
        and ev.order.order_type == "ioc"
        and market.filled_size == Decimal("0.001")
    )


def test_unknown_status_is_unrecognised_and_bad_events_keep_status():
    r = parse_order_result({"status": "someNewStatus", "orderEvents": []}, EP)
    assert r.status is OrderStatus.UNRECOGNISED and r.raw_status == "someNewStatus"
    r2 = parse_order_result({"status": "placed", "order_id": "x", "orderEvents": [{"type": "WEIRD"}]}, EP)
    assert r2.status is OrderStatus.PLACED and r2.events == () and "unknown event type" in r2.error
    with pytest.raises(ProtocolError) as ei:
        parse_order_result({"orderEvents": []}, "/derivatives/api/v3/sendorder sendStatus")
    assert ei.value.field == "status" and "sendorder" in str(ei.value)


def test_batch_trigger_event_and_edit_statuses():
    r = parse_order_result(
        {
            "status": "placed",
            "order_tag": "2",
            "order_id": "fc589be9",
            "dateTimeReceived": "2023-04-04T17:03:36.053Z",
            "orderEvents": [
                {
                    "orderTrigger": {
                        "uid": "fc589be9",
                        "clientId": None,
                        "type": "lmt",
                        "symbol": "pi_xbtusd",
                        "side": "buy",
                        "quantity": 1,
                        "limitPrice": 2.0,
                        "triggerPrice": 3.0,
                        "triggerSide": "trigger_above",
                        "triggerSignal": "last_price",
                        "reduceOnly": False,
                        "timestamp": "2023-04-04T17:03:36.053Z",
                        "lastUpdateTimestamp": "2023-04-04T17:03:36.053Z",
                        "startTime": None,
                    },
                    "type": "PLACE",
                }
            ],
        },
        EP,
    )
    o = r.events[0].order
    assert r.order_tag == "2" and r.received_ts_ms == 1680627816053
    assert (
        o.order_type == "stp"
        and o.is_trigger
        and o.stop_price == 3
        and o.trigger_signal is TriggerSignal.LAST
    )
    assert o.symbol == "PI_XBTUSD"
    edit = parse_order_result(
        {
            "status": "edited",
            "orderId": "e1",
            "orderEvents": [
                {
                    "type": "EDIT",
                    "old": {
                        "orderId": "e1",
                        "symbol": "PF_XBTUSD",
                        "side": "sell",
                        "quantity": 1,
                        "limitPrice": 10,
                    },
                    "new": {
                        "orderId": "e1",
                        "symbol": "PF_XBTUSD",
                        "side": "sell",
                        "quantity": 2,
                        "limitPrice": 11,
                    },
                }
            ],
        },
        EP,
    )
    assert (
        edit.status is OrderStatus.EDITED and edit.order_id == "e1" and edit.events[0].order.limit_price == 11
    )
    nf = parse_order_result({"status": "orderForEditNotFound", "orderId": "z", "orderEvents": []}, EP)
    assert nf.status is OrderStatus.ORDER_FOR_EDIT_NOT_FOUND


def test_cancel_all_dms_orders_status_leverage():
    ca = parse_cancel_all(
        {
            "cancelStatus": {
                "receivedTime": "2021-08-02T07:46:05.900Z",
                "cancelOnly": "all",
                "status": "cancelled",
                "cancelledOrders": [{"order_id": "a", "cliOrdId": "c1"}, {"order_id": "b"}],
                "orderEvents": [],
            }
        },
        EP,
    )
    assert (
        ca.status is OrderStatus.CANCELLED
        and ca.cancelled == (("a", "c1"), ("b", None))
        and ca.cancel_only == "all"
    )
    dms = parse_dead_man_switch(
        {"status": {"currentTime": "2018-06-19T16:51:23.839Z", "triggerTime": "2018-06-19T16:52:23.839Z"}}, EP
    )
    assert dms.trigger_ts_ms - dms.current_ts_ms == 60_000
    off = parse_dead_man_switch(
        {"status": {"currentTime": "2018-06-19T16:51:23.839Z", "triggerTime": "0"}}, EP
    )
    assert off.trigger_ts_ms is None
    [st] = parse_orders_status(
        {
            "orders": [
                {
                    "order": {
                        "type": "TRIGGER_ORDER",
                        "orderId": "o",
                        "cliOrdId": "c",
                        "symbol": "PF_XBTUSD",
                        "side": "sell",
                        "quantity": 1,
                        "filled": 0,
                        "reduceOnly": True,
                        "priceTriggerOptions": {
                            "triggerPrice": 50000,
                            "triggerSide": "TRIGGER_BELOW",
                            "triggerSignal": "MARK_PRICE",
                        },
                    },
                    "status": "TRIGGER_PLACED",
                    "updateReason": None,
                    "error": None,
                }
            ]
        },
        EP,
    )
    assert st.order.stop_price == 50000 and st.order.trigger_signal is TriggerSignal.MARK
    assert st.to_order_result().status is OrderStatus.PLACED
    [lev] = parse_leverage_preferences(
        {"leveragePreferences": [{"symbol": "pf_xbtusd", "maxLeverage": "5.00"}]}, EP
    )
    assert lev.symbol == "PF_XBTUSD" and lev.max_leverage == 5


def test_candles_strings_and_numbers():
    body = {
        "candles": [
            {
                "time": 1731718800000,
                "open": "91045.5",
                "high": "91488.5",
                "low": "91045.5",
                "close": "91415",
                "volume": 2407,
            },
            {
                "time": 1731715200000,
                "open": "91069",
                "high": "91373.5",
                "low": "90956",
                "close": "91045.5",
                "volume": "319499",
            },
        ],
        "more_candles": False,
    }
    candles, more = parse_candles(body, EP)
    assert [c.ts_ms for c in candles] == [1731715200000, 1731718800000] and more is False
    assert candles[0].volume == 319499 and candles[1].close == 91415


def test_missing_payload_keys_name_endpoint_and_field():
    with pytest.raises(ProtocolError) as ei:
        parse_open_positions({"result": "success"}, "/derivatives/api/v3/openpositions")
    assert ei.value.field == "openPositions" and ei.value.source == "/derivatives/api/v3/openpositions"
    with pytest.raises(ProtocolError) as ei:
        parse_fills(
            {
                "fills": [
                    {
                        "fill_id": "f",
                        "symbol": "PF_X",
                        "side": "buy",
                        "order_id": "o",
                        "size": "1",
                        "price": "x",
                        "fillTime": "2024-01-01T00:00:00Z",
                        "fillType": "maker",
                    }
                ]
            },
            EP,
        )
    assert ei.value.field == "price" and "fills[0]" in ei.value.source
