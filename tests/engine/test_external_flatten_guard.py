"""``guards.ExternalFlattenGuard``: the account emptied without an action of ours latches HALTED; our own
exits, a position closed while orders still rest, our own flatten and a reconnect snapshot never do."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.engine.guards import (
    EXTERNAL_FLATTEN_BLOCKER,
    Block,
    ExternalFlattenGuard,
    Halt,
    Notify,
    Unblock,
)

D = Decimal
LONG = {"PF_XBTUSD": D("0.01")}
TWO = {"PF_XBTUSD": D("0.01"), "PF_ETHUSD": D("-0.5")}


def _halts(actions) -> list[str]:
    return [a.reason for a in actions if isinstance(a, Halt)]


def test_positions_and_orders_gone_without_our_action_halt_after_confirmation():
    g = ExternalFlattenGuard()
    assert g.observe(TWO, 5, False) == []
    assert g.observe(TWO, 0, False) == []  # the orders cancelled first (a flatten's cancel-all)
    first = g.observe({}, 0, False)
    assert first == [Block(EXTERNAL_FLATTEN_BLOCKER, "positions and orders gone without our action; checking")]
    assert g.observe({}, 0, False) == []  # the same suspicion, said once
    out = g.confirm(False)
    reason = ("external flatten: positions PF_ETHUSD short 0.5 and PF_XBTUSD long 0.01 and 5 orders gone "
              "without our action")
    assert out[0] == Unblock(EXTERNAL_FLATTEN_BLOCKER)
    assert _halts(out) == [reason]
    (note,) = [a for a in out if isinstance(a, Notify)]
    assert note.alert_level == "CRITICAL" and note.message == reason
    assert g.confirm(False) == []  # latched once


def test_a_liquidation_of_everything_halts_too():
    g = ExternalFlattenGuard()
    g.observe(LONG, 0, False)  # an unprotected position
    assert g.observe({}, 0, False)
    assert _halts(g.confirm(False)) == ["external flatten: position PF_XBTUSD long 0.01 gone without our action"]


def test_our_own_exit_explains_it_even_when_reported_after_the_position_update():
    g = ExternalFlattenGuard()
    g.observe(LONG, 1, False)
    assert g.observe({}, 0, False)  # the position update came before our stop's fill
    assert g.own_exit("PF_XBTUSD") == [Unblock(EXTERNAL_FLATTEN_BLOCKER)]
    assert g.confirm(False) == []


def test_our_own_exit_reported_first_explains_it():
    g = ExternalFlattenGuard()
    g.observe(LONG, 1, False)
    assert g.own_exit("PF_XBTUSD") == []
    assert g.observe({}, 0, False) == []
    assert g.confirm(False) == []


def test_one_of_two_positions_closed_by_us_does_not_explain_the_other():
    g = ExternalFlattenGuard()
    g.observe(TWO, 3, False)
    g.own_exit("PF_XBTUSD")
    assert g.observe({}, 0, False)
    assert _halts(g.confirm(False))


def test_an_own_exit_is_forgotten_once_the_symbol_is_entered_again():
    g = ExternalFlattenGuard()
    g.observe(LONG, 2, False)
    g.own_exit("PF_XBTUSD")
    g.observe({}, 2, False)  # closed by our stop; its take-profits still rest
    g.observe({}, 0, False)  # then our clean-up cancelled them
    g.observe({"PF_XBTUSD": D("0.02")}, 2, False)  # a new position later
    assert g.observe({}, 0, False)
    assert _halts(g.confirm(False))


def test_a_position_closed_while_orders_still_rest_is_no_flatten():
    g = ExternalFlattenGuard()
    g.observe(LONG, 3, False)
    assert g.observe({}, 3, False) == []  # closed by hand on the exchange's page; our orders still rest
    assert g.observe({}, 0, False) == []  # our clean-up cancels them afterwards
    assert g.confirm(False) == []


def test_a_suspicion_cleared_when_positions_come_back():
    g = ExternalFlattenGuard()
    g.observe(LONG, 2, False)
    assert g.observe({}, 0, False)
    assert g.observe(LONG, 2, False) == [Unblock(EXTERNAL_FLATTEN_BLOCKER)]  # a reconnect snapshot restores them
    assert g.confirm(False) == []


def test_a_stale_report_of_the_same_position_keeps_an_own_exit():
    g = ExternalFlattenGuard()
    g.observe(LONG, 1, False)
    g.own_exit("PF_XBTUSD")
    g.observe(LONG, 0, False)  # a positions report older than our fill: same size, not a new position
    assert g.observe({}, 0, False) == []


def test_our_own_flatten_and_halted_never_fire():
    g = ExternalFlattenGuard()
    g.observe(LONG, 3, False)
    assert g.observe({}, 0, True) == []  # FLATTENING
    assert g.confirm(False) == []
    g.observe(LONG, 3, False)
    assert g.observe({}, 0, False)
    assert g.confirm(True) == [Unblock(EXTERNAL_FLATTEN_BLOCKER)]  # our flatten started meanwhile


def test_an_empty_account_at_start_is_nothing():
    g = ExternalFlattenGuard()
    assert g.observe({}, 0, False) == []
    assert g.observe({}, 4, False) == []
    assert g.confirm(False) == []
