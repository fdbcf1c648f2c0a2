"""Operator guards: the equity floor, the daily loss limit, liquidation alerts, stale market data and a flatten
done behind the engine's back. Each guard
keeps its own small state, looks at the figures it is given and returns ``GuardAction``s; ``GuardApplier``
carries them out (state machine transitions, entry blockers, feed status, events, journal alerts, the kill),
the same shape ``engine.reconcile`` uses for reconciliation.

Owns: ``EquityGuard`` (peak equity; daily loss limit: PAUSED until 00:00 UTC on the engine clock; equity
floor: flatten -> HALTED, exit code 5), ``LiquidationGuard`` (an alert when a position's liquidation risk
enters HIGH or worse, engine.liquidation), ``StaleDataGuard`` (no market data for ``[operator]
stale_data_s`` blocks entries), ``BasisGuard`` (after entry: the basis of a symbol with a position beyond
``[risk] max_basis_bps`` closes it, blocks entries or alerts, per ``[risk] basis_action``),
``ExternalFlattenGuard`` (the account emptied without an action of ours: HALTED), ``GuardApplier``,
``equity_at_mark`` (the total equity the equity guards watch: the flex account plus the inverse margin accounts
at their coins' marks, ``coin_accounts_usd`` / ``coin_price_usd``) and the action types.
Units: equity USD (Decimal), percentages 0-100, ages seconds, times UTC ms.
Must not import: textual, the client, the journal writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kraken_tui.domain import to_decimal
from kraken_tui.domain.money import (
    coin_account_equity_usd,
    contracts_pnl_usd,
    is_inverse_symbol,
    symbol_settlement_currency,
)
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    TransitionRefused,
    TransitionSource,
)
from kraken_tui.journal.records import Alert

__all__ = [
    "STALE_BLOCKER",
    "BASIS_BLOCKER",
    "BasisGuard",
    "Block",
    "ClosePosition",
    "EXTERNAL_FLATTEN_BLOCKER",
    "EquityGuard",
    "ExternalFlattenGuard",
    "FeedStale",
    "FeedStatus",
    "GuardAction",
    "GuardApplier",
    "Halt",
    "Kill",
    "LiquidationGuard",
    "Notify",
    "Pause",
    "Resume",
    "StaleDataGuard",
    "Unblock",
    "coin_accounts_usd",
    "coin_price_usd",
    "equity_at_mark",
]

#: Entry blocker name while a held symbol's basis exceeds ``[risk] max_basis_bps`` (``basis_action = "pause"``).
BASIS_BLOCKER = "basis blown out"
#: Entry blocker name while market data is older than ``[operator] stale_data_s``.
STALE_BLOCKER = "stale market data"
#: Entry blocker name while an emptied account is checked for a flatten done behind the engine's back.
EXTERNAL_FLATTEN_BLOCKER = "account emptied"
_ALERT_LEVEL = {RiskLevel.HIGH: "HIGH", RiskLevel.EXTREME: "CRITICAL", RiskLevel.CRITICAL: "CRITICAL"}
_RANK = {lvl: i for i, lvl in enumerate(RiskLevel)}


@dataclass(frozen=True, slots=True)
class Pause:
    """RUNNING -> PAUSED (automatic) with ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Resume:
    """PAUSED -> RUNNING (automatic) with ``reason``; refused transitions are ignored."""

    reason: str


@dataclass(frozen=True, slots=True)
class Kill:
    """The equity floor was crossed: flatten, HALTED, exit code 5 (``flatten.EngineFlatten.kill``)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Halt:
    """Latch HALTED with ``reason`` (no entries, no exits) until the operator resets; no flatten is sent."""

    reason: str


@dataclass(frozen=True, slots=True)
class Block:
    """Add (or refresh the detail of) the entry blocker ``blocker``."""

    blocker: str
    detail: str


@dataclass(frozen=True, slots=True)
class Unblock:
    """Remove the entry blocker ``blocker``."""

    blocker: str


@dataclass(frozen=True, slots=True)
class FeedStale:
    """Show the market feed as stale: silent for ``age_s`` seconds."""

    age_s: float
    detail: str


@dataclass(frozen=True, slots=True)
class Notify:
    """Publish an engine event; with ``alert_level`` (INFO, HIGH, CRITICAL) also journal an ``Alert``."""

    kind: EventKind
    message: str
    symbol: str | None = None
    severity: Severity = Severity.INFO
    data: Mapping[str, Any] = field(default_factory=dict)
    alert_level: str | None = None


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close the whole position of ``symbol`` with a reduce-only market order: ``reason`` in the event,
    ``exit_reason`` the close's purpose and the trade's exit reason in the journal (``basis_guard``)."""

    symbol: str
    reason: str
    exit_reason: str


