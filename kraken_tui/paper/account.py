"""The paper exchange's account state: positions, wallet and account figures.

Owns: ``PaperPosition`` (one net position per symbol), ``Balances`` (the multi-collateral wallet) and
``AccountFigures`` (the flex account in USD). The formulas that value them (P&L, fills, fees, funding,
margin) are ``kraken_tui.domain.money``'s. Margin equity = collateral value + unrealised P&L, available
margin = margin equity - initial margin (Kraken Futures docs "Get accounts"; Kraken Support "Margining &
Liquidations: Multi-Collateral"). Collateral has no haircut in the paper exchange.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import ZERO, Instrument
from kraken_tui.domain.money import apply_fill

__all__ = ["AccountFigures", "Balances", "PaperPosition"]


@dataclass(slots=True)
class PaperPosition:
    """The net position of one symbol: signed size in contracts (negative = short), average entry in USD."""

    symbol: str
    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    fill_ts_ms: int = 0

    def apply_fill(self, inst: Instrument, signed_qty: Decimal, price: Decimal, ts_ms: int) -> Decimal:
        """Apply a fill of ``signed_qty`` contracts at ``price`` USD at ``ts_ms``; return the realised P&L
        (settlement currency). Size, entry and P&L follow ``domain.money.apply_fill``."""
        new, self.entry_price, realized = apply_fill(inst, self.size, self.entry_price, signed_qty, price)
        self.size = new
        self.fill_ts_ms = ts_ms
        return realized


@dataclass(slots=True)
class Balances:
    """Wallet quantities by lower-case currency (``usd``, ``xbt``...). USD starts at the configured balance."""

    quantities: dict[str, Decimal] = field(default_factory=dict)

    def add(self, currency: str, amount: Decimal) -> tuple[Decimal, Decimal]:
        """Add ``amount`` (may be negative) to ``currency``; return (old, new) quantity."""
        old = self.quantities.get(currency, ZERO)
        self.quantities[currency] = old + amount
        return old, old + amount


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """The flex account in USD (Kraken Futures docs "Get accounts" field meanings). ``currencies`` = quantity and USD value per currency."""

    balance_value: Decimal
    collateral_value: Decimal
    pnl: Decimal
    unrealized_funding: Decimal
    portfolio_value: Decimal
    margin_equity: Decimal
    initial_margin: Decimal
    initial_margin_with_orders: Decimal
    maintenance_margin: Decimal
    available_margin: Decimal
    currencies: dict[str, tuple[Decimal, Decimal]]
    total_position_notional: Decimal
