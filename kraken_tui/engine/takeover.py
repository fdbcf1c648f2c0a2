"""Positions of ours that are not protected, taken over and protected: a fill of an earlier run's order (a
crash between the send and the fill, an entry that filled while the engine was down; engine.fill_origin books
it) that leaves an open position this run does not manage; a position of ours found at start with no run
managing it (its stop cancelled by hand while the engine was down); an entry of this run whose stop the
exchange refused.

Owns: ``Takeover`` (the engine's instance, ``core.Engine.takeover``) and ``BLOCKER`` (the entry blocker's
name while such a position has no stop).

What a trader expects, done on the engine's job worker (never in the WS consumer) after the fill was booked
and journaled (``Takeover.note`` queues it), and at start after ``engine.orphans.OrphanSweep.sweep``
(``Takeover.sweep``: every exchange position that is ours - not adopted as external, its size the one the
journal's fills give - and that no run manages is taken over; a managed one whose stop is not resting is
guarded as below):
- The position is already managed (its earlier run's protective orders were taken over by
  ``OrphanSweep``), or is gone, or is external: nothing is done (no second stop is ever placed).
- Otherwise the exchange's position and open orders are read (REST, spec §4.7, §4.8). Orphaned protective
  orders of the symbol (``OrphanSweep.by_symbol``) are taken over with them (``OrphanSweep.sweep_symbol``); if there are
  none, the position is managed as after an entry fill (``OrderFlow.manage``: ``PositionExits``, then the
  reduce-only stop on mark and the take-profit ladder), with a signal id of this run. The exit state
  starts from the journal's fills of earlier-run orders that opened the position (size-weighted price,
  first fill time) when they add up to the exchange's size, else from the exchange's entry price and now.
- Journaled (``Alert``) and published: INFO "taken over" with the stop price; when the strategy has no
  protective exits (``protective_exits = False``) the position is managed but no order is placed, and a
  HIGH alert says so; when the stop could not be placed (exchange error, unreadable exchange, unlisted
  symbol) entries are blocked (``BLOCKER``, the state pauses) with the reason and a CRITICAL alert is raised.
  Every later reconciliation pass retries (``Takeover.after_pass``); a placed stop clears the blocker and
  an INFO alert says the blocker was lifted (the state stays PAUSED: the operator resumes).
- An entry (or add) of this run whose stop the exchange refused (``OrderFlow`` calls ``Takeover.guard``) is
  treated as the refused stop above: blocker, CRITICAL alert (symbol, side, size, stop price, the
  exchange's status and error text; never a credential), retried after every pass, lifted with an INFO alert.
- While FLATTENING (the flatten closes it) or HALTED (exits off) nothing is placed; a HIGH alert says the
  position is unprotected (once per symbol; a position gone meanwhile ends the retries silently).
Units: sizes contracts (Decimal), prices USD, times UTC ms. Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kraken_tui.domain import Fill, Instrument, Order, OrderResult, Position
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    TransitionRefused,
    TransitionSource,
)
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.orphans import OrphanSweep
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import Alert
from kraken_tui.wording import counted

__all__ = ["BLOCKER", "Takeover"]

#: Entry blocker name while a position of ours that this run took over has no resting stop.
BLOCKER = "unprotected position"


@dataclass
class _Opened:
    """The journal's view of how the unmanaged position opened: ``size`` contracts (unsigned) at the
    size-weighted ``price`` USD, first fill at ``ts_ms`` (UTC ms); ``fill`` the last fill's text."""

    size: Decimal
    price: Decimal
    ts_ms: int
    fill: str


class PositionReader(Protocol):
    """The exchange reads a take-over makes (Kraken Futures docs, REST v3 "Get open positions", "Get open
    orders"; spec §4.7, §4.8)."""

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        """Open positions."""
        ...

    async def open_orders(self, *, priority: bool = False) -> list[Order]:
        """Open orders."""
        ...


