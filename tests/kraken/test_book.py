"""OrderBook: snapshot + contiguous deltas, gap detection, best/mid/depth (spec §7.7)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import BookDelta, BookLevel, BookSnapshot, Side
from kraken_tui.kraken.book import OrderBook, OrderBooks
from kraken_tui.kraken.ws_events import BookDeltaEvent, BookSnapshotEvent, SeqGap


def _snap(seq=100, bids=((100.0, 5.0), (99.5, 2.0)), asks=((100.5, 1.0), (101.0, 3.0)), symbol="PF_XBTUSD"):
    return BookSnapshot(
        symbol=symbol,
        seq=seq,
        ts_ms=1,
        bids=tuple(BookLevel(p, q) for p, q in bids),
        asks=tuple(BookLevel(p, q) for p, q in asks),
    )


def _d(seq, side, price, size, symbol="PF_XBTUSD"):
    return BookDelta(symbol=symbol, seq=seq, ts_ms=seq, side=side, price=price, size=size)


def test_snapshot_then_deltas_best_mid_depth():
    b = OrderBook("PF_XBTUSD")
    assert not b.valid and b.best_bid() is None and b.mid() is None
    assert b.apply_delta(_d(1, Side.BUY, 1.0, 1.0)) is None and b.ignored_deltas == 1  # before a snapshot
    b.apply_snapshot(_snap())
    assert b.valid and b.best_bid() == BookLevel(100.0, 5.0) and b.best_ask() == BookLevel(100.5, 1.0)
    # mid = (100.0 + 100.5) / 2 = 100.25; spread = 0.5
    assert b.mid() == 100.25 and b.spread() == 0.5
    assert b.apply_delta(_d(101, Side.BUY, 100.25, 4.0)) is None  # new best bid
    assert b.best_bid() == BookLevel(100.25, 4.0)
    assert b.apply_delta(_d(102, Side.BUY, 100.25, 0.0)) is None  # removed: best falls back to 100.0
    assert b.best_bid() == BookLevel(100.0, 5.0)
    assert b.apply_delta(_d(103, Side.SELL, 100.5, 0.0)) is None  # best ask removed -> 101.0
    assert b.best_ask() == BookLevel(101.0, 3.0)
    assert b.apply_delta(_d(104, Side.SELL, 101.0, 7.0)) is None  # size replaced, not added
    assert b.best_ask() == BookLevel(101.0, 7.0)
    assert b.apply_delta(_d(105, Side.SELL, 555.0, 0.0)) is None  # removing an absent level is harmless
    bids, asks = b.depth(5)
    assert bids == (BookLevel(100.0, 5.0), BookLevel(99.5, 2.0)) and asks == (BookLevel(101.0, 7.0),)
    assert b.seq == 105 and len(b) == 3


def test_gap_invalidates_until_next_snapshot():
    b = OrderBook("PF_XBTUSD")
    b.apply_snapshot(_snap(seq=100))
    gap = b.apply_delta(_d(102, Side.BUY, 100.0, 1.0))
    assert gap == SeqGap("PF_XBTUSD", expected_seq=101, got_seq=102)
    assert not b.valid
    assert b.apply_delta(_d(103, Side.BUY, 100.0, 1.0)) is None  # ignored while invalid
    assert b.best_bid() == BookLevel(100.0, 5.0)  # untouched by ignored deltas
    b.apply_snapshot(_snap(seq=200, bids=((90.0, 1.0),)))
    assert b.valid and b.best_bid() == BookLevel(90.0, 1.0)
    assert b.apply_delta(_d(201, Side.BUY, 91.0, 1.0)) is None and b.best_bid().price == 91.0


def test_repeated_seq_is_a_gap_too():
    b = OrderBook("X")
    b.apply_snapshot(_snap(seq=10))
    assert b.apply_delta(_d(11, Side.BUY, 1.0, 1.0)) is None
    assert b.apply_delta(_d(11, Side.BUY, 1.0, 2.0)) == SeqGap("X", 12, 11)


def test_float_prices_keyed_exactly():
    b = OrderBook("X")
    b.apply_snapshot(_snap(bids=((0.5879, 1.0),), asks=((0.5886, 2.0),)))
    b.apply_delta(_d(101, Side.BUY, 0.1 + 0.2, 1.0))  # 0.30000000000000004 is its own level
    b.apply_delta(_d(102, Side.BUY, 0.3, 2.0))
    assert b.levels(Side.BUY) == {0.5879: 1.0, 0.30000000000000004: 1.0, 0.3: 2.0}


def test_order_books_routes_by_symbol():
    books = OrderBooks()
    books.apply(BookSnapshotEvent(_snap(symbol="A")))
    books.apply(BookSnapshotEvent(_snap(symbol="B", seq=5)))
    assert books.apply(BookDeltaEvent(_d(6, Side.SELL, 100.5, 0.0, symbol="B"))) is None
    assert books.apply(BookDeltaEvent(_d(7, Side.SELL, 100.5, 0.0, symbol="A"))) == SeqGap("A", 101, 7)
    assert books.get("b").best_ask().price == 101.0 and not books.get("A").valid
    books.invalidate_all()
    assert not books.get("B").valid and books.symbols() == ["A", "B"] and books.get("C") is None


_level = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 40), st.sampled_from([0.0, 1.0, 2.5])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_level, max_size=80))
def test_book_matches_dict_model(updates):
    """Whatever the delta sequence, best bid/ask and levels equal a plain dict replay."""
    b = OrderBook("X")
    b.apply_snapshot(_snap(seq=0, bids=((10.0, 1.0),), asks=((30.0, 1.0),)))
    model = {Side.BUY: {10.0: 1.0}, Side.SELL: {30.0: 1.0}}
    for i, (side, tick, size) in enumerate(updates, start=1):
        price = tick * 0.5
        assert b.apply_delta(_d(i, side, price, size)) is None
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
        bid, ask = b.best_bid(), b.best_ask()
        assert (bid.price if bid else None) == (max(model[Side.BUY]) if model[Side.BUY] else None)
        assert (ask.price if ask else None) == (min(model[Side.SELL]) if model[Side.SELL] else None)
    assert b.levels(Side.BUY) == model[Side.BUY] and b.levels(Side.SELL) == model[Side.SELL]
