"""The money rules of a Kraken Futures perpetual account: fills, fees, funding, margin and liquidation.

Owns: the one implementation of each formula, as pure functions over ``Decimal`` (exact money) that the
paper exchange (``kraken_tui.paper``), the backtest (``kraken_tui.backtest``) and the engine's estimates
(``kraken_tui.engine.liquidation``, ``kraken_tui.engine.funding``) all call. Nothing here keeps state.

Units: sizes in contracts (signed: negative = short; for PF_ linear perpetuals one contract is
``contract_size`` units of the base asset, for PI_ inverse perpetuals ``contract_size`` USD), prices in USD,
fee rates in basis points (1 bp = 0.01 %), funding rates relative per hour (fraction), margin rates
fractions of notional. Money settles in the instrument's settlement currency: USD for PF_, the base asset
(e.g. XBT) for PI_ (Kraken Support "Portfolio Management", PnL).

Sources (Kraken's public documentation): Kraken Support "Portfolio Management" (P&L of linear and inverse
contracts), Kraken Futures docs "Fees" / "Get fills" (fees in the settlement currency), Kraken Support
"Linear Multi-Collateral Perpetual Contract Specifications" and Kraken Futures docs "Historical funding
rates" (hourly funding, absolute vs relative rate), Kraken Support "Margining & Liquidations:
Multi-Collateral" (margin on entry notional, the liquidation trigger, the estimated liquidation price) and
Kraken Support "Equity Protection Process" (liquidation orders priced so the account does not go negative).
Must not import: anything outside ``kraken_tui.domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal
from typing import Final, TypeVar

from kraken_tui.domain.instruments import Instrument
from kraken_tui.domain.values import ZERO

__all__ = [
    "BPS",
    "LIQUIDATION_TARGET",
    "MAX_FUNDING_HOURS_PER_STEP",
    "MAX_LIQUIDATION_STEPS",
    "absolute_funding_rate",
    "apply_fill",
    "capped_liquidation_fee_bps",
    "coin_account_equity_usd",
    "contracts_for_notional",
    "fee_amount",
    "funding_amount",
    "funding_payment",
    "inverse_liquidation_price",
    "is_inverse_symbol",
    "linear_fill",
    "linear_liquidation_price",
    "liquidation_fee_per_contract",
    "liquidation_triggered",
    "margin_rates",
    "margin_tier",
    "notional_usd",
    "partial_liquidation_size",
    "position_margins",
    "settlement_margins",
    "settlement_currency",
    "stop_loss_usd_per_contract",
    "symbol_settlement_currency",
    "to_usd",
    "unrealized_pnl",
    "unrealized_pnl_usd",
    "contracts_pnl_usd",
]

#: Basis points per unit (a fee rate of ``bps`` charges ``notional x bps / BPS``).
BPS: Final = Decimal(10_000)
#: A partial liquidation closes enough to bring margin equity back to this multiple of maintenance margin.
LIQUIDATION_TARGET: Final = Decimal("1.25")
#: Most liquidation steps (partial or full closes) taken for one mark price.
MAX_LIQUIDATION_STEPS: Final = 20
#: Most hours of funding settled in one clock step (31 days); a longer gap (nothing ran) is skipped, not invented.
MAX_FUNDING_HOURS_PER_STEP: Final = 24 * 31

_N = TypeVar("_N", float, Decimal)
_PLUS_ONE: Final = Decimal(1)
_MINUS_ONE: Final = Decimal(-1)


def settlement_currency(inst: Instrument) -> str:
    """Lower-case currency that P&L, fees and funding of ``inst`` settle in: ``usd`` for PF_ (linear), the
    base asset (``xbt``) for PI_ (inverse). Source: Kraken Support "Portfolio Management" (PnL)."""
    return "usd" if inst.is_linear else inst.base.lower()


def is_inverse_symbol(symbol: str) -> bool:
    """True for inverse contracts by symbol (``PI_`` perpetuals, ``FI_`` fixed maturity; case-insensitive), whose
    contract is worth a fixed USD amount and which settle in the base asset. Source: Kraken Futures docs
    "Get instruments" (symbol prefixes; contractSize) and Kraken Support "Portfolio Management"."""
    return symbol.upper().startswith(("PI_", "FI_"))


def symbol_settlement_currency(symbol: str) -> str:
    """Lower-case settlement currency of a perpetual by its symbol alone: ``usd`` for linear (PF_/FF_), the
    base asset for inverse (``PI_XBTUSD`` and ``FI_XBTUSD_240628`` -> ``xbt``). Source: Kraken Support "Portfolio Management" (PnL)."""
    sym = symbol.upper()
    if not is_inverse_symbol(sym):
        return "usd"
    base = sym[3:].split("_")[0]  # FI_XBTUSD_240628: the pair before the maturity
    return (base[:-3] if base.endswith("USD") else base).lower()


def to_usd(inst: Instrument, amount: Decimal, price: Decimal) -> Decimal:
    """An amount in the settlement currency of ``inst`` as USD at ``price`` USD per base asset: unchanged for
    PF_ (USD already), ``amount x price`` for PI_ (the base asset valued at the price, e.g. the mark or the
    exit price). Example: 0.001 XBT at 30 000 USD = 30 USD. Source: Kraken Support "Portfolio Management"
    (inverse PnL is in the base currency; its USD value is the coin amount at the current price)."""
    return amount if inst.is_linear else amount * price


def notional_usd(inst: Instrument, size: Decimal, price: Decimal) -> Decimal:
    """Notional value in USD of ``size`` contracts (sign ignored) at ``price`` USD: |size| x price x contract
    size for PF_; |size| x contract size for PI_ (an inverse contract is worth a fixed USD amount).
    Source: Kraken Futures docs "Get instruments" (contractSize) and Kraken Support "Linear Multi-Collateral
    Perpetual Contract Specifications"."""
    if inst.is_linear:
        return abs(size) * price * inst.contract_size
    return abs(size) * inst.contract_size