class Takeover:
    """Take over and protect positions of ours left without a stop (module docstring) for one engine.

    Args:
        io: events, clock, journal, job worker.
        account: the account (positions, open orders, managed positions).
        sm: the operator state machine (entry blocker, pause).
        client: reads the exchange's positions and open orders.
        flow: places the protective orders (``OrderFlow.manage``/``place``).
        orphans: takes an earlier run's resting protective orders over (``OrphanSweep``).
        instruments: symbol -> Instrument.
        run_id: this run's id (signal ids of taken-over positions).
        strategy_name: named in alerts.
        protective: the strategy places protective exits.
        is_external: symbol -> its position was adopted as external (reconciliation).
        booked_size: symbol -> signed contracts the journal's fills give (reconciliation).

    Attributes:
        opened: symbol -> the journal's entry of the unmanaged position (``_Opened``), None when unknown.
        failed: symbol -> why its stop is not resting (the ``BLOCKER`` detail).
        labels: symbol -> what the position is when it is not an earlier run's (``guard``: this run's entry).
    """

    def __init__(self, io: EngineIO, *, account: AccountTracker, sm: OperatorStateMachine, client: PositionReader,
                 flow: OrderFlow, orphans: OrphanSweep, instruments: Mapping[str, Instrument], run_id: str,
                 strategy_name: str, protective: bool, is_external: Callable[[str], bool],
                 booked_size: Callable[[str], Decimal]) -> None:
        self.io, self.account, self.sm, self.client = io, account, sm, client
        self.flow, self.orphans, self.instruments = flow, orphans, instruments
        self.run_id, self.strategy_name, self.protective = run_id, strategy_name, protective
        self.is_external, self.booked_size = is_external, booked_size
        self.opened: dict[str, _Opened | None] = {}
        self.failed: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._queued: set[str] = set()
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ triggers
    def note(self, f: Fill, before: Decimal, after: Decimal) -> None:
        """A booked fill of an earlier run's order left ``after`` signed contracts (from ``before``) in a
        symbol this run does not manage: remember how it opened and queue the take-over."""
        prev = self.opened.get(f.symbol)
        text = f"fill {f.fill_id} of our earlier order {f.cli_ord_id}"
        if before == 0 or (before > 0) != (after > 0):  # opened (or flipped) by this fill
            self.opened[f.symbol] = _Opened(abs(after), f.price, f.ts_ms, text)
        elif prev is not None and abs(after) > abs(before):
            size = prev.size + f.size
            self.opened[f.symbol] = _Opened(size, (prev.price * prev.size + f.price * f.size) / size, prev.ts_ms, text)
        elif prev is not None:  # reduced: the average entry stays
            self.opened[f.symbol] = _Opened(abs(after), prev.price, prev.ts_ms, text)
        else:
            self.opened[f.symbol] = None
        self._queue(f.symbol)

    async def sweep(self) -> None:
        """At start, after ``OrphanSweep.sweep``: every exchange position of ours (not external, the size the
        journal's fills give, ``Reconciler.booked``) that no run manages, or whose stop is not resting, is
        taken over or has its stop placed (``run``; module docstring). A position of another program
        (external) is left as it is. Never raises for exchange errors."""
        for symbol, pos in sorted(self.account.positions.items()):
            if self.is_external(symbol) or self.booked_size(symbol) != pos.signed_size:
                continue
            if _unguarded(self.account.managed.get(symbol), missing_ok=True):
                await self.run(symbol)

    def guard(self, mp: ManagedPosition, result: OrderResult | None) -> None:
        """An entry or add of this run (``OrderFlow.enter``) left ``mp`` with protective exits but no resting
        stop; ``result`` is the stop's placement (refused), None when none was sent. Entries are blocked, a
        CRITICAL alert raised and the stop retried after every pass (module docstring). No-op when the stop
        rests or the strategy has no protective exits."""
        if not _unguarded(mp):
            return
        self.labels[mp.symbol] = f"this run's entry {mp.signal_id}"
        self._unprotected(mp.symbol, _refusal(mp, result))

    def after_pass(self) -> None:
        """After a reconciliation pass: retry every symbol whose stop is not resting."""
        for symbol in list(self.failed):
            self._queue(symbol)

    def _queue(self, symbol: str) -> None:
        if symbol not in self._queued:
            self._queued.add(symbol)
            self.io.submit(f"take over {symbol}", lambda: self.run(symbol))

    # ------------------------------------------------------------------ the job
    async def run(self, symbol: str) -> None:
        """Take ``symbol``'s position over, or retry its stop (module docstring). Never raises for
        exchange errors (they block entries with a CRITICAL alert)."""
        self._queued.discard(symbol)
        mp = self.account.managed.get(symbol)
        if mp is not None and symbol not in self.failed and not _unguarded(mp):  # managed, its stop resting
            self.opened.pop(symbol, None)
            return
        if self.is_external(symbol):
            self._done(symbol)
            return
        if self.sm.state in (OperatorState.FLATTENING, OperatorState.HALTED):  # a flatten closes it
            if symbol not in self.account.positions:  # closed meanwhile
                self._done(symbol)
            elif symbol not in self._warned:
                self._warned.add(symbol)
                self._alert(symbol, "HIGH", f"{self._what(symbol)}: not taken over while the engine is "
                            f"{self.sm.state.value}; the position has no stop")
            self.opened.pop(symbol, None)
            return
        try:
            positions, orders = await asyncio.gather(self.client.open_positions(), self.client.open_orders())
        except (ExchangeError, OSError) as exc:
            self._unprotected(symbol, f"the exchange could not be read ({exc})")
            return
        self.account.set_positions(positions)
        self.account.set_orders(orders)
        pos = self.account.positions.get(symbol)
        if pos is None:  # closed meanwhile: nothing to protect
            if symbol in self.failed:
                self._alert(symbol, "INFO", f"{symbol}: the position without a stop is closed; entry blocker "
                            f"'{BLOCKER}' lifted")
            self._done(symbol)
            return
        if mp is not None:  # a retry: place the stop unless a resync placed it meanwhile
            stop = mp.exits.stop_order() if "stop" not in mp.orders else None
            result = await self.flow.place(mp, stop, mp.stop_purpose) if stop is not None else None
            self._check(symbol, mp, pos, result, "")
            return
        await self.orphans.sweep_symbol(symbol, self.orphans.by_symbol().get(symbol, []))
        mp = self.account.managed.get(symbol)
        if mp is not None:
            self._check(symbol, mp, pos, None, "took over its resting protective orders")
            return
        inst = self.instruments.get(symbol)
        if inst is None:
            self._unprotected(symbol, "the symbol is not listed by the exchange")
            return
        opened = self.opened.get(symbol)
        if opened is not None and opened.size == pos.size:
            entry, ts_ms, src = opened.price, opened.ts_ms, "the journal's fills"
        else:
            entry, ts_ms, src = pos.entry_price, self.io.now_ms(), "the exchange's position"
        mp, results = await self.flow.manage(inst, pos.side, entry, pos.size,
                                             make_signal_id(self.run_id, symbol, self.io.now_ms()),
                                             protective=self.protective, opened_ms=ts_ms)
        self._check(symbol, mp, pos, results[0] if results else None, f"entry {entry} from {src}")

    # ------------------------------------------------------------------ outcomes
    def _what(self, symbol: str) -> str:
        """``<symbol> <side> <contracts> (<what the position is>)`` for alerts (the managed size first)."""
        mp = self.account.managed.get(symbol)
        pos = self.account.positions.get(symbol)
        opened = self.opened.get(symbol)
        text = f"{symbol} {mp.exits.side.value} {mp.exits.remaining}" if mp is not None \
            else f"{symbol} {pos.side.value} {pos.size}" if pos is not None else symbol
        label = opened.fill if opened is not None else self.labels.get(symbol, "our earlier order's position")
        return f"{text} ({label})"

    def _check(self, symbol: str, mp: ManagedPosition, pos: Position, result: OrderResult | None, how: str) -> None:
        """Say what the take-over or retry did: INFO with the stop (and the blocker lifted after a retry), HIGH
        without protective exits, else blocked."""
        what = self._what(symbol)
        how = f"; {how}" if how else ""
        if not mp.exits.protective:
            name = self.strategy_name or "the strategy"
            self._alert(symbol, "HIGH", f"{what}: taken over by this run{how}; strategy {name} has protective "
                        "exits disabled: no stop and no take-profit placed")
            self._done(symbol)
        elif "stop" in mp.orders:
            tps = sum(1 for k in mp.orders if k.startswith("tp"))
            stop = (f"stop {mp.exits.stop_price} (reduce-only, mark trigger) resting for {pos.size}, "
                    f"{counted(tps, 'take-profit')}")
            if symbol in self.failed:
                paused = self.sm.state is OperatorState.PAUSED
                self._alert(symbol, "INFO", f"{what}: {stop}; entry blocker '{BLOCKER}' lifted"
                            + ("; entries stay paused until the operator resumes" if paused else ""))
            else:
                self._alert(symbol, "INFO", f"{what}: taken over by this run{how}; {stop}")
            self._done(symbol)
        else:
            self._unprotected(symbol, _refusal(mp, result))

    def _unprotected(self, symbol: str, why: str) -> None:
        """Block entries (pause) and raise a journaled CRITICAL alert: the position has no stop."""
        detail = f"{self._what(symbol)} has no stop: {why}; retried at every reconciliation pass"
        new = self.failed.get(symbol) != detail
        self.failed[symbol] = detail
        self.sm.block_entries(BLOCKER, detail)
        if self.sm.state is OperatorState.RUNNING:
            with contextlib.suppress(TransitionRefused):
                self.sm.pause(f"{BLOCKER}: {detail}", TransitionSource.AUTOMATIC)
        if new:
            self._alert(symbol, "CRITICAL", detail)

    def _done(self, symbol: str) -> None:
        self.opened.pop(symbol, None)
        self.labels.pop(symbol, None)
        self._warned.discard(symbol)
        if self.failed.pop(symbol, None) is not None and not self.failed:
            self.sm.clear_blocker(BLOCKER)

    def _alert(self, symbol: str, level: str, msg: str) -> None:
        sev = {"INFO": Severity.INFO, "HIGH": Severity.WARNING}.get(level, Severity.CRITICAL)
        self.io.emit(EventKind.ALERT, msg, symbol=symbol, severity=sev, data={"level": level})
        self.io.write_soon(Alert(self.io.now_ms(), level, msg, symbol))


def _unguarded(mp: ManagedPosition | None, *, missing_ok: bool = False) -> bool:
    """True when ``mp`` has protective exits and no resting stop (``missing_ok``: also when not managed)."""
    if mp is None:
        return missing_ok
    return mp.exits.protective and "stop" not in mp.orders


def _refusal(mp: ManagedPosition, result: OrderResult | None) -> str:
    """Why ``mp``'s stop is not resting, from its placement ``result`` (the exchange's status and error text)."""
    if result is None or result.accepted:
        return "no stop was placed"
    return f"the stop at {mp.exits.stop_price} was refused: {result.raw_status or result.status.value}" \
        + (f" ({result.error})" if result.error else "")
