"""Frozen copy of the implementation as of session 5, the oracle for the fast path; never edit.

Verbatim copies (session 5 start, commit 67c59e8) of ``engine.decide`` (``decide``, ``_entry``, ``_without``,
``_close``), ``engine.risk`` (``_dec``, ``_reject``, ``allowed_leverage``, ``evaluate_entry``),
``engine.liquidation`` (``linear_liquidation_price``, ``liquidation_distance``) and
``engine.exits`` (``initial_stop_price``, ``round_stop``) and ``Instrument.round_size`` /
``Instrument.margin_level_for`` / ``Instrument.round_price`` (as functions ``_round_size`` /
``_margin_level_for`` / ``_round_price`` taking the instrument). It builds the real result dataclasses (``Enter``, ``Close``,
``Reject``, ``Ignore``, ``RiskDecision``, ``AccountSnapshot``, ``EntryRequest``) so results compare with
``==``. tests/engine/test_decide_equiv.py and bench/bench_decide.py compare the live code with it.
"""
# ruff: noqa
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import ZERO, Instrument, MarginLevel, PositionSide, Side
from kraken_tui.engine.decide import Action, Close, Enter, Ignore, Reject
from kraken_tui.engine.exits import ExitReason
from kraken_tui.engine.risk import AccountSnapshot, EntryRequest, RiskDecision
from kraken_tui.engine.signals import Signal, SignalSide, basis_guard

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_DEC_CACHE: dict[float, Decimal] = {}


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



def _reject(reason: str, notes: list[str] | None = None) -> RiskDecision:
    return RiskDecision(False, reason=reason, notes=tuple(notes or ()))