GuardAction = Pause | Resume | Kill | Halt | Block | Unblock | FeedStale | Notify | ClosePosition


def coin_price_usd(coin: str, account: AccountTracker, market: MarketState) -> Decimal | None:
    """USD per ``coin`` (lower-case, ``xbt``) for valuing its inverse margin account: the latest mark of the
    coin's PI_ perpetual (``PI_XBTUSD``), else of its PF_ one (``PF_XBTUSD``), else the mark an open position
    in that coin last reported; None when none is known. Kraken values inverse P&L at the mark (Kraken Support
    "Portfolio Management")."""
    base = coin.upper()
    for sym in (f"PI_{base}USD", f"PF_{base}USD"):
        m = market.mark_price(sym)
        if m:
            return to_decimal(m)
    for p in account.positions.values():
        if p.mark_price and is_inverse_symbol(p.symbol) and symbol_settlement_currency(p.symbol) == coin:
            return p.mark_price
    return None


def equity_at_mark(account: AccountTracker, market: MarketState) -> Decimal | None:
    """Total equity (USD) re-marked with the latest marks: the flex account's margin equity minus its reported
    unrealised P&L plus its PF_ positions' P&L at the current marks (size x (mark - entry); Kraken Futures
    docs, "Multi-collateral margin"), plus each inverse margin account (``AccountTracker.coin_accounts``)
    valued at its coin's mark: its coin balance plus its PI_ positions' coin P&L at the mark, in USD
    (``domain.money.coin_account_equity_usd``; Kraken Support "Portfolio Management"). A PI_ position whose
    coin has no account report counts its P&L at mark with the flex account. With a position lacking a mark
    the flex part is the report's equity and coin accounts count their reported portfolio value at the coin's
    price; a coin account whose price is unknown is left out. None before any account report.
    Example: flex equity 10 000 USD, no PF_ position, 0.1 XBT with a 1 000-contract PI_XBTUSD short from
    100 000, mark 100 070: 10 000 + 10 006.3 = 20 006.3 USD."""
    a = account.account
    coins = account.coin_accounts
    if a is None and not coins:
        return None
    upnl = Decimal(0)
    by_coin: dict[str, list[tuple[Decimal, Decimal]]] = {}
    stale = False
    for p in account.positions.values():
        mark = market.mark_price(p.symbol)
        m = to_decimal(mark) if mark else p.mark_price
        if m is None:
            stale = True
            continue
        if is_inverse_symbol(p.symbol):  # PI_: 1-USD contracts, coin P&L at the mark (domain.money)
            coin = symbol_settlement_currency(p.symbol)
            if coin in coins:
                by_coin.setdefault(coin, []).append((p.signed_size, p.entry_price))
            else:
                upnl += contracts_pnl_usd(p.signed_size, p.entry_price, m, inverse=True)
        else:
            upnl += p.signed_size * (m - p.entry_price)
    total = Decimal(0)
    if a is not None:
        total = a.margin_equity_usd if stale else a.margin_equity_usd - a.unrealized_pnl_usd + upnl
    return total + sum(coin_accounts_usd(account, market, by_coin, stale).values(), Decimal(0))


def coin_accounts_usd(account: AccountTracker, market: MarketState,
                      positions: Mapping[str, Sequence[tuple[Decimal, Decimal]]] | None = None,
                      reported: bool = False) -> dict[str, Decimal]:
    """USD value at mark of each inverse margin account whose coin price is known (``coin_price_usd``): lower-case
    coin -> ``domain.money.coin_account_equity_usd`` of its coin balance and ``positions`` (coin -> (signed
    USD contracts, entry USD); by default every PI_ position of that coin held now); ``reported``: value the
    reported portfolio value (coin) instead, when the account reports one."""
    if positions is None:
        by: dict[str, list[tuple[Decimal, Decimal]]] = {}
        for p in account.positions.values():
            if is_inverse_symbol(p.symbol):
                by.setdefault(symbol_settlement_currency(p.symbol), []).append((p.signed_size, p.entry_price))
        positions = by
    out: dict[str, Decimal] = {}
    for coin, ca in account.coin_accounts.items():
        price = coin_price_usd(coin, account, market)
        if price is None:
            continue
        if reported and ca.portfolio_value_coin is not None:
            out[coin] = ca.portfolio_value_coin * price
        else:
            out[coin] = coin_account_equity_usd(ca.balance_coin, positions.get(coin, ()), price)
    return out


