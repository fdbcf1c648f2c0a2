"""Money math of the paper exchange: P&L (linear and inverse), margin, fees, funding, account figures.

Owns: ``PaperPosition`` (one net position per symbol), ``Balances`` (the multi-collateral wallet) and the
pure functions that value them. Formulas: linear P&L = (exit - entry) x size USD, inverse P&L =
(1/entry - 1/exit) x size in the base asset (spec §8.5); IM/MM = notional at entry x tier rate (spec §9);
funding payment per hour = -signed_size x absolute_rate with absolute = relative x price for PF_ and
relative / price for PI_ (spec §8.3); margin equity = collateral value + unrealised P&L, available margin =
margin equity - initial margin (spec §4.6, §9). Collateral has no haircut in the paper exchange.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import ZERO, Instrument

__all__ = [
    "AccountFigures",
    "Balances",
    "PaperPosition",
    "fee_amount",
    "funding_payment",
    "margin_rates",
    "margin_tier",
    "notional_usd",
    "position_margins",
    "settlement_currency",
    "unrealized_pnl",
]

BPS = Decimal(10_000)
_PLUS_ONE, _MINUS_ONE = Decimal(1), Decimal(-1)


def settlement_currency(inst: Instrument) -> str:
    """Lower-case currency P&L, fees and funding settle in: ``usd`` for PF_, the base asset for PI_ (spec §8.5)."""
    return "usd" if inst.is_linear else inst.base.lower()


def notional_usd(inst: Instrument, size: Decimal, price: Decimal) -> Decimal:
    """|size| x price x contract size for PF_ (USD); |size| x contract size for PI_ (contracts are USD)."""
    if inst.is_linear:
        return abs(size) * price * inst.contract_size
    return abs(size) * inst.contract_size


def unrealized_pnl(inst: Instrument, signed_size: Decimal, entry: Decimal, price: Decimal) -> Decimal:
    """P&L of ``signed_size`` contracts from ``entry`` to ``price`` in the settlement currency (spec §8.5).

    Linear: (price - entry) x size (USD). Inverse: (1/entry - 1/price) x size (base asset).
    """
    if signed_size == 0:
        return ZERO
    if inst.is_linear:
        return (price - entry) * signed_size * inst.contract_size
    return (1 / entry - 1 / price) * signed_size * inst.contract_size


def margin_tier(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(notional at entry USD, initial rate, maintenance rate) of the tier the position falls in (bracket
    lookup, spec §9 [GAP])."""
    n = notional_usd(inst, signed_size, entry)
    level = inst.margin_level_for(n, signed_size)
    return n, level.initial_margin_rate, level.maintenance_margin_rate


def margin_rates(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) margin rates of the tier the position falls in (``margin_tier``)."""
    _, im_rate, mm_rate = margin_tier(inst, signed_size, entry)
    return im_rate, mm_rate


def position_margins(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal]:
    """(IM, MM) in USD of a position: notional at entry x tier rate (spec §9; WS example 0.5 x 70.53 x 2%)."""
    if signed_size == 0:
        return ZERO, ZERO
    n, im_rate, mm_rate = margin_tier(inst, signed_size, entry)
    return n * im_rate, n * mm_rate


def fee_amount(inst: Instrument, size: Decimal, price: Decimal, fee_bps: Decimal) -> Decimal:
    """Trading fee in the settlement currency: notional x bps / 10 000 (USD for PF_, base for PI_, spec §8.6)."""
    if inst.is_linear:
        return abs(size) * price * inst.contract_size * fee_bps / BPS
    return abs(size) * inst.contract_size / price * fee_bps / BPS


def funding_payment(inst: Instrument, signed_size: Decimal, relative_rate: Decimal, price: Decimal
                    ) -> tuple[Decimal, Decimal]:
    """One hour of funding: (absolute_rate, payment) in the settlement currency (spec §8.3).

    absolute = relative x price (PF_) or relative / price (PI_); payment = -signed_size x absolute, so a
    long pays (negative payment) when the rate is positive.
    """
    absolute = relative_rate * price if inst.is_linear else relative_rate / price
    return absolute, -signed_size * absolute * inst.contract_size


@dataclass(slots=True)
class PaperPosition:
    """The net position of one symbol: signed size in contracts (negative = short), average entry in USD."""

    symbol: str
    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    fill_ts_ms: int = 0

    def apply_fill(self, inst: Instrument, signed_qty: Decimal, price: Decimal, ts_ms: int) -> Decimal:
        """Apply a fill of ``signed_qty`` contracts at ``price``; return the realised P&L (settlement currency).

        Adding keeps a size-weighted average entry (for PI_ the harmonic mean, which keeps inverse P&L
        additive); reducing realises P&L on the closed part at the old entry; flipping opens the remainder
        at ``price``.
        """
        realized = ZERO
        old = self.size
        new = old + signed_qty
        if old == 0 or (old > 0) == (signed_qty > 0):
            if inst.is_linear or old == 0:
                self.entry_price = (old * self.entry_price + signed_qty * price) / new
            else:
                self.entry_price = new / (old / self.entry_price + signed_qty / price)
        else:
            closed = min(abs(signed_qty), abs(old))
            sign = _PLUS_ONE if old > 0 else _MINUS_ONE
            realized = unrealized_pnl(inst, sign * closed, self.entry_price, price)
            if new == 0:
                self.entry_price = ZERO
            elif (new > 0) != (old > 0):
                self.entry_price = price
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
    """The flex account in USD (spec §4.6 field meanings). ``currencies`` = quantity and USD value per currency."""

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
