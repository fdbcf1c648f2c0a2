"""The live gate: with ``--mode live`` the console starts the engine only after ``LIVE`` was typed;
any other answer quits with exit code 2 and nothing started. Paper never asks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kraken_tui.config import Config
from kraken_tui.engine.operator import OperatorState
from kraken_tui.ui.app import LIVE_DECLINED_EXIT, KrakenApp
from kraken_tui.ui.screens.live_gate import LiveGateScreen, live_gate_accepts
from kraken_tui.ui.services import RuntimeServices
from kraken_tui.ui.widgets.status import StatusBar
from tests.ui.fake_engine import FakeEngine

SIZE = (120, 40)
TARGET = "Kraken Futures https://futures.kraken.com (API keys from the environment)"


class FakeServices:
    """``EngineServices`` handing out a FakeEngine; counts how often the engine was started."""

    def __init__(self, live_target: str | None) -> None:
        self._target = live_target
        self.opened = 0
        self.closed = 0
        self.engine = FakeEngine()
        self.journal_path = None

    def live_target(self) -> str | None:
        return self._target

    async def open(self) -> FakeEngine:
        self.opened += 1
        return self.engine

    async def wait(self) -> int:
        import asyncio

        await asyncio.Event().wait()  # runs until the app exits
        return 0

    async def close(self) -> None:
        self.closed += 1


def make(services: FakeServices, clock, tmp_path) -> KrakenApp:
    return KrakenApp(None, Config(), clock=clock, services=services, log_file=tmp_path / "c.log", export_dir=tmp_path)


@pytest.mark.parametrize("answer", ["live", "yes", "", "LIVE!", "L I V E"])
async def test_wrong_answer_never_starts_the_engine_and_exits_2(answer, clock, tmp_path):
    services = FakeServices(TARGET)
    app = make(services, clock, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveGateScreen) and app.live_pending
        body = str(app.screen.query_one("#live-body").render())
        assert "https://futures.kraken.com" in body and "Type LIVE" in body
        if answer:
            await pilot.press(*answer)
        await pilot.press("enter")
        await pilot.pause()
    assert services.opened == 0 and app.engine is None
    assert app.return_code == LIVE_DECLINED_EXIT == 2
    assert "not confirmed" in (app.fatal or "")


async def test_escape_quits_without_starting(clock, tmp_path):
    services = FakeServices(TARGET)
    app = make(services, clock, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert services.opened == 0 and app.return_code == 2


async def test_operator_keys_typed_into_the_gate_do_nothing_else(clock, tmp_path):
    services = FakeServices(TARGET)
    app = make(services, clock, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p", "F", "F", "q")  # typed into the answer box: no pause, no flatten, no quit
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, LiveGateScreen) and services.opened == 0
        assert app.screen.query_one("#live-answer").value == "pFFq"


async def test_typing_LIVE_starts_the_engine(clock, tmp_path):
    services = FakeServices(TARGET)
    app = make(services, clock, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("L", "I", "V", "E", "enter")
        for _ in range(50):
            await pilot.pause()
            if app.engine is not None:
                break
        assert services.opened == 1 and app.engine is services.engine and not app.live_pending
        assert app.screen is app.dashboard
        app.refresh_now()
        assert " RUNNING " in app.dashboard.query_one(StatusBar).plain()
        assert services.engine.sm.state is OperatorState.RUNNING


async def test_paper_never_asks(clock, tmp_path):
    services = FakeServices(None)
    app = make(services, clock, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert services.opened == 1 and not isinstance(app.screen, LiveGateScreen)


def test_the_answer_must_be_LIVE_exactly():
    assert live_gate_accepts("LIVE") and live_gate_accepts("  LIVE ")
    for no in ("live", "Live", "LIVE LIVE", "yes", "y", ""):
        assert not live_gate_accepts(no)


def test_runtime_services_ask_only_in_live_mode_and_never_show_a_secret(monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", "pubkey-1234")
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", "c2VjcmV0LXNlY3JldA==")
    cfg = Config()
    assert RuntimeServices(cfg, SimpleNamespace(mode="paper")).live_target() is None
    target = RuntimeServices(cfg, SimpleNamespace(mode="live")).live_target()
    assert target == "Kraken Futures https://futures.kraken.com (API keys from the environment)"
    assert "pubkey" not in target and "c2Vj" not in target
