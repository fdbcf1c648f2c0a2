"""The console serves the control socket as a headless run does, and notices a flatten done behind its back.

A real console (``KrakenApp`` with ``RuntimeServices``, driven by Textual's Pilot) in live mode pointed at a
paper exchange served over loopback (``[live] rest_url``/``ws_url``, the paper key pair in the environment),
the engine holding PF_XBTUSD long 0.01 with its stop and take-profits:
- ``kraken-tui ctl status`` / ``ctl list`` / ``ctl health`` reach the console (kind ``console``);
- ``kraken-tui flatten --yes --url`` straight at the exchange, from another process: the console latches
  HALTED (reason: external flatten), ``ctl health`` exits 2, and nothing is opened after;
- ``kraken-tui flatten --yes`` (live mode config, no ``--url``) finds the console and flattens through it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from types import SimpleNamespace

from kraken_tui.config import Config
from kraken_tui.domain import PositionSide
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.operator import OperatorState
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET
from kraken_tui.runtime import RunOptions
from kraken_tui.ui.app import KrakenApp
from kraken_tui.ui.services import RuntimeServices
from tests.e2e.harness import wait_for
from tests.operator.engine_env import served
from tests.paper.helpers import make_exchange, quote

D = Decimal
T0 = 1_704_067_200_000
SIZE = (160, 50)


def _cfg(srv, tmp_path) -> tuple[Config, object]:
    # require_paper off: these tests are about the control plane, not the promotion gate (tests/engine)
    cfg = {"general": {"mode": "live"}, "live": {"enabled": True, "require_paper": False, "rest_url": srv.rest_url,
                                                  "ws_url": srv.ws_url},
           "strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1h"},
           "operator": {"stale_data_s": 86_400, "reconcile_interval_s": 3600, "cancel_after_s": 0}}
    path = tmp_path / "config.toml"
    path.write_text(f'[general]\nmode = "live"\n[live]\nenabled = true\nrequire_paper = false\nrest_url = "{srv.rest_url}"\n'
                    f'ws_url = "{srv.ws_url}"\n')
    return Config.model_validate(cfg), path


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "KRAKEN_TUI_API_KEY": PAPER_API_KEY, "KRAKEN_TUI_API_SECRET": PAPER_API_SECRET}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "kraken_tui", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def _console_holding(pilot, app) -> None:
    await pilot.pause()
    await pilot.press(*"LIVE", "enter")  # the live gate
    await wait_for(lambda: app.engine is not None and app.services.ctl_socket is not None, timeout_s=30)
    eng = app.engine
    await wait_for(lambda: eng.ws_positions is not None, timeout_s=10)
    act = Enter("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000), None, True, D(1), ())
    await eng.flow.enter(act, make_signal_id(eng.run_id, "PF_XBTUSD", T0))
    await eng.wait_idle()
    await wait_for(lambda: "PF_XBTUSD" in eng.account.positions and len(eng.account.orders) >= 2, timeout_s=10)


async def test_console_serves_ctl_and_latches_halted_on_a_flatten_straight_at_the_exchange(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", PAPER_API_KEY)
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", PAPER_API_SECRET)
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        cfg, cfg_path = _cfg(srv, tmp_path)
        opts = RunOptions(mode="live", journal=tmp_path / "j.sqlite")
        app = KrakenApp(None, cfg, services=RuntimeServices(cfg, opts), log_file=tmp_path / "console.log")
        async with app.run_test(size=SIZE) as pilot:
            await _console_holding(pilot, app)
            code, out, err = await _cli("ctl", "status", "--json")
            assert code == 0, err
            status = json.loads(out)
            assert status["state"] == "RUNNING" and status["positions"][0]["symbol"] == "PF_XBTUSD"
            code, out, _ = await _cli("ctl", "list", "--json")
            (row,) = json.loads(out)
            assert row["kind"] == "console" and row["mode"] == "live" and row["state"] == "RUNNING"
            assert row["pid"] == os.getpid() and row["journal"] == str(tmp_path / "j.sqlite")
            code, out, _ = await _cli("ctl", "health")
            assert code == 0 and out.startswith("ok: RUNNING"), out

            code, out, err = await _cli("flatten", "--yes", "--config", str(cfg_path), "--url", srv.rest_url)
            assert code == 0, err + out
            eng = app.engine
            await wait_for(lambda: eng.sm.state is OperatorState.HALTED, timeout_s=10)
            assert eng.sm.reason.startswith("external flatten: position PF_XBTUSD long 0.01 and ")
            await pilot.pause()
            code, out, _ = await _cli("ctl", "health", "--json")
            health = json.loads(out)
            assert code == 2 and health["health"] == "down" and "external flatten" in health["reason"]
            quote(ex, T0 + 3_600_000, bid=55_000.0, ask=55_010.0, mark=55_005.0)
            await asyncio.sleep(1.0)
            assert not ex.positions and not ex.open_orders and not eng.sm.entries_allowed
        assert app.services.ctl_socket is None  # closed with the console
        code, out, _ = await _cli("ctl", "list", "--json")
        assert json.loads(out) == []


async def test_flatten_yes_in_live_mode_goes_through_the_running_console(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", PAPER_API_KEY)
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", PAPER_API_SECRET)
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv:
        cfg, cfg_path = _cfg(srv, tmp_path)
        app = KrakenApp(None, cfg, services=RuntimeServices(cfg, RunOptions(mode="live", journal=tmp_path / "j.sqlite")),
                        log_file=tmp_path / "console.log")
        async with app.run_test(size=SIZE) as pilot:
            await _console_holding(pilot, app)
            code, out, err = await _cli("flatten", "--yes", "--config", str(cfg_path))
            assert code == 0, err + out
            assert "the instance is now HALTED" in out
            assert app.engine.sm.state is OperatorState.HALTED
            assert not ex.positions and not ex.open_orders


def test_runtime_services_without_ctl_serve_nothing():
    assert RuntimeServices(Config(), SimpleNamespace(mode="paper"), serve_ctl=False).ctl_socket is None
