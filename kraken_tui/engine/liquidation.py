"""Estimated liquidation price, distance to it, and the risk level shown to the operator.

Owns: the estimated liquidation price of one position inside a cross-margined account (Kraken Support
"Margining & Liquidations: Multi-Collateral"; the formulas are ``domain.money``'s), the distance from mark
price, and the LOW..CRITICAL risk bands shown to the operator. Pure functions.
A position that cannot be liquidated (its collateral covers any adverse move) has liquidation price
None, never 0 (0 is not a price a mark can reach).
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from kraken_tui.domain import money

__all__ = ["RiskLevel", "liquidation_distance", "linear_liquidation_price", "inverse_liquidation_price", "risk_level"]


class RiskLevel(StrEnum):
    """Distance to liquidation from mark: LOW > 20%, MEDIUM 10-20%, HIGH 5-10%, EXTREME < 5%,
    CRITICAL = mark at or beyond the liquidation price. Alerts fire on HIGH or worse."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    EXTREME = "EXTREME"
    CRITICAL = "CRITICAL"

    @property
    def alerting(self) -> bool:
        """True for HIGH, EXTREME and CRITICAL."""
        return self in (RiskLevel.HIGH, RiskLevel.EXTREME, RiskLevel.CRITICAL)


def linear_liquidation_price(
    signed_size: Decimal,
    entry_price: Decimal,
    maintenance_margin_rate: Decimal,
    collateral_usd: Decimal,
    other_unrealized_pnl_usd: Decimal = Decimal(0),
    other_maintenance_margin_usd: Decimal = Decimal(0),
) -> Decimal | None:
    """Mark price at which a PF_ position's account reaches maintenance margin (Kraken Support "Margining &
    Liquidations: Multi-Collateral", estimated liquidation price; the formula is ``domain.money
    .linear_liquidation_price``).

    With q = signed size (contracts), e = entry price (USD), m = MM rate on entry notional, C = USD
    collateral after haircuts, U = unrealized P&L of other positions, M = their maintenance margin:
    equity(P) = C + U + q (P - e) and liquidation when equity(P) = M + m |q| e, so
    ``P_liq = e - (C + U - M - m |q| e) / q``.

    Returns:
        The price in USD, or None when q = 0 or no positive price liquidates the position (a short with
        ample collateral still has a finite price; a long whose P_liq <= 0 cannot be liquidated).
    """
    if signed_size == 0:
        return None
    free = collateral_usd + other_unrealized_pnl_usd - other_maintenance_margin_usd
    p = money.linear_liquidation_price(signed_size, entry_price, maintenance_margin_rate * abs(signed_size)
                                       * entry_price, free)
    return p if p > 0 else None


def inverse_liquidation_price(
    signed_size_usd: Decimal,
    entry_price: Decimal,
    maintenance_margin_rate: Decimal,
    collateral_coin: Decimal,
) -> Decimal | None:
    """Mark price at which a PI_ (inverse, coin-margined) position reaches maintenance margin
    (``domain.money.inverse_liquidation_price``: q / (C + q/e - m |q| / e), q in USD contracts, e entry USD,
    C collateral in the base coin, m the MM rate).

    Returns:
        The price in USD, or None when q = 0 or no positive price liquidates the position (e.g. a short
        whose collateral exceeds its largest possible loss |q| / e).
    """
    if signed_size_usd == 0:
        return None
    p = money.inverse_liquidation_price(signed_size_usd, entry_price, maintenance_margin_rate, collateral_coin)
    return p if p is not None and p > 0 else None


def liquidation_distance(mark_price: Decimal, liquidation_price: Decimal | None, is_long: bool) -> Decimal | None:
    """Adverse move from mark to the liquidation price as a fraction of mark (0.25 = 25%).

    Negative when the mark is already beyond the liquidation price. None when there is no liquidation
    price. Raises ValueError for a non-positive mark (a missing mark must not read as "safe").
    """
    if mark_price <= 0:
        raise ValueError(f"mark price must be > 0, got {mark_price}")
    if liquidation_price is None:
        return None
    move = (mark_price - liquidation_price) if is_long else (liquidation_price - mark_price)
    return move / mark_price


def risk_level(distance: Decimal | None) -> RiskLevel:
    """Band a liquidation distance (fraction of mark): None (no liquidation price) is LOW."""
    if distance is None:
        return RiskLevel.LOW
    if distance <= 0:
        return RiskLevel.CRITICAL
    if distance < Decimal("0.05"):
        return RiskLevel.EXTREME
    if distance < Decimal("0.10"):
        return RiskLevel.HIGH
    if distance <= Decimal("0.20"):
        return RiskLevel.MEDIUM
    return RiskLevel.LOW
