"""The paper exchange's account state: positions, wallet and account figures.

Owns: ``PaperPosition`` (one net position per symbol), ``Balances`` (the account's currencies: the USD of the
flex account and the coin of each inverse margin account), ``AccountFigures`` (the flex account in USD),
``CoinAccountFigures`` (one inverse margin account in its coin) and ``inverse_account_name``. The formulas that value them (P&L, fills, fees, funding,
margin) are ``kraken_tui.domain.money``'s. Margin equity = collateral value + unrealised P&L, available
margin = margin equity - initial margin (Kraken Futures docs "Get accounts"; Kraken Support "Margining &
Liquidations: Multi-Collateral"). Collateral has no haircut in the paper exchange. PI_ (inverse) positions are
margined apart from the flex account, each from the coin balance of its inverse margin account (``fi_xbtusd``:
currency ``xbt``; docs/kraken-futures-api.md §4.6): portfolio value = coin balance + unrealised P&L in the coin,
available funds = portfolio value - initial margin (with orders), all in the coin.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import ZERO, Instrument
from kraken_tui.domain.money import apply_fill

__all__ = ["FLEX_ACCOUNT", "AccountFigures", "Balances", "CoinAccountFigures", "PaperPosition", "inverse_account_name"]

#: Name of the multi-collateral account that margins every PF_ position (docs/kraken-futures-api.md §4.6).
FLEX_ACCOUNT = "flex"


def inverse_account_name(currency: str) -> str:
    """Kraken's name of the inverse margin account of ``currency`` (lower-case coin): ``xbt`` -> ``fi_xbtusd``
    (docs/kraken-futures-api.md §4.6, ``accounts``: ``fi_xbtusd``, ``fi_ethusd``...)."""
    return f"fi_{currency.lower()}usd"


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
    """Quantities by lower-case currency: ``usd`` is the flex account's collateral (USD); every other currency
    (``xbt``, ``eth``...) is the coin balance of that coin's inverse margin account (``inverse_account_name``),
    which margins and settles the PI_ positions of that base. Both start at the ``[paper]`` starting balances."""

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


@dataclass(frozen=True, slots=True)
class CoinAccountFigures:
    """One inverse margin account now, every figure in its coin ``currency`` (docs/kraken-futures-api.md §4.6,
    ``fi_xbtusd``: balances, auxiliary pv/pnl/af, marginRequirements im/mm).

    ``balance`` the coin balance; ``pnl`` unrealised P&L of its PI_ positions at mark (coin); ``portfolio_value``
    = balance + pnl; ``initial_margin`` / ``maintenance_margin`` of its positions (coin, on entry);
    ``initial_margin_with_orders`` positions plus open orders; ``available_funds`` = portfolio value - initial
    margin with orders; ``positions`` signed contracts by symbol; ``mark_usd`` the USD price of the coin (index,
    else mark, of one of its contracts; None before the first price).
    """

    currency: str
    balance: Decimal
    pnl: Decimal
    portfolio_value: Decimal
    initial_margin: Decimal
    initial_margin_with_orders: Decimal
    maintenance_margin: Decimal
    available_funds: Decimal
    positions: dict[str, Decimal]
    mark_usd: Decimal | None

    @property
    def name(self) -> str:
        """Kraken's account name (``fi_xbtusd``)."""
        return inverse_account_name(self.currency)
