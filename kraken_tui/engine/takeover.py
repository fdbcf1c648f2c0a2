"""Positions of ours that no run manages, taken over and protected: a fill of an earlier run's order (a crash
between the send and the fill, an entry that filled while the engine was down; engine.fill_origin books it)
that leaves an open position this run does not manage.

Owns: ``Takeover`` (the engine's instance, ``core_reconcile.Reconciler.takeover``) and ``BLOCKER`` (the
entry blocker's name while such a position has no stop).

What a trader expects, done on the engine's job worker (never in the WS consumer) after the fill was booked
and journaled (``Takeover.note`` queues it; at start it runs after ``engine.orphans.sweep_orphans``):
- The position is already managed (its earlier run's protective orders were taken over by
  ``sweep_orphans``), or is gone, or is external: nothing is done (no second stop is ever placed).
- Otherwise the exchange's position and open orders are read (REST, spec §4.7, §4.8). Orphaned protective
  orders of the symbol (``orphans_by_symbol``) are taken over with them (``sweep_symbol``); if there are
  none, the position is managed as after an entry fill (``OrderFlow.manage``: ``PositionExits``, then the
  reduce-only stop on mark and the take-profit ladder), with a signal id of this run. The exit state
  starts from the journal's fills of earlier-run orders that opened the position (size-weighted price,
  first fill time) when they add up to the exchange's size, else from the exchange's entry price and now.
- Journaled (``Alert``) and published: INFO "taken over" with the stop price; when the strategy has no
  protective exits (``protective_exits = False``) the position is managed but no order is placed, and a
  HIGH alert says so; when the stop could not be placed (exchange error, unreadable exchange, unlisted
  symbol) entries are blocked (``BLOCKER``, the state pauses) with the reason and a CRITICAL alert is raised.
  Every later reconciliation pass retries (``Takeover.after_pass``); a placed stop clears the blocker.
- While FLATTENING (the flatten closes it) or HALTED (exits off) nothing is placed; a HIGH alert says the
  position is unprotected.
Units: sizes contracts (Decimal), prices USD, times UTC ms. Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from kraken_tui.domain import Fill, OrderResult, Position
from kraken_tui.engine.account import ManagedPosition
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.operator import OperatorState, TransitionRefused, TransitionSource
from kraken_tui.engine.orphans import orphans_by_symbol, sweep_symbol
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import Alert
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from kraken_tui.engine.core import Engine

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


class Takeover:
    """Take over positions of ours left unmanaged (module docstring) for one engine.

    Attributes:
        opened: symbol -> the journal's entry of the unmanaged position (``_Opened``), None when unknown.
        failed: symbol -> why its stop is not resting (the ``BLOCKER`` detail).
    """

    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.opened: dict[str, _Opened | None] = {}
        self.failed: dict[str, str] = {}
        self._queued: set[str] = set()

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

    def after_pass(self) -> None:
        """After a reconciliation pass: retry every symbol whose stop is not resting."""
        for symbol in list(self.failed):
            self._queue(symbol)

    def _queue(self, symbol: str) -> None:
        if symbol not in self._queued:
            self._queued.add(symbol)
            self.eng.submit(f"take over {symbol}", lambda: self.run(symbol))

    # ------------------------------------------------------------------ the job
    async def run(self, symbol: str) -> None:
        """Take ``symbol``'s position over, or retry its stop (module docstring). Never raises for
        exchange errors (they block entries with a CRITICAL alert)."""
        eng = self.eng
        self._queued.discard(symbol)
        mp = eng.account.managed.get(symbol)
        if mp is not None and symbol not in self.failed:  # managed already (orphans taken over, our entry)
            self.opened.pop(symbol, None)
            return
        if eng.rec.is_external(symbol):
            self._done(symbol)
            return
        if eng.sm.state in (OperatorState.FLATTENING, OperatorState.HALTED):  # a flatten closes it
            self._alert(symbol, "HIGH", f"{self._what(symbol)}: not taken over while the engine is "
                        f"{eng.sm.state.value}; the position has no stop")
            self.opened.pop(symbol, None)
            return
        try:
            positions, orders = await asyncio.gather(eng.client.open_positions(), eng.client.open_orders())
        except (ExchangeError, OSError) as exc:
            self._unprotected(symbol, f"the exchange could not be read ({exc})")
            return
        eng.account.set_positions(positions)
        eng.account.set_orders(orders)
        pos = eng.account.positions.get(symbol)
        if pos is None:  # closed meanwhile: nothing to protect
            self._done(symbol)
            return
        if mp is not None:  # a retry: place the stop unless a resync placed it meanwhile
            stop = mp.exits.stop_order() if "stop" not in mp.orders else None
            result = await eng.flow.place(mp, stop, mp.stop_purpose) if stop is not None else None
            self._check(symbol, mp, pos, result, "")
            return
        await sweep_symbol(eng, symbol, orphans_by_symbol(eng).get(symbol, []))
        mp = eng.account.managed.get(symbol)
        if mp is not None:
            self._check(symbol, mp, pos, None, "took over its resting protective orders")
            return
        inst = eng.instruments.get(symbol)
        if inst is None:
            self._unprotected(symbol, "the symbol is not listed by the exchange")
            return
        opened = self.opened.get(symbol)
        if opened is not None and opened.size == pos.size:
            entry, ts_ms, src = opened.price, opened.ts_ms, "the journal's fills"
        else:
            entry, ts_ms, src = pos.entry_price, eng.now_ms(), "the exchange's position"
        protective = bool(getattr(eng.strategy, "protective_exits", True))
        mp, results = await eng.flow.manage(inst, pos.side, entry, pos.size,
                                            make_signal_id(eng.run_id, symbol, eng.now_ms()),
                                            protective=protective, opened_ms=ts_ms)
        self._check(symbol, mp, pos, results[0] if results else None, f"entry {entry} from {src}")

    # ------------------------------------------------------------------ outcomes
    def _what(self, symbol: str) -> str:
        pos = self.eng.account.positions.get(symbol)
        opened = self.opened.get(symbol)
        text = f"{symbol} {pos.side.value} {pos.size}" if pos is not None else symbol
        return text + (f" ({opened.fill})" if opened is not None else " (our earlier order's position)")

    def _check(self, symbol: str, mp: ManagedPosition, pos: Position, result: OrderResult | None, how: str) -> None:
        """Say what the take-over did: INFO with the stop, HIGH without protective exits, else blocked."""
        what = self._what(symbol)
        how = f"; {how}" if how else ""
        if not mp.exits.protective:
            name = getattr(self.eng.strategy, "name", "the strategy")
            self._alert(symbol, "HIGH", f"{what}: taken over by this run{how}; strategy {name} has protective "
                        "exits disabled: no stop and no take-profit placed")
            self._done(symbol)
        elif "stop" in mp.orders:
            tps = sum(1 for k in mp.orders if k.startswith("tp"))
            self._alert(symbol, "INFO", f"{what}: taken over by this run{how}; stop {mp.exits.stop_price} "
                        f"(reduce-only, mark trigger) resting for {pos.size}, {counted(tps, 'take-profit')}")
            self._done(symbol)
        else:
            why = "no stop was placed"
            if result is not None and not result.accepted:
                why = f"the stop at {mp.exits.stop_price} was refused: {result.raw_status or result.status.value}" \
                    + (f" ({result.error})" if result.error else "")
            self._unprotected(symbol, why)

    def _unprotected(self, symbol: str, why: str) -> None:
        """Block entries (pause) and raise a journaled CRITICAL alert: the position has no stop."""
        eng = self.eng
        detail = f"{self._what(symbol)} has no stop: {why}; retried at every reconciliation pass"
        new = self.failed.get(symbol) != detail
        self.failed[symbol] = detail
        eng.sm.block_entries(BLOCKER, detail)
        if eng.sm.state is OperatorState.RUNNING:
            with contextlib.suppress(TransitionRefused):
                eng.sm.pause(f"{BLOCKER}: {detail}", TransitionSource.AUTOMATIC)
        if new:
            self._alert(symbol, "CRITICAL", detail)

    def _done(self, symbol: str) -> None:
        self.opened.pop(symbol, None)
        if self.failed.pop(symbol, None) is not None and not self.failed:
            self.eng.sm.clear_blocker(BLOCKER)

    def _alert(self, symbol: str, level: str, msg: str) -> None:
        sev = {"INFO": Severity.INFO, "HIGH": Severity.WARNING}.get(level, Severity.CRITICAL)
        self.eng.emit(EventKind.ALERT, msg, symbol=symbol, severity=sev, data={"level": level})
        self.eng._write_soon(Alert(self.eng.now_ms(), level, msg, symbol))