class EquityGuard:
    """Peak equity, the daily loss limit and the equity floor (module docstring).

    Args:
        equity_floor_pct: ``[operator] equity_floor_pct``: equity below this % of the starting equity kills;
            0 = no floor.
        daily_loss_limit_pct: ``[operator] daily_loss_limit_pct``: a loss of this % of the day's starting
            equity or more pauses entries until 00:00 UTC; 0 = no daily limit.

    Attributes:
        starting_usd: equity at start (USD). peak_usd: highest equity seen (USD).
        day_start_usd: equity at the start of the UTC day (None until known).
        daily_paused: the pause in force is the daily loss limit's (lifted at the next UTC day).
    """

    def __init__(self, equity_floor_pct: float, daily_loss_limit_pct: float) -> None:
        self.floor_pct = to_decimal(equity_floor_pct)
        self.daily_pct = to_decimal(daily_loss_limit_pct)
        self._floor_text, self._daily_text = f"{equity_floor_pct:g}", f"{daily_loss_limit_pct:g}"
        self.starting_usd = Decimal(0)
        self.peak_usd = Decimal(0)
        self.day_start_usd: Decimal | None = None
        self.daily_paused = False

    def start(self, equity_usd: Decimal) -> None:
        """The engine started with ``equity_usd``: starting and peak equity."""
        self.starting_usd = self.peak_usd = equity_usd

    def add_capital(self, usd: Decimal) -> None:
        """Equity that existed but was not counted until now (an inverse margin account valued for the first
        time, once its coin's price is known) joins the starting, peak and day-start equity, so it is not
        taken for a gain."""
        self.starting_usd += usd
        self.peak_usd += usd
        if self.day_start_usd is not None:
            self.day_start_usd += usd

    def drawdown_pct(self, equity_usd: Decimal) -> float:
        """Drawdown of ``equity_usd`` from the peak, % (0 at or above the peak)."""
        peak = self.peak_usd
        return float((peak - equity_usd) / peak * 100) if peak > 0 and equity_usd < peak else 0.0

    def check(self, equity_usd: Decimal | None, state: OperatorState) -> list[GuardAction]:
        """Run on every balances message and every mark of a symbol with a position: update the peak; below
        the floor -> ``Kill`` (unless a flatten is already running or done); the day's loss at the limit while
        RUNNING -> ``Pause`` until 00:00 UTC."""
        eq = equity_usd
        if eq is None or eq <= 0:
            return []
        if eq > self.peak_usd:
            self.peak_usd = eq
        if self.day_start_usd is None:
            self.day_start_usd = eq
        if self.floor_pct > 0 and self.starting_usd > 0 and eq < self.starting_usd * self.floor_pct / 100:
            if state in (OperatorState.FLATTENING, OperatorState.HALTED):
                return []
            return [Kill(f"equity floor: equity {eq:.2f} USD below {self._floor_text}% of starting "
                         f"{self.starting_usd:.2f} USD")]
        day = self.day_start_usd
        if (self.daily_pct > 0 and day and day > 0 and (day - eq) / day * 100 >= self.daily_pct
                and state is OperatorState.RUNNING):
            self.daily_paused = True
            return [Pause(f"daily loss limit: equity {eq:.2f} USD is {self._daily_text}% or more below "
                          f"the day's start {day:.2f} USD; entries paused until 00:00 UTC")]
        return []

    def new_day(self, equity_usd: Decimal | None, state: OperatorState) -> list[GuardAction]:
        """A new UTC day began (engine clock): the day's starting equity is ``equity_usd``; a daily-loss pause
        ends (``Resume``)."""
        self.day_start_usd = equity_usd
        if self.daily_paused and state is OperatorState.PAUSED:
            self.daily_paused = False
            return [Resume("new UTC day: daily loss limit reset")]
        return []


