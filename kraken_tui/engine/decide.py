"""Signal -> actions: the pure decision shared by the Engine and the backtest (issue 5).

Owns: the action values ``Enter``, ``Close``, ``Reject``, ``Ignore`` and ``decide``. A ``long`` signal
opens a long (buy), ``short`` opens a short (sell), ``flat`` closes. An opposite position is closed first
(``Close(SIGNAL)`` then ``Enter``), which is how ``sma_cross`` reverses on each cross. Entries pass the
basis guard (``signals.basis_guard``, ``risk.max_basis_bps``) and the risk gate (``risk.evaluate_entry``,
never duplicated here); closes never pass a gate (the caller blocks everything only in HALTED/FLATTENING).
Units: prices USD (Decimal), sizes contracts (Decimal; ``position_size`` signed), rates relative per hour.
Must not import: textual, the client, the journal, execution modules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Instrument, PositionSide, Side
from kraken_tui.domain.fastinit import fast_init

from .exits import ExitReason, initial_stop_price
from .risk import AccountSnapshot, EntryRequest, evaluate_entry
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
