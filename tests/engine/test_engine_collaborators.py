"""The engine's event collaborators on their own, each built from the few inputs it takes (never an engine):
``account_events.AccountEvents`` (the exchange's pushed positions count only while the feed is live; a
protective order the exchange removed is forgotten with a warning) and ``guards.GuardApplier`` (the equity
floor's ``Kill`` goes to the kill callback; a ``Notify`` with a level is journaled as an ``Alert``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from kraken_tui.domain import Position, PositionSide
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.account_events import AccountEvents
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.guards import GuardApplier, Kill, Notify
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.journal.records import Alert
from kraken_tui.kraken import ws_events as W

D = Decimal


class _Out:
    """What the collaborators are given: events, journal records and queued job names are recorded."""

    def __init__(self) -> None:
        self.events: list[tuple[EventKind, str, Severity]] = []
        self.journaled: list[object] = []
        self.jobs: list[str] = []
        self.io = EngineIO(emit=self._emit, now_ms=lambda: 7, write=self._write, write_soon=self.journaled.append,
                           submit=lambda name, job: self.jobs.append(name))

    def _emit(self, kind, message, *, symbol=None, severity=Severity.INFO, data=None) -> None:
        self.events.append((kind, message, severity))

    async def _write(self, record) -> None:
        self.journaled.append(record)


def _account_events(out: _Out, account: AccountTracker, live: list[bool]) -> AccountEvents:
    """An ``AccountEvents``; the order flow, executor, fill origin and flatten are not reached here."""
    return AccountEvents(out.io, account=account, executor=None, flow=None, origin=None,  # type: ignore[arg-type]
                         booked=None, is_ours=lambda cid: False, flatten=None, watch=None,  # type: ignore[arg-type]
                         feed_live=lambda: live[0])


def test_pushed_positions_count_only_while_the_feed_is_live():
    out, account, live = _Out(), AccountTracker(), [True]
    ev = _account_events(out, account, live)
    assert ev.known_positions() is None  # no open_positions snapshot yet
    pos = (Position("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000)),)
    assert asyncio.run(ev.handle(W.PositionsEvent(None, pos)))
    assert ev.known_positions() == pos and set(account.positions) == {"PF_XBTUSD"}
    live[0] = False
    assert ev.known_positions() is None  # the connection is down: the report may be stale
    live[0] = True
    ev.disconnected()
    assert ev.known_positions() is None  # a reconnect needs a fresh snapshot
    assert not asyncio.run(ev.handle(object()))  # not a private feed event


def test_a_protective_order_removed_by_the_exchange_is_forgotten_with_a_warning():
    out, account = _Out(), AccountTracker()
    mp = SimpleNamespace(symbol="PF_XBTUSD", orders={"stop": "kt-s", "tp1": "kt-t"})
    account.managed["PF_XBTUSD"] = mp  # type: ignore[assignment]
    _account_events(out, account, [True]).protective_gone("kt-s", "cancelled_by_admin")
    assert mp.orders == {"tp1": "kt-t"}
    assert out.events == [(EventKind.ALERT, "PF_XBTUSD: protective stop order removed by the exchange "
                                            "(cancelled_by_admin)", Severity.WARNING)]


def test_guard_actions_kill_through_the_callback_and_journal_alerts():
    out, killed = _Out(), []
    sm = OperatorStateMachine(lambda: 0, OperatorState.RUNNING, "test")
    feed = SimpleNamespace(set=lambda status, age_s, detail: None)
    GuardApplier(out.io, sm, feed, killed.append).apply(
        [Kill("equity floor"), Notify(EventKind.ALERT, "risk HIGH", "PF_XBTUSD", Severity.WARNING, alert_level="HIGH")])
    assert killed == ["equity floor"]
    assert out.journaled == [Alert(7, "HIGH", "risk HIGH", "PF_XBTUSD")]
    assert out.events == [(EventKind.ALERT, "risk HIGH", Severity.WARNING)]
