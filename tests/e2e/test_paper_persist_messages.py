"""What the quit prompt and the headless stop summary say stays open, and where, per mode: the paper account
file (resumes at the next start), the replay account (discarded), Kraken (live)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from kraken_tui.domain import PositionSide
from kraken_tui.engine.facade import EngineMode, EngineSnapshot, PositionView, RiskLevel
from kraken_tui.engine.operator import OperatorState
from kraken_tui.headless import EventPrinter, _summary
from kraken_tui.ui.wording import quit_warning


def _snap(mode: EngineMode, account: str | None) -> EngineSnapshot:
    pos = PositionView(symbol="PF_XBTUSD", side=PositionSide.LONG, size=Decimal("0.5"),
                       entry_price=Decimal("50000"), mark_price=None, upnl_usd=Decimal(0), upnl_pct=0.0,
                       leverage_x=0.0, liq_price=None, liq_distance=None, risk_level=RiskLevel.LOW)
    return EngineSnapshot(ts_ms=0, mode=mode, synthetic=False, state=OperatorState.RUNNING, state_reason="",
                          positions=(pos,), profile="paper", paper_account=account)


@pytest.mark.parametrize(("mode", "account", "where"), [
    (EngineMode.PAPER, "/p/paper-account.sqlite", "in the paper account /p/paper-account.sqlite (resumes at the next start)"),
    (EngineMode.REPLAY, None, "in the replay account, which is discarded when the run stops"),
    (EngineMode.LIVE, None, "on Kraken"),
])
def test_quit_and_stop_messages_say_where_positions_stay(mode, account, where):
    text = quit_warning(_snap(mode, account)) or ""
    assert f"1 position stays open {where}:" in text
    out = io.StringIO()
    _summary(EventPrinter(out), _snap(mode, account))
    assert f"1 position and 0 orders stay open {where}" in out.getvalue()
