"""The engine's front-end facade: snapshot, listeners and operator acts (pause, resume, reset, flatten).

Owns: ``ControlMixin`` (mixed into ``core.Engine``), the ``facade.EngineControl`` methods. ``snapshot`` is
built from memory only (no I/O); every operator act is journaled (``OperatorAction``) before the state
machine moves (its transitions are journaled as ``StateChange`` by the engine). ``flatten`` runs
``engine.flatten.flatten_account`` (cancel every order, close every position the exchange reports, verify)
and always ends HALTED, also when the procedure fails (../shared/guides/lessons.md "Flatten and kill switch").
Order of a flatten: FLATTENING (entries blocked), queued jobs dropped, the job in flight awaited (at most
``FLATTEN_WAIT_JOB_S``), then ``flatten_account`` with the positions the exchange last pushed on the private
``open_positions`` feed (``known_positions``; None when that feed is not live) so a clean run costs 4 REST
calls (cancel-all, one batch of closes, two verifying reads).
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kraken_tui.engine import core_snapshot as views
from kraken_tui.engine.facade import (
    DeadManView,
    EngineEvent,
    EngineSnapshot,
    EventKind,
    FeedView,
    FlattenProgress,
    FlattenReport,
    Severity,
)
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.journal.records import OperatorAction
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from kraken_tui.engine.core import Engine

__all__ = ["FLATTEN_WAIT_JOB_S", "ControlMixin"]

FLATTEN_WAIT_JOB_S = 2.0
"""How long a flatten waits for the order work in flight (an entry being sent) before it starts, s."""


class ControlMixin:
    """``facade.EngineControl`` of the Engine (module docstring). Uses the Engine's attributes."""

    # ------------------------------------------------------------------ facade
    def snapshot(self: Engine) -> EngineSnapshot:
        """The current state, from memory only (no I/O)."""
        positions = tuple(views.position_view(p, self.account, self.market, self.instruments,
                                              funding_usd=self.funding.accrued(p.symbol),
                                              external=self.rec.is_external(p.symbol))
                          for p in self.account.positions.values())
        age = time.monotonic() - self._feed_wall if self._feed_wall is not None else None
        feed = FeedView(self._feed.status, age, self._feed.detail)
        headroom = None
        rl = getattr(self.client, "rate_limit", None)
        if rl is not None:
            with contextlib.suppress(Exception):
                avail, cap = rl.headroom()
                headroom = max(0.0, min(1.0, avail / cap)) if cap else None
        return EngineSnapshot(
            ts_ms=self.now_ms(), mode=self.mode, synthetic=self.synthetic, state=self.sm.state,
            state_reason=self.sm.reason, entry_blockers=self.sm.entry_blockers,
            account=views.account_view(self.account, positions, self.starting_equity, self.peak_equity,
                                       tuple(self._equity_hist)),
            positions=positions, orders=views.order_views(self.account, self._purposes()),
            markets=self.market.views(), signals=tuple(self._signals), events=tuple(self._events), feed=feed,
            dead_man=self.dead_man.view() if self.dead_man is not None else DeadManView(),
            rate_limit_headroom=headroom, flatten=self._flatten, strategy=self.strategy.name,
            journal_path=self.journal_path, finished=self.finished.is_set())

    def _purposes(self: Engine) -> dict[str, str]:
        out = {cid: i.purpose.value for cid, i in self.executor.intents.items()}
        out.update(self.flow.snapshot_orders())
        return out

    def add_listener(self: Engine, listener: Callable[[EngineEvent], None]) -> None:
        """Receive every later event (called on the engine's loop; must not block)."""
        self._listeners.append(listener)

    def remove_listener(self: Engine, listener: Callable[[EngineEvent], None]) -> None:
        """Stop receiving events (unknown listeners are ignored)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def pause(self: Engine, reason: str, source: TransitionSource) -> None:
        """RUNNING -> PAUSED (entries blocked, exits on). Raises TransitionRefused from FLATTENING/HALTED."""
        self._operator("pause", reason, source)
        self.sm.pause(reason, source)

    def resume(self: Engine, reason: str, source: TransitionSource) -> None:
        """PAUSED -> RUNNING; also the operator's acknowledgement of positions reconciliation adopted as
        external: they stay tagged external (not managed by the engine: no stop, no take-profits) but the
        ``reconciliation mismatch`` entry blocker is cleared. While RUNNING with that blocker only (the pause
        was not possible or was undone), resume acknowledges without a transition.

        Raises:
            TransitionRefused: from FLATTENING or HALTED, or from RUNNING with nothing to acknowledge.
        """
        pending = BLOCKER_NAME in self.sm.entry_blockers
        if self.sm.state is OperatorState.RUNNING and pending:
            self._operator("resume", reason, source)
            self._acknowledge()
            return
        self._operator("resume", reason, source)
        self.sm.resume(reason, source)
        self._daily_paused = False
        if pending or any(not ok for ok in self.rec.external.values()):
            self._acknowledge()

    def _acknowledge(self: Engine) -> None:
        syms = self.rec.acknowledge()
        self.emit(EventKind.INFO, "reconciliation acknowledged by the operator"
                  + (f": {', '.join(syms)} kept as external" if syms else ""), data={"symbols": syms})

    def reset(self: Engine, reason: str, source: TransitionSource) -> None:
        """HALTED -> PAUSED with a non-empty reason. Raises TransitionRefused otherwise."""
        self._operator("reset", reason or "-", source)
        self.sm.reset(reason, source)
        if self.exit_code == 5:
            self.exit_code = 0

    def _operator(self: Engine, action: str, reason: str, source: TransitionSource) -> None:
        src = source.value if source is not TransitionSource.RESTORE else "automatic"
        self._write_soon(OperatorAction(self.now_ms(), action, reason.strip() or "-", src))  # type: ignore[arg-type]

    async def flatten(self: Engine, reason: str, source: TransitionSource) -> FlattenReport:
        """Cancel every order, close every position the exchange reports, verify, then HALTED (never raises
        for exchange errors; the report says what failed)."""
        if self._flattening is not None and not self._flattening.done():
            return await asyncio.shield(self._flattening)
        self._flattening = asyncio.ensure_future(self._do_flatten(reason, source))
        return await asyncio.shield(self._flattening)

    def _private_feed_live(self: Engine) -> bool:
        """The WS connection is up and the ``open_positions`` feed has sent its snapshot since."""
        if self.ws_positions is None:
            return False
        connected = getattr(self.ws, "connected", None)
        return bool(connected() if callable(connected) else True if connected is None else connected)

    async def _early_cancel_all(self: Engine) -> None:
        """``cancelallorders`` sent while order work in flight is still landing (spec §4.13); a failure is
        reported and left to the flatten procedure, which cancels again and verifies."""
        try:
            await self.client.cancel_all_orders()
        except Exception as exc:
            self.emit(EventKind.FLATTEN, f"flatten: first cancel-all failed ({type(exc).__name__}: {exc}); "
                      "the flatten cancels again", severity=Severity.WARNING)

    async def _do_flatten(self: Engine, reason: str, source: TransitionSource) -> FlattenReport:
        from kraken_tui.engine.flatten import flatten_account  # B's module; imported where it is used

        self._operator("flatten", reason, source)
        self.sm.flatten(reason, source)  # FLATTENING first: no job decides an entry from here on
        while not self._jobs.empty():  # queued entries/exits are moot now
            self._jobs.get_nowait()
        started = self.now_ms()
        self._flatten = FlattenProgress("cancelling", started)
        self.emit(EventKind.FLATTEN, f"flatten started: {reason}", severity=Severity.WARNING)
        if self._busy:  # an order being sent right now must land before the flatten reads the account
            # ... but the resting orders are cancelled at once, not after it: the full procedure below
            # cancels again, so an order that lands after this first cancel is still caught.
            early = asyncio.ensure_future(self._early_cancel_all())
            try:
                await asyncio.wait_for(self.wait_idle(), timeout=FLATTEN_WAIT_JOB_S)
            except TimeoutError:
                self.emit(EventKind.FLATTEN, f"flatten: order work ({self.current_job}) still running after "
                          f"{FLATTEN_WAIT_JOB_S:g} s; flattening anyway", severity=Severity.WARNING)
            await early

        def progress(p: FlattenProgress) -> None:
            self._flatten = p
            self.emit(EventKind.FLATTEN, f"flatten {p.phase} (round {p.round}): {counted(p.positions_remaining, 'position')}, "
                      f"{counted(p.orders_remaining, 'order')} left", data={"phase": p.phase})

        try:
            known = self.ws_positions if self._private_feed_live() else None
            report = await flatten_account(self.client, progress=progress,
                                           known_positions=list(known) if known is not None else None)
        except Exception as exc:  # B's procedure never raises for exchange errors; a bug still halts safely
            report = FlattenReport(False, 0, 0, 0, (), 0.0, error=f"{type(exc).__name__}: {exc}")
        for sym in list(self.account.managed):
            self.account.managed.pop(sym, None)
        if report.flat:  # verified by the exchange's own openpositions/openorders: show it at once
            self.account.set_positions([])
            self.account.set_orders([])
            self.sm.flatten_done(f"{counted(len(report.closed), 'position')} closed, "
                                 f"{counted(report.cancelled_orders, 'order')} cancelled")
            self._flatten = FlattenProgress("done", started, report.rounds, 0, 0, report.requests)
        else:
            self.sm.flatten_failed(report.error or "the exchange still reports positions or orders")
            self._flatten = FlattenProgress("failed", started, report.rounds, requests=report.requests,
                                            detail=report.error or "")
        self.emit(EventKind.FLATTEN, f"flatten {'done: account flat' if report.flat else 'FAILED: ' + str(report.error)}",
                  severity=Severity.INFO if report.flat else Severity.CRITICAL,
                  data={"flat": report.flat, "requests": report.requests, "elapsed_ms": report.elapsed_ms})
        return report
