"""engine.reconcile: a pure function from (engine view, exchange view, fills) to actions."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import Fill, FillType, Order, Position, PositionSide, Side
from kraken_tui.engine.reconcile import (
    NOT_FOUND,
    AdoptPosition,
    BlockEntries,
    ExchangeState,
    ExternalOrder,
    KnownOrder,
    KnownPosition,
    KnownState,
    OrderResolved,
    PositionGone,
    ResolveOrder,
    SyncPosition,
    reconcile,
    statuses_from,
)

D = Decimal
_seq = iter(range(10**9))


def fill(sym="PF_XBTUSD", side=Side.BUY, size="1", order_id="o1", cli=None, ftype=FillType.TAKER, ts=None):
    n = next(_seq)
    return Fill(f"f{n}", order_id, sym, side, D(size), D(100), ts if ts is not None else n, ftype, cli)


def xpos(sym, signed):
    signed = D(signed)
    side = PositionSide.LONG if signed > 0 else PositionSide.SHORT
    return Position(sym, side, abs(signed), D(100))


def xorder(oid, sym="PF_XBTUSD", cli=None, size="1"):
    return Order(oid, sym, Side.BUY, "lmt", D(size), limit_price=D(90), cli_ord_id=cli)


def kpos(sym, signed, **kw):
    return KnownPosition(sym, D(signed), D(100), **kw)


# ----------------------------------------------------------------------------- orders


def test_everything_agrees_gives_nothing():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "1")},
                       [KnownOrder("PF_XBTUSD", Side.SELL, D(1), "o1", "c1", "stop")])
    ex = ExchangeState([xpos("PF_XBTUSD", "1")], [xorder("o1", cli="c1")])
    assert reconcile(known, ex, []) == []


def test_fast_fill_missing_from_openorders_is_filled_not_cancelled():
    """nautilus #3870: the market order filled within ms and never showed in openorders."""
    k = KnownOrder("PF_XBTUSD", Side.BUY, D(1), "o1", "c1", "entry")
    f = fill(order_id="o1", cli="c1")
    acts = reconcile(KnownState({}, [k]), ExchangeState([xpos("PF_XBTUSD", "1")], []), [f])
    assert acts[0] == OrderResolved(k, "filled", D(1), (f,), "fills cover it")
    assert acts[1] == SyncPosition("PF_XBTUSD", D(0), D(1), "entry", D(100))
    assert len(acts) == 2  # explained by our own fill: no adoption, no pause


def test_fill_matched_by_cli_ord_id_only():
    k = KnownOrder("PF_XBTUSD", Side.BUY, D(1), None, "c9", "entry")
    f = fill(order_id="exchange-id", cli="c9")
    acts = reconcile(KnownState({}, [k]), ExchangeState(), [f, fill(sym="PF_ETHUSD", order_id="zz")])
    assert acts[0].outcome == "filled" and acts[0].fills == (f,)


def test_missing_order_without_fill_asks_for_status_first():
    k = KnownOrder("PF_XBTUSD", Side.BUY, D(1), "o1", None, "entry")
    assert reconcile(KnownState({}, [k]), ExchangeState()) == [ResolveOrder(k)]


def test_status_answers_resolve_missing_orders():
    ks = [KnownOrder("PF_XBTUSD", Side.BUY, D(1), f"o{i}", None, "entry") for i in range(6)]
    statuses = {"o0": "FULLY_EXECUTED", "o1": "CANCELLED", "o2": "REJECTED", "o3": "ENTERED_BOOK",
                "o4": NOT_FOUND, "o5": "TRIGGER_ACTIVATION_FAILURE"}
    acts = reconcile(KnownState({}, ks), ExchangeState(statuses=statuses))
    got = {a.order.order_id: (a.outcome, a.filled) for a in acts}
    assert got == {"o0": ("filled", D(1)), "o1": ("cancelled", D(0)), "o2": ("rejected", D(0)),
                   "o4": ("cancelled", D(0)), "o5": ("rejected", D(0))}  # o3 still open per status


def test_partial_fill_then_gone():
    k = KnownOrder("PF_XBTUSD", Side.BUY, D(2), "o1", None, "entry")
    f = fill(order_id="o1", size="0.5")
    acts = reconcile(KnownState({}, [k]), ExchangeState(statuses={"o1": NOT_FOUND}), [f])
    assert acts[0] == OrderResolved(k, "cancelled", D("0.5"), (f,), f"partly filled, then gone ({NOT_FOUND})")
    # partly filled and status not known yet: ask, do not conclude
    acts = reconcile(KnownState({}, [k]), ExchangeState(), [f])
    assert isinstance(acts[0], ResolveOrder)


