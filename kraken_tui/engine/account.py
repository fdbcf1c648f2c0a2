"""Account tracking: positions, open orders, fills, balances and the exit state of managed positions.

Owns: ``AccountTracker`` (the engine's in-memory view of the account, fed by the private WS feeds
``fills``, ``open_orders``, ``open_positions``, ``balances`` and by REST reads as fallback), ``FillOutcome``
(what one fill did to its position) and ``ManagedPosition`` (a position the engine opened, with its
``PositionExits`` and the cliOrdIds of its resting protective orders). It is synchronous and does no I/O:
the engine core journals and sends orders.

Position rule (PF_ linear, spec §8.5, average-cost method): a fill of signed size ``s`` at price ``p`` on a
position ``q`` at average entry ``e``: adding (same sign or flat) averages the entry; reducing realises
``min(|s|, |q|) x (p - e) x sign(q)`` USD; crossing zero opens the remainder at ``p``. PI_ inverse (Kraken
Support "Portfolio Management"): adding keeps the harmonic mean entry, reducing realises the coin P&L
``min(|s|, |q|) x (1/e - 1/p) x sign(q)`` valued at ``p`` USD, and a coin fee is valued at ``p``. The exchange's own
position reports (``open_positions``, REST ``openpositions``) replace the local estimate when they arrive.
Units: prices USD, sizes contracts (Decimal), P&L and fees USD, times UTC ms.
Must not import: textual, the client, the journal writer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain import DAY_MS, ZERO, Account, CoinAccount, Fill, Order, Position, PositionSide
from kraken_tui.domain.money import is_inverse_symbol
from kraken_tui.engine.exits import ExitReason, PositionExits

__all__ = ["AccountTracker", "FillOutcome", "ManagedPosition"]



@dataclass(slots=True)
class ManagedPosition:
    """A position opened by the engine.

    Attributes:
        symbol: the perpetual.
        signal_id: the signal that opened it (prefix of its protective cliOrdIds).
        exits: the pure exit state (stop, TP ladder, trailing, time exit).
        orders: purpose -> cliOrdId of each protective order placed and not known to be done.
        stop_purpose: ``stop`` until trailing activates, then ``trailing`` (the stop is re-placed once with
            that purpose so the journal's exit reason says trailing).
        closing: a reduce-only close is in flight (no second one is sent).
        risk_alerted: the last liquidation risk level an alert was raised for.
    """

    symbol: str
    signal_id: str
    exits: PositionExits
    orders: dict[str, str] = field(default_factory=dict)
    stop_purpose: str = "stop"
    closing: bool = False
    risk_alerted: str | None = None
    funding_usd: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What a fill did: ``new`` False for a duplicate (already seen ``fill_id``); ``realized_usd`` P&L
    realised by the reducing part; ``before``/``after`` the signed position size around the fill."""

    new: bool
    realized_usd: Decimal = ZERO
    before: Decimal = ZERO
    after: Decimal = ZERO

    @property
    def closed(self) -> bool:
        """True when the fill took a position to zero (or through it)."""
        return self.before != 0 and (self.after == 0 or (self.after > 0) != (self.before > 0))


class AccountTracker:
    """The engine's account view (module docstring). All methods are O(1) or O(open orders).

    Args:
        day_ms: returns the start of the current UTC day (ms) by the engine clock, for "today" sums.
    """

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, Order] = {}
        self.account: Account | None = None
        self.coin_accounts: dict[str, CoinAccount] = {}
        """Lower-case coin (``xbt``) -> its inverse margin account (PI_ positions are margined there)."""
        self.margin_coins: frozenset[str] | None = None
        """The coins whose inverse margin accounts are tracked (the engine sets the coins of the PI_ symbols it
        trades: an account it never trades in is not its equity); None = every coin reported."""
        self.managed: dict[str, ManagedPosition] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self.fills_today: int = 0
        self.realized_today_usd: Decimal = ZERO
        self.fees_today_usd: Decimal = ZERO
        self.funding_today_usd: Decimal = ZERO
        self.day_start_ms: int | None = None
        self.last_fill_ms: int | None = None
        self.cli_filled: dict[str, Decimal] = {}
        """cliOrdId -> contracts filled so far (from the fills booked here)."""

    # ------------------------------------------------------------------ reading
    def signed_size(self, symbol: str) -> Decimal:
        """Signed contracts held in ``symbol`` (0 when flat)."""
        p = self.positions.get(symbol)
        return p.signed_size if p is not None else ZERO

    def order_by_cli(self, cli_ord_id: str) -> Order | None:
        """The open order carrying ``cli_ord_id``, or None."""
        for o in self.orders.values():
            if o.cli_ord_id == cli_ord_id:
                return o
        return None

    @property
    def equity_usd(self) -> Decimal | None:
        """Margin equity (USD) from the last balances message, None before the first."""
        return self.account.margin_equity_usd if self.account is not None else None

    # ------------------------------------------------------------------ day rollover
    def roll_day(self, now_ms: int) -> bool:
        """Reset the "today" sums when ``now_ms`` is in a later UTC day. Returns True on a new day."""
        day = now_ms - now_ms % DAY_MS
        if self.day_start_ms == day:
            return False
        self.day_start_ms = day
        self.fills_today = 0
        self.realized_today_usd = self.fees_today_usd = self.funding_today_usd = ZERO
        return True

    # ------------------------------------------------------------------ feeds
    def seen(self, fill_id: str) -> bool:
        """True when ``fill_id`` was booked (or marked seen) already."""
        return fill_id in self._seen

    def mark_seen(self, fill_id: str) -> None:
        """Remember a fill from before this run (a snapshot) so it is never booked again."""
        self._seen.add(fill_id)
        self._seen_order.append(fill_id)

    def apply_fill(self, fill: Fill) -> FillOutcome:
        """Book one fill (deduplicated by ``fill_id``) into the position estimate and today's sums."""
        if fill.fill_id in self._seen:
            return FillOutcome(False)
        self._seen.add(fill.fill_id)
        self._seen_order.append(fill.fill_id)
        if len(self._seen_order) > 50_000:
            self._seen.discard(self._seen_order.popleft())
        self.last_fill_ms = fill.ts_ms if self.last_fill_ms is None else max(self.last_fill_ms, fill.ts_ms)
        self.fills_today += 1
        if fill.cli_ord_id:
            self.cli_filled[fill.cli_ord_id] = self.cli_filled.get(fill.cli_ord_id, ZERO) + fill.size
        inverse = is_inverse_symbol(fill.symbol)
        if fill.fee is not None:  # a PI_ fee is in the coin: valued at the fill price
            self.fees_today_usd += fill.fee * fill.price if inverse else fill.fee
        pos = self.positions.get(fill.symbol)
        q = pos.signed_size if pos is not None else ZERO
        e = pos.entry_price if pos is not None else ZERO
        s = fill.size * fill.side.sign
        realized = ZERO
        after = q + s
        if q == 0 or (q > 0) == (s > 0):
            if inverse and q != 0:  # PI_: the harmonic mean keeps inverse P&L additive (domain.money.apply_fill)
                entry = abs(after) / (abs(q) / e + abs(s) / fill.price)
            else:
                entry = (e * abs(q) + fill.price * abs(s)) / abs(after)
        else:
            closed = min(abs(s), abs(q))
            realized = closed * (fill.price - e) * (1 if q > 0 else -1)
            if inverse:  # PI_: coin P&L closed x (1/e - 1/price), valued at the fill price
                realized = realized / e
            entry = e if after == 0 or (after > 0) == (q > 0) else fill.price
        self.realized_today_usd += realized
        if after == 0:
            self.positions.pop(fill.symbol, None)
        else:
            side = PositionSide.LONG if after > 0 else PositionSide.SHORT
            opened = pos.ts_ms if pos is not None and (q > 0) == (after > 0) else fill.ts_ms
            self.positions[fill.symbol] = Position(fill.symbol, side, abs(after), entry, ts_ms=opened)
        return FillOutcome(True, realized, q, after)

    def set_positions(self, positions: Iterable[Position], closed: Iterable[str] = (), *, full: bool = True) -> None:
        """The exchange's positions (WS open_positions or REST openpositions). ``full`` replaces the whole
        set (symbols not listed are flat); otherwise only the listed and ``closed`` symbols change."""
        new = {p.symbol: p for p in positions if p.size != 0}
        if full:
            for sym, old in self.positions.items():
                if sym in new and new[sym].ts_ms is None and old.ts_ms is not None:
                    new[sym] = _with_ts(new[sym], old.ts_ms)
            self.positions = new
            return
        for sym in closed:
            self.positions.pop(sym, None)
        self.positions.update(new)

    def set_orders(self, orders: Iterable[Order]) -> None:
        """Replace the open orders (WS open_orders snapshot, REST openorders)."""
        self.orders = {o.order_id: o for o in orders}

    def update_order(self, order_id: str, order: Order | None, is_cancel: bool) -> Order | None:
        """Apply one open_orders delta; returns the order that left the book (cancel/full fill) or None."""
        if is_cancel:
            return self.orders.pop(order_id, None) or order
        if order is not None:
            self.orders[order_id] = order
        return None

    def set_account(self, account: Account) -> None:
        """The multi-collateral account from balances / accounts (USD figures)."""
        self.account = account

    def set_coin_accounts(self, accounts: Iterable[CoinAccount]) -> None:
        """The inverse margin accounts (``fi_xbtusd``...) from balances ``futures`` / accounts (coin figures,
        spec §4.6, §7.11); each replaces the earlier report of its coin, the others stay. Only the coins in
        ``margin_coins`` are kept (all when it is None)."""
        for a in accounts:
            coin = a.currency.lower()
            if self.margin_coins is None or coin in self.margin_coins:
                self.coin_accounts[coin] = a


def _with_ts(p: Position, ts_ms: int) -> Position:
    return Position(p.symbol, p.side, p.size, p.entry_price, ts_ms, p.unrealized_funding, p.unrealized_pnl,
                    p.liquidation_price, p.mark_price, p.max_fixed_leverage)


#: Exit reasons of protective orders (their fills reduce ``PositionExits.remaining`` by purpose).
PROTECTIVE = frozenset({ExitReason.STOP.value, ExitReason.TRAILING.value, "tp1", "tp2", "tp3", "tp4"})