def allowed_leverage(cfg: RiskConfig, atr_pct: float | None, consecutive_losses: int, drawdown_pct: float) -> tuple[Decimal, str]:
    """Leverage allowed now (x) and why: the ATR band's leverage under ``leverage_cap``, cut to 1x after
    ``loss_streak_cut`` consecutive losses or when drawdown from peak exceeds ``drawdown_deleverage_pct``."""
    cap = _dec(cfg.leverage_cap)
    lev, why = cap, "leverage_cap"
    if atr_pct is not None:
        band = 0
        for edge in cfg.vol_band_atr_pct:
            if atr_pct >= edge:
                band += 1
        band_lev = _dec(cfg.vol_band_leverage[band])
        if band_lev < lev:
            lev, why = band_lev, f"ATR {atr_pct:.2f}% band"
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
    positions, cost (target move > round-trip taker fees + funding paid over ``expected_hold_h``), size
    (risk-based ``equity x risk_per_trade_pct / |entry - stop|`` or fixed fraction), caps (max position
    notional, leverage allowed x equity minus open notional, max capital deployed as initial margin),
    rounding down to the lot, minimum size, then the liquidation buffer: the estimated distance from entry
    to the liquidation price after the order (spec §9 formula) must be at least ``liquidation_buffer_pct``.

    Returns:
        RiskDecision; never raises for a rejected entry.
    """
    inst, notes = req.instrument, []
    if entry_block_reason:
        return _reject(entry_block_reason)
    if not inst.is_linear:
        return _reject(f"{inst.symbol}: the engine trades PF_ linear perpetuals only")
    if req.entry_price <= 0 or account.equity_usd <= 0:
        return _reject("no price or no equity to size the entry from")
    positions = account.positions
    held = None
    if positions:
        held = next((p for p in positions if p.symbol == inst.symbol and p.signed_size != 0), None)
        if held is not None:
            same = (held.signed_size > 0) == (req.side is PositionSide.LONG)
            if not same:
                return _reject(f"{inst.symbol}: an opposite position is open; it must be closed first")
            if not cfg.allow_pyramiding:
                return _reject(f"{inst.symbol}: already {req.side.value}; pyramiding is disabled")
        open_count = sum(1 for p in positions if p.signed_size != 0)
    else:
        open_count = 0
    if held is None and open_count >= cfg.max_open_positions:
        return _reject(f"max open positions reached ({open_count}/{cfg.max_open_positions})")

    if req.target_move_pct is not None:
        fees_pct = 2 * cfg.expected_taker_fee_bps / 100
        paying = (req.funding_rate or 0.0) * req.side.sign
        funding_pct = max(0.0, paying) * cfg.expected_hold_h * 100
        if req.target_move_pct <= fees_pct + funding_pct:
            return _reject(
                f"target move {req.target_move_pct:.3f}% does not cover costs "
                f"(fees {fees_pct:.3f}% + funding {funding_pct:.3f}% over {cfg.expected_hold_h:g} h)"
            )

    lev, lev_why = allowed_leverage(cfg, req.atr_pct, account.consecutive_losses, account.drawdown_pct)
    notes.append(f"leverage {lev}x ({lev_why})")
    equity, price = account.equity_usd, req.entry_price
    if cfg.sizing == "risk":
        if req.stop_price is None or req.stop_price == price:
            return _reject("risk-based sizing needs a stop price distinct from the entry price")
        size = equity * _dec(cfg.risk_per_trade_pct) / _HUNDRED / abs(price - req.stop_price)
    else:
        size = equity * _dec(cfg.fixed_fraction_pct) / _HUNDRED / price

    level = _margin_level_for(inst, size * price) if inst.margin_levels else None
    im_rate = level.initial_margin_rate if level else _ONE / lev
    mm_rate = level.maintenance_margin_rate if level else im_rate / 2
    if positions:
        open_notional = sum((p.notional_usd for p in positions), ZERO)
        used_im = sum((p.notional_usd * p.initial_margin_rate for p in positions), ZERO)
    else:
        open_notional = used_im = ZERO
    # the three caps, all computed before any is applied (order: notional, leverage, capital deployed)
    cap_notional = _dec(cfg.max_position_notional_usd) / price
    cap_leverage = (lev * equity - open_notional) / price
    cap_deployed = (_dec(cfg.max_capital_deployed_pct) / _HUNDRED * equity - used_im) / (price * im_rate)
    if size > cap_notional:
        size = max(cap_notional, ZERO)
        notes.append("capped by max_position_notional_usd")
    if size > cap_leverage:
        size = max(cap_leverage, ZERO)
        notes.append("capped by leverage")
    if size > cap_deployed:
        size = max(cap_deployed, ZERO)
        notes.append("capped by max_capital_deployed_pct")
    size = _round_size(inst, size)
    if size < inst.min_order_size:
        return _reject(f"size {size} below the minimum order {inst.min_order_size} ({'; '.join(notes)})", notes)

    signed = size if req.side is PositionSide.LONG else -size
    if positions:
        other_upnl = sum((p.unrealized_pnl_usd for p in positions), ZERO)
        other_mm = sum((abs(p.signed_size) * p.entry_price * p.maintenance_margin_rate for p in positions), ZERO)
    else:
        other_upnl = other_mm = ZERO
    liq = linear_liquidation_price(signed, price, mm_rate, account.collateral_usd, other_upnl, other_mm)
    dist = liquidation_distance(price, liq, req.side is PositionSide.LONG)
    buffer = _dec(cfg.liquidation_buffer_pct) / _HUNDRED
    if dist is not None and dist < buffer:
        return _reject(
            f"estimated liquidation at {liq:.2f} is {dist * 100:.1f}% from entry, inside the "
            f"{cfg.liquidation_buffer_pct:g}% buffer",
            notes,
        )
    return RiskDecision(True, size, lev, None, tuple(notes))

def linear_liquidation_price(
    signed_size: Decimal,
    entry_price: Decimal,
    maintenance_margin_rate: Decimal,
    collateral_usd: Decimal,
    other_unrealized_pnl_usd: Decimal = Decimal(0),
    other_maintenance_margin_usd: Decimal = Decimal(0),
) -> Decimal | None:
    """Mark price at which a PF_ position's account reaches maintenance margin (spec §9, [INFERRED]).

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
    q, e = signed_size, entry_price
    p = e - (collateral_usd + other_unrealized_pnl_usd - other_maintenance_margin_usd - maintenance_margin_rate * abs(q) * e) / q
    return p if p > 0 else None



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



