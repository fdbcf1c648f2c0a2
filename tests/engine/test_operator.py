"""The operator state machine: legal transitions, reasons, latching, entry blockers."""

from __future__ import annotations

import pytest

from kraken_tui.engine.operator import OperatorState as S
from kraken_tui.engine.operator import OperatorStateMachine, TransitionRefused
from kraken_tui.engine.operator import TransitionSource as Src


def machine(initial=S.RUNNING):
    clock = iter(range(1000, 10**9))
    sm = OperatorStateMachine(lambda: next(clock), initial=initial, initial_reason="restored")
    seen = []
    sm.add_listener(seen.append)
    return sm, seen


def test_pause_resume_cycle_records_reasons():
    sm, seen = machine()
    sm.pause("operator pressed p", Src.KEY)
    assert sm.state is S.PAUSED and not sm.entries_allowed and sm.exits_allowed
    assert sm.entry_rejection_reason() == "entries paused: operator pressed p"
    assert sm.pause("again", Src.KEY) is None  # idempotent
    sm.resume("operator pressed r", Src.KEY)
    assert sm.state is S.RUNNING and sm.entries_allowed
    assert [(t.from_state, t.to_state, t.source) for t in seen] == [
        (S.RUNNING, S.PAUSED, Src.KEY),
        (S.PAUSED, S.RUNNING, Src.KEY),
    ]


def test_resume_only_from_paused():
    sm, _ = machine()
    with pytest.raises(TransitionRefused):
        sm.resume("why", Src.CTL)
    sm.flatten("F F", Src.KEY)
    sm.flatten_done()
    with pytest.raises(TransitionRefused, match="reset it first"):
        sm.resume("try", Src.CTL)


@pytest.mark.parametrize("start", [S.RUNNING, S.PAUSED, S.HALTED])
def test_flatten_from_any_state_ends_halted_never_running(start):
    sm, _ = machine(start)
    sm.flatten("ctl flatten", Src.CTL)
    assert sm.state is S.FLATTENING and not sm.entries_allowed and sm.exits_allowed
    sm.flatten_failed("HTTP 503 on cancelallorders")
    assert sm.state is S.HALTED and "HTTP 503" in sm.reason and not sm.exits_allowed


def test_reset_is_explicit_and_goes_to_paused():
    sm, _ = machine(S.HALTED)
    with pytest.raises(TransitionRefused):
        sm.reset("", Src.KEY)
    with pytest.raises(TransitionRefused):
        sm.reset("auto", Src.AUTOMATIC)
    sm.reset("checked the account", Src.KEY)
    assert sm.state is S.PAUSED and not sm.entries_allowed


def test_restart_during_flatten_latches_halted():
    sm, _ = machine(S.FLATTENING)
    assert sm.state is S.HALTED and "restart during flatten" in sm.reason


def test_pause_refused_when_halted():
    sm, _ = machine(S.HALTED)
    with pytest.raises(TransitionRefused):
        sm.pause("x", Src.KEY)


def test_entry_blockers_block_without_changing_state():
    sm, seen = machine()
    assert sm.block_entries("stale market data", "PF_XBTUSD 42 s old")
    assert sm.state is S.RUNNING and not sm.entries_allowed
    assert "stale market data" in sm.entry_rejection_reason()
    assert sm.clear_blocker("stale market data") and sm.entries_allowed
    assert seen == []
