"""parse_ws_message on the spec's example messages (spec §7.1-§7.11), values checked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.domain import FillType, PositionSide, Side, TriggerSignal
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.ws_events import (
    BalancesEvent,
    BookDeltaEvent,
    BookSnapshotEvent,
    ChallengeEvent,
    FillsEvent,
    HeartbeatEvent,
    InfoEvent,
    OpenOrdersSnapshotEvent,
    OrderUpdateEvent,
    PositionsEvent,
    SubscriptionEvent,
    TickerEvent,
    TickerLiteEvent,
    TradeEvent,
    TradeSnapshotEvent,
    UnknownMessage,
    WsAlert,
)
from kraken_tui.kraken.ws_parse import base_feed, parse_ws_message
from kraken_tui.kraken.ws_parse_private import POST_ONLY_REJECT_REASON

# spec §7.3, verbatim
TICKER = {
    "time": 1676393235406, "product_id": "PI_XBTUSD", "funding_rate": -6.2604214e-11,
    "funding_rate_prediction": -3.65989977e-10, "relative_funding_rate": -1.380384722222e-6,
    "relative_funding_rate_prediction": -8.047629166667e-6, "next_funding_rate_time": 1676394000000,
    "feed": "ticker", "bid": 21978.5, "ask": 21987.0, "bid_size": 2536.0, "ask_size": 13948.0,
    "volume": 31403908.0, "dtm": 0, "leverage": "50x", "index": 21984.54, "premium": -0.0, "last": 21983.5,
    "change": 1.9974017538161748, "suspended": False, "tag": "perpetual", "pair": "XBT:USD",
    "openInterest": 30072580.0, "markPrice": 21979.68641534714, "maturityTime": 0, "post_only": False,
    "volumeQuote": 31403908.0, "open": 21968.5, "high": 22123.0, "low": 21456.0,
}  # fmt: skip


def test_ticker_spec_example():
    ev = parse_ws_message(TICKER)
    assert isinstance(ev, TickerEvent)
    t = ev.ticker
    assert t.symbol == "PI_XBTUSD" and t.ts_ms == 1676393235406
    # funding_rate is the RELATIVE hourly rate; the absolute one is kept in _abs
    assert t.funding_rate == -1.380384722222e-6
    assert t.funding_rate_abs == -6.2604214e-11
    assert t.funding_rate_prediction == -8.047629166667e-6
    assert t.funding_rate_prediction_abs == -3.65989977e-10
    # absolute epoch ms instant: 1676394000000 ms = 2023-02-14T17:00:00Z, an exact hour
    assert t.next_funding_ts_ms == 1676394000000 and t.next_funding_ts_ms % 3_600_000 == 0
    assert (t.bid, t.ask, t.bid_size, t.ask_size) == (21978.5, 21987.0, 2536.0, 13948.0)
    assert t.mark_price == 21979.68641534714 and t.index_price == 21984.54 and t.last == 21983.5
    assert t.open_interest == 30072580.0 and t.volume_24h == 31403908.0
    assert ev.tag == "perpetual" and ev.change_24h_pct == 1.9974017538161748
    # PI inverse: relative ~= absolute x price: -6.26e-11 x 21984.5 = -1.376e-6 (spec §8.3)
    assert t.funding_rate == pytest.approx(t.funding_rate_abs * 21984.5, rel=5e-3)


def test_ticker_funding_omitted_when_zero_on_perpetual_and_duration_fallback():
    msg = {k: v for k, v in TICKER.items() if "funding_rate" not in k}
    t = parse_ws_message(msg).ticker
    assert t.funding_rate == 0.0 and t.funding_rate_abs == 0.0  # omitted = zero for a perpetual
    assert t.next_funding_ts_ms is None
    dated = dict(msg, product_id="FI_XBTUSD_210924", tag="quarter")
    assert parse_ws_message(dated).ticker.funding_rate is None
    # a doc-style duration (ms until next funding) is turned into an instant: 1676393235406 + 764594
    dur = dict(TICKER, next_funding_rate_time=764594)
    assert parse_ws_message(dur).ticker.next_funding_ts_ms == 1676394000000


def test_ticker_lite_and_heartbeat():
    ev = parse_ws_message(
        {"feed": "ticker_lite", "product_id": "PI_XBTUSD", "bid": 34932, "ask": 34949.5, "change": 3.37,
         "premium": 0.1, "volume": 264126741, "tag": "perpetual", "pair": "XBT:USD", "dtm": 0}
    )  # fmt: skip
    assert isinstance(ev, TickerLiteEvent)
    assert (ev.ticker.bid, ev.ticker.ask, ev.ticker.volume_24h, ev.premium_pct) == (
        34932,
        34949.5,
        264126741,
        0.1,
    )
    assert parse_ws_message({"feed": "heartbeat", "time": 1534262350627}) == HeartbeatEvent(1534262350627)


def test_trades_spec_examples():
    snap = parse_ws_message(
        {"feed": "trade_snapshot", "product_id": "PI_XBTUSD", "trades": [
            {"feed": "trade", "product_id": "PI_XBTUSD", "uid": "caa9c653", "side": "sell", "type": "fill",
             "seq": 655508, "time": 1612269657781, "qty": 440, "price": 34893}]}
    )  # fmt: skip
    assert isinstance(snap, TradeSnapshotEvent) and snap.symbol == "PI_XBTUSD"
    (tr,) = snap.trades
    assert (tr.price, tr.size, tr.side, tr.seq, tr.ts_ms, tr.trade_id) == (
        34893,
        440,
        Side.SELL,
        655508,
        1612269657781,
        "caa9c653",
    )
    ev = parse_ws_message(
        {"feed": "trade", "product_id": "pi_xbtusd", "uid": "05af78ac", "side": "buy", "type": "liquidation",
         "seq": 653355, "time": 1612266317519, "qty": 15000, "price": 34969.5}
    )  # fmt: skip
    assert isinstance(ev, TradeEvent)
    assert ev.trade.symbol == "PI_XBTUSD" and ev.trade.side is Side.BUY and ev.trade.kind == "liquidation"


def test_book_snapshot_skips_zero_levels_and_sorts():
    ev = parse_ws_message(
        {"feed": "book_snapshot", "product_id": "PI_XBTUSD", "timestamp": 1612269825817, "seq": 326072249,
         "tickSize": None,
         "bids": [{"price": 34892, "qty": 10924}, {"price": 34892.5, "qty": 6385}, {"price": 34890, "qty": 0}],
         "asks": [{"price": 34912, "qty": 2300}, {"price": 34911.5, "qty": 20598}]}
    )  # fmt: skip
    assert isinstance(ev, BookSnapshotEvent)
    s = ev.snapshot
    assert s.seq == 326072249 and s.ts_ms == 1612269825817
    assert [(lv.price, lv.size) for lv in s.bids] == [(34892.5, 6385), (34892, 10924)]
    assert [(lv.price, lv.size) for lv in s.asks] == [(34911.5, 20598), (34912, 2300)]
    d = parse_ws_message(
        {"feed": "book", "product_id": "PI_XBTUSD", "side": "sell", "seq": 326094134, "price": 34981, "qty": 0,
         "timestamp": 1612269953629}
    )  # fmt: skip
    assert isinstance(d, BookDeltaEvent)
    assert (d.delta.side, d.delta.price, d.delta.size, d.delta.seq) == (Side.SELL, 34981, 0, 326094134)


def test_control_messages():
    assert parse_ws_message({"event": "info", "version": 1}) == InfoEvent(1)
    ack = parse_ws_message({"event": "subscribed", "feed": "book", "product_ids": ["pi_xbtusd"]})
    assert ack == SubscriptionEvent("subscribed", "book", ("PI_XBTUSD",)) and ack.ok
    failed = parse_ws_message({"event": "subscribed_failed", "feed": "book", "message": "Invalid product id"})
    assert not failed.ok and failed.message == "Invalid product id"
    priv = parse_ws_message(
        {
            "event": "subscribed",
            "feed": "fills",
            "api_key": "KEY123",
            "original_challenge": "c",
            "signed_challenge": "SIG9",
        }
    )
    assert "SIG9" not in repr(priv) and "KEY123" not in repr(priv)
    assert parse_ws_message({"event": "alert", "message": "Bad websocket message"}) == WsAlert(
        "alert", "Bad websocket message"
    )
    ch = parse_ws_message({"event": "challenge", "message": "226aee50-88fc-4618-a42a-34f7709570b2"})
    assert isinstance(ch, ChallengeEvent) and ch.challenge.startswith("226aee50")
    assert "226aee50" not in repr(ch)


def test_open_orders_snapshot_spec_example():
    ev = parse_ws_message(
        {"feed": "open_orders_snapshot", "account": "e258dba9", "orders": [
            {"instrument": "PI_XBTUSD", "time": 1612275024153, "last_update_time": 1612275024153, "qty": 1000,
             "filled": 0, "limit_price": 34900, "stop_price": 13789, "type": "stop", "order_id": "723ba95f",
             "direction": 1, "reduce_only": False, "triggerSignal": "last"}]}
    )  # fmt: skip
    assert isinstance(ev, OpenOrdersSnapshotEvent) and ev.account == "e258dba9" and not ev.verbose
    (o,) = ev.orders
    assert o.side is Side.SELL and o.size == Decimal(1000) and o.order_type == "stop" and o.is_trigger
    assert o.limit_price == Decimal(34900) and o.stop_price == Decimal(13789)
    assert o.trigger_signal is TriggerSignal.LAST and o.received_ts_ms == 1612275024153


def test_open_orders_delta_and_short_cancel():
    ev = parse_ws_message(
        {"feed": "open_orders", "order": {
            "instrument": "PI_XBTUSD", "time": 1567702877410, "last_update_time": 1567702877410, "qty": 304.0,
            "filled": 0.0, "limit_price": 10640.0, "stop_price": 0.0, "type": "limit", "order_id": "59302619",
            "direction": 1, "reduce_only": True}, "is_cancel": False, "reason": "new_placed_order_by_user"}
    )  # fmt: skip
    assert isinstance(ev, OrderUpdateEvent) and not ev.is_cancel and ev.order_id == "59302619"
    o = ev.order
    assert o.size == Decimal("304.0") and o.stop_price is None and o.reduce_only and o.order_type == "lmt"
    assert o.status == "untouched"
    # NT full-fill capture: qty is the REMAINING size (0), filled 0.0001 (spec §7.8)
    full = parse_ws_message(
        {"feed": "open_orders", "order": {"instrument": "PF_XBTUSD", "time": 1, "last_update_time": 2,
         "qty": 0.0, "filled": 0.0001, "limit_price": 90000.0, "stop_price": 0.0, "type": "limit",
         "order_id": "ff", "cli_ord_id": "my-1", "direction": 0, "reduce_only": False},
         "is_cancel": True, "reason": "full_fill"}
    )  # fmt: skip
    assert (
        full.order.size == Decimal(0)
        and full.order.filled == Decimal("0.0001")
        and full.order.side is Side.BUY
    )
    assert full.order.status == "filled" and full.cli_ord_id == "my-1"
    short = parse_ws_message(
        {"feed": "open_orders", "order_id": "660c6b23", "cli_ord_id": "c1", "is_cancel": True,
         "reason": "cancelled_by_user"}
    )  # fmt: skip
    assert short == OrderUpdateEvent("660c6b23", None, True, "cancelled_by_user", "c1")
    for spelling in (
        "post_order_failed_because_it_would_filled",
        "post_order_failed_because_it_would_be_filled",
    ):
        v = parse_ws_message(
            {"feed": "open_orders_verbose", "order_id": "x", "is_cancel": True, "reason": spelling}
        )
        assert v.reason == POST_ONLY_REJECT_REASON and v.verbose


def test_fills_spec_example_fee():
    ev = parse_ws_message(
        {"feed": "fills", "username": "6a70e882", "fills": [
            {"instrument": "PF_ETHUSD", "time": 1765185437003, "price": 3162.0, "seq": 1, "buy": True,
             "qty": 0.001, "remaining_order_qty": 0.0, "order_id": "a08aed17", "cli_ord_id": "b661bad0",
             "fill_id": "6a22a3fb", "fill_type": "taker", "fee_paid": 0.001581, "fee_currency": "USD",
             "taker_order_type": "market", "order_type": "market"}]}
    )  # fmt: skip
    assert isinstance(ev, FillsEvent) and ev.account == "6a70e882" and not ev.snapshot
    (f,) = ev.fills
    assert f.side is Side.BUY and f.size == Decimal("0.001") and f.price == Decimal("3162.0")
    assert f.fill_type is FillType.TAKER and f.cli_ord_id == "b661bad0" and f.fee_currency == "USD"
    # taker fee 5 bp: 0.001 x 3162 = 3.162 USD notional; x 0.0005 = 0.001581 USD
    assert f.notional_usd == Decimal("3.1620000") and f.fee == Decimal("0.001581")
    assert f.notional_usd * Decimal("0.0005") == f.fee
    snap = parse_ws_message({"feed": "fills_snapshot", "account": "DemoUser", "fills": []})
    assert snap == FillsEvent("DemoUser", (), snapshot=True)


def test_fill_of_an_unknown_type_is_kept_as_other():
    ev = parse_ws_message(
        {"feed": "fills", "account": "a", "fills": [
            {"instrument": "PF_ETHUSD", "time": 1765185437003, "price": 3162.0, "seq": 1, "buy": False,
             "qty": 0.5, "order_id": "o", "fill_id": "f", "fill_type": "someNewKind"}]}
    )  # fmt: skip
    (f,) = ev.fills
    assert f.fill_type is FillType.OTHER and f.side is Side.SELL and f.size == Decimal("0.5")


def test_open_positions_spec_example():
    ev = parse_ws_message(
        {"feed": "open_positions", "account": "3b111acc", "positions": [
            {"instrument": "PF_LTCUSD", "balance": 0.5, "pnl": -0.8628305877699987, "entry_price": 70.53,
             "mark_price": 68.80433882446, "index_price": 68.8091, "liquidation_threshold": 0,
             "effective_leverage": 0.007028866753648637, "return_on_equity": -1.2233525985679834,
             "unrealized_funding": 0.0000690610530935388, "initial_margin": 0.7053,
             "initial_margin_with_orders": 0.7053, "maintenance_margin": 0.35265, "pnl_currency": "USD"},
            {"instrument": "PF_XBTUSD", "balance": -0.25, "entry_price": 60000, "liquidation_threshold": 75000.5},
            {"instrument": "PF_ETHUSD", "balance": 0, "entry_price": 3000}],
         "seq": 0, "timestamp": 1698608414910}
    )  # fmt: skip
    assert isinstance(ev, PositionsEvent) and ev.ts_ms == 1698608414910 and ev.seq == 0
    ltc, xbt = ev.positions
    assert (
        ltc.side is PositionSide.LONG and ltc.size == Decimal("0.5") and ltc.entry_price == Decimal("70.53")
    )
    assert ltc.liquidation_price is None  # 0 = no liquidation price applies
    assert ltc.unrealized_pnl == Decimal("-0.8628305877699987")
    # 0.5 x 70.53 = 35.265 USD entry notional; IM 2% = 0.7053 (spec §7.10 note)
    assert ltc.size * ltc.entry_price * Decimal("0.02") == Decimal("0.7053")
    assert (
        xbt.side is PositionSide.SHORT and xbt.size == Decimal("0.25") and xbt.signed_size == Decimal("-0.25")
    )
    assert xbt.liquidation_price == Decimal("75000.5")
    assert ev.closed == ("PF_ETHUSD",)


def test_balances_flex_futures():
    flex = {
        "currencies": {"USD": {"quantity": 1000.5, "value": 1000.5, "collateral_value": 1000.5, "available": 990}},
        "balance_value": 1000.5, "portfolio_value": 1010.5, "collateral_value": 1000.5, "initial_margin": 30,
        "initial_margin_without_orders": 20, "maintenance_margin": 10, "pnl": 10, "unrealized_funding": -0.5,
        "total_unrealized": 9.5, "total_unrealized_as_margin": 9.5, "margin_equity": 1010, "available_margin": 980,
    }  # fmt: skip
    ev = parse_ws_message(
        {"feed": "balances_snapshot", "account": "a", "seq": 4, "timestamp": 5, "holding": {"usd": "12.5"},
         "flex_futures": flex}
    )  # fmt: skip
    assert isinstance(ev, BalancesEvent) and ev.snapshot and ev.seq == 4 and ev.ts_ms == 5
    a = ev.flex
    assert a.initial_margin_usd == Decimal(20) and a.initial_margin_with_orders_usd == Decimal(30)
    assert a.margin_equity_usd == Decimal(1010) and a.available_margin_usd == Decimal(980)
    # available = margin equity - initial margin (with orders): 1010 - 30 = 980
    assert a.margin_equity_usd - a.initial_margin_with_orders_usd == a.available_margin_usd
    assert a.currencies == {"USD": Decimal("1000.5")} and ev.holding == {"USD": Decimal("12.5")}
    delta = parse_ws_message({"feed": "balances", "account": "a", "holding": {"XBT": 0.1}})
    assert delta.flex is None and delta.holding == {"XBT": Decimal("0.1")} and not delta.snapshot


def test_unknown_feed_and_event_are_typed_not_errors():
    u = parse_ws_message({"feed": "account_log_snapshot", "logs": [], "api_key": "secret-key"})
    assert isinstance(u, UnknownMessage) and u.feed == "account_log_snapshot" and "api_key" not in u.raw
    assert parse_ws_message({"event": "pong"}) == UnknownMessage(None, "pong", {})
    assert base_feed("open_orders_verbose_snapshot") == "open_orders_verbose"


@pytest.mark.parametrize(
    ("msg", "source", "field"),
    [
        ({"feed": "book", "product_id": "X", "side": "buy", "seq": 1, "price": "abc", "qty": 1, "timestamp": 1},
         "book", "price"),
        ({"feed": "book", "product_id": "X", "side": "up", "seq": 1, "price": 1, "qty": 1, "timestamp": 1},
         "book", "side"),
        ({"feed": "book_snapshot", "product_id": "X", "seq": 1, "timestamp": 1, "bids": [{"price": 1, "qty": -1}],
          "asks": []}, "book_snapshot", "bids[0].qty"),
        ({"feed": "fills", "fills": [{"instrument": "PF_X"}]}, "fills", "fills[0].buy"),
        ({"feed": "open_orders", "order": {"instrument": "PF_X", "qty": 1, "type": "limit", "order_id": "o",
          "direction": 2}}, "open_orders", "order.direction"),
        ({"feed": "open_positions", "positions": [{"instrument": "PF_X", "balance": "1e999x"}]},
         "open_positions", "positions[0].balance"),
        ({"feed": "ticker", "product_id": 5}, "ticker", "product_id"),
        ({"event": "info"}, "info", "version"),
        ({"hello": 1}, "ws", "feed"),
    ],
)  # fmt: skip
def test_bad_fields_name_feed_and_field(msg, source, field):
    with pytest.raises(ProtocolError) as ei:
        parse_ws_message(msg)
    assert source in ei.value.source and ei.value.field == field
    assert field in str(ei.value)


def test_non_dict_message():
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        parse_ws_message([1, 2])  # type: ignore[arg-type]