class LiquidationGuard:
    """Alert once when a position's liquidation risk rises into HIGH or worse (``RiskLevel.alerting``)."""

    def __init__(self) -> None:
        self._seen: dict[str, RiskLevel] = {}

    def check(self, symbol: str, liq_price: Decimal | None, distance: Decimal | None,
              level: RiskLevel) -> list[GuardAction]:
        """``symbol``'s position is at ``level`` (``distance`` from mark as a fraction, estimated liquidation
        price ``liq_price`` USD; engine.views ``liquidation``): a ``Notify`` (journaled alert) when the level
        rose into an alerting one since the last check."""
        prev = self._seen.get(symbol, RiskLevel.LOW)
        self._seen[symbol] = level
        if not (level.alerting and _RANK[level] > _RANK[prev]):
            return []
        msg = (f"{symbol} liquidation risk {level.value}: mark is {float(distance or 0) * 100:.1f}% from the "
               f"estimated liquidation price {liq_price:.2f}")
        return [Notify(EventKind.ALERT, msg, symbol,
                       Severity.CRITICAL if level is not RiskLevel.HIGH else Severity.WARNING,
                       {"risk_level": level.value, "level": level.value}, _ALERT_LEVEL[level])]


class BasisGuard:
    """The basis guard after entry (spec §8.4: mark = index + premium). Before entry ``engine.decide`` rejects
    entries on a blown-out basis; this one watches symbols that hold a position.

    Args:
        max_basis_bps: ``[risk] max_basis_bps``. action: ``[risk] basis_action``: "close" (close the position),
            "pause" (block entries until the basis is back within the limit) or "alert" (only an alert).
    """

    def __init__(self, max_basis_bps: float, action: str) -> None:
        self.max_bps, self.action = max_basis_bps, action
        self.blown: set[str] = set()

    def check(self, symbol: str, mark: float | None, index: float | None, held: bool) -> list[GuardAction]:
        """One mark of ``symbol`` (USD; ``held``: a position is open): on the first mark beyond the limit with a
        position, the configured action plus a HIGH alert; the symbol stays blown out, with or without a
        position, until a mark within the limit, and when every blown symbol is back the entry blocker is
        lifted ("pause"). Unknown prices do nothing. The engine calls it on every mark of a symbol that holds
        a position or is blown out (``blown``)."""
        if mark is None or index is None or mark <= 0 or index <= 0:
            return []
        bps = (mark - index) / index * 10_000.0
        if abs(bps) <= self.max_bps:
            if symbol in self.blown:
                self.blown.discard(symbol)
                if not self.blown and self.action == "pause":
                    return [Unblock(BASIS_BLOCKER)]
            return []
        if symbol in self.blown or not held:
            return []
        self.blown.add(symbol)
        what = f"{symbol} basis {bps:.1f} bps exceeds max {self.max_bps:g} bps (mark {mark:g}, index {index:g})"
        out: list[GuardAction] = [Notify(EventKind.ALERT, f"basis guard: {what}; action {self.action}", symbol,
                                         Severity.WARNING, {"level": "HIGH", "basis_bps": bps}, "HIGH")]
        if self.action == "close":
            out.append(ClosePosition(symbol, f"basis guard: {what}", "basis_guard"))
        elif self.action == "pause":
            out.append(Block(BASIS_BLOCKER, what))
        return out


