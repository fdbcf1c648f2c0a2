"""Per-position exits (engine.exits) against hand-computed prices and sizes, plus property tests."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import Instrument, InstrumentType, OrderType, PositionSide, Side
from kraken_tui.engine.exits import (
    ClosePosition,
    ExitReason,
    MoveStop,
    PositionExits,
    ProtectiveOrder,
    initial_stop_price,
)

XBT = Instrument("PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001"))
HALF = Instrument("PF_HALFUSD", InstrumentType.LINEAR, D("0.5"), D("1"), D("0.0001"))
CFG = ExitsConfig()
H = 3_600_000
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def px(side=LONG, entry="100000", size="0.1", inst=XBT, cfg=CFG, protective=True):
    return PositionExits(cfg, inst, side, D(entry), D(size), 0, protective=protective)


def test_reasons_values():
    assert [r.value for r in ExitReason] == [
        "tp1", "tp2", "tp3", "tp4", "stop", "trailing", "time", "signal", "flatten", "liquidation",
        "manual", "external", "basis_guard", "equity_floor",
    ]
    assert ExitReason.TP3.is_take_profit and not ExitReason.STOP.is_take_profit


def test_initial_orders_long_defaults():
    # stop 100000 x 0.98 = 98000; TPs +2/+5/+8/+12% = 102000/105000/108000/112000, 25% of 0.1 = 0.025 each
    orders = px().initial_orders()
    assert orders == [
        ProtectiveOrder(ExitReason.STOP, Side.SELL, OrderType.STOP, D("0.1"), D("98000")),
        ProtectiveOrder(ExitReason.TP1, Side.SELL, OrderType.LIMIT, D("0.025"), D("102000")),
        ProtectiveOrder(ExitReason.TP2, Side.SELL, OrderType.LIMIT, D("0.025"), D("105000")),
        ProtectiveOrder(ExitReason.TP3, Side.SELL, OrderType.LIMIT, D("0.025"), D("108000")),
        ProtectiveOrder(ExitReason.TP4, Side.SELL, OrderType.LIMIT, D("0.025"), D("112000")),
    ]


def test_initial_orders_short_defaults():
    # stop 100000 x 1.02 = 102000; TPs -2/-5/-8/-12% = 98000/95000/92000/88000
    orders = px(SHORT).initial_orders()
    assert [(o.purpose, o.side, o.price) for o in orders] == [
        (ExitReason.STOP, Side.BUY, D("102000")),
        (ExitReason.TP1, Side.BUY, D("98000")),
        (ExitReason.TP2, Side.BUY, D("95000")),
        (ExitReason.TP3, Side.BUY, D("92000")),
        (ExitReason.TP4, Side.BUY, D("88000")),
    ]


def test_conservative_rounding_on_half_tick():
    # long 100001: stop 98000.98 -> down to 98000.5; TP1 102001.02 -> up to 102001.5
    long = px(entry="100001", inst=HALF)
    assert long.stop_price == D("98000.5")
    assert long.take_profits_left()[0].price == D("102001.5")
    # short 100001: stop 102001.02 -> up to 102001.5; TP1 98000.98 -> down to 98000.5
    short = px(SHORT, entry="100001", inst=HALF)
    assert short.stop_price == D("102001.5")
    assert short.take_profits_left()[0].price == D("98000.5")
    assert initial_stop_price(CFG, HALF, LONG, D("100001")) == D("98000.5")


def test_ladder_rounds_down_and_last_takes_remainder():
    # 0.0007 x 25% = 0.000175 -> 0.0001 for TP1..TP3, TP4 takes 0.0004
    sizes = [o.size for o in px(size="0.0007").take_profits_left()]
    assert sizes == [D("0.0001"), D("0.0001"), D("0.0001"), D("0.0004")]
    # one lot: the first three levels round to zero and are skipped
    one = px(size="0.0001").take_profits_left()
    assert [(o.purpose, o.size) for o in one] == [(ExitReason.TP4, D("0.0001"))]


def test_ladder_with_larger_fraction_stops_when_size_is_used():
    cfg = ExitsConfig(take_profit_fraction_pct=50)
    tps = px(cfg=cfg).take_profits_left()
    assert [(o.purpose, o.size) for o in tps] == [(ExitReason.TP1, D("0.05")), (ExitReason.TP2, D("0.05"))]


def test_not_protective_has_no_orders_and_no_exits():
    p = px(protective=False)
    assert p.initial_orders() == [] and p.stop_order() is None and p.stop_price is None
    assert p.on_mark(D("150000"), 10 * H) == []


def test_trailing_long_activates_and_tightens():
    p = px()
    assert p.on_mark(D("102000"), 1) == []  # +2% < 3% activation
    assert not p.trailing_active and p.stop_reason is ExitReason.STOP
    assert p.on_mark(D("103000"), 2) == [MoveStop(D("100940"), ExitReason.TRAILING)]  # 103000 x 0.98
    assert p.trailing_active and p.stop_reason is ExitReason.TRAILING
    assert p.on_mark(D("102500"), 3) == []  # below the best: stop stays
    assert p.on_mark(D("103001"), 4) == []  # 100940.98 rounds down to 100940: less than a tick
    assert p.on_mark(D("103100"), 5) == [MoveStop(D("101038"), ExitReason.TRAILING)]
    assert p.stop_order() == ProtectiveOrder(ExitReason.STOP, Side.SELL, OrderType.STOP, D("0.1"), D("101038"))


def test_trailing_short():
    p = px(SHORT)
    assert p.on_mark(D("97500"), 1) == []  # -2.5%
    assert p.on_mark(D("97000"), 2) == [MoveStop(D("98940"), ExitReason.TRAILING)]  # 97000 x 1.02
    assert p.on_mark(D("96000"), 3) == [MoveStop(D("97920"), ExitReason.TRAILING)]
    assert p.on_mark(D("99000"), 4) == [] and p.stop_price == D("97920")


def test_trailing_with_zero_activation_starts_at_entry():
    # activate 0: active at once; 100000 x 0.98 = 98000 equals the initial stop, so no move until a new best
    p = px(cfg=ExitsConfig(trailing_activate_pct=0))
    assert p.on_mark(D("100000"), 1) == [] and p.trailing_active
    assert p.on_mark(D("100100"), 2) == [MoveStop(D("98098"), ExitReason.TRAILING)]


def test_time_exit_long_once():
    p = px()
    assert p.on_mark(D("101000"), 4 * H - 1) == []  # +1% but only just under 4 h
    assert p.on_mark(D("100500"), 4 * H) == []  # +0.5% does not exceed 0.5%
    assert p.on_mark(D("100600"), 4 * H + 1) == [ClosePosition(ExitReason.TIME)]  # +0.6%
    assert p.on_mark(D("100700"), 5 * H) == []  # once


def test_time_exit_short_and_off():
    assert px(SHORT).on_mark(D("99000"), 4 * H) == [ClosePosition(ExitReason.TIME)]  # short +1%
    assert px(SHORT).on_mark(D("101000"), 4 * H) == []  # short -1%
    assert px(cfg=ExitsConfig(time_exit_h=0)).on_mark(D("101000"), 100 * H) == []


def test_time_exit_can_come_with_trailing_move():
    # +4% after 4 h: the trailing stop activates (104000 x 0.98 = 101920) and the time exit fires
    assert px().on_mark(D("104000"), 4 * H) == [
        MoveStop(D("101920"), ExitReason.TRAILING),
        ClosePosition(ExitReason.TIME),
    ]


def test_exit_fills_shrink_stop_and_ladder():
    p = px()
    p.on_exit_fill(ExitReason.TP1, D("0.025"))
    assert p.remaining == D("0.075") and p.stop_order().size == D("0.075")
    assert [o.purpose for o in p.take_profits_left()] == [ExitReason.TP2, ExitReason.TP3, ExitReason.TP4]
    p.on_exit_fill(ExitReason.TP2, D("0.01"))  # partial
    assert p.take_profits_left()[0].size == D("0.015") and p.remaining == D("0.065")
    p.on_exit_fill(ExitReason.STOP, D("0.04"))  # partial stop: 0.025 left, far TPs are cut first
    assert [(o.purpose, o.size) for o in p.take_profits_left()] == [
        (ExitReason.TP2, D("0.015")),
        (ExitReason.TP3, D("0.01")),
    ]
    p.on_exit_fill(ExitReason.STOP, D("1"))  # more than remains: clamps at zero
    assert p.remaining == 0 and p.stop_order() is None and p.take_profits_left() == []
    assert p.on_mark(D("200000"), 10 * H) == []


def test_add_averages_entry_and_relays_orders():
    # 0.1 @ 100000 + 0.1 @ 102000 -> 0.2 @ 101000; stop 101000 x 0.98 = 98980; TP1 101000 x 1.02 = 103020
    p = px()
    p.add(D("0.1"), D("102000"))
    assert p.entry_price == D("101000") and p.remaining == D("0.2") and p.size == D("0.2")
    assert p.stop_order().price == D("98980") and p.stop_order().size == D("0.2")
    tps = p.take_profits_left()
    assert [(o.purpose, o.size, o.price) for o in tps] == [
        (ExitReason.TP1, D("0.05"), D("103020")),
        (ExitReason.TP2, D("0.05"), D("106050")),
        (ExitReason.TP3, D("0.05"), D("109080")),
        (ExitReason.TP4, D("0.05"), D("113120")),
    ]



@pytest.mark.parametrize("side", [LONG, SHORT])
def test_add_to_an_inverse_position_averages_the_entry_harmonically(side):
    # PI_ (1 USD contracts): 10 000 @ 40 000 (0.25 XBT) + 10 000 @ 60 000 (0.1667 XBT) -> 20 000 / 0.41667 = 48 000,
    # the exchange's average entry (Kraken Support "Portfolio Management"); the linear mean would be 50 000
    pi = Instrument("PI_XBTUSD", InstrumentType.INVERSE, D("0.5"), D("1"), D("1"))
    p = px(side, entry="40000", size="10000", inst=pi)
    p.add(D("10000"), D("60000"))
    assert p.entry_price == D("48000") and p.remaining == D("20000")
    # stop and take-profits laid from 48 000: 2 % -> 47 040 / 48 960 stop, TP1 48 960 / 47 040
    assert p.stop_order().price == (D("47040") if side is LONG else D("48960"))
    assert p.take_profits_left()[0].price == (D("48960") if side is LONG else D("47040"))

def test_add_keeps_trailing_stop_and_filled_levels():
    p = px()
    p.on_mark(D("105000"), 1)  # trailing active, stop 102900
    p.on_exit_fill(ExitReason.TP1, D("0.025"))
    p.on_exit_fill(ExitReason.TP2, D("0.025"))
    p.add(D("0.05"), D("105000"))  # 0.05 @ 100000 + 0.05 @ 105000 -> 0.1 @ 102500
    assert p.entry_price == D("102500") and p.stop_price == D("102900")
    assert [(o.purpose, o.size) for o in p.take_profits_left()] == [
        (ExitReason.TP3, D("0.025")),
        (ExitReason.TP4, D("0.075")),
    ]


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        px(size="0")
    with pytest.raises(ValueError):
        px(entry="0")
    with pytest.raises(ValueError):
        px().add(D("0"), D("1"))


sizes = st.integers(1, 10**6).map(lambda n: D(n) * D("0.0001"))


@settings(max_examples=200, deadline=None)
@given(
    size=sizes,
    frac=st.floats(1, 100),
    n=st.integers(1, 4),
    side=st.sampled_from([LONG, SHORT]),
)
def test_ladder_sums_to_position_size(size, frac, n, side):
    cfg = ExitsConfig(take_profit_fraction_pct=frac, take_profit_pct=[2.0, 5.0, 8.0, 12.0][:n])
    tps = PositionExits(cfg, XBT, side, D("50000"), size, 0).take_profits_left()
    assert sum((o.size for o in tps), D(0)) == (size if n else 0)
    assert all(o.size > 0 and o.size == XBT.round_size(o.size) for o in tps)


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from([LONG, SHORT]),
    marks=st.lists(st.integers(80_000, 130_000), min_size=1, max_size=60),
)
def test_trailing_stop_never_loosens(side, marks):
    p = PositionExits(CFG, HALF, side, D("100000"), D("1"), 0)
    prev = p.stop_price
    for i, m in enumerate(marks):
        for a in p.on_mark(D(m), i):
            if isinstance(a, MoveStop):
                assert side.sign * (a.new_stop_price - prev) >= HALF.tick_size
                assert a.new_stop_price % HALF.tick_size == 0
                prev = a.new_stop_price
        assert p.stop_price == prev
        # the stop is never tighter than trail_distance behind the best price
        assert side.sign * (p.best_price * (1 - side.sign * D("0.02")) - p.stop_price) >= 0 or not p.trailing_active


@given(
    side=st.sampled_from([LONG, SHORT]),
    entry=st.integers(1_000, 10**8).map(lambda n: D(n) / 100),
    pct=st.sampled_from([0.5, 1.0, 2.0, 3.3, 7.5]),
)
def test_initial_stop_is_conservative_and_within_a_tick(side, entry, pct):
    cfg = ExitsConfig(stop_loss_pct=pct)
    intended = entry * (1 - side.sign * D(str(pct)) / 100)
    stop = initial_stop_price(cfg, HALF, side, entry)
    assert stop % HALF.tick_size == 0
    # a long's stop is never above the intended price, a short's never below; off by less than a tick
    assert 0 <= side.sign * (intended - stop) < HALF.tick_size


def test_initial_stop_price_hand_examples_across_configs_in_turn():
    # long 100000 at 2.5% -> 97500; short 100000 at 2.5% -> 102500; long 100000.5 at 1.25% on the 0.5 tick:
    # 100000.5 x 0.9875 = 98750.49375 -> floor to 0.5 = 98750.0; short: x 1.0125 = 101250.50625 -> ceil 101251;
    # each config in turn, twice (memo by value)
    for _ in range(2):
        assert initial_stop_price(ExitsConfig(stop_loss_pct=2.5), XBT, LONG, D("100000")) == D("97500")
        assert initial_stop_price(ExitsConfig(stop_loss_pct=2.5), XBT, SHORT, D("100000")) == D("102500")
        assert initial_stop_price(ExitsConfig(stop_loss_pct=1.25), HALF, LONG, D("100000.5")) == D("98750.0")
        assert initial_stop_price(ExitsConfig(stop_loss_pct=1.25), HALF, SHORT, D("100000.5")) == D("101251.0")


@settings(max_examples=80, deadline=None)
@given(pct=st.floats(0.01, 50.0, allow_nan=False), entry=st.integers(1_000, 200_000), long=st.booleans())
def test_initial_stop_price_equals_the_formula_for_any_config(pct, entry, long):
    side = LONG if long else SHORT
    sign = 1 if long else -1
    want = (D(entry) * (1 - sign * D(str(pct)) / 100) / D("0.5")).to_integral_value(
        "ROUND_FLOOR" if long else "ROUND_CEILING") * D("0.5")
    assert initial_stop_price(ExitsConfig(stop_loss_pct=pct), HALF, side, D(entry)) == want
    assert initial_stop_price(ExitsConfig(stop_loss_pct=pct), HALF, side, D(entry)) == want  # memoised
