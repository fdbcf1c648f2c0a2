"""The risk gate for entries: operator state, position limits, leverage, sizing, liquidation buffer, costs.

Owns: the pure decision ``evaluate_entry``. Every entry, from a strategy or from the
operator, passes it; every rejection carries a reason that is journaled and shown. Exits (reduce-only
orders) never pass this gate: they must always be allowed to reduce risk.
Units: prices USD, sizes contracts (Decimal, rounded down to the lot; PI_ inverse contracts are USD each, sized
so that their USD notional / USD loss at the stop matches the linear rule), percentages named ``_pct``.
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.config import RiskConfig
from kraken_tui.domain import ZERO, Instrument, PositionSide
from kraken_tui.domain.fastinit import fast_init
from kraken_tui.domain.money import (
    contracts_for_notional,
    contracts_pnl_usd,
    stop_loss_usd_per_contract,
    symbol_settlement_currency,
)
from kraken_tui.engine.liquidation import (
    inverse_liquidation_price,
    linear_liquidation_price,
    liquidation_distance,
)

__all__ = [
    "AccountSnapshot", "EntryRequest", "OpenExposure", "RiskDecision", "allowed_leverage", "evaluate_entry",
    "expected_costs_pct", "gate", "win_rate_cap",
]

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_DEC_CACHE: dict[float, Decimal] = {}
_DEC_GET = _DEC_CACHE.get


def _dec(x: float) -> Decimal:
    """``Decimal(str(x))`` for a config number, memoised for non-zero floats (the gate runs on every
    entry with the same few config values; the cache is keyed on the value, so a changed config is safe)."""
    if x.__class__ is float and x:
        d = _DEC_CACHE.get(x)
        if d is None:
            d = Decimal(str(x))
            if len(_DEC_CACHE) < 4096:
                _DEC_CACHE[x] = d
        return d
    return Decimal(str(x))


@fast_init
@dataclass(frozen=True, slots=True)
class OpenExposure:
    """An open position as the risk gate sees it: signed size (contracts), entry and mark (USD), the
    initial / maintenance margin rates of its tier (fractions), and whether it is an inverse (PI_) position,
    whose contracts are 1 USD each and whose P&L is in the coin (``inverse``)."""

    symbol: str
    signed_size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    initial_margin_rate: Decimal
    maintenance_margin_rate: Decimal
    inverse: bool = False

    @property
    def notional_usd(self) -> Decimal:
        """|size| x mark (PF_ linear); |size| USD contracts (PI_ inverse)."""
        if self.inverse:
            return abs(self.signed_size)
        return abs(self.signed_size) * self.mark_price

    @property
    def unrealized_pnl_usd(self) -> Decimal:
        """size x (mark - entry) for linear contracts (spec §8.5); for inverse ones the coin P&L
        size x (1/entry - 1/mark) valued at the mark (``domain.money.contracts_pnl_usd``; 0 for an inverse
        position without a positive entry price)."""
        return contracts_pnl_usd(self.signed_size, self.entry_price, self.mark_price, inverse=self.inverse)

    @property
    def entry_notional_usd(self) -> Decimal:
        """|size| x entry (PF_ linear); |size| USD contracts (PI_ inverse): the base of maintenance margin."""
        if self.inverse:
            return abs(self.signed_size)
        return abs(self.signed_size) * self.entry_price


@fast_init
@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account figures the gate needs. ``equity_usd`` is margin equity; ``collateral_usd`` the USD
    collateral value before unrealized P&L; ``drawdown_pct`` the drawdown from peak equity, percent;
    ``closed_trades`` / ``winning_trades`` count the closed trades (for the win-rate leverage cap)."""

    equity_usd: Decimal
    collateral_usd: Decimal
    positions: tuple[OpenExposure, ...] = ()
    consecutive_losses: int = 0
    drawdown_pct: float = 0.0
    closed_trades: int = 0
    winning_trades: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class EntryRequest:
    """A proposed entry.

    Attributes:
        side: LONG for a buy signal, SHORT for a sell signal.
        entry_price: expected fill price, USD.
        stop_price: protective stop, USD (required when sizing = "risk").
        target_move_pct: the move the strategy aims for, percent of entry (for the cost check), or None.
        funding_rate: current relative funding rate per hour (fraction; positive = longs pay), or None.
        atr_pct: ATR as percent of price on the signal timeframe (for volatility-scaled leverage), or None.
    """

    instrument: Instrument
    side: PositionSide
    entry_price: Decimal
    stop_price: Decimal | None = None
    target_move_pct: float | None = None
    funding_rate: float | None = None
    atr_pct: float | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The gate's answer: ``approved`` with ``size`` (contracts) and the leverage allowed, or a ``reason``.

    ``notes`` lists what shaped the size (e.g. "capped by max_position_notional_usd").
    """

    approved: bool
    size: Decimal = ZERO
    leverage_x: Decimal = ZERO
    reason: str | None = None
    notes: tuple[str, ...] = ()


def _margin_account(symbol: str, inverse: bool) -> str:
    """The margin account of a position (spec §4.6): ``flex`` for linear contracts, else the lower-case coin
    of its inverse margin account (``PI_XBTUSD`` -> ``xbt``, account ``fi_xbtusd``)."""
    return symbol_settlement_currency(symbol) if inverse else "flex"


def _reject(reason: str, notes: list[str] | None = None) -> RiskDecision:
    return RiskDecision(False, reason=reason, notes=tuple(notes or ()))


def win_rate_cap(cfg: RiskConfig, closed_trades: int, winning_trades: int) -> tuple[Decimal, str] | None:
    """The win-rate leverage cap ("win rate below 40 % -> at most 2x" with the defaults): ``(cap_x, why)`` when at least
    ``win_rate_min_trades`` trades closed and their win rate (winning / closed, percent) is below
    ``win_rate_floor_pct``; None otherwise (or when ``win_rate_floor_pct`` is 0).

    Example: 4 wins in 12 closed trades = 33.3 % < 40 % -> (2, "win rate 33.3% below 40%").
    """
    rate = _win_rate_below_floor(cfg, closed_trades, winning_trades)
    if rate is None:
        return None
    return _dec(cfg.win_rate_leverage_cap), _win_rate_why(cfg, rate)


def _win_rate_below_floor(cfg: RiskConfig, closed_trades: int, winning_trades: int) -> float | None:
    """The win rate (percent) when ``win_rate_cap`` applies (its rule), else None."""
    if cfg.win_rate_floor_pct <= 0 or closed_trades < cfg.win_rate_min_trades or closed_trades <= 0:
        return None
    rate = winning_trades / closed_trades * 100
    return None if rate >= cfg.win_rate_floor_pct else rate


def _win_rate_why(cfg: RiskConfig, rate: float) -> str:
    """``win_rate_cap``'s reason text for a win rate of ``rate`` percent."""
    return f"win rate {rate:.1f}% below {cfg.win_rate_floor_pct:g}%"


