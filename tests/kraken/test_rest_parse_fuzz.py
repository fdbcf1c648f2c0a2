"""Hypothesis: random and mutated REST bodies never crash the parsers; they return a value or raise
ProtocolError (or a typed ExchangeError) naming the endpoint (spec §10: bad input is a typed error)."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.errors import ExchangeError, ProtocolError
from kraken_tui.kraken import rest_parse as P
from kraken_tui.kraken import rest_parse_account as PA
from kraken_tui.kraken import rest_parse_orders as PO
from kraken_tui.kraken.rest_errors import check_response

EP = "/derivatives/api/v3/fuzz"

ORDER = {
    "orderId": "o",
    "cliOrdId": None,
    "type": "lmt",
    "symbol": "PF_XBTUSD",
    "side": "buy",
    "quantity": 1,
    "filled": 0,
    "limitPrice": 9400,
    "reduceOnly": False,
    "timestamp": "2019-09-05T16:33:50.734Z",
}
SAMPLES = {
    "instruments": (
        lambda b: P.parse_instruments(b, EP),
        {
            "instruments": [
                {
                    "symbol": "PF_ETHUSD",
                    "type": "flexible_futures",
                    "tickSize": 0.1,
                    "contractSize": 1,
                    "contractValueTradePrecision": 3,
                    "marginLevels": [
                        {"numNonContractUnits": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}
                    ],
                }
            ]
        },
    ),
    "tickers": (
        lambda b: P.parse_tickers(b, EP),
        {
            "tickers": [
                {
                    "symbol": "PF_DOGEUSD",
                    "markPrice": "0.096",
                    "fundingRate": "-0.0000007",
                    "bid": "0.09",
                    "suspended": False,
                    "lastTime": "2026-02-08T17:32:13.922599Z",
                }
            ]
        },
    ),
    "funding": (
        lambda b: P.parse_funding_rates(b, EP, "PF_XBTUSD"),
        {
            "rates": [
                {
                    "timestamp": "2022-06-28T00:00:00.000Z",
                    "fundingRate": -8.1e-10,
                    "relativeFundingRate": -0.0000168,
                }
            ]
        },
    ),
    "candles": (
        lambda b: P.parse_candles(b, EP),
        {
            "candles": [
                {"time": 1731715200000, "open": "1", "high": "2", "low": "0.5", "close": "1.5", "volume": "3"}
            ],
            "more_candles": True,
        },
    ),
    "log": (
        lambda b: P.parse_account_log(b, EP),
        {
            "logs": [
                {
                    "id": 2,
                    "date": "2026-08-10T16:00:00.000Z",
                    "asset": "usd",
                    "info": "funding rate change",
                    "contract": "pf_xrpusd",
                    "funding_rate": 5.44e-06,
                    "realized_funding": 0.0116,
                    "old_balance": 1.0,
                }
            ]
        },
    ),
    "accounts": (
        lambda b: PA.parse_accounts(b, EP),
        {
            "accounts": {
                "flex": {
                    "type": "multiCollateralMarginAccount",
                    "currencies": {"USD": {"quantity": 1}},
                    "initialMargin": 0,
                    "maintenanceMargin": 0,
                    "balanceValue": 1,
                    "portfolioValue": 1,
                    "collateralValue": 1,
                    "pnl": 0,
                    "availableMargin": 1,
                    "marginEquity": 1,
                }
            }
        },
    ),
    "positions": (
        lambda b: PA.parse_open_positions(b, EP),
        {
            "openPositions": [
                {
                    "side": "long",
                    "symbol": "PF_LTCUSD",
                    "price": "68.54",
                    "fillTime": "2024-02-06T22:24:34.849Z",
                    "size": "0.1",
                    "unrealizedFunding": "-0.0018",
                }
            ]
        },
    ),
    "orders": (
        lambda b: PA.parse_open_orders(b, EP),
        {
            "openOrders": [
                {
                    "order_id": "a",
                    "symbol": "PF_LTCUSD",
                    "side": "buy",
                    "orderType": "stop",
                    "stopPrice": "50",
                    "unfilledSize": "0.1",
                    "filledSize": "0",
                    "triggerSignal": "spot",
                    "receivedTime": "2025-10-21T08:42:03Z",
                }
            ]
        },
    ),
    "fills": (
        lambda b: PA.parse_fills(b, EP),
        {
            "fills": [
                {
                    "fill_id": "f",
                    "symbol": "PF_LTCUSD",
                    "side": "buy",
                    "order_id": "o",
                    "size": "0.1",
                    "price": "68.54",
                    "fillTime": "2024-02-06T22:24:34.849Z",
                    "fillType": "taker",
                }
            ]
        },
    ),
    "sendStatus": (
        lambda b: PO.parse_order_result(b, EP),
        {
            "status": "placed",
            "order_id": "o",
            "orderEvents": [
                {"type": "PLACE", "order": ORDER},
                {
                    "type": "EXECUTION",
                    "executionId": "e",
                    "price": 1,
                    "amount": 1,
                    "orderPriorExecution": ORDER,
                },
                {
                    "type": "PLACE",
                    "orderTrigger": {
                        "uid": "t",
                        "symbol": "pi_xbtusd",
                        "side": "buy",
                        "quantity": 1,
                        "triggerPrice": 3.0,
                        "triggerSide": "trigger_above",
                        "triggerSignal": "last_price",
                    },
                },
            ],
        },
    ),
    "cancelAll": (
        lambda b: PO.parse_cancel_all(b, EP),
        {"cancelStatus": {"status": "cancelled", "cancelledOrders": [{"order_id": "a"}], "orderEvents": []}},
    ),
    "dms": (
        lambda b: PO.parse_dead_man_switch(b, EP),
        {"status": {"currentTime": "2018-06-19T16:51:23.839Z", "triggerTime": "2018-06-19T16:52:23.839Z"}},
    ),
    "ordersStatus": (
        lambda b: PO.parse_orders_status(b, EP),
        {"orders": [{"order": ORDER, "status": "ENTERED_BOOK", "error": None}]},
    ),
    "leverage": (
        lambda b: PA.parse_leverage_preferences(b, EP),
        {"leveragePreferences": [{"symbol": "PF_XBTUSD", "maxLeverage": 10}]},
    ),
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=8,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _mutate(sample, path, value, delete):
    body = copy.deepcopy(sample)
    if not path:
        return value
    parent = body
    for k in path[:-1]:
        parent = parent[k]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


def _check(parse, body):
    try:
        parse(body)
    except ProtocolError as exc:
        assert EP in exc.source
    except ExchangeError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), st.data(), json_values, st.booleans())
def test_mutated_bodies_never_crash(name, data, value, delete):
    parse, sample = SAMPLES[name]
    parse(copy.deepcopy(sample))  # the unmutated sample parses
    path = data.draw(st.sampled_from(list(_paths(sample))))
    _check(parse, _mutate(sample, path, value, delete))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), json_values)
def test_random_bodies_never_crash(name, body):
    _check(SAMPLES[name][0], body)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(100, 599),
    st.one_of(st.binary(max_size=40), json_values.map(lambda v: json.dumps(v).encode())),
)
def test_check_response_never_crashes(status, content):
    try:
        check_response(EP, status, {}, content)
    except ExchangeError as exc:
        assert exc.endpoint == EP or getattr(exc, "source", None) == EP


BAD_VALUES = [
    None,
    5,
    -1,
    0,
    "x",
    "",
    "1e999",
    [],
    [1],
    {},
    {"a": 1},
    True,
    float("nan"),
    float("inf"),
    1e300,
]


def test_every_field_of_every_sample_with_every_bad_value():
    """Systematic sweep: each path of each sample replaced by each bad value, or deleted."""
    n = 0
    for parse, sample in SAMPLES.values():
        for path in _paths(sample):
            for value in BAD_VALUES:
                _check(parse, _mutate(sample, path, value, delete=False))
                n += 1
            _check(parse, _mutate(sample, path, None, delete=True))
    assert n > 1000
