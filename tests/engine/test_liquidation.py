"""Liquidation price estimates (spec §9) against hand-computed examples, and the risk bands."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_tui.engine.liquidation import (
    RiskLevel,
    inverse_liquidation_price,
    linear_liquidation_price,
    liquidation_distance,
    risk_level,
)


def test_linear_long():
    # q=0.5, e=70.53, m=1%, C=10 USD: P = 70.53 - (10 - 0.01*0.5*70.53)/0.5 = 70.53 - 19.2947 = 51.2353
    p = linear_liquidation_price(D("0.5"), D("70.53"), D("0.01"), D("10"))
    assert p == D("51.2353")
    # at that mark, equity = 10 + 0.5*(51.2353-70.53) = 0.35265 = MM (0.5*70.53*1%)
    assert D("10") + D("0.5") * (p - D("70.53")) == D("0.35265")


def test_linear_short():
    # q=-1, e=100000, m=0.5%, C=5000: P = 100000 - (5000 - 500)/(-1) = 104500
    assert linear_liquidation_price(D("-1"), D("100000"), D("0.005"), D("5000")) == D("104500")


def test_linear_other_positions_move_it():
    # other positions lose 1000 USD and need 200 USD MM: P = 100000 - (5000 - 1000 - 200 - 500)/(-1) = 103300
    p = linear_liquidation_price(D("-1"), D("100000"), D("0.005"), D("5000"), D("-1000"), D("200"))
    assert p == D("103300")


def test_linear_long_that_cannot_be_liquidated_is_none_not_zero():
    # q=1, e=100, C=1000: P = 100 - 999 = -899 -> no liquidation price
    assert linear_liquidation_price(D("1"), D("100"), D("0.01"), D("1000")) is None
    assert linear_liquidation_price(D("0"), D("100"), D("0.01"), D("1000")) is None


def test_inverse_long():
    # q=10000 USD, e=50000, m=1%, C=0.1 XBT: denom = 0.1 + 0.2 - 0.002 = 0.298; P = 10000/0.298
    p = inverse_liquidation_price(D("10000"), D("50000"), D("0.01"), D("0.1"))
    assert p == pytest.approx(D("33557.04697986577"))
    # equity in coin at P equals MM 0.002 XBT
    equity = D("0.1") + D("10000") * (D(1) / D("50000") - D(1) / p)
    assert equity == pytest.approx(D("0.002"))


def test_inverse_short():
    # q=-10000, e=50000, C=0.1: denom = 0.1 - 0.2 - 0.002 = -0.102; P = 98039.2157
    p = inverse_liquidation_price(D("-10000"), D("50000"), D("0.01"), D("0.1"))
    assert p == pytest.approx(D("98039.21568627451"))
    # a short whose collateral (1 XBT) exceeds its largest loss (0.2 XBT) cannot be liquidated
    assert inverse_liquidation_price(D("-10000"), D("50000"), D("0.01"), D("1")) is None


@pytest.mark.parametrize(
    "liq,is_long,level",
    [
        (D("75"), True, RiskLevel.LOW),  # 25%
        (D("80"), True, RiskLevel.MEDIUM),  # 20%
        (D("92"), True, RiskLevel.HIGH),  # 8%
        (D("97"), True, RiskLevel.EXTREME),  # 3%
        (D("101"), True, RiskLevel.CRITICAL),  # mark already below liquidation
        (D("108"), False, RiskLevel.HIGH),  # short: 8% up
        (None, True, RiskLevel.LOW),
    ],
)
def test_risk_bands(liq, is_long, level):
    assert risk_level(liquidation_distance(D("100"), liq, is_long)) is level


def test_alerting_levels_and_bad_mark():
    assert RiskLevel.HIGH.alerting and not RiskLevel.MEDIUM.alerting
    with pytest.raises(ValueError):
        liquidation_distance(D("0"), D("90"), True)