_ZERO = Decimal(0)
_LONG, _SHORT, _FLAT = SignalSide.LONG, SignalSide.SHORT, SignalSide.FLAT


def _without(account: AccountSnapshot, symbol: str) -> AccountSnapshot:
    """The account after closing ``symbol`` at mark: its unrealised P&L becomes collateral (fees ignored)."""
    pnl = _ZERO
    kept = []
    found = False
    for p in account.positions:  # sum of the closed positions' P&L from 0, in order (as sum() adds)
        if p.symbol == symbol:
            pnl = pnl + p.unrealized_pnl_usd
            found = True
        else:
            kept.append(p)
    if not found:
        return account
    if type(account) is not AccountSnapshot:
        return replace(
            account,
            collateral_usd=account.collateral_usd + pnl,
            positions=tuple(kept),
        )
    # dataclasses.replace, spelled out (this runs on every reversal)
    return AccountSnapshot(account.equity_usd, account.collateral_usd + pnl, tuple(kept),
                           account.consecutive_losses, account.drawdown_pct)


def _close(symbol: str, position_size: Decimal, held: int) -> Close:
    return Close(symbol, abs(position_size), Side.SELL if held > 0 else Side.BUY, ExitReason.SIGNAL)


def decide(
    signal: Signal,
    *,
    instrument: Instrument,
    position_size: Decimal,
    mark_price: Decimal,
    index_price: Decimal | None,
    account: AccountSnapshot,
    risk_cfg: RiskConfig,
    exits_cfg: ExitsConfig,
    entry_block_reason: str | None,
    atr_pct: float | None,
    funding_rate: float | None,
    sizing: str | None = None,
    protective: bool = True,
    min_confidence: float = 0.0,
) -> list[Action]:
    """Turn one signal into actions, given the current position (signed contracts, 0 = flat).

    - flat signal: ``[Close(SIGNAL)]`` when in a position, else ``[Ignore]``.
    - long/short below ``min_confidence``: ``[Ignore]`` (neither close nor open; flat is never filtered).
    - same direction as the position: ``[Ignore]`` unless ``risk_cfg.allow_pyramiding`` (then an entry).
    - opposite direction: ``[Close(SIGNAL), Enter | Reject]``; the entry is evaluated on ``account``
      without that position (its unrealised P&L moved into collateral). The close happens even when
      the entry is rejected.
    - flat position: ``[Enter]`` or ``[Reject]``.

    Entry checks: ``entry_block_reason`` (operator state), then the basis guard on mark/index against
    ``risk.max_basis_bps``, then ``evaluate_entry``. The initial stop (used for risk sizing) is
    ``initial_stop_price`` = mark x (1 -/+ stop_loss_pct/100) on the tick. ``sizing`` overrides
    ``risk_cfg.sizing``; with ``protective=False`` there is no stop and sizing is "fixed". The cost check
    targets ``signal.features["target_move_pct"]`` if given, else the first take-profit level (percent),
    or is skipped without protective exits.

    Raises:
        ValueError: ``signal.symbol`` is not ``instrument.symbol``, or ``sizing`` not "risk"/"fixed"/None.
    """
    symbol = instrument.symbol
    if signal.symbol != symbol:
        raise ValueError(f"signal for {signal.symbol} given with instrument {symbol}")
    if sizing not in (None, "risk", "fixed"):
        raise ValueError(f"sizing must be 'risk', 'fixed' or None, got {sizing!r}")
    held = (position_size > 0) - (position_size < 0)
    sside = signal.side
    want = 1 if sside is _LONG else -1 if sside is _SHORT else 0  # signal.side.sign
    if sside is _FLAT:
        return [_close(symbol, position_size, held)] if held else [Ignore(symbol, "flat signal while flat")]
    if signal.confidence < min_confidence:
        return [Ignore(symbol, f"confidence {signal.confidence:.2f} below {min_confidence:.2f}")]
    side = PositionSide.LONG if want > 0 else PositionSide.SHORT
    if held == want and not risk_cfg.allow_pyramiding:
        return [Ignore(symbol, f"already {side.value}")]
    actions: list[Action] = []
    if held == -want:
        actions.append(_close(symbol, position_size, held))
        account = _without(account, symbol)
    actions.append(
        _entry(
            signal, instrument, side, mark_price, index_price, account, risk_cfg, exits_cfg,
            entry_block_reason, atr_pct, funding_rate, sizing, protective,
        )
    )
    return actions