def unrealized_pnl(inst: Instrument, signed_size: Decimal, entry: Decimal, price: Decimal) -> Decimal:
    """P&L of ``signed_size`` contracts held from ``entry`` to ``price`` (USD prices), in the settlement
    currency. Linear: (price - entry) x size x contract size (USD). Inverse: (1/entry - 1/price) x size x
    contract size (base asset). Zero for a zero size (``entry`` may then be 0).
    Source: Kraken Support "Portfolio Management" (PnL of linear and inverse futures)."""
    if signed_size == 0:
        return ZERO
    if inst.is_linear:
        return (price - entry) * signed_size * inst.contract_size
    return (1 / entry - 1 / price) * signed_size * inst.contract_size


def unrealized_pnl_usd(inst: Instrument, signed_size: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    """``unrealized_pnl`` valued in USD at ``mark``: the linear P&L as is, the inverse coin P&L x mark.
    Example: PI_XBTUSD short 1 000 contracts from 100 000 to 100 070: (1/100 000 - 1/100 070) x -1 000 =
    -0.0000069951... XBT, x 100 070 = -0.70 USD. The inverse form is computed as size x contract size x
    (mark - entry) / entry, the same value with one division (exact where the two-step form rounds).
    Source: Kraken Support "Portfolio Management"."""
    return contracts_pnl_usd(signed_size * inst.contract_size, entry, mark, inverse=not inst.is_linear)


def contracts_pnl_usd(signed_units: Decimal, entry: Decimal, mark: Decimal, *, inverse: bool) -> Decimal:
    """``unrealized_pnl_usd`` for ``signed_units`` = signed contracts x contract size (base units for linear,
    USD for inverse): linear ``units x (mark - entry)``; inverse ``units x (mark - entry) / entry`` (the coin
    P&L valued at ``mark``). An inverse position without a positive entry price has no defined P&L: 0.
    Source: Kraken Support "Portfolio Management"."""
    if signed_units == 0:
        return ZERO
    if not inverse:
        return (mark - entry) * signed_units
    if entry <= 0:
        return ZERO
    return signed_units * (mark - entry) / entry


def coin_account_equity_usd(balance_coin: Decimal, positions: Iterable[tuple[Decimal, Decimal]],
                            mark: Decimal) -> Decimal:
    """Equity in USD at ``mark`` (USD per coin) of an inverse margin account (``fi_xbtusd``): its coin balance
    plus the unrealised coin P&L of its positions at ``mark``, valued at ``mark``:
    ``balance x mark + sum(q x (mark - e) / e)`` with each position given as ``(q, e)``: signed USD
    contracts x contract size, and entry USD (``contracts_pnl_usd``, inverse).
    Example: 0.1 XBT with a 1 000-contract PI_XBTUSD short from 100 000, mark 100 070:
    0.1 x 100 070 - 1 000 x 70 / 100 000 = 10 007 - 0.7 = 10 006.3 USD.
    Raises nothing; a position without a positive entry counts 0. Source: Kraken Futures docs "Get wallets"
    (inverse margin accounts hold one coin; portfolio value = balance + unrealised P&L) and Kraken Support
    "Portfolio Management" (inverse P&L in the coin, valued at the current price)."""
    total = balance_coin * mark
    for q, e in positions:
        total += contracts_pnl_usd(q, e, mark, inverse=True)
    return total


def contracts_for_notional(inst: Instrument, notional: Decimal, price: Decimal) -> Decimal:
    """Contracts (unrounded) worth ``notional`` USD at ``price`` USD: notional / (price x contract size) for
    PF_ (a contract is ``contract_size`` base units), notional / contract size for PI_ (a contract is
    ``contract_size`` USD at any price). Inverse of ``notional_usd``. Source: Kraken Futures docs "Get
    instruments" (contractSize)."""
    if inst.is_linear:
        return notional / (price * inst.contract_size)
    return notional / inst.contract_size


def stop_loss_usd_per_contract(inst: Instrument, entry: Decimal, stop: Decimal) -> Decimal:
    """Loss in USD of one contract held from ``entry`` to ``stop`` (USD prices; sign ignored), valued at the
    stop price: |stop - entry| x contract size for PF_; for PI_ the coin loss |1/entry - 1/stop| x contract
    size at ``stop`` USD = contract size x |stop - entry| / entry. Example: PI_XBTUSD from 40 000 to 38 000:
    1 x 2 000 / 40 000 = 0.05 USD per contract. Source: Kraken Support "Portfolio Management" (PnL of linear
    and inverse futures)."""
    if inst.is_linear:
        return abs(stop - entry) * inst.contract_size
    return inst.contract_size * abs(stop - entry) / entry


def linear_fill(old_size: Decimal, old_entry: Decimal, signed_qty: Decimal, price: Decimal,
                contract_size: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """A fill of ``signed_qty`` contracts at ``price`` USD against a linear (PF_) position of ``old_size``
    contracts entered at ``old_entry`` USD: returns (new size, new average entry USD, realised P&L USD).

    Adding (or opening) keeps the size-weighted average entry; reducing realises
    (price - entry) x closed x contract size on the closed part and keeps the entry; closing to zero sets
    the entry to 0; flipping opens the remainder at ``price``. ``apply_fill`` for a linear instrument; the
    backtest calls it directly with the contract size bound. Source: Kraken Support "Portfolio Management"
    (PnL) and Kraken Futures docs "Get open positions" (price = average entry price).
    """
    new = old_size + signed_qty
    if old_size == 0 or (old_size > 0) == (signed_qty > 0):
        return new, (old_size * old_entry + signed_qty * price) / new, ZERO
    closed = min(abs(signed_qty), abs(old_size))
    signed_closed = (_PLUS_ONE if old_size > 0 else _MINUS_ONE) * closed
    realized = (price - old_entry) * signed_closed * contract_size if signed_closed != 0 else ZERO
    if new == 0:
        return new, ZERO, realized
    if (new > 0) != (old_size > 0):
        return new, price, realized
    return new, old_entry, realized


def apply_fill(inst: Instrument, old_size: Decimal, old_entry: Decimal, signed_qty: Decimal, price: Decimal
               ) -> tuple[Decimal, Decimal, Decimal]:
    """A fill of ``signed_qty`` contracts at ``price`` USD against a position of ``old_size`` contracts
    entered at ``old_entry`` USD: returns (new size, new average entry USD, realised P&L in the settlement
    currency).

    Linear: ``linear_fill``. Inverse: adding keeps the harmonic size-weighted mean entry
    (size / (old/old_entry + qty/price)), which keeps inverse P&L additive; reducing realises
    ``unrealized_pnl`` of the closed part at the old entry; flipping opens the remainder at ``price``.
    Source: Kraken Support "Portfolio Management" (PnL of linear and inverse futures).
    """
    if inst.is_linear:
        return linear_fill(old_size, old_entry, signed_qty, price, inst.contract_size)
    new = old_size + signed_qty
    if old_size == 0:
        return new, (old_size * old_entry + signed_qty * price) / new, ZERO
    if (old_size > 0) == (signed_qty > 0):
        return new, new / (old_size / old_entry + signed_qty / price), ZERO
    closed = min(abs(signed_qty), abs(old_size))
    realized = unrealized_pnl(inst, (_PLUS_ONE if old_size > 0 else _MINUS_ONE) * closed, old_entry, price)
    if new == 0:
        return new, ZERO, realized
    if (new > 0) != (old_size > 0):
        return new, price, realized
    return new, old_entry, realized


def fee_amount(inst: Instrument, size: Decimal, price: Decimal, fee_bps: Decimal) -> Decimal:
    """Trading fee of ``size`` contracts (sign ignored) at ``price`` USD and ``fee_bps`` basis points, in the
    settlement currency: notional x bps / 10 000 (USD for PF_; for PI_ the USD notional / price, in the base
    asset). A negative rate is a rebate. Source: Kraken Futures docs "Fees" and "Get fills"
    (fee_paid, fee_currency)."""
    if inst.is_linear:
        return abs(size) * price * inst.contract_size * fee_bps / BPS
    return abs(size) * inst.contract_size / price * fee_bps / BPS


def absolute_funding_rate(relative_rate: Decimal, price: Decimal, *, linear: bool) -> Decimal:
    """Kraken's absolute funding rate from the relative rate (fraction per hour) at ``price`` USD:
    relative x price for linear (PF_) perpetuals, relative / price for inverse (PI_) ones.
    Source: Kraken Futures docs "Historical funding rates" (fundingRate, relativeFundingRate) and WS
    "ticker" (funding_rate, relative_funding_rate)."""
    return relative_rate * price if linear else relative_rate / price


def funding_amount(signed_size: Decimal, absolute_rate: Decimal, contract_size: Decimal) -> Decimal:
    """One hour of funding paid on ``signed_size`` contracts at Kraken's ``absolute_rate``, in the settlement
    currency: -signed_size x absolute x contract size (positive = received: a long pays when the rate is
    positive). Source: Kraken Support "Linear Multi-Collateral Perpetual Contract Specifications" (hourly
    funding; longs pay shorts when the premium is positive) and Kraken Futures docs "Account log"
    (``funding rate change`` rows, realized_funding)."""
    return -signed_size * absolute_rate * contract_size


def funding_payment(inst: Instrument, signed_size: Decimal, relative_rate: Decimal, price: Decimal
                    ) -> tuple[Decimal, Decimal]:
    """One hour of funding on ``signed_size`` contracts of ``inst``: (absolute rate, payment in the
    settlement currency) = (``absolute_funding_rate``, ``funding_amount``). ``price`` is the index (or mark)
    price in USD, ``relative_rate`` the relative rate per hour (fraction)."""
    absolute = absolute_funding_rate(relative_rate, price, linear=inst.is_linear)
    return absolute, funding_amount(signed_size, absolute, inst.contract_size)


def margin_tier(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(notional at entry USD, initial margin rate, maintenance margin rate) of the margin tier the position
    falls in (bracket lookup on the whole notional: ``Instrument.margin_level_for``). Source: Kraken Futures
    docs "Get instruments" (marginLevels) and Kraken Support "Margining & Liquidations: Multi-Collateral"."""
    n = notional_usd(inst, signed_size, entry)
    level = inst.margin_level_for(n, signed_size)
    return n, level.initial_margin_rate, level.maintenance_margin_rate


def margin_rates(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) margin rates (fractions) of the tier the position falls in (``margin_tier``)."""
    _, im_rate, mm_rate = margin_tier(inst, signed_size, entry)
    return im_rate, mm_rate


def position_margins(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal]:
    """(initial margin, maintenance margin) in USD of a position: notional at entry x tier rate; (0, 0) for a
    zero size. Source: Kraken Support "Margining & Liquidations: Multi-Collateral" ("based on the value ... at
    entry price"; Kraken Futures docs WS "open_positions" example 0.5 x 70.53 x 2 % = 0.7053 IM)."""
    if signed_size == 0:
        return ZERO, ZERO
    n, im_rate, mm_rate = margin_tier(inst, signed_size, entry)
    return n * im_rate, n * mm_rate


def settlement_margins(inst: Instrument, signed_size: Decimal, entry: Decimal) -> tuple[Decimal, Decimal]:
    """(initial margin, maintenance margin) of a position in its settlement currency: USD for PF_ (as
    ``position_margins``); for PI_ the coin the inverse margin account holds, the USD margin / entry price
    (contracts x contract size x tier rate / entry). Example: PI_XBTUSD 10 000 contracts entered at 50 000,
    first tier 2 % / 1 %: IM 10 000 x 2 % / 50 000 = 0.004 XBT, MM 0.002 XBT. Source: Kraken Futures docs
    "Get accounts" (inverse margin accounts: marginRequirements im/mm in the account currency) and Kraken
    Support "Portfolio Management" (inverse contracts are margined and settled in the base currency)."""
    im, mm = position_margins(inst, signed_size, entry)
    if inst.is_linear or signed_size == 0:
        return im, mm
    return im / entry, mm / entry


def liquidation_triggered(margin_equity_usd: Decimal, maintenance_margin_usd: Decimal) -> bool:
    """True when the account is liquidated: margin equity below the total maintenance margin of its open
    positions (both USD). Source: Kraken Support "Margining & Liquidations: Multi-Collateral" (liquidation
    trigger for multi-collateral accounts)."""
    return margin_equity_usd < maintenance_margin_usd


def liquidation_fee_per_contract(inst: Instrument, price: Decimal, liquidation_fee_bps: Decimal) -> Decimal:
    """The liquidation fee in USD of closing one contract at ``price`` USD: notional x bps / 10 000.
    [GAP] Kraken's liquidation fee is not published in the API documentation; the rate is configured
    (``paper.liquidation_fee_pct``)."""
    return notional_usd(inst, _PLUS_ONE, price) * liquidation_fee_bps / BPS


def partial_liquidation_size(equity_usd: Decimal, mm_total_usd: Decimal, mm_position_usd: Decimal,
                             size_abs: Decimal, fee_per_contract_usd: Decimal, lot: Decimal) -> Decimal:
    """Contracts of a position to close so that margin equity is back to ``LIQUIDATION_TARGET`` x the
    remaining maintenance margin, rounded up to the lot (``lot`` contracts); ``size_abs`` (the whole
    position, |size| contracts) when no partial close is enough; 0 when nothing needs closing.

    Closing q contracts at mark costs q x ``fee_per_contract_usd`` and frees q x ``mm_position_usd`` /
    ``size_abs`` of maintenance margin (realising P&L at mark does not change equity), so q is the smallest
    size with E - q x f >= TARGET x (M - q x m / |s|). Source: Kraken Support "Margining & Liquidations:
    Multi-Collateral" and "Equity Protection Process" (partial liquidations; the sizing rule itself is
    [GAP], not published).
    """
    freed = LIQUIDATION_TARGET * mm_position_usd / size_abs - fee_per_contract_usd
    if freed <= 0:
        return size_abs
    q = (LIQUIDATION_TARGET * mm_total_usd - equity_usd) / freed
    if q <= 0:
        return ZERO
    q = (q / lot).to_integral_value(rounding=ROUND_CEILING) * lot
    # the division above is rounded to the Decimal context: on an exact boundary it can land one lot high,
    # so the lot below is checked against the inequality itself
    if q > lot and equity_usd - (q - lot) * fee_per_contract_usd >= LIQUIDATION_TARGET * (
            mm_total_usd - (q - lot) * mm_position_usd / size_abs):
        q -= lot
    return min(q, size_abs)


def capped_liquidation_fee_bps(inst: Instrument, qty: Decimal, price: Decimal, equity_usd: Decimal,
                               liquidation_fee_bps: Decimal) -> Decimal:
    """The fee rate (bps) of a full liquidation of ``qty`` contracts at ``price`` USD that charges
    min(configured fee, max(equity, 0)): the account pays the liquidation fee only out of the margin equity
    it has left (``equity_usd``, USD; converted to the base asset at ``price`` for PI_). Returns
    ``liquidation_fee_bps`` when the equity covers the full fee. Source: Kraken Support "Equity Protection
    Process" (a liquidation is priced "so that the account does not go negative")."""
    fee_at_one_bp = fee_amount(inst, qty, price, _PLUS_ONE)  # settlement currency per bp of fee rate
    cap = max(equity_usd, ZERO) if inst.is_linear else max(equity_usd, ZERO) / price
    if fee_at_one_bp <= 0 or fee_at_one_bp * liquidation_fee_bps <= cap:
        return liquidation_fee_bps
    return cap / fee_at_one_bp


def linear_liquidation_price(signed_size: _N, entry: _N, position_mm_usd: _N, free_collateral_usd: _N) -> _N:
    """Mark price (USD) at which a linear (PF_) position's account reaches maintenance margin:
    ``entry - (free_collateral - position_mm) / signed_size``, with ``free_collateral`` = USD collateral +
    other positions' unrealised P&L - their maintenance margin, ``position_mm`` = this position's
    maintenance margin (USD). Solves C + q x (P - e) = MM for P. ``signed_size`` must be non-zero. Works on
    ``float`` and on ``Decimal`` (the same operations). The result may be <= 0 (no liquidation for a long).
    Source: Kraken Support "Margining & Liquidations: Multi-Collateral" (estimated liquidation price = the
    mark at which margin equity falls below maintenance margin)."""
    return entry - (free_collateral_usd - position_mm_usd) / signed_size


def inverse_liquidation_price(signed_size_usd: Decimal, entry: Decimal, maintenance_margin_rate: Decimal,
                              collateral_coin: Decimal) -> Decimal | None:
    """Mark price (USD) at which an inverse (PI_) position of ``signed_size_usd`` USD contracts entered at
    ``entry`` USD, with ``collateral_coin`` in the base asset, reaches maintenance margin:
    C + q/e - q/P = m |q| / e, so P = q / (C + q/e - m |q| / e). None when the denominator is 0.
    Source: Kraken Support "Portfolio Management" (inverse PnL) and "Margining & Liquidations"."""
    q, e = signed_size_usd, entry
    denom = collateral_coin + q / e - maintenance_margin_rate * abs(q) / e
    if denom == 0:
        return None
    return q / denom