class StaleDataGuard:
    """Entries blocked (``STALE_BLOCKER``) while market data is older than ``limit_s`` seconds."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s

    def check(self, age_s: float | None, blockers: Mapping[str, str]) -> list[GuardAction]:
        """Every second: market data ``age_s`` seconds old (None before any) against ``limit_s``; the
        feed is shown stale and an event published when the blocker is new."""
        if age_s is None or age_s <= self.limit_s:
            return []
        detail = f"no market data for {age_s:.0f} s"
        out: list[GuardAction] = [Block(STALE_BLOCKER, detail)]
        if STALE_BLOCKER not in blockers:
            out += [FeedStale(age_s, detail),
                    Notify(EventKind.FEED, f"market data stale ({age_s:.0f} s); entries blocked",
                           severity=Severity.WARNING)]
        return out

    def fresh(self, blockers: Mapping[str, str]) -> list[GuardAction]:
        """Market data arrived: lift the blocker when it is set."""
        if STALE_BLOCKER not in blockers:
            return []
        return [Unblock(STALE_BLOCKER), Notify(EventKind.FEED, "market data fresh again; entries unblocked")]


def _describe(size: Decimal, symbol: str) -> str:
    return f"{symbol} {'long' if size > 0 else 'short'} {abs(size)}"


class ExternalFlattenGuard:
    """Notices a flatten done behind the engine's back (``kraken-tui flatten`` straight to the exchange, the
    exchange's own web page, a liquidation of everything): the account it held emptied - no position and no
    open order left - while no action of ours explains it. It then latches HALTED (``Halt``), which only an
    operator reset lifts, so the engine never re-enters on an account someone else closed.

    The rule, fed with what the exchange last reported (WS ``open_positions`` / ``open_orders`` feeds, REST
    openpositions / openorders after a reconciliation pass; Kraken Futures docs, WebSocket API v1 and REST v3):

    1. ``observe`` while positions are held remembers them (signed contracts per symbol) and the most open
       orders seen alongside them.
    2. The positions vanish while orders still rest: not a flatten (a flatten, ours or anyone's, cancels
       every order; a liquidation on Kraken cancels the account's orders first). Nothing happens; the
       position's own close is reconciliation's business. Except when a flatten's close (cliOrdId ``flat-``,
       ``flatten_close``) closed one of them: a flatten closes the positions while their stops still rest
       and cancels every order after (engine.flatten), so the memory is kept until the orders are gone.
    3. The positions vanish and no order rests: suspected. Every vanished symbol closed by an order of ours
       (``own_exit``: a fill of our stop, take-profit or exit, or our order leaving the book filled or
       triggered) explains it: nothing happens. Otherwise entries are blocked (``Block``
       ``EXTERNAL_FLATTEN_BLOCKER``) and ``confirm`` decides after a short settle delay, so that a fill of
       ours reported after the position update (the feeds are not ordered between them) still clears it.
    4. ``confirm``: still empty and still unexplained -> ``Unblock``, ``Halt`` with a reason naming what was
       seen, and a CRITICAL journaled ``Notify``.
    Our own flatten (FLATTENING) and HALTED itself (``ours_running`` True) reset the memory: nothing fires.
    """

    def __init__(self) -> None:
        self.held: dict[str, Decimal] = {}
        """Signed contracts per symbol last seen held."""
        self.orders_seen = 0
        """Most open orders seen while ``held`` was held."""
        self.own_closed: set[str] = set()
        """Symbols an order of ours closed or reduced since they were last seen grow."""
        self.pending: str | None = None
        """The HALTED reason waiting for ``confirm`` (None when nothing is suspected)."""
        self.flattened: set[str] = set()
        """Symbols a flatten's close (not ours) closed since they were last seen grow."""
        self._pending_syms: frozenset[str] = frozenset()

    def _forget(self) -> None:
        self.held, self.orders_seen, self.own_closed, self.flattened = {}, 0, set(), set()
        self.pending, self._pending_syms = None, frozenset()

    def observe(self, positions: Mapping[str, Decimal], open_orders: int, ours_running: bool) -> list[GuardAction]:
        """The exchange now reports ``positions`` (symbol -> signed contracts, flat ones omitted) and
        ``open_orders`` resting orders; ``ours_running``: a flatten of ours runs or the engine is HALTED.
        Returns ``Block`` when an emptied account is suspected (class docstring, step 3), ``Unblock`` when a
        suspicion no longer holds, else nothing."""
        if ours_running:
            was = self.pending is not None
            self._forget()
            return [Unblock(EXTERNAL_FLATTEN_BLOCKER)] if was else []
        held = {s: q for s, q in positions.items() if q != 0}
        if held:
            for s, q in held.items():  # a new or larger position: an earlier own exit no longer explains it
                old = self.held.get(s, Decimal(0))
                if q * old <= 0 or abs(q) > abs(old):
                    self.own_closed.discard(s)
                    self.flattened.discard(s)
            self.held = held
            self.orders_seen = max(self.orders_seen, open_orders)
            return self._clear()
        if not self.held:
            return self._clear() if open_orders else []
        if open_orders:  # step 2: orders still rest, so nobody flattened the account (or not yet: its cancel-all)
            out = self._clear()
            if self.flattened & set(self.held):
                self.orders_seen = max(self.orders_seen, open_orders)
            else:
                self._forget()
            return out
        unexplained = sorted(s for s in self.held if s not in self.own_closed)
        if not unexplained:
            self._forget()
            return []
        if self.pending is None:
            what = " and ".join(_describe(self.held[s], s) for s in sorted(self.held))
            orders = f" and {self.orders_seen} order{'s' if self.orders_seen != 1 else ''}" if self.orders_seen else ""
            self.pending = (f"external flatten: position{'s' if len(self.held) > 1 else ''} {what}{orders} gone "
                            "without our action")
            self._pending_syms = frozenset(unexplained)
            return [Block(EXTERNAL_FLATTEN_BLOCKER, "positions and orders gone without our action; checking")]
        return []

    def _clear(self) -> list[GuardAction]:
        was = self.pending is not None
        self.pending, self._pending_syms = None, frozenset()
        return [Unblock(EXTERNAL_FLATTEN_BLOCKER)] if was else []

    def flatten_close(self, symbol: str) -> None:
        """A flatten's close (cliOrdId ``flat-``, not of a flatten of ours) closed or reduced ``symbol``'s
        position: the flatten's cancel-all follows, so the held positions are remembered (step 2)."""
        self.flattened.add(symbol)

    def own_exit(self, symbol: str) -> list[GuardAction]:
        """An order of ours closed or reduced ``symbol``'s position (a fill of our exit, stop or take-profit, or
        our order leaving the book filled or triggered). Clears a suspicion it explains (``Unblock``)."""
        self.own_closed.add(symbol)
        if self.pending is not None and self._pending_syms <= self.own_closed:
            self._forget()
            return [Unblock(EXTERNAL_FLATTEN_BLOCKER)]
        return []

    def confirm(self, ours_running: bool) -> list[GuardAction]:
        """The settle delay after a suspicion ended: ``Unblock`` + ``Halt`` + a CRITICAL ``Notify`` (journaled
        alert) when it still holds; nothing when it was cleared or a flatten of ours took over."""
        reason = self.pending
        if reason is None:
            return []
        self._forget()
        if ours_running:
            return [Unblock(EXTERNAL_FLATTEN_BLOCKER)]
        return [Unblock(EXTERNAL_FLATTEN_BLOCKER), Halt(reason),
                Notify(EventKind.ALERT, reason, severity=Severity.CRITICAL, alert_level="CRITICAL")]