def test_unknown_exchange_order_is_external():
    o = xorder("ext1")
    acts = reconcile(KnownState(), ExchangeState(orders=[o]))
    assert acts == [ExternalOrder(o)]


def test_statuses_from_marks_unanswered_as_not_found():
    info = SimpleNamespace(order=SimpleNamespace(order_id="o1", cli_ord_id="c1"), status="CANCELLED")
    assert statuses_from([info], ["o1", "c1", "o2"]) == {"o1": "CANCELLED", "c1": "CANCELLED", "o2": NOT_FOUND}


# ----------------------------------------------------------------------------- positions


def test_unexplained_exchange_position_adopted_and_blocks():
    acts = reconcile(KnownState(), ExchangeState([xpos("PF_ETHUSD", "-3")]), [])
    assert acts[0] == AdoptPosition("PF_ETHUSD", D(-3), D(100), D(0))
    assert isinstance(acts[-1], BlockEntries) and "PF_ETHUSD" in acts[-1].detail


def test_adopted_unacknowledged_keeps_blocking_until_acked():
    known = KnownState({"PF_ETHUSD": kpos("PF_ETHUSD", "-3", external=True, acknowledged=False)})
    acts = reconcile(known, ExchangeState([xpos("PF_ETHUSD", "-3")]))
    assert len(acts) == 1 and isinstance(acts[0], BlockEntries)
    known = KnownState({"PF_ETHUSD": kpos("PF_ETHUSD", "-3", external=True, acknowledged=True)})
    assert reconcile(known, ExchangeState([xpos("PF_ETHUSD", "-3")])) == []


def test_position_gone_by_liquidation():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "2")})
    f = fill(side=Side.SELL, size="2", order_id="liq", ftype=FillType.LIQUIDATION)
    acts = reconcile(known, ExchangeState([]), [f])
    assert acts == [PositionGone("PF_XBTUSD", D(2), "liquidation")]


def test_partial_liquidation_syncs_size_without_pause():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "2")})
    f = fill(side=Side.SELL, size="0.5", order_id="liq", ftype=FillType.PARTIAL_LIQUIDATION)
    acts = reconcile(known, ExchangeState([xpos("PF_XBTUSD", "1.5")]), [f])
    assert acts == [SyncPosition("PF_XBTUSD", D(2), D("1.5"), "liquidation", D(100))]


def test_position_gone_by_manual_fill_or_unexplained():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "-1")})
    manual = fill(side=Side.BUY, size="1", order_id="web-ui")
    assert reconcile(known, ExchangeState([]), [manual]) == [PositionGone("PF_XBTUSD", D(-1), "manual")]
    assert reconcile(known, ExchangeState([]), []) == [PositionGone("PF_XBTUSD", D(-1), "external")]


def test_position_closed_by_our_stop_carries_its_purpose():
    stop = KnownOrder("PF_XBTUSD", Side.SELL, D(1), "s1", None, "stop")
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "1")}, [stop])
    f = fill(side=Side.SELL, size="1", order_id="s1")
    acts = reconcile(known, ExchangeState([]), [f])
    assert acts == [OrderResolved(stop, "filled", D(1), (f,), "fills cover it"),
                    PositionGone("PF_XBTUSD", D(1), "stop")]


def test_size_mismatch_unexplained_is_adopted_and_blocks():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "1")})
    acts = reconcile(known, ExchangeState([xpos("PF_XBTUSD", "3")]), [])
    assert acts[0] == AdoptPosition("PF_XBTUSD", D(3), D(100), D(1))
    assert isinstance(acts[1], BlockEntries)


def test_flip_unexplained():
    known = KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "1")})
    acts = reconcile(known, ExchangeState([xpos("PF_XBTUSD", "-2")]), [fill(side=Side.SELL, size="1")])
    assert acts[0] == AdoptPosition("PF_XBTUSD", D(-2), D(100), D(1))


