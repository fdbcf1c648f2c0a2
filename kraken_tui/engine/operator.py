"""The operator state machine: RUNNING / PAUSED / FLATTENING / HALTED, with a reason on every transition.

Owns: which transitions are legal, the reason and source of each, entry blockers (stale data,
reconciliation mismatch, daily loss limit) and whether entries and exits are allowed. It is pure and
synchronous: it does not cancel orders or close positions (the flatten procedure does that and reports
back with ``flatten_done`` / ``flatten_failed``); listeners journal every transition.
Rules: pause blocks entries only; HALTED latches across restarts; an error in a flatten leaves HALTED.
Reference: docs/architecture.md "The operator state machine"; docs/cli-contract.md (exit codes, ``ctl``).
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["OperatorState", "OperatorStateMachine", "Transition", "TransitionRefused", "TransitionSource"]


class OperatorState(StrEnum):
    """Engine states. Only RUNNING opens new exposure; every state but HALTED manages exits."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FLATTENING = "FLATTENING"
    HALTED = "HALTED"


class TransitionSource(StrEnum):
    """Who asked for a transition: a console key, the ctl socket, or the engine itself."""

    KEY = "key"
    CTL = "ctl"
    AUTOMATIC = "automatic"
    RESTORE = "restore"


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change: ``from_state`` -> ``to_state`` at ``ts_ms`` (UTC ms) with its reason and source."""

    from_state: OperatorState
    to_state: OperatorState
    reason: str
    source: TransitionSource
    ts_ms: int


class TransitionRefused(Exception):
    """The requested transition is not allowed from the current state; the message says why."""


class OperatorStateMachine:
    """Legal transitions (docs/architecture.md "The operator state machine"):

    - ``pause``: RUNNING -> PAUSED (entries blocked; exits, protective orders, trailing, reconciliation go on).
    - ``resume``: PAUSED -> RUNNING only.
    - ``flatten``: any state -> FLATTENING; then ``flatten_done`` or ``flatten_failed`` -> HALTED.
      Never back to RUNNING: an error anywhere in a flatten leaves HALTED.
    - ``reset``: HALTED -> PAUSED, only as an explicit operator act with a non-empty reason.
    - ``halt``: any -> HALTED (kill conditions such as the equity floor, after their flatten).

    Entry blockers are named reasons (``stale market data``, ``reconciliation mismatch``...) that block
    entries without changing the state, until cleared.

    Args:
        clock_ms: returns the current UTC time in ms.
        initial: the state restored from the journal (a console restarted after a flatten comes up HALTED).
        initial_reason: the reason that state was entered with.
    """

    def __init__(
        self,
        clock_ms: Callable[[], int],
        initial: OperatorState = OperatorState.RUNNING,
        initial_reason: str = "start",
    ) -> None:
        if initial is OperatorState.FLATTENING:
            # A flatten interrupted by a crash is not known to be complete: latch HALTED.
            initial, initial_reason = OperatorState.HALTED, f"restart during flatten ({initial_reason})"
        self._clock_ms = clock_ms
        self._state = initial
        self._reason = initial_reason
        self._blockers: dict[str, str] = {}
        self._listeners: list[Callable[[Transition], None]] = []

    # ------------------------------------------------------------------ reading
    @property
    def state(self) -> OperatorState:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the current state was entered."""
        return self._reason

    @property
    def entry_blockers(self) -> dict[str, str]:
        """Active entry blockers: name -> detail."""
        return dict(self._blockers)

    @property
    def entries_allowed(self) -> bool:
        """True only in RUNNING with no entry blocker."""
        return self._state is OperatorState.RUNNING and not self._blockers

    @property
    def exits_allowed(self) -> bool:
        """Exits (stops, take-profits, trailing, time exits) run in every state but HALTED."""
        return self._state is not OperatorState.HALTED

    def entry_rejection_reason(self) -> str | None:
        """Why an entry would be refused now, or None when entries are allowed."""
        if self._state is OperatorState.PAUSED:
            return f"entries paused: {self._reason}"
        if self._state is not OperatorState.RUNNING:
            return f"engine {self._state.value}: {self._reason}"
        if self._blockers:
            name, detail = next(iter(self._blockers.items()))
            return f"entries blocked: {name}" + (f" ({detail})" if detail else "")
        return None

    def add_listener(self, listener: Callable[[Transition], None]) -> None:
        """Call ``listener(transition)`` after every state change (e.g. to journal it)."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ transitions
    def _go(self, to: OperatorState, reason: str, source: TransitionSource) -> Transition:
        if not reason or not reason.strip():
            raise TransitionRefused("every transition needs a reason")
        t = Transition(self._state, to, reason.strip(), source, self._clock_ms())
        self._state, self._reason = to, t.reason
        for listener in list(self._listeners):
            listener(t)
        return t

    def pause(self, reason: str, source: TransitionSource) -> Transition | None:
        """RUNNING -> PAUSED. Already PAUSED: None (no change). FLATTENING/HALTED are stricter already.

        Raises:
            TransitionRefused: from FLATTENING or HALTED.
        """
        if self._state is OperatorState.PAUSED:
            return None
        if self._state is not OperatorState.RUNNING:
            raise TransitionRefused(f"cannot pause while {self._state.value}; entries are already stopped")
        return self._go(OperatorState.PAUSED, reason, source)

    def resume(self, reason: str, source: TransitionSource) -> Transition:
        """PAUSED -> RUNNING.

        Raises:
            TransitionRefused: from any other state (HALTED needs ``reset`` first).
        """
        if self._state is not OperatorState.PAUSED:
            hint = " (reset it first)" if self._state is OperatorState.HALTED else ""
            raise TransitionRefused(f"resume works from PAUSED only; engine is {self._state.value}{hint}")
        return self._go(OperatorState.RUNNING, reason, source)

    def flatten(self, reason: str, source: TransitionSource) -> Transition | None:
        """Any state -> FLATTENING. Already FLATTENING: None (the flatten in progress goes on)."""
        if self._state is OperatorState.FLATTENING:
            return None
        return self._go(OperatorState.FLATTENING, reason, source)

    def flatten_done(self, detail: str = "account verified flat") -> Transition:
        """FLATTENING -> HALTED after the exchange confirmed no positions and no orders."""
        return self._go(OperatorState.HALTED, f"flattened: {detail}", TransitionSource.AUTOMATIC)

    def flatten_failed(self, error: str) -> Transition:
        """FLATTENING (or any) -> HALTED when the flatten could not complete; the operator must look."""
        return self._go(OperatorState.HALTED, f"flatten incomplete: {error}", TransitionSource.AUTOMATIC)

    def halt(self, reason: str, source: TransitionSource = TransitionSource.AUTOMATIC) -> Transition | None:
        """Any state -> HALTED (kill condition). Already HALTED: None."""
        if self._state is OperatorState.HALTED:
            return None
        return self._go(OperatorState.HALTED, reason, source)

    def reset(self, reason: str, source: TransitionSource) -> Transition:
        """HALTED -> PAUSED: an explicit operator act; entries stay off until ``resume``.

        Raises:
            TransitionRefused: not HALTED, or no reason given, or an automatic source.
        """
        if self._state is not OperatorState.HALTED:
            raise TransitionRefused(f"reset works from HALTED only; engine is {self._state.value}")
        if source is TransitionSource.AUTOMATIC:
            raise TransitionRefused("reset is an operator act, never automatic")
        return self._go(OperatorState.PAUSED, reason, source)

    # ------------------------------------------------------------------ blockers
    def block_entries(self, name: str, detail: str = "") -> bool:
        """Add an entry blocker (e.g. ``stale market data``). Returns True when it was new."""
        new = name not in self._blockers
        self._blockers[name] = detail
        return new

    def clear_blocker(self, name: str) -> bool:
        """Remove an entry blocker. Returns True when it was present."""
        return self._blockers.pop(name, None) is not None
