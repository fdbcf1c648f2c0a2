"""Per-position exit state: protective stop, take-profit ladder, trailing stop, time exit.

Owns: ``ExitReason`` (every reason a position can close for), ``ProtectiveOrder`` (a reduce-only order a
position should have resting), the exit actions ``MoveStop`` / ``ClosePosition``, ``PositionExits`` (the
pure per-position state machine shared by the Engine and the backtest) and ``initial_stop_price``.

Rules (config ``[exits]``, ``ExitsConfig``):
- After an entry fills: a reduce-only stop for the whole size (``OrderType.STOP``, triggerSignal mark,
  spec §4.10) at ``entry x (1 -/+ stop_loss_pct/100)``, plus a reduce-only limit take-profit ladder at
  ``entry x (1 +/- take_profit_pct[i]/100)``, each ``take_profit_fraction_pct`` of the entry size rounded
  down to the lot; the last level takes the remainder so the ladder sums to the position size. Levels
  that round to zero are skipped; at most four levels (TP1..TP4) are used, extra ones are ignored.
- Trailing: once the best mark is ``trailing_activate_pct`` beyond entry, the stop follows
  ``trailing_distance_pct`` behind the best mark and only ever tightens (``MoveStop``).
- Time exit: after ``time_exit_h`` hours (0 = off), when the profit at mark exceeds
  ``time_exit_min_profit_pct``, close once (``ClosePosition(TIME)``).
- A position without protective exits (``protective=False``, e.g. ``sma_cross``) has none of these.

Rounding (spec §8.2): sizes down to the lot; prices to the tick, never worse for us than intended: a
long's stop rounds down and a short's up (the stop is never tighter than configured), a long's
take-profit rounds up and a short's down (the profit taken is never less than configured).
Units: prices USD (Decimal), sizes contracts (Decimal, positive), times UTC epoch ms, ``_pct`` percent.
Must not import: textual, the client, the journal, risk or execution modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import HOUR_MS, ZERO, Instrument, OrderType, PositionSide, Side
from kraken_tui.domain.money import apply_fill

__all__ = [
    "TAKE_PROFITS",
    "ClosePosition",
    "ExitAction",
    "ExitReason",
    "MoveStop",
    "PositionExits",
    "ProtectiveOrder",
    "initial_stop_price",
    "round_stop",
    "round_take_profit",
]

_HUNDRED = Decimal(100)


class ExitReason(StrEnum):
    """Why a position (or part of it) closed; journaled with every exit fill."""

    TP1 = "tp1"
    TP2 = "tp2"
    TP3 = "tp3"
    TP4 = "tp4"
    STOP = "stop"
    TRAILING = "trailing"
    TIME = "time"
    SIGNAL = "signal"
    FLATTEN = "flatten"
    LIQUIDATION = "liquidation"
    MANUAL = "manual"
    EXTERNAL = "external"
    BASIS_GUARD = "basis_guard"
    """The basis guard closed the position (``[risk] basis_action = "close"``)."""
    EQUITY_FLOOR = "equity_floor"
    """The equity floor's flatten closed the position (``[operator] equity_floor_pct``)."""

    @property
    def is_take_profit(self) -> bool:
        """True for TP1..TP4."""
        return self in TAKE_PROFITS


#: Take-profit reasons in ladder order (level i of ``take_profit_pct`` is ``TAKE_PROFITS[i]``).
TAKE_PROFITS: tuple[ExitReason, ...] = (ExitReason.TP1, ExitReason.TP2, ExitReason.TP3, ExitReason.TP4)