def test_diff_fields_fit_the_journal_record():
    from kraken_tui.journal.records import ReconciliationDiff

    acts = reconcile(KnownState({"PF_XBTUSD": kpos("PF_XBTUSD", "1")},
                                [KnownOrder("PF_XBTUSD", Side.BUY, D(1), "o1")]),
                     ExchangeState([xpos("PF_ETHUSD", "2")], [xorder("x")]))
    kinds = {type(a).__name__ for a in acts}
    assert kinds == {"ResolveOrder", "ExternalOrder", "PositionGone", "AdoptPosition", "BlockEntries"}
    for a in acts:
        rec = ReconciliationDiff(ts_ms=1, **a.diff_fields())
        assert rec.action


# ----------------------------------------------------------------------------- properties

SYMS = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"]
sizes = st.integers(-5, 5).map(lambda n: D(n) / 2)
fill_st = st.builds(
    lambda sym, side, sz, mine, ftype: fill(sym, side, str(sz), order_id=("o-" + sym) if mine else "foreign",
                                            ftype=ftype),
    st.sampled_from(SYMS), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 4).map(lambda n: D(n) / 2),
    st.booleans(), st.sampled_from([FillType.TAKER, FillType.MAKER, FillType.LIQUIDATION]),
)


def _apply(known: dict[str, D], acts) -> dict[str, D]:
    out = dict(known)
    for a in acts:
        if isinstance(a, PositionGone):
            out[a.symbol] = D(0)
        elif isinstance(a, SyncPosition):
            out[a.symbol] = a.new
        elif isinstance(a, AdoptPosition):
            out[a.symbol] = a.size
    return {s: v for s, v in out.items() if v != 0}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(SYMS), sizes), st.dictionaries(st.sampled_from(SYMS), sizes),
       st.lists(fill_st, max_size=6))
def test_property_applying_actions_reaches_the_exchange_and_pauses_only_when_unexplained(k, x, fills):
    known = KnownState({s: kpos(s, v) for s, v in k.items() if v != 0},
                       [KnownOrder(s, Side.BUY, D(100), f"o-{s}", None, "entry") for s in SYMS])
    exchange = ExchangeState([xpos(s, v) for s, v in x.items() if v != 0],
                             [xorder(f"o-{s}", s) for s in SYMS])  # our orders all still open
    acts = reconcile(known, exchange, fills)
    want = {s: v for s, v in x.items() if v != 0}
    assert _apply({s: v for s, v in k.items()}, acts) == want
    blocks = [a for a in acts if isinstance(a, BlockEntries)]
    adopted = [a for a in acts if isinstance(a, AdoptPosition)]
    assert len(blocks) == (1 if adopted else 0)
    assert not blocks or acts[-1] is blocks[0]
    # each adopted symbol really is unexplained by the fills
    for a in adopted:
        delta = sum((f.size if f.side is Side.BUY else -f.size) for f in fills if f.symbol == a.symbol)
        assert k.get(a.symbol, D(0)) + delta != a.size
    # reconciling the applied state again (no new fills) changes nothing about positions
    again = reconcile(KnownState({s: kpos(s, v) for s, v in want.items()}, known.orders), exchange, [])
    assert [a for a in again if not isinstance(a, ExternalOrder)] == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.booleans(), st.sampled_from([None, "CANCELLED", NOT_FOUND,
                                                                            "FULLY_EXECUTED"])),
                min_size=1, max_size=5))
def test_property_an_order_with_fills_is_never_called_cancelled_without_evidence(spec):
    orders, fills, statuses = [], [], {}
    for i, (size, has_fill, status) in enumerate(spec):
        k = KnownOrder("PF_XBTUSD", Side.BUY, D(size), f"o{i}", f"c{i}")
        orders.append(k)
        if has_fill:
            fills.append(fill(size=str(size), order_id=f"o{i}"))
        if status:
            statuses[f"c{i}"] = status
    acts = reconcile(KnownState({}, orders), ExchangeState([xpos("PF_XBTUSD", sum(
        (D(s) for s, h, _ in spec if h), D(0)))] if any(h for _, h, _ in spec) else [], [], statuses), fills)
    by_id = {a.order.order_id: a for a in acts if isinstance(a, OrderResolved | ResolveOrder)}
    for i, (size, has_fill, status) in enumerate(spec):
        a = by_id[f"o{i}"]
        if has_fill:
            assert isinstance(a, OrderResolved) and a.outcome == "filled" and a.filled == size
        elif status is None:
            assert isinstance(a, ResolveOrder)
        else:
            assert a.outcome == ("filled" if status == "FULLY_EXECUTED" else "cancelled")
    assert not any(isinstance(a, AdoptPosition | BlockEntries) for a in acts)
