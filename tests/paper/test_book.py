"""The multi-level order book: depth walk with hand-computed prices, the depth model, the WS book feed."""

from __future__ import annotations

import asyncio
import json
import math
from decimal import Decimal

import pytest
import websockets

from kraken_tui.domain import Side
from kraken_tui.paper.book import GROWTH, MODEL_LEVELS, DepthBook
from kraken_tui.paper.server import PaperServer
from kraken_tui.paper.sources.base import MarketTick

from .helpers import T0, call, make_exchange, quote

D = Decimal
ASKS = ((50_010.0, 0.5), (50_015.0, 1.0), (50_025.0, 2.0), (50_040.0, 5.0))
BIDS = ((49_990.0, 0.4), (49_985.0, 1.0), (49_970.0, 3.0))


def _recorded(ex, ts=T0 + 1000):
    ex.apply_event(MarketTick("PF_XBTUSD", ts, bid=BIDS[0][0], ask=ASKS[0][0], bid_size=BIDS[0][1],
                              ask_size=ASKS[0][1], mark_price=50_000.0, index_price=50_000.0, depth=(BIDS, ASKS)))


def test_market_order_for_three_levels_fills_at_their_size_weighted_price():
    ex = make_exchange()
    _recorded(ex)
    out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "2.5"})
    assert out.status == "placed"
    fills = [f for f in ex.fills if f.order_id == out.order_id]
    assert [(f.price, f.size) for f in fills] == [(D(50_010), D("0.5")), (D(50_015), D(1)), (D(50_025), D(1))]
    vwap = sum(f.price * f.size for f in fills) / sum(f.size for f in fills)
    # (0.5 x 50 010 + 1 x 50 015 + 1 x 50 025) / 2.5 = 125 045 / 2.5
    assert vwap == D(50_018)
    assert ex.positions["PF_XBTUSD"].entry_price == D(50_018)
    # the levels taken are gone; the third keeps its rest
    assert ex.book_levels("PF_XBTUSD")[1][:2] == [(50_025.0, 1.0), (50_040.0, 5.0)]
    assert (ex.markets["PF_XBTUSD"].ask, ex.markets["PF_XBTUSD"].ask_size) == (50_025.0, 1.0)


def test_marketable_limit_walks_to_its_limit_and_rests_the_rest():
    ex = make_exchange()
    _recorded(ex)
    out = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "sell", "size": "2",
                         "limitPrice": "49985"})
    fills = [(f.price, f.size) for f in ex.fills if f.order_id == out.order_id]
    assert fills == [(D(49_990), D("0.4")), (D(49_985), D(1))]
    rest = ex.open_orders[out.order_id]
    assert rest.remaining == D("0.6") and rest.limit_price == D(49_985)


def test_resting_limit_fills_when_the_book_trades_through_it():
    ex = make_exchange()
    _recorded(ex)
    out = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.3",
                         "limitPrice": "49995"})
    assert out.order_id in ex.open_orders
    quote(ex, T0 + 2000, bid=49_980, ask=49_990, ask_size=1.0)  # the ask moved through the resting bid
    f = ex.fills[-1]
    assert (f.order_id, f.price, f.size, f.fill_type) == (out.order_id, D(49_995), D("0.3"), "maker")


def test_depth_model_keeps_the_quote_and_grows_away_from_it():
    book = DepthBook("PF_XBTUSD", 1.0, 0.0001)
    book.set_quote(49_990.0, 2.0, 50_010.0, 3.0)
    bids, asks = book.levels()
    assert bids[0] == [49_990.0, 2.0] and asks[0] == [50_010.0, 3.0]
    assert len(bids) == len(asks) == MODEL_LEVELS
    assert all(a[0] < b[0] for a, b in zip(asks, asks[1:], strict=False))
    assert all(a[0] > b[0] for a, b in zip(bids, bids[1:], strict=False))
    assert all(p == round(p) for p, _ in bids + asks)  # on the tick grid
    for k, (_, size) in enumerate(asks[1:], start=1):
        assert 3.0 * (1 + GROWTH * k) * 0.75 - 1e-4 <= size <= 3.0 * (1 + GROWTH * k) * 1.25
        assert math.isclose(size / 0.0001, round(size / 0.0001), abs_tol=1e-6)  # whole lots
    again = DepthBook("PF_XBTUSD", 1.0, 0.0001)
    again.set_quote(49_990.0, 2.0, 50_010.0, 3.0)
    assert again.levels() == (bids, asks)  # deterministic


