"""Domain models: exact rounding, order validation, margin tiers, derived figures."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_tui.domain import (
    Account,
    Fill,
    FillType,
    Instrument,
    InstrumentType,
    MarginLevel,
    OrderEvent,
    OrderEventType,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Ticker,
    to_decimal,
)

XBT = Instrument(
    symbol="PF_XBTUSD",
    type=InstrumentType.LINEAR,
    tick_size=D("1"),
    contract_size=D("1"),
    lot_size=D("0.0001"),
    margin_levels=(
        MarginLevel(D("0"), D("0.02"), D("0.01")),
        MarginLevel(D("2000000"), D("0.04"), D("0.02")),
    ),
)
PEPE = Instrument("PF_PEPEUSD", InstrumentType.LINEAR, D("1E-10"), D("1"), D("1000"))


def test_round_size_goes_down_to_the_lot():
    assert XBT.round_size(D("0.12345")) == D("0.1234")
    assert PEPE.round_size(D("98123")) == D("98000")  # ccxt static request: PF_PEPEUSD 98123 -> 98000


def test_round_price_to_tick():
    assert XBT.round_price(D("66596.4")) == D("66596")
    eth = Instrument("PF_ETHUSD", InstrumentType.LINEAR, D("0.1"), D("1"), D("0.001"))
    assert eth.round_price(D("3162.06")) == D("3162.1")


def test_margin_tier_bracket_lookup():
    assert XBT.margin_level_for(D("1000")).initial_margin_rate == D("0.02")
    assert XBT.margin_level_for(D("2500000")).maintenance_margin_rate == D("0.02")


def test_to_decimal_avoids_float_noise_and_refuses_nan():
    assert to_decimal(0.1) == D("0.1")
    with pytest.raises(ValueError):
        to_decimal("nan")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"order_type": OrderType.LIMIT, "size": D("1")},  # no limit price
        {"order_type": OrderType.STOP, "size": D("1")},  # no stop price
        {"order_type": OrderType.MARKET, "size": D("0")},
        {"order_type": OrderType.MARKET, "size": D("-1")},
        {"order_type": OrderType.MARKET, "size": D("1"), "cli_ord_id": "x" * 101},
        {"order_type": OrderType.LIMIT, "size": D("1"), "limit_price": D("NaN")},
    ],
)
def test_order_request_validation(kwargs):
    with pytest.raises(ValueError):
        OrderRequest(symbol="PF_XBTUSD", side=Side.BUY, **kwargs)


def test_order_status_acceptance_and_unknown():
    assert OrderStatus.PLACED.accepted and not OrderStatus.POST_WOULD_EXECUTE.accepted
    assert not OrderStatus.UNKNOWN.outcome_known and OrderStatus.IOC_WOULD_NOT_EXECUTE.outcome_known


def test_order_result_filled_size_sums_executions():
    r = OrderResult(
        status=OrderStatus.PLACED,
        events=(
            OrderEvent(OrderEventType.EXECUTION, price=D("100"), amount=D("0.4")),
            OrderEvent(OrderEventType.EXECUTION, price=D("101"), amount=D("0.6")),
            OrderEvent(OrderEventType.PLACE),
        ),
    )
    assert r.filled_size == D("1.0")


def test_position_and_fill_derived_figures():
    p = Position("PF_XBTUSD", PositionSide.SHORT, D("0.5"), D("60000"))
    assert p.signed_size == D("-0.5") and p.side.closing_side is Side.BUY
    f = Fill("f", "o", "PF_ETHUSD", Side.BUY, D("0.001"), D("3162.0"), 0, FillType.TAKER)
    assert f.notional_usd == D("3.1620")  # 0.001 x 3162.0
    assert FillType.PARTIAL_LIQUIDATION.is_liquidation and not FillType.MAKER.is_liquidation


def test_ticker_basis_and_account_margin_ratio():
    t = Ticker("PF_XBTUSD", mark_price=100_100.0, index_price=100_000.0)
    assert t.basis_bps == pytest.approx(10.0)  # 100 / 100000 = 10 bp
    a = Account(*(D(x) for x in ("1000", "1000", "1000", "800", "600", "200", "200", "100", "0", "0")))
    assert a.margin_ratio == D("0.125")  # 100 MM / 800 equity
