"""Signal -> actions: the pure decision shared by the Engine and the backtest.

Owns: the action values ``Enter``, ``Close``, ``Reject``, ``Ignore`` and ``decide``. A ``long`` signal
opens a long (buy), ``short`` opens a short (sell), ``flat`` closes. An opposite position is closed first
(``Close(SIGNAL)`` then ``Enter``), which is how ``sma_cross`` reverses on each cross. Entries pass the
basis guard (``signals.basis_guard``, ``risk.max_basis_bps``) and the risk gate (``risk.gate``, the core of
``risk.evaluate_entry`` called without building its request/account/decision objects; never duplicated
here); closes never pass a gate (the caller blocks everything only in HALTED/FLATTENING).
Units: prices USD (Decimal), sizes contracts (Decimal; ``position_size`` signed), rates relative per hour.
Must not import: textual, the client, the journal, execution modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Instrument, PositionSide, Side
from kraken_tui.domain.fastinit import fast_init

from .exits import ExitReason, initial_stop_price
from .risk import AccountSnapshot, gate
from .signals import Signal, SignalSide, basis_guard

__all__ = ["Action", "Close", "Enter", "ExitReason", "Ignore", "Reject", "decide"]


@fast_init
@dataclass(frozen=True, slots=True)
class Enter:
    """Open (or add to) a position with a market order.

    Attributes:
        symbol: the perpetual.
        side: LONG (buy) or SHORT (sell).
        size: contracts, rounded down to the lot by the risk gate.
        entry_price: expected fill price (the mark), USD.
        stop_price: the initial protective stop, USD on the tick grid, or None without protective exits.
        protective: place the stop and take-profit ladder (engine.exits) after the fill.
        leverage_x: leverage the risk gate allowed (x).
        notes: what shaped the size (risk gate notes).
    """

    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    stop_price: Decimal | None
    protective: bool
    leverage_x: Decimal
    notes: tuple[str, ...]

    @property
    def order_side(self) -> Side:
        """BUY for a long, SELL for a short."""
        return Side.BUY if self.side is PositionSide.LONG else Side.SELL


@fast_init
@dataclass(frozen=True, slots=True)
class Close:
    """Close the whole position with a reduce-only market order: ``side`` is the order side (opposite of
    the position), ``size`` = |position| in contracts."""

    symbol: str
    size: Decimal
    side: Side
    reason: ExitReason


@fast_init
@dataclass(frozen=True, slots=True)
class Reject:
    """An entry the basis guard or the risk gate refused (journaled and shown); ``notes`` from the gate."""

    symbol: str
    reason: str
    notes: tuple[str, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do, and why (e.g. "flat signal while flat")."""

    symbol: str
    reason: str


Action = Enter | Close | Reject | Ignore
_ZERO = Decimal(0)
_LONG, _SHORT, _FLAT = SignalSide.LONG, SignalSide.SHORT, SignalSide.FLAT


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
    confidence_sized: bool = False,
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
    (``risk.expected_costs_pct``) compares the expected move with the round-trip costs: the move is
    ``signal.features["target_move_pct"]`` if the strategy gives one, else ``risk_cfg.cost_atr_multiple`` x
    ``atr_pct`` when both are known, else the first take-profit level (percent); it is skipped without
    protective exits unless the strategy gives a target. With ``confidence_sized`` (a strategy whose
    confidence weighs its evidence: ensemble, external) and ``risk_cfg.confidence_sizing``, the size is
    scaled by ``max(min_confidence_size_pct / 100, confidence)`` before the caps.

    Raises:
        ValueError: ``signal.symbol`` is not ``instrument.symbol``, or ``sizing`` not "risk"/"fixed"/None.
    """
    symbol = instrument.symbol
    if signal.symbol != symbol:
        raise ValueError(f"signal for {signal.symbol} given with instrument {symbol}")
    if sizing not in (None, "risk", "fixed"):
        raise ValueError(f"sizing must be 'risk', 'fixed' or None, got {sizing!r}")
    held = (position_size > _ZERO) - (position_size < _ZERO)
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
    # the account the gate sees: after a reversal's close, without the closed position and with its
    # unrealised P&L in collateral (fees ignored); fields passed as they are, no snapshot built
    collateral, positions = account.collateral_usd, account.positions
    if held == -want:
        actions.append(_close(symbol, position_size, held))
        pnl = _ZERO
        kept = []
        found = False
        for p in positions:  # sum of the closed positions' P&L from 0, in order (as sum() adds)
            if p.symbol == symbol:
                pnl = pnl + p.unrealized_pnl_usd
                found = True
            else:
                kept.append(p)
        if found:
            collateral, positions = collateral + pnl, tuple(kept)
    if entry_block_reason:
        actions.append(Reject(symbol, entry_block_reason))
        return actions
    if mark_price <= _ZERO:
        actions.append(Reject(symbol, f"no mark price ({mark_price})"))
        return actions
    if index_price is not mark_price or not risk_cfg.max_basis_bps >= 0 or not mark_price.is_finite():
        # (index given as the mark itself: basis 0, which no max_basis_bps >= 0 rejects)
        guard = basis_guard(float(mark_price), float(index_price) if index_price is not None else None,
                            risk_cfg.max_basis_bps)
        if guard:
            actions.append(Reject(symbol, guard))
            return actions
    mode = "fixed" if not protective else (sizing or risk_cfg.sizing)
    stop = initial_stop_price(exits_cfg, instrument, side, mark_price) if protective else None
    target = signal.features.get("target_move_pct")
    if target is None and protective:
        if atr_pct is not None and risk_cfg.cost_atr_multiple > 0:
            target = atr_pct * risk_cfg.cost_atr_multiple
        elif exits_cfg.take_profit_pct:
            target = exits_cfg.take_profit_pct[0]
    scale = 1.0
    if confidence_sized and risk_cfg.confidence_sizing:
        scale = max(risk_cfg.min_confidence_size_pct / 100, min(1.0, float(signal.confidence)))
    reason, size, lev, notes = gate(
        instrument, side, mark_price, stop, target, funding_rate, atr_pct, account.equity_usd, collateral,
        positions, account.consecutive_losses, account.drawdown_pct, risk_cfg, mode,
        closed_trades=account.closed_trades, winning_trades=account.winning_trades, size_scale=scale,
    )
    if scale != 1.0 and reason is None:
        notes = (*notes, f"size x {scale:.2f} (confidence {signal.confidence:.2f})")
    if reason is not None:
        actions.append(Reject(symbol, reason or "rejected by the risk gate", notes))
    else:
        actions.append(Enter(symbol, side, size, mark_price, stop, protective, lev, notes))
    return actions
