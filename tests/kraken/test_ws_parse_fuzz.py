"""hypothesis: random and mutated WS messages never crash parse_ws_message; failures are ProtocolErrors
that name the feed and the field (spec §7, rules: "bad input -> a clear typed error")."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.ws_parse import parse_ws_message

VALID = [
    {"event": "info", "version": 1},
    {"event": "subscribed", "feed": "book", "product_ids": ["PI_XBTUSD"]},
    {"event": "challenge", "message": "226aee50-88fc-4618-a42a-34f7709570b2"},
    {"feed": "heartbeat", "time": 1534262350627},
    {"feed": "ticker", "product_id": "PI_XBTUSD", "time": 1676393235406, "bid": 1.5, "ask": 2.0,
     "relative_funding_rate": -1e-6, "funding_rate": -6e-11, "next_funding_rate_time": 1676394000000,
     "markPrice": 1.7, "index": 1.6, "suspended": False, "tag": "perpetual"},
    {"feed": "ticker_lite", "product_id": "PI_XBTUSD", "bid": 34932, "ask": 34949.5, "volume": 1},
    {"feed": "trade", "product_id": "PI_XBTUSD", "uid": "u", "side": "sell", "type": "fill", "seq": 1,
     "time": 1612266317519, "qty": 15000, "price": 34969.5},
    {"feed": "trade_snapshot", "product_id": "PI_XBTUSD", "trades": [
        {"uid": "u", "side": "buy", "seq": 2, "time": 1, "qty": 1, "price": 2}]},
    {"feed": "book_snapshot", "product_id": "PI_XBTUSD", "timestamp": 1, "seq": 3,
     "bids": [{"price": 1.0, "qty": 2}], "asks": [{"price": 2.0, "qty": 0}]},
    {"feed": "book", "product_id": "PI_XBTUSD", "side": "buy", "seq": 4, "price": 1.5, "qty": 0, "timestamp": 1},
    {"feed": "open_orders", "order": {"instrument": "PI_XBTUSD", "time": 1, "last_update_time": 1, "qty": 3,
     "filled": 0, "limit_price": 10, "stop_price": 0, "type": "limit", "order_id": "o", "direction": 0,
     "reduce_only": False}, "is_cancel": False, "reason": "new_placed_order_by_user"},
    {"feed": "open_orders", "order_id": "o", "is_cancel": True, "reason": "cancelled_by_user"},
    {"feed": "open_orders_snapshot", "account": "a", "orders": []},
    {"feed": "fills", "username": "u", "fills": [{"instrument": "PF_ETHUSD", "time": 1, "price": 3162.0, "seq": 1,
     "buy": True, "qty": 0.001, "order_id": "o", "fill_id": "f", "fill_type": "taker", "fee_paid": 0.001581,
     "fee_currency": "USD"}]},
    {"feed": "open_positions", "account": "a", "positions": [{"instrument": "PF_LTCUSD", "balance": -0.5,
     "entry_price": 70.53, "liquidation_threshold": 0}], "seq": 0, "timestamp": 1},
    {"feed": "balances", "account": "a", "holding": {"USD": 1}, "flex_futures": {
        "balance_value": 1, "portfolio_value": 1, "collateral_value": 1, "initial_margin": 0,
        "maintenance_margin": 0, "pnl": 0, "unrealized_funding": 0, "margin_equity": 1, "available_margin": 1,
        "currencies": {"USD": {"quantity": 1}}}},
]  # fmt: skip

json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = sorted(
    {k for m in VALID for k in m} | {"price", "qty", "seq", "side", "direction", "instrument"}
)


def _check(msg) -> None:
    try:
        parse_ws_message(msg)
    except ProtocolError as exc:
        assert exc.source.startswith("ws")
        if isinstance(msg, dict) and (isinstance(msg.get("feed"), str) or isinstance(msg.get("event"), str)):
            name = msg.get("event") if isinstance(msg.get("event"), str) else msg["feed"]
            assert name in exc.source  # names the feed/event
            assert exc.field  # and the field


def test_valid_examples_parse():
    for msg in VALID:
        parse_ws_message(msg)


@settings(max_examples=300, deadline=None)
@given(json_value)
def test_random_json_never_crashes(value):
    _check(value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ticker", "book", "book_snapshot", "trade", "fills", "open_orders", "open_positions",
                        "balances", "heartbeat", "trade_snapshot", "ticker_lite", "open_orders_snapshot"]),
       st.dictionaries(st.sampled_from(FIELD_NAMES), json_value, max_size=8))  # fmt: skip
def test_random_fields_of_known_feeds(feed, fields):
    _check({**fields, "feed": feed})


def _paths(obj, prefix=()):
    """Every (path, container, key) in a nested JSON value."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield prefix + (k,), obj, k
        yield from _paths(v, prefix + (k,))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(range(len(VALID))), st.data())
def test_mutated_valid_messages(index, data):
    msg = copy.deepcopy(VALID[index])
    paths = list(_paths(msg))
    _, container, key = data.draw(st.sampled_from(paths))
    action = data.draw(st.sampled_from(["delete", "replace"]))
    if action == "delete" or key in ("feed", "event"):
        if isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
    else:
        container[key] = data.draw(json_value)
    _check(msg)


def test_a_mutation_names_the_nested_field():
    msg = copy.deepcopy(VALID[13])  # fills
    msg["fills"][0]["price"] = "NaN"
    try:
        parse_ws_message(msg)
    except ProtocolError as exc:
        assert exc.source == "ws feed fills" and exc.field == "fills[0].price"
    else:
        raise AssertionError("NaN price accepted")
