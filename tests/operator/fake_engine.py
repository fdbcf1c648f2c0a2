"""A small in-memory EngineControl for control-socket and headless tests: a real OperatorStateMachine,
positions and orders held as views, and a flatten that can call ``flatten_account`` on a real client."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import PositionSide, Side
from kraken_tui.engine.facade import (
    AccountView,
    EngineEvent,
    EngineMode,
    EngineSnapshot,
    EventKind,
    FlattenReport,
    OrderView,
    PositionView,
)
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource

D = Decimal


class FakeEngine:
    """Implements facade.EngineControl over an OperatorStateMachine; ``flatten`` uses ``flattener``."""

    def __init__(self, flattener: Callable[[], Any] | None = None) -> None:
        self.sm = OperatorStateMachine(lambda: 1_000)
        self.listeners: list[Callable[[EngineEvent], None]] = []
        self.events: list[EngineEvent] = []
        self.positions = [PositionView("PF_XBTUSD", PositionSide.LONG, D("0.5"), D("50000"), D("50100"), D("50"),
                                       0.2, 1.0, D("45000"), 0.1018, RiskLevel.MEDIUM)]
        self.orders = [OrderView("o1", "c1", "PF_XBTUSD", Side.SELL, "stp", D("0.5"), D(0), None, D("49000"), True,
                                 "stop")]
        self.flattener = flattener
        self.sm.add_listener(lambda t: self._emit(EventKind.STATE_CHANGE,
                                                  f"{t.from_state.value} -> {t.to_state.value}: {t.reason}"))

    def _emit(self, kind: EventKind, msg: str) -> None:
        ev = EngineEvent(1_000, kind, msg)
        self.events.append(ev)
        for fn in list(self.listeners):
            fn(ev)

    def snapshot(self) -> EngineSnapshot:
        return EngineSnapshot(1_000, EngineMode.PAPER, True, self.sm.state, self.sm.reason,
                              self.sm.entry_blockers, AccountView(equity_usd=D("10050.25")),
                              tuple(self.positions), tuple(self.orders), events=tuple(self.events[-50:]))

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def pause(self, reason: str, source: TransitionSource) -> None:
        self.sm.pause(reason, source)

    def resume(self, reason: str, source: TransitionSource) -> None:
        self.sm.resume(reason, source)

    def reset(self, reason: str, source: TransitionSource) -> None:
        self.sm.reset(reason, source)

    async def flatten(self, reason: str, source: TransitionSource) -> FlattenReport:
        self.sm.flatten(reason, source)
        if self.flattener is None:
            rep = FlattenReport(True, 1, 5, 1, (("PF_XBTUSD", D("0.5")),), 12.5, 1.0)
        else:
            rep = await self.flattener()
        if rep.flat:
            self.positions, self.orders = [], []
            self.sm.flatten_done()
        else:
            self.sm.flatten_failed(rep.error or "?")
        return rep

    @property
    def state(self) -> OperatorState:
        return self.sm.state
