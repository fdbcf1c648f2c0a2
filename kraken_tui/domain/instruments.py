"""Instruments and their margin tiers (spec §4.2, §8.2, §9).

Part of ``kraken_tui.domain`` (import from there). Units as stated in the package docstring.
Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from kraken_tui.domain.values import InstrumentType

__all__ = ["Instrument", "MarginLevel", "price_decimals"]


def price_decimals(tick_size: Decimal) -> int:
    """Decimal places of prices on the grid of ``tick_size`` (0.5 -> 1, 0.01 -> 2, 1 -> 0, 10 -> 0). Source:
    Kraken Futures docs "Get instruments" (tickSize). Raises ValueError for a non-finite tick size."""
    exponent = tick_size.normalize().as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"tick size must be finite, got {tick_size}")
    return max(0, -exponent)


@dataclass(frozen=True, slots=True)
class MarginLevel:
    """One margin tier (spec §4.2, §9).

    Attributes:
        threshold: lower bound of the tier: USD notional for PF_ (``numNonContractUnits``),
            contracts for PI_ (``contracts``).
        initial_margin_rate: fraction of notional (0.02 = 2%).
        maintenance_margin_rate: fraction of notional.
    """

    threshold: Decimal
    initial_margin_rate: Decimal
    maintenance_margin_rate: Decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradeable contract (spec §4.2, §8.2).

    Attributes:
        symbol: upper-case Kraken symbol, e.g. ``PF_XBTUSD``.
        type: contract family; ``LINEAR`` settles in USD, ``INVERSE`` in the base asset.
        tick_size: price increment in USD.
        contract_size: units of base per contract for PF_ (1), USD per contract for PI_ (1).
        lot_size: size increment in contracts, ``10 ** -contractValueTradePrecision``.
        max_position_size: contracts.
        margin_levels: tiers ordered by ascending threshold.
        funding_rate_coefficient: Kraken's ``fundingRateCoefficient`` (perpetuals).
        max_relative_funding_rate: cap on |relative funding rate| per hour (perpetuals).
        post_only: the market only accepts post-only orders.
        base: base asset (``XBT``), quote: quote asset (``USD``).
        is_linear: True for PF_/FF_ multi-collateral contracts (P&L in USD); derived from ``type`` on
            construction (a plain attribute: the money paths read it on every fill).
    """

    symbol: str
    type: InstrumentType
    tick_size: Decimal
    contract_size: Decimal
    lot_size: Decimal
    max_position_size: Decimal | None = None
    margin_levels: tuple[MarginLevel, ...] = ()
    funding_rate_coefficient: Decimal | None = None
    max_relative_funding_rate: Decimal | None = None
    post_only: bool = False
    tradeable: bool = True
    base: str = ""
    quote: str = "USD"
    is_linear: bool = field(init=False, repr=False, compare=False, default=False)
    _tiers_ascending: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_linear", self.type is InstrumentType.LINEAR)
        levels = self.margin_levels
        object.__setattr__(self, "_tiers_ascending",
                           all(a.threshold <= b.threshold for a, b in zip(levels, levels[1:], strict=False)))

    @property
    def is_perpetual(self) -> bool:
        """True for ``PF_``/``PI_`` symbols."""
        return self.symbol.startswith(("PF_", "PI_"))

    @property
    def min_order_size(self) -> Decimal:
        """Smallest order, in contracts: one lot (spec §8.2)."""
        return self.lot_size

    def round_price(self, price: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Round a USD price to the tick size (``rounding`` is a ``decimal`` rounding mode)."""
        return (price / self.tick_size).to_integral_value(rounding) * self.tick_size  # positional: parsed faster

    def round_size(self, size: Decimal) -> Decimal:
        """Round a size in contracts *down* to the lot, so rounding never grows exposure."""
        lot = self.lot_size
        return (size / lot).to_integral_value(ROUND_DOWN) * lot  # positional rounding: same call, parsed faster

    def margin_level_for(self, notional_usd: Decimal, size_contracts: Decimal | None = None) -> MarginLevel:
        """The tier that applies to a position (bracket lookup on total notional, spec §9 [GAP]).

        PF_ tiers are keyed by USD notional, PI_ tiers by contracts (``size_contracts`` when given).

        Raises:
            ValueError: when the instrument has no margin levels.
        """
        if not self.margin_levels:
            raise ValueError(f"{self.symbol} has no margin levels")
        levels = self.margin_levels
        key = notional_usd if self.is_linear or size_contracts is None else abs(size_contracts)
        chosen = levels[0]
        if self._tiers_ascending:
            # the last tier whose threshold <= key; with non-decreasing thresholds none after the first
            # threshold above the key can match, so stop there (same tier as the full scan below)
            for level in levels:
                if key < level.threshold:
                    return chosen
                chosen = level
            return chosen
        for level in levels:
            if key >= level.threshold:
                chosen = level
        return chosen