def expected_costs_pct(cfg: RiskConfig, side: PositionSide, funding_rate: float | None) -> tuple[float, str]:
    """Round-trip costs of one trade as percent of notional, and their breakdown: taker fee and slippage on
    entry and on exit (``expected_taker_fee_bps``, ``expected_slippage_bps``) plus the funding the side pays
    over ``expected_hold_h`` (relative rate per hour x hours; received funding is not counted as income).

    Example: fee 5 bps, slippage 2 bps, long paying 0.001 %/h for 4 h -> 0.10 + 0.04 + 0.004 = 0.144 %.
    """
    fees_pct, slip_pct, funding_pct = _cost_parts_pct(cfg, side, funding_rate)
    return fees_pct + slip_pct + funding_pct, _costs_why(cfg, fees_pct, slip_pct, funding_pct)


def _cost_parts_pct(cfg: RiskConfig, side: PositionSide, funding_rate: float | None) -> tuple[float, float, float]:
    """``expected_costs_pct``'s parts (percent of notional): taker fees, slippage, funding paid over the hold."""
    fees_pct = 2 * cfg.expected_taker_fee_bps / 100
    slip_pct = 2 * cfg.expected_slippage_bps / 100
    paying = (funding_rate or 0.0) * side.sign
    return fees_pct, slip_pct, max(0.0, paying) * cfg.expected_hold_h * 100