@dataclass(frozen=True, slots=True)
class ProtectiveOrder:
    """A reduce-only order the position should have resting.

    Attributes:
        purpose: STOP or TP1..TP4.
        side: order side, opposite of the position.
        order_type: ``OrderType.STOP`` (trigger on mark, spec §4.10) or ``OrderType.LIMIT`` (take profit).
        size: contracts, rounded down to the lot (the last take-profit takes the remainder).
        price: stop trigger price or take-profit limit price, USD, on the tick grid.
    """

    purpose: ExitReason
    side: Side
    order_type: OrderType
    size: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class MoveStop:
    """Edit the resting stop to ``new_stop_price`` (USD, on the tick grid); ``reason`` is TRAILING."""

    new_stop_price: Decimal
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close the remaining position with a reduce-only market order; ``reason`` is TIME."""

    reason: ExitReason


ExitAction = MoveStop | ClosePosition


def round_stop(instrument: Instrument, side: PositionSide, price: Decimal) -> Decimal:
    """Round a stop price (USD) to the tick so it is never tighter than ``price``: down for a long,
    up for a short (spec §8.2 tick size)."""
    return instrument.round_price(price, rounding=ROUND_FLOOR if side is PositionSide.LONG else ROUND_CEILING)


def round_take_profit(instrument: Instrument, side: PositionSide, price: Decimal) -> Decimal:
    """Round a take-profit limit price (USD) to the tick so it never takes less profit than ``price``:
    up for a long, down for a short (spec §8.2 tick size)."""
    return instrument.round_price(price, rounding=ROUND_CEILING if side is PositionSide.LONG else ROUND_FLOOR)


def initial_stop_price(cfg: ExitsConfig, instrument: Instrument, side: PositionSide, entry_price: Decimal) -> Decimal:
    """The initial protective stop: ``entry x (1 - stop_loss_pct/100)`` for a long, ``(1 + ...)`` for a
    short, rounded with ``round_stop``. Example: long at 100 000, 2%, tick 1 -> 98 000.

    Raises:
        ValueError: ``entry_price`` not > 0.
    """
    if entry_price <= 0:
        raise ValueError(f"entry price must be > 0, got {entry_price}")
    x = cfg.stop_loss_pct
    pct = _STOP_FRACTIONS.get(x) if x.__class__ is float else None  # memoised: this runs on every entry
    if pct is None:
        pct = Decimal(str(x)) / _HUNDRED
        if x.__class__ is float and x and len(_STOP_FRACTIONS) < 256:
            _STOP_FRACTIONS[x] = pct
    return round_stop(instrument, side, entry_price * (1 - side.sign * pct))


_STOP_FRACTIONS: dict[float, Decimal] = {}
"""``initial_stop_price``'s ``Decimal(str(stop_loss_pct)) / 100`` by ``stop_loss_pct`` for non-zero floats (keyed
on the value, so a changed config is safe; an int or 0.0 is not memoised, their texts differ; at most 256
entries)."""


class PositionExits:
    """Exit state of one open position (pure; the caller places, edits and cancels the orders).

    Args:
        cfg: the ``[exits]`` section.
        instrument: for tick and lot rounding.
        side: LONG or SHORT.
        entry_price: average entry, USD (> 0).
        size: position size, contracts (> 0, unsigned).
        opened_ms: when the entry filled, UTC ms (start of the time exit clock).
        protective: False for strategies without stops/TP (no orders, no trailing, no time exit).

    Attributes:
        remaining: contracts still open.
        stop_price: the current stop trigger (USD) or None when not protective.
        best_price: the most favourable mark seen since entry (USD; starts at the entry price).
        trailing_active: the trailing stop has activated (the stop now reports TRAILING on fill).

    Raises:
        ValueError: ``entry_price`` or ``size`` not > 0.

    After ``on_exit_fill`` or ``add`` the caller re-syncs its resting orders with ``stop_order()`` (size
    follows ``remaining``) and ``take_profits_left()``.
    """

    __slots__ = (
        "cfg", "instrument", "side", "entry_price", "size", "opened_ms", "protective", "remaining",
        "stop_price", "best_price", "trailing_active", "time_exit_done", "_tp_left", "_tp_prices",
        "_activate", "_trail", "_time_ms", "_min_profit_pct",
    )

    def __init__(
        self,
        cfg: ExitsConfig,
        instrument: Instrument,
        side: PositionSide,
        entry_price: Decimal,
        size: Decimal,
        opened_ms: int,
        protective: bool = True,
    ) -> None:
        if entry_price <= 0 or size <= 0:
            raise ValueError(f"entry price and size must be > 0, got {entry_price} and {size}")
        self.cfg, self.instrument, self.side = cfg, instrument, side
        self.entry_price, self.size, self.opened_ms, self.protective = entry_price, size, opened_ms, protective
        self.remaining = size
        self.best_price = entry_price
        self.trailing_active = False
        self.time_exit_done = False
        self._activate = Decimal(str(cfg.trailing_activate_pct)) / _HUNDRED
        self._trail = Decimal(str(cfg.trailing_distance_pct)) / _HUNDRED
        self._time_ms = int(cfg.time_exit_h * HOUR_MS)
        self._min_profit_pct = Decimal(str(cfg.time_exit_min_profit_pct))
        self.stop_price: Decimal | None = (
            initial_stop_price(cfg, instrument, side, entry_price) if protective else None
        )
        self._tp_prices: dict[ExitReason, Decimal] = {}
        self._tp_left: dict[ExitReason, Decimal] = {}
        if protective:
            self._lay_ladder(list(TAKE_PROFITS[: len(cfg.take_profit_pct)]), size)

    # ------------------------------------------------------------------ orders

    def _lay_ladder(self, levels: list[ExitReason], size: Decimal) -> None:
        """Price and size ``levels`` from the current entry over ``size`` contracts."""
        frac = Decimal(str(self.cfg.take_profit_fraction_pct)) / _HUNDRED
        self._tp_prices, self._tp_left = {}, {}
        left = size
        for i, purpose in enumerate(levels):
            pct = Decimal(str(self.cfg.take_profit_pct[TAKE_PROFITS.index(purpose)])) / _HUNDRED
            last = i == len(levels) - 1
            part = left if last else min(left, self.instrument.round_size(size * frac))
            if part <= 0:
                continue
            left -= part
            price = self.entry_price * (1 + self.side.sign * pct)
            self._tp_prices[purpose] = round_take_profit(self.instrument, self.side, price)
            self._tp_left[purpose] = part

    def initial_orders(self) -> list[ProtectiveOrder]:
        """The stop (full size) followed by the take-profit ladder, nearest first; [] when not protective."""
        stop = self.stop_order()
        return ([stop] if stop is not None else []) + self.take_profits_left()

    def stop_order(self) -> ProtectiveOrder | None:
        """The stop for the remaining size (``OrderType.STOP``, trigger on mark), or None when not
        protective or nothing remains."""
        if self.stop_price is None or self.remaining <= 0:
            return None
        return ProtectiveOrder(ExitReason.STOP, self.side.closing_side, OrderType.STOP, self.remaining, self.stop_price)

    def take_profits_left(self) -> list[ProtectiveOrder]:
        """Take-profit limits not yet filled, nearest first, sizes capped so they never exceed
        ``remaining`` in total (a far level is cut first)."""
        out, budget = [], self.remaining
        for purpose, left in self._tp_left.items():
            part = min(left, budget)
            if part <= 0:
                continue
            budget -= part
            out.append(ProtectiveOrder(purpose, self.side.closing_side, OrderType.LIMIT, part, self._tp_prices[purpose]))
        return out

    @property
    def stop_reason(self) -> ExitReason:
        """The reason to journal when the stop fills: TRAILING once trailing is active, else STOP."""
        return ExitReason.TRAILING if self.trailing_active else ExitReason.STOP

    def profit_pct(self, mark_price: Decimal) -> Decimal:
        """Unrealised move at ``mark_price`` in the position's favour, percent of entry (negative = loss)."""
        return self.side.sign * (mark_price - self.entry_price) / self.entry_price * _HUNDRED

    # ------------------------------------------------------------------ events

    def on_mark(self, mark_price: Decimal, ts_ms: int) -> list[ExitAction]:
        """Feed a mark price (USD) at ``ts_ms`` (UTC ms).

        Returns ``[MoveStop(TRAILING)]`` when the trailing stop activates or the best price moves it by
        at least one tick, and ``[ClosePosition(TIME)]`` once when the time exit is due; otherwise [].
        """
        if not self.protective or self.remaining <= 0:
            return []
        out: list[ExitAction] = []
        long = self.side is PositionSide.LONG
        if (mark_price > self.best_price) if long else (mark_price < self.best_price):
            self.best_price = mark_price
            self._trail_stop(out)
        elif not self.trailing_active and self._activate == 0:
            self._trail_stop(out)
        if self._time_ms and not self.time_exit_done and ts_ms - self.opened_ms >= self._time_ms:
            if self.profit_pct(mark_price) > self._min_profit_pct:
                self.time_exit_done = True
                out.append(ClosePosition(ExitReason.TIME))
        return out

    def _trail_stop(self, out: list[ExitAction]) -> None:
        sign, entry, best = self.side.sign, self.entry_price, self.best_price
        if not self.trailing_active:
            if sign * (best - entry) < self._activate * entry:
                return
            self.trailing_active = True
        candidate = round_stop(self.instrument, self.side, best * (1 - sign * self._trail))
        cur = self.stop_price
        if cur is None or sign * (candidate - cur) >= self.instrument.tick_size:
            self.stop_price = candidate
            out.append(MoveStop(candidate, ExitReason.TRAILING))

    def on_exit_fill(self, purpose: ExitReason, size: Decimal) -> None:
        """A reduce-only exit filled ``size`` contracts (partly or wholly). ``purpose`` is the order's
        (STOP, TP1..TP4, or any close reason); ``remaining`` and that take-profit's size go down, never
        below zero."""
        self.remaining = max(ZERO, self.remaining - size)
        left = self._tp_left.get(purpose)
        if left is not None:
            left = max(ZERO, left - size)
            if left > 0:
                self._tp_left[purpose] = left
            else:
                del self._tp_left[purpose]

    def add(self, size: Decimal, price: Decimal) -> None:
        """Pyramiding: ``size`` contracts more at ``price`` (USD). The entry becomes the average entry of
        ``domain.money.apply_fill`` (size-weighted for PF_ linear contracts, the harmonic mean for PI_ inverse
        ones, as the exchange averages them), the take-profit levels not yet filled are re-laid over the new
        remaining size from the new entry, and the stop is recomputed from the new entry unless trailing is
        active (a trailing stop never loosens).

        Raises:
            ValueError: ``size`` or ``price`` not > 0.
        """
        if size <= 0 or price <= 0:
            raise ValueError(f"size and price must be > 0, got {size} and {price}")
        total = self.remaining + size
        self.entry_price = apply_fill(self.instrument, self.remaining, self.entry_price, size, price)[1]
        self.remaining = total
        self.size += size
        if not self.protective:
            return
        if not self.trailing_active:
            self.stop_price = initial_stop_price(self.cfg, self.instrument, self.side, self.entry_price)
        self._lay_ladder(list(self._tp_left), total)
