"""Replay the real 2021-07-22 Kraken Futures WS recording through the parser and the books (spec §7.7).

Counts per feed come from shared/data/kraken/SOURCES.md; the reference book is a plain-dict replay of
the raw JSON written here, independent of the parser and of OrderBook.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from kraken_tui.domain import Side
from kraken_tui.kraken.book import OrderBooks
from kraken_tui.kraken.ws_events import BookDeltaEvent, BookSnapshotEvent
from kraken_tui.kraken.ws_parse import parse_ws_message

FILE = "kraken/kraken_futures_ws_v1_2021-07-22.jsonl"


@pytest.fixture(scope="module")
def recorded():
    from tests.conftest import require_data

    path = require_data(FILE)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [d["msg"] for d in lines if d["dir"] == "in"]


def _kind(msg: dict) -> str:
    return msg.get("event") or msg["feed"]


def test_every_message_parses_and_counts_match_sources_md(recorded):
    assert len(recorded) == 7175
    counts = Counter(_kind(m) for m in recorded)
    assert counts == {
        "info": 1, "subscribed": 30, "book_snapshot": 10, "book": 7014,
        "trade_snapshot": 10, "trade": 3, "ticker_lite": 107,
    }  # fmt: skip
    typed = Counter(type(parse_ws_message(m)).__name__ for m in recorded)
    assert "UnknownMessage" not in typed
    assert typed == {
        "InfoEvent": 1, "SubscriptionEvent": 30, "BookSnapshotEvent": 10, "BookDeltaEvent": 7014,
        "TradeSnapshotEvent": 10, "TradeEvent": 3, "TickerLiteEvent": 107,
    }  # fmt: skip


def _dict_replay(recorded, product):
    """Reference: a book as two plain dicts, straight from the JSON."""
    bids, asks = {}, {}
    for m in recorded:
        if m.get("event") or m.get("product_id") != product:
            continue
        if m["feed"] == "book_snapshot":
            bids = {lv["price"]: lv["qty"] for lv in m["bids"] if lv["qty"]}
            asks = {lv["price"]: lv["qty"] for lv in m["asks"] if lv["qty"]}
        elif m["feed"] == "book":
            side = bids if m["side"] == "buy" else asks
            if m["qty"] == 0:
                side.pop(m["price"], None)
            else:
                side[m["price"]] = m["qty"]
    return bids, asks


def test_all_ten_books_rebuild_without_gaps(recorded):
    books = OrderBooks()
    gaps = []
    for m in recorded:
        ev = parse_ws_message(m)
        if isinstance(ev, BookSnapshotEvent | BookDeltaEvent):
            gap = books.apply(ev)
            if gap is not None:
                gaps.append(gap)
    assert gaps == []
    assert len(books.symbols()) == 10
    for sym in books.symbols():
        book = books.get(sym)
        assert book.valid and book.ignored_deltas == 0
        ref_bids, ref_asks = _dict_replay(recorded, sym)
        assert book.levels(Side.BUY) == ref_bids and book.levels(Side.SELL) == ref_asks, sym
        assert book.best_bid().price == max(ref_bids) and book.best_ask().price == min(ref_asks)
        assert book.best_bid().price < book.best_ask().price  # never crossed

    eth = books.get("PI_ETHUSD")
    ref_bids, ref_asks = _dict_replay(recorded, "PI_ETHUSD")
    assert (eth.best_bid().price, eth.best_bid().size) == (max(ref_bids), ref_bids[max(ref_bids)])
    # concrete values (read once from the file with the dict replay above)
    assert (eth.best_bid().price, eth.best_bid().size) == (2002.05, 4387.0)
    assert (eth.best_ask().price, eth.best_ask().size) == (2003.05, 600.0)
    assert eth.seq == 26664749 and len(eth) == 347 + 305
    # mid = (2002.05 + 2003.05) / 2 = 2002.55; spread = 1.00 USD
    assert eth.mid() == pytest.approx(2002.55) and eth.spread() == pytest.approx(1.0)
    bids, asks = eth.depth(3)
    assert [lv.price for lv in bids] == sorted(ref_bids, reverse=True)[:3]
    assert [lv.price for lv in asks] == sorted(ref_asks)[:3]
    xrp = books.get("pi_xrpusd")
    assert (xrp.best_bid().price, xrp.best_ask().price) == (0.5879, 0.5886)


def test_dropping_one_delta_is_detected_as_gap(recorded):
    books = OrderBooks()
    dropped = None
    gaps = []
    for m in recorded:
        if dropped is None and m.get("feed") == "book" and m.get("product_id") == "PI_ETHUSD":
            dropped = m["seq"]
            continue
        ev = parse_ws_message(m)
        if isinstance(ev, BookSnapshotEvent | BookDeltaEvent):
            gap = books.apply(ev)
            if gap is not None:
                gaps.append(gap)
    assert [(g.symbol, g.expected_seq, g.got_seq) for g in gaps] == [("PI_ETHUSD", dropped, dropped + 1)]
    assert not books.get("PI_ETHUSD").valid
    assert books.get("PI_ETHUSD").ignored_deltas > 0
