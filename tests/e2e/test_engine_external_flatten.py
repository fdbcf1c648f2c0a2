"""A flatten done behind the engine's back latches HALTED; the engine's own exits never do.

End to end against the paper exchange served over loopback (tests/operator/engine_env.py): the engine enters
PF_XBTUSD long 0.01 with its stop and take-profits, then
- ``flatten_account`` run by another client straight against the exchange (what ``kraken-tui flatten --url``
  does) cancels everything and closes the position: the engine goes HALTED with a reason naming what it
  saw, journals a CRITICAL alert, and allows no entry until a reset;
- the engine's own stop fills while it is the only order left (its take-profits were cancelled): positions
  and orders are gone at once, by our own order, and the engine stays RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import httpx
from pydantic import SecretStr

from kraken_tui.config import Credentials
from kraken_tui.domain import PositionSide
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.flatten import flatten_account
from kraken_tui.engine.operator import OperatorState
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET
from tests.e2e.harness import rows, wait_for
from tests.operator.engine_env import engine_run, served
from tests.paper.helpers import make_exchange, quote

D = Decimal
T0 = 1_704_067_200_000


def _enter(eng, ts_ms: int = T0):
    act = Enter("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000), None, True, D(1), ())
    return eng.flow.enter(act, make_signal_id(eng.run_id, "PF_XBTUSD", ts_ms))


@contextlib.asynccontextmanager
async def _other_client(srv):
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    async with httpx.AsyncClient() as http:
        client = KrakenRestClient(http, srv.rest_url, creds)
        await client.instruments()
        yield client


async def _held(eng, ex) -> int:
    await wait_for(lambda: eng.ws_positions is not None)
    await _enter(eng)
    await eng.wait_idle()
    await wait_for(lambda: "PF_XBTUSD" in eng.account.positions and len(eng.account.orders) >= 2)
    return len(ex.open_orders)


async def _flattened_elsewhere(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        resting = await _held(eng, ex)
        before = eng.sm.state
        async with _other_client(srv) as other:
            report = await flatten_account(other)
        await wait_for(lambda: eng.sm.state is OperatorState.HALTED, timeout_s=10)
        await eng.wait_idle()
        await asyncio.sleep(1.5)
        await eng.journal.flush()
        return {"resting": resting, "before": before, "flat": report.flat, "state": eng.sm.state,
                "reason": eng.sm.reason, "positions": dict(ex.positions), "orders": len(ex.open_orders),
                "entries": eng.sm.entries_allowed, "exits": eng.sm.exits_allowed, "alerts": rows(journal, "SELECT level, message FROM alerts ORDER BY id")}


def test_a_flatten_done_straight_at_the_exchange_latches_halted(tmp_path):
    out = asyncio.run(_flattened_elsewhere(tmp_path / "j.sqlite"))
    assert out["before"] is OperatorState.RUNNING and out["resting"] >= 2
    assert out["flat"] and out["positions"] == {} and out["orders"] == 0
    assert out["state"] is OperatorState.HALTED
    assert out["reason"].startswith("external flatten: position PF_XBTUSD long 0.01 and ")
    assert "orders gone without our action" in out["reason"]
    assert ("CRITICAL", out["reason"]) in out["alerts"]
    assert not out["entries"] and not out["exits"]  # latched: nothing is opened until a reset


async def _own_stop_fills(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _held(eng, ex)
        for o in [o for o in ex.open_orders.values() if o.order_type != "stp"]:
            ex.cancel_order(order_id=o.order_id)  # only the stop is left: its fill empties the account
        await wait_for(lambda: len(eng.account.orders) == 1)
        quote(ex, T0 + 1_000, bid=48_000.0, ask=48_010.0, mark=48_005.0)  # through the stop (49 009)
        await wait_for(lambda: "PF_XBTUSD" not in eng.account.positions and not ex.positions, timeout_s=10)
        assert not ex.open_orders
        await asyncio.sleep(2.5)  # longer than the settle delay: a suspicion would have fired by now
        await eng.rec.run("a pass after the stop")  # the REST view of the emptied account too
        await asyncio.sleep(1.5)
        return {"state": eng.sm.state, "reason": eng.sm.reason, "blockers": dict(eng.sm.entry_blockers)}


def test_our_own_stop_filling_is_not_an_external_flatten(tmp_path):
    out = asyncio.run(_own_stop_fills(tmp_path / "j.sqlite"))
    assert out["state"] is OperatorState.RUNNING, out["reason"]
    assert out["blockers"] == {}