def _costs_why(cfg: RiskConfig, fees_pct: float, slip_pct: float, funding_pct: float) -> str:
    """``expected_costs_pct``'s breakdown text (built only where it is read: a rejection's reason)."""
    return (f"fees {fees_pct:.3f}% + slippage {slip_pct:.3f}% + funding {funding_pct:.3f}% over "
            f"{cfg.expected_hold_h:g} h")


def allowed_leverage(cfg: RiskConfig, atr_pct: float | None, consecutive_losses: int, drawdown_pct: float,
                     closed_trades: int = 0, winning_trades: int = 0) -> tuple[Decimal, str]:
    """Leverage allowed now (x) and why: the ATR band's leverage under ``leverage_cap``, capped by the win-rate
    cap (``win_rate_cap``), cut to 1x after ``loss_streak_cut`` consecutive losses or when drawdown from peak
    exceeds ``drawdown_deleverage_pct``."""
    x = cfg.leverage_cap  # _dec(x), its memo read inline (as in gate): this runs on every entry
    d = _DEC_GET(x) if x.__class__ is float else None
    cap = _dec(x) if d is None else d
    lev, why = cap, "leverage_cap"
    if atr_pct is not None:
        band = 0
        for edge in cfg.vol_band_atr_pct:
            if atr_pct >= edge:
                band += 1
        x = cfg.vol_band_leverage[band]
        d = _DEC_GET(x) if x.__class__ is float else None
        band_lev = _dec(x) if d is None else d
        if band_lev < lev:
            lev, why = band_lev, f"ATR {atr_pct:.2f}% band"
    # win_rate_cap, its text only when it applies; no call while the floor is off or too few trades are closed
    rate = (_win_rate_below_floor(cfg, closed_trades, winning_trades)
            if cfg.win_rate_floor_pct > 0 and closed_trades >= cfg.win_rate_min_trades else None)
    if rate is not None:
        wr_cap = _dec(cfg.win_rate_leverage_cap)
        if wr_cap < lev:
            lev, why = wr_cap, _win_rate_why(cfg, rate)
    if consecutive_losses >= cfg.loss_streak_cut and lev > 1:
        lev, why = _ONE, f"{consecutive_losses} consecutive losses"
    if drawdown_pct > cfg.drawdown_deleverage_pct and lev > 1:
        lev, why = _ONE, f"drawdown {drawdown_pct:.1f}% from peak"
    return min(lev, cap), why


def evaluate_entry(
    req: EntryRequest, account: AccountSnapshot, cfg: RiskConfig, entry_block_reason: str | None = None
) -> RiskDecision:
    """Decide whether an entry may be sent and how large it is.

    Checks, in order: operator state (``entry_block_reason`` from the state machine), linear contract,
    existing position (no pyramiding unless enabled; an opposite position must be closed first), max open
    positions, cost (expected move >= ``cost_edge_multiple`` x round-trip costs, ``expected_costs_pct``), size
    (risk-based ``equity x risk_per_trade_pct / |entry - stop|`` or fixed fraction), caps (max position
    notional, leverage allowed x equity minus open notional, max capital deployed as initial margin),
    rounding down to the lot, minimum size, then the liquidation buffer: the estimated distance from entry
    to the liquidation price after the order (spec §9 formula) must be at least ``liquidation_buffer_pct``.
    ``account`` is the account that margins the entry (``views.risk_account``): the flex account for PF_, the
    coin's inverse margin account valued at mark (USD) for PI_; the leverage and capital caps count only that
    account's open positions.

    Returns:
        RiskDecision; never raises for a rejected entry.
    """
    if entry_block_reason:
        return _reject(entry_block_reason)
    reason, size, lev, notes = gate(
        req.instrument, req.side, req.entry_price, req.stop_price, req.target_move_pct, req.funding_rate,
        req.atr_pct, account.equity_usd, account.collateral_usd, account.positions, account.consecutive_losses,
        account.drawdown_pct, cfg, cfg.sizing, closed_trades=account.closed_trades,
        winning_trades=account.winning_trades,
    )
    if reason is not None:
        return RiskDecision(False, reason=reason, notes=notes)
    return RiskDecision(True, size, lev, None, notes)