def test_source_without_sizes_keeps_top_of_book_matching():
    ex = make_exchange()
    quote(ex, T0 + 1000, bid_size=None, ask_size=None)
    out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "7"})
    assert [(f.price, f.size) for f in ex.fills if f.order_id == out.order_id] == [(D(50_010), D(7))]


async def _drain(ws, book, seq, wait_s=0.5):
    while True:
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
        except TimeoutError:
            return seq
        if m.get("feed") != "book":
            continue
        assert m["seq"] == seq + 1, (m["seq"], seq)
        seq = m["seq"]
        side = book[m["side"]]
        if m["qty"] == 0:
            del side[m["price"]]
        else:
            side[m["price"]] = m["qty"]


async def test_ws_book_seq_is_contiguous_over_a_minute_of_synthetic_market_and_matches_rest():
    from kraken_tui.paper.sources.synthetic import SyntheticSource

    ex = make_exchange(starting_balance_usd=1e7)
    src = SyntheticSource(["PF_XBTUSD"], seed=3, tick_ms=250, start_ms=T0, speed=None, end_ms=T0 + 60_000)
    events = list(src.iter_events())
    while not ex.markets["PF_XBTUSD"].has_price:
        ex.apply_event(events.pop(0))
    srv = PaperServer(ex)
    await srv.start()
    try:
        async with websockets.connect(srv.ws_url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"event": "subscribe", "feed": "book", "product_ids": ["PF_XBTUSD"]}))
            snap = None
            while snap is None:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                snap = m if m.get("feed") == "book_snapshot" else None
            book = {"buy": {b["price"]: b["qty"] for b in snap["bids"]},
                    "sell": {a["price"]: a["qty"] for a in snap["asks"]}}
            seq = snap["seq"]
            for i, ev in enumerate(events):
                ex.apply_event(ev)
                if i % 40 == 0:  # takers eat into the book too
                    ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy" if i % 80 else "sell",
                                   "size": "0.5"})
                await asyncio.sleep(0)
            assert ex.now_ms >= T0 + 59_000
            seq = await _drain(ws, book, seq)
            assert seq > snap["seq"] + 100
            rest = (await call(srv, "GET", "/derivatives/api/v3/orderbook", "symbol=PF_XBTUSD", sign=False)).json()
    finally:
        await srv.stop()
    rest_bids, rest_asks = rest["orderBook"]["bids"], rest["orderBook"]["asks"]
    assert max(book["buy"]) == rest_bids[0][0] and book["buy"][max(book["buy"])] == rest_bids[0][1]
    assert min(book["sell"]) == rest_asks[0][0] and book["sell"][min(book["sell"])] == rest_asks[0][1]
    assert sorted(book["buy"].items(), reverse=True) == [tuple(x) for x in rest_bids]
    assert sorted(book["sell"].items()) == [tuple(x) for x in rest_asks]


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_slippage_grows_with_size(side):
    ex = make_exchange(starting_balance_usd=1e8)
    quote(ex, T0 + 1000, bid_size=1.0, ask_size=1.0)
    prices = []
    for size in ("0.5", "5", "20"):
        quote(ex, ex.now_ms + 1000, bid_size=1.0, ask_size=1.0)
        out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": side.value, "size": size})
        fills = [f for f in ex.fills if f.order_id == out.order_id]
        prices.append(sum(f.price * f.size for f in fills) / sum(f.size for f in fills))
    worse = prices if side is Side.BUY else [-p for p in prices]
    assert worse[0] < worse[1] < worse[2]