def _entry(
    signal: Signal,
    instrument: Instrument,
    side: PositionSide,
    mark: Decimal,
    index: Decimal | None,
    account: AccountSnapshot,
    risk_cfg: RiskConfig,
    exits_cfg: ExitsConfig,
    block: str | None,
    atr_pct: float | None,
    funding_rate: float | None,
    sizing: str | None,
    protective: bool,
) -> Enter | Reject:
    symbol = instrument.symbol
    if block:
        return Reject(symbol, block)
    if mark <= 0:
        return Reject(symbol, f"no mark price ({mark})")
    if index is not mark or not risk_cfg.max_basis_bps >= 0 or not mark.is_finite():
        # (index given as the mark itself: basis 0, which no max_basis_bps >= 0 rejects)
        guard = basis_guard(float(mark), float(index) if index is not None else None, risk_cfg.max_basis_bps)
        if guard:
            return Reject(symbol, guard)
    mode = "fixed" if not protective else (sizing or risk_cfg.sizing)
    cfg = risk_cfg if mode == risk_cfg.sizing else risk_cfg.model_copy(update={"sizing": mode})
    stop = initial_stop_price(exits_cfg, instrument, side, mark) if protective else None
    target = signal.features.get("target_move_pct")
    if target is None and protective and exits_cfg.take_profit_pct:
        target = exits_cfg.take_profit_pct[0]
    req = EntryRequest(instrument, side, mark, stop, target, funding_rate, atr_pct)
    d = evaluate_entry(req, account, cfg)
    if not d.approved:
        return Reject(symbol, d.reason or "rejected by the risk gate", d.notes)
    return Enter(symbol, side, d.size, mark, stop, protective, d.leverage_x, d.notes)


def _round_size(self: Instrument, size: Decimal) -> Decimal:
    """Round a size in contracts *down* to the lot, so rounding never grows exposure."""
    return (size / self.lot_size).to_integral_value(rounding=ROUND_DOWN) * self.lot_size


def _margin_level_for(self: Instrument, notional_usd: Decimal, size_contracts: Decimal | None = None) -> MarginLevel:
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


def _round_price(self: Instrument, price: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round a USD price to the tick size (``rounding`` is a ``decimal`` rounding mode)."""
    return (price / self.tick_size).to_integral_value(rounding=rounding) * self.tick_size


def round_stop(instrument: Instrument, side: PositionSide, price: Decimal) -> Decimal:
    """Round a stop price (USD) to the tick so it is never tighter than ``price``: down for a long,
    up for a short (spec §8.2 tick size)."""
    return _round_price(instrument, price, rounding=ROUND_FLOOR if side is PositionSide.LONG else ROUND_CEILING)


def initial_stop_price(cfg: ExitsConfig, instrument: Instrument, side: PositionSide, entry_price: Decimal) -> Decimal:
    """The initial protective stop: ``entry x (1 - stop_loss_pct/100)`` for a long, ``(1 + ...)`` for a
    short, rounded with ``round_stop``. Example: long at 100 000, 2%, tick 1 -> 98 000.

    Raises:
        ValueError: ``entry_price`` not > 0.
    """
    if entry_price <= 0:
        raise ValueError(f"entry price must be > 0, got {entry_price}")
    pct = Decimal(str(cfg.stop_loss_pct)) / _HUNDRED
    return round_stop(instrument, side, entry_price * (1 - side.sign * pct))
