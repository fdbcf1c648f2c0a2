"""Positions, the margin account, account-log rows and account settings (spec §4.6-§4.7, §4.14, §4.17-§4.18).

Part of ``kraken_tui.domain`` (import from there). Units as stated in the package docstring.
Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain.values import PositionSide

__all__ = ["Account", "AccountLogEntry", "CoinAccount", "DeadManSwitchStatus", "LeveragePreference", "Position"]


@dataclass(frozen=True, slots=True)
class Position:
    """An open position (openpositions §4.7, WS open_positions §7.10).

    ``size`` is positive contracts; direction is ``side``. ``entry_price`` is the average entry in USD.
    ``unrealized_funding`` and ``unrealized_pnl`` are in the P&L currency (USD for PF_), None when not
    reported. ``liquidation_price`` is the exchange's estimate (WS only), None when unknown.
    """

    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    ts_ms: int | None = None
    unrealized_funding: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None
    mark_price: Decimal | None = None
    max_fixed_leverage: Decimal | None = None

    @property
    def signed_size(self) -> Decimal:
        """Contracts, negative for a short."""
        return self.size if self.side is PositionSide.LONG else -self.size


@dataclass(frozen=True, slots=True)
class Account:
    """The multi-collateral (``flex``) margin account (accounts §4.6). All figures USD.

    ``available_margin_usd = margin_equity_usd - initial_margin_usd`` per Kraken's definition.
    ``currencies`` maps a collateral currency to its quantity (in that currency).
    """

    balance_value_usd: Decimal
    portfolio_value_usd: Decimal
    collateral_value_usd: Decimal
    margin_equity_usd: Decimal
    available_margin_usd: Decimal
    initial_margin_usd: Decimal
    initial_margin_with_orders_usd: Decimal
    maintenance_margin_usd: Decimal
    unrealized_pnl_usd: Decimal
    unrealized_funding_usd: Decimal
    currencies: dict[str, Decimal] = field(default_factory=dict)

    @property
    def margin_ratio(self) -> Decimal | None:
        """maintenance margin / margin equity (0..1+; 1 = at liquidation), None with no equity."""
        if self.margin_equity_usd <= 0:
            return None
        return self.maintenance_margin_usd / self.margin_equity_usd


@dataclass(frozen=True, slots=True)
class CoinAccount:
    """A single-collateral inverse margin account (``fi_xbtusd``...: spec §4.6 ``accounts`` ``marginAccount``,
    §7.11 ``balances`` ``futures``), which margins the PI_ inverse perpetuals of its coin. Figures in the coin.

    ``currency`` is the lower-case coin (``xbt``); ``balance_coin`` the coin balance (realised P&L, fees and
    funding included, unrealised P&L not); ``portfolio_value_coin`` balance + unrealised P&L at the
    exchange's mark when reported; margins and available funds in the coin, None when not reported.
    Its USD value is ``domain.money.coin_account_equity_usd``.
    """

    currency: str
    balance_coin: Decimal
    portfolio_value_coin: Decimal | None = None
    initial_margin_coin: Decimal | None = None
    maintenance_margin_coin: Decimal | None = None
    available_coin: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountLogEntry:
    """One account-log row (history API §4.18). Amounts in ``asset`` units (USD for PF_ cash legs).

    ``info`` is Kraken's category: ``futures trade``, ``funding rate change``, ``futures liquidation``...
    ``funding_rate`` is Kraken's absolute rate; ``realized_funding`` the amount booked (positive =
    received).
    """

    id: int
    ts_ms: int
    asset: str
    info: str
    contract: str | None = None
    old_balance: Decimal | None = None
    new_balance: Decimal | None = None
    realized_pnl: Decimal | None = None
    fee: Decimal | None = None
    funding_rate: Decimal | None = None
    realized_funding: Decimal | None = None
    trade_price: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_fee: Decimal | None = None
    execution: str | None = None


@dataclass(frozen=True, slots=True)
class LeveragePreference:
    """Isolated-margin max leverage for a symbol (spec §4.17); absence means cross margin."""

    symbol: str
    max_leverage: Decimal


@dataclass(frozen=True, slots=True)
class DeadManSwitchStatus:
    """cancelallordersafter answer (spec §4.14): ``trigger_ts_ms`` None when disarmed."""

    current_ts_ms: int
    trigger_ts_ms: int | None
