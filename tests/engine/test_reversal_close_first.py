"""A reversal (``Close(SIGNAL)`` then ``Enter``) enters only once the close left the position flat: a close
that was refused, lost (resolved not found) or not filled skips the entry, so the new entry never nets against
the old position (a short of 0.0479 and a long entry of 0.0476 would leave a 0.0003 short that no stop fits)."""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from types import SimpleNamespace

import pytest

from kraken_tui.domain import Side
from kraken_tui.engine import decisions as decisions_mod
from kraken_tui.engine.decide import Close, Enter
from kraken_tui.engine.decisions import Decisions
from kraken_tui.engine.exits import ExitReason
from kraken_tui.engine.facade import EventKind
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.signals import Signal, SignalSide

SYM = "PF_XBTUSD"


class _Flow:
    def __init__(self, account: dict[str, Decimal], close_fills: bool) -> None:
        self.account, self.close_fills = account, close_fills
        self.sent: list[str] = []

    async def close(self, act: Close, symbol: str, signal_id: str | None) -> None:
        self.sent.append("close")
        if self.close_fills:
            self.account[symbol] = Decimal(0)

    async def enter(self, act: Enter, signal_id: str) -> None:
        self.sent.append("enter")


def _decisions(close_fills: bool) -> tuple[Decisions, _Flow, list[object]]:
    pos = {SYM: Decimal("-0.0479")}
    flow = _Flow(pos, close_fills)
    written: list[object] = []

    async def write(rec: object) -> None:
        written.append(rec)

    io = SimpleNamespace(now_ms=lambda: 1_700_000_000_000, emit=lambda *a, **k: None, write=write)
    d = Decisions.__new__(Decisions)
    d.io, d.cfg, d.run_id = io, SimpleNamespace(risk=None, exits=None), "r1"  # type: ignore[assignment]
    d.strategy = SimpleNamespace(name="ema_cross")  # type: ignore[assignment]
    d.market = SimpleNamespace(mark_price=lambda s: 105_000.0, index_price=lambda s: None,  # type: ignore[assignment]
                               funding_rate=lambda s: None)
    d.account = SimpleNamespace(signed_size=lambda s: pos[s])  # type: ignore[assignment]
    d.instruments = {SYM: object()}  # type: ignore[dict-item]
    d.executor = SimpleNamespace(unresolved=set())  # type: ignore[assignment]
    d.flow = flow  # type: ignore[assignment]
    d.sm = SimpleNamespace(state=OperatorState.RUNNING, entry_rejection_reason=lambda: None)  # type: ignore[assignment]
    d._risk_account = lambda s: None  # type: ignore[assignment,return-value]
    d.atr_pct = {}
    d.signals = deque(maxlen=50)
    return d, flow, written


@pytest.fixture
def reversal(monkeypatch):  # type: ignore[no-untyped-def]
    enter = Enter.__new__(Enter)
    actions = [Close(SYM, Decimal("0.0479"), Side.BUY, ExitReason.SIGNAL), enter]
    monkeypatch.setattr(decisions_mod, "decide", lambda *a, **k: actions)


@pytest.mark.usefixtures("reversal")
def test_reversal_enters_after_its_close_filled():
    d, flow, _ = _decisions(close_fills=True)
    asyncio.run(d.act(Signal(symbol=SYM, side=SignalSide.LONG, confidence=1.0, reason="ema cross up"), "sid"))
    assert flow.sent == ["close", "enter"]
    assert d.signals[-1].action == "exit sent; entry sent"


@pytest.mark.usefixtures("reversal")
def test_reversal_skips_the_entry_when_its_close_did_not_fill():
    d, flow, written = _decisions(close_fills=False)
    asyncio.run(d.act(Signal(symbol=SYM, side=SignalSide.LONG, confidence=1.0, reason="ema cross up"), "sid"))
    assert flow.sent == ["close"]
    assert "entry skipped" in d.signals[-1].action
    assert "entry skipped" in written[-1].action  # type: ignore[attr-defined]


@pytest.mark.usefixtures("reversal")
@pytest.mark.parametrize("state", [OperatorState.FLATTENING, OperatorState.PAUSED])
def test_reversal_skips_the_entry_when_a_flatten_or_pause_began_during_its_close(state):
    d, flow, written = _decisions(close_fills=True)
    events: list[tuple[object, str]] = []
    d.io.emit = lambda kind, msg, **k: events.append((kind, msg))  # type: ignore[attr-defined]
    close = flow.close

    async def close_then_state_moves(act: Close, symbol: str, signal_id: str | None) -> None:
        await close(act, symbol, signal_id)
        d.sm.state = state  # type: ignore[misc]  # F F (or a pause) while the close was awaited
        d.sm.entry_rejection_reason = lambda: f"engine {state.value}: F F"  # type: ignore[misc]

    flow.close = close_then_state_moves  # type: ignore[method-assign]
    asyncio.run(d.act(Signal(symbol=SYM, side=SignalSide.LONG, confidence=1.0, reason="ema cross up"), "sid"))
    assert flow.sent == ["close"]  # the reversal's entry never reaches the order flow
    assert d.signals[-1].action == f"exit sent; entry skipped: engine {state.value}: F F"
    assert f"entry skipped: engine {state.value}" in written[-1].action  # type: ignore[attr-defined]
    assert any(k is EventKind.RISK_REJECTION for k, _ in events)


def test_an_entry_the_executor_did_not_send_is_recorded_not_sent(monkeypatch):
    from kraken_tui.domain import OrderResult, OrderStatus

    monkeypatch.setattr(decisions_mod, "decide", lambda *a, **k: [Enter.__new__(Enter)])
    d, flow, written = _decisions(close_fills=True)

    async def refused(act: Enter, signal_id: str) -> OrderResult:  # F F landed between the decision and the send
        flow.sent.append("enter")
        return OrderResult(OrderStatus.UNRECOGNISED, cli_ord_id="kt-e", raw_status="refused",
                           error="not sent: flatten in progress")

    flow.enter = refused  # type: ignore[method-assign]
    asyncio.run(d.act(Signal(symbol=SYM, side=SignalSide.LONG, confidence=1.0, reason="ema cross up"), "sid"))
    assert d.signals[-1].action == "entry not sent: flatten in progress"
    assert written[-1].action == "entry not sent: flatten in progress"  # type: ignore[attr-defined]
