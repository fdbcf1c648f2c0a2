"""The operator's controls of a running engine (pause, resume, reset) and the record of every operator action
and state transition: each action is journaled (``OperatorAction``) before the transition, each transition is
journaled (``StateChange``) and published (STATE_CHANGE event). Semantics of the states and transitions:
docs/cli-contract.md and ``operator.OperatorStateMachine``.

Journal health (``journal_health``): a journal that cannot write blocks new entries at once (entry blocker
``journal cannot write`` with the error, shown on the console's state line and by ``ctl status``/``ctl health``)
with a CRITICAL alert; exits, protective orders and a flatten go on (they never wait on the journal); the blocker
clears when writes recover.

Owns: ``OperatorControls``. ``Resume`` is also the operator's acknowledgement of positions reconciliation adopted
as external (``reconciler.Reconciler.acknowledge``).
Units: times UTC ms (the engine clock).
Must not import: textual, the client.
"""

from __future__ import annotations

from collections.abc import Callable

from kraken_tui.domain import OrderRequest
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.guards import EquityGuard
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, Transition, TransitionSource
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.journal.records import EventSource, IntentPurpose, IntentRecord, OperatorAction, StateChange

__all__ = ["JOURNAL_BLOCKER", "OperatorControls", "flatten_intent"]

#: The entry blocker of a journal that cannot write.
JOURNAL_BLOCKER = "journal cannot write"


def flatten_intent(ts_ms: int, req: OrderRequest) -> IntentRecord:
    """The journal's intent for one of a flatten's closes (purpose ``flatten``; ``engine.flatten``), at ``ts_ms``
    (UTC ms). Raises ValueError when ``req`` has no cliOrdId."""
    if not req.cli_ord_id:
        raise ValueError("a flatten's close needs its cliOrdId")
    return IntentRecord(ts_ms, req.cli_ord_id, req.symbol, req.side, req.size, req.order_type, IntentPurpose.FLATTEN,
                        limit_price=req.limit_price, stop_price=req.stop_price, reduce_only=req.reduce_only)


class OperatorControls:
    """Pause, resume and reset with their journal records (module docstring).

    Args:
        io: events, clock and journal (``context.EngineIO``).
        sm: the operator state machine.
        equity: the daily loss limit's pause flag (``guards.EquityGuard.daily_paused``), cleared by a resume.
        acknowledge: the operator acknowledges the adopted positions; returns the symbols kept as external.
        unacknowledged: True while an adopted position waits for the operator's acknowledgement.
    """

    def __init__(self, io: EngineIO, sm: OperatorStateMachine, *, equity: EquityGuard,
                 acknowledge: Callable[[], list[str]], unacknowledged: Callable[[], bool]) -> None:
        self.io, self.sm, self.equity = io, sm, equity
        self._acknowledge, self._unacknowledged = acknowledge, unacknowledged

    def record(self, action: str, reason: str, source: TransitionSource) -> None:
        """Journal an operator action (``OperatorAction``; an empty reason is written ``-``)."""
        src = EventSource(source.value) if source is not TransitionSource.RESTORE else EventSource.AUTOMATIC
        self.io.write_soon(OperatorAction(self.io.now_ms(), action, reason.strip() or "-", src))

    def on_transition(self, t: Transition) -> None:
        """Journal (``StateChange``) and publish one transition: CRITICAL into HALTED, WARNING into any other
        state but RUNNING, INFO into RUNNING."""
        src = EventSource.AUTOMATIC if t.source is TransitionSource.RESTORE else EventSource(t.source.value)
        self.io.write_soon(StateChange(t.ts_ms, t.to_state.value, t.reason, src, t.from_state.value))
        sev = Severity.CRITICAL if t.to_state is OperatorState.HALTED else Severity.WARNING \
            if t.to_state is not OperatorState.RUNNING else Severity.INFO
        self.io.emit(EventKind.STATE_CHANGE, f"{t.from_state.value} -> {t.to_state.value}: {t.reason}", severity=sev,
                     data={"state": t.to_state.value, "previous": t.from_state.value, "source": t.source.value})

    def journal_health(self, error: Exception | None) -> None:
        """The journal started failing (``error`` says why: read-only, disk full, locked...) or recovered
        (None): block or unblock entries, with a CRITICAL alert or an INFO event (module docstring)."""
        if error is not None:
            detail = str(getattr(error, "reason", None) or error)
            if self.sm.block_entries(JOURNAL_BLOCKER, detail):
                self.io.emit(EventKind.ALERT, f"{JOURNAL_BLOCKER}: {detail}; new entries blocked, exits go on",
                             severity=Severity.CRITICAL, data={"blocker": JOURNAL_BLOCKER})
        elif self.sm.clear_blocker(JOURNAL_BLOCKER):
            self.io.emit(EventKind.INFO, "journal writes recovered; entries unblocked",
                         data={"blocker": JOURNAL_BLOCKER})

    def pause(self, reason: str, source: TransitionSource) -> None:
        """RUNNING -> PAUSED (entries blocked, exits on). Raises TransitionRefused from FLATTENING/HALTED."""
        self.record("pause", reason, source)
        self.sm.pause(reason, source)

    def resume(self, reason: str, source: TransitionSource) -> None:
        """PAUSED -> RUNNING; also the operator's acknowledgement of positions reconciliation adopted as
        external: they stay tagged external (not managed by the engine: no stop, no take-profits) but the
        ``reconciliation mismatch`` entry blocker is cleared. While RUNNING with that blocker only (the pause
        was not possible or was undone), resume acknowledges without a transition. A resume ends a daily
        loss limit pause.

        Raises:
            TransitionRefused: from FLATTENING or HALTED, or from RUNNING with nothing to acknowledge.
        """
        pending = BLOCKER_NAME in self.sm.entry_blockers
        if self.sm.state is OperatorState.RUNNING and pending:
            self.record("resume", reason, source)
            self.acknowledge()
            return
        self.record("resume", reason, source)
        self.sm.resume(reason, source)
        self.equity.daily_paused = False
        if pending or self._unacknowledged():
            self.acknowledge()

    def acknowledge(self) -> None:
        """The operator acknowledged the adopted positions (INFO event naming those kept as external)."""
        syms = self._acknowledge()
        self.io.emit(EventKind.INFO, "reconciliation acknowledged by the operator"
                     + (f": {', '.join(syms)} kept as external" if syms else ""), data={"symbols": syms})

    def reset(self, reason: str, source: TransitionSource) -> None:
        """HALTED -> PAUSED with a non-empty reason. Raises TransitionRefused otherwise."""
        self.record("reset", reason or "-", source)
        self.sm.reset(reason, source)