class FeedStatus(Protocol):
    """Where the market feed's shown status is set (``market_events.FeedMonitor``)."""

    def set(self, status: str, age_s: float | None, detail: str) -> None:
        """Show ``status`` (live, reconnecting, stale, ended) with the data's age (s) and a detail."""
        ...


class GuardApplier:
    """Carries out ``GuardAction``s: ``Pause``/``Resume`` as automatic transitions (a refused resume is
    ignored), ``Halt`` as an automatic HALTED (latched until reset), ``Block``/``Unblock`` as entry blockers, ``FeedStale`` on the feed status, ``Notify`` as an
    event (and a journaled ``Alert`` with its level), ``Kill`` through ``kill`` (the engine's equity-floor
    halt: flatten, HALTED, exit code 5).

    Args:
        io: events, clock and journal (``context.EngineIO``).
        sm: the operator state machine.
        feed: the market feed's status (``FeedStatus``).
        kill: starts the equity-floor halt with its reason (returns at once).
    """

    def __init__(self, io: EngineIO, sm: OperatorStateMachine, feed: FeedStatus, kill: Callable[[str], None]) -> None:
        self.io, self.sm, self.feed, self.kill = io, sm, feed, kill
        self.close_position: Callable[[str, str, str], None] | None = None
        """Closes a position for a guard (``ClosePosition``: symbol, reason, exit reason); set by the engine;
        None = the action is only reported."""

    def apply(self, actions: Sequence[GuardAction]) -> None:
        """Carry out ``actions`` in order."""
        for a in actions:
            if isinstance(a, Pause):
                self.sm.pause(a.reason, TransitionSource.AUTOMATIC)
            elif isinstance(a, Resume):
                with contextlib.suppress(TransitionRefused):
                    self.sm.resume(a.reason, TransitionSource.AUTOMATIC)
            elif isinstance(a, Kill):
                self.kill(a.reason)
            elif isinstance(a, Halt):
                self.sm.halt(a.reason, TransitionSource.AUTOMATIC)
            elif isinstance(a, Block):
                self.sm.block_entries(a.blocker, a.detail)
            elif isinstance(a, Unblock):
                self.sm.clear_blocker(a.blocker)
            elif isinstance(a, FeedStale):
                self.feed.set("stale", a.age_s, a.detail)
            elif isinstance(a, ClosePosition):
                if self.close_position is not None:
                    self.close_position(a.symbol, a.reason, a.exit_reason)
            elif isinstance(a, Notify):
                self.io.emit(a.kind, a.message, symbol=a.symbol, severity=a.severity, data=a.data)
                if a.alert_level is not None:
                    self.io.write_soon(Alert(self.io.now_ms(), a.alert_level, a.message, a.symbol))