def gate(
    inst: Instrument, side: PositionSide, price: Decimal, stop: Decimal | None, target_move_pct: float | None,
    funding_rate: float | None, atr_pct: float | None, equity: Decimal, collateral: Decimal,
    positions: tuple[OpenExposure, ...], consecutive_losses: int, drawdown_pct: float, cfg: RiskConfig,
    sizing: str, *, closed_trades: int = 0, winning_trades: int = 0, size_scale: float = 1.0,
) -> tuple[str | None, Decimal, Decimal, tuple[str, ...]]:
    """``evaluate_entry`` after the operator check, on the request's and the account's fields (no
    ``EntryRequest``/``AccountSnapshot``/``RiskDecision`` built: ``engine.decide`` calls it per signal).

    ``sizing`` stands for ``cfg.sizing`` ("risk" = risk-based, anything else fixed fraction), so a caller
    overriding the mode needs no copy of ``cfg``. Returns ``(reason, size, leverage_x, notes)``: ``reason``
    None for an approved entry of ``size`` contracts at up to ``leverage_x``; otherwise the rejection reason
    with size and leverage 0. ``size_scale`` (0..1] multiplies the size before the caps (confidence
    sizing, ``engine.decide``); ``closed_trades``/``winning_trades`` feed the win-rate leverage cap. Raises only
    what ``evaluate_entry`` raises (e.g. ``decimal`` errors on NaN).
    """
    if price <= ZERO or equity <= ZERO:  # (a Decimal 0 compares as the int 0 does, NaN raising alike)
        if not inst.is_linear and price > ZERO:
            coin = symbol_settlement_currency(inst.symbol).upper()
            return (f"no equity in the {coin} inverse margin account to size the {inst.symbol} entry from "
                    f"(inverse contracts are margined in {coin})"), ZERO, ZERO, ()
        return "no price or no equity to size the entry from", ZERO, ZERO, ()
    held = None
    if positions:
        symbol = inst.symbol
        held = next((p for p in positions if p.symbol == symbol and p.signed_size != 0), None)
        if held is not None:
            same = (held.signed_size > 0) == (side is PositionSide.LONG)
            if not same:
                return f"{symbol}: an opposite position is open; it must be closed first", ZERO, ZERO, ()
            if not cfg.allow_pyramiding:
                return f"{symbol}: already {side.value}; pyramiding is disabled", ZERO, ZERO, ()
        open_count = sum(1 for p in positions if p.signed_size != 0)
    else:
        open_count = 0
    if held is None and open_count >= cfg.max_open_positions:
        return f"max open positions reached ({open_count}/{cfg.max_open_positions})", ZERO, ZERO, ()

    if target_move_pct is not None:
        fees_pct, slip_pct, funding_pct = _cost_parts_pct(cfg, side, funding_rate)  # expected_costs_pct
        costs_pct = fees_pct + slip_pct + funding_pct
        if target_move_pct <= costs_pct * cfg.cost_edge_multiple:
            return (
                f"expected move {target_move_pct:.3f}% does not exceed {cfg.cost_edge_multiple:g} x costs "
                f"{costs_pct:.3f}% ({_costs_why(cfg, fees_pct, slip_pct, funding_pct)})"
            ), ZERO, ZERO, ()

    lev, lev_why = allowed_leverage(cfg, atr_pct, consecutive_losses, drawdown_pct, closed_trades, winning_trades)
    note = f"leverage {lev}x ({lev_why})"
    if sizing == "risk":
        if stop is None or stop == price:
            return "risk-based sizing needs a stop price distinct from the entry price", ZERO, ZERO, ()
        x = cfg.risk_per_trade_pct
        d = _DEC_GET(x) if x.__class__ is float else None
        risk_pct = _dec(x) if d is None else d
        if inst.is_linear:
            size = equity * risk_pct / _HUNDRED / abs(price - stop)
        else:  # inverse: USD contracts whose coin loss at the stop, in USD, is the risk budget
            size = equity * risk_pct / _HUNDRED / stop_loss_usd_per_contract(inst, price, stop)
    else:
        x = cfg.fixed_fraction_pct  # _dec(x), its memo read inline (as below): this runs on every entry
        d = _DEC_GET(x) if x.__class__ is float else None
        size = equity * (_dec(x) if d is None else d) / _HUNDRED / price
        if not inst.is_linear:  # inverse: the same USD notional in USD contracts
            size = contracts_for_notional(inst, size * price, price)
    if size_scale != 1.0:
        size = size * _dec(size_scale)

    # USD notional of one contract: the price for PF_ linear, the contract size for PI_ inverse
    unit = price if inst.is_linear else inst.contract_size
    level = inst.margin_level_for(size * unit, size) if inst.margin_levels else None
    im_rate = level.initial_margin_rate if level else _ONE / lev
    mm_rate = level.maintenance_margin_rate if level else im_rate / 2
    if positions:  # the margin account's own positions: flex for PF_, the coin's inverse account for PI_
        account = _margin_account(inst.symbol, not inst.is_linear)
        mine = [p for p in positions if _margin_account(p.symbol, p.inverse) == account]
        open_notional = sum((p.notional_usd for p in mine), ZERO)
        used_im = sum((p.notional_usd * p.initial_margin_rate for p in mine), ZERO)
    else:
        open_notional = used_im = ZERO
    # the three caps, all computed before any is applied (order: notional, leverage, capital deployed)
    x = cfg.max_position_notional_usd
    d = _DEC_GET(x) if x.__class__ is float else None
    cap_notional = (_dec(x) if d is None else d) / unit
    cap_leverage = (lev * equity - open_notional) / unit
    x = cfg.max_capital_deployed_pct
    d = _DEC_GET(x) if x.__class__ is float else None
    cap_deployed = ((_dec(x) if d is None else d) / _HUNDRED * equity - used_im) / (unit * im_rate)
    capped: list[str] | None = None
    if size > cap_notional:
        size = max(cap_notional, ZERO)
        capped = [note, "capped by max_position_notional_usd"]
    if size > cap_leverage:
        size = max(cap_leverage, ZERO)
        capped = (capped or [note]) + ["capped by leverage"]
    if size > cap_deployed:
        size = max(cap_deployed, ZERO)
        capped = (capped or [note]) + ["capped by max_capital_deployed_pct"]
    notes = tuple(capped) if capped else (note,)
    size = inst.round_size(size)
    if size < inst.min_order_size:
        return f"size {size} below the minimum order {inst.min_order_size} ({'; '.join(notes)})", ZERO, ZERO, notes

    long = side is PositionSide.LONG
    if not inst.is_linear:
        # inverse: margined in the coin (spec §4.6); the USD collateral at the entry price stands for it, and
        # no PF_ position's figures enter the estimate
        held_q = held.signed_size if held is not None else ZERO
        q = (held_q + (size if long else -size)) * inst.contract_size
        liq = inverse_liquidation_price(q, price, mm_rate, collateral / price)
    else:
        if positions:
            lin = [p for p in positions if not p.inverse]
            other_upnl = sum((p.unrealized_pnl_usd for p in lin), ZERO)
            other_mm = sum((p.entry_notional_usd * p.maintenance_margin_rate for p in lin), ZERO)
        else:
            other_upnl = other_mm = ZERO
        liq = linear_liquidation_price(size if long else -size, price, mm_rate, collateral, other_upnl, other_mm)
    dist = liquidation_distance(price, liq, long)
    x = cfg.liquidation_buffer_pct
    d = _DEC_GET(x) if x.__class__ is float else None
    buffer = (_dec(x) if d is None else d) / _HUNDRED
    if dist is not None and dist < buffer:
        return (
            f"estimated liquidation at {liq:.2f} is {dist * 100:.1f}% from entry, inside the "
            f"{cfg.liquidation_buffer_pct:g}% buffer"
        ), ZERO, ZERO, notes
    return None, size, lev, notes
