"""No new exposure once a flatten has begun, end to end against the paper exchange served over loopback
(engine.execution ``Executor.may_add_exposure`` wired by engine.core to engine.flatten ``exposure_refusal``): an
operator's market entry decided while RUNNING, whose intent is being committed when F F lands, is never sent (the
exchange holds no position and no order of it), its intents are journaled ``refused`` with the reason, the
flatten ends HALTED on a flat account; an entry job that ended leaves nothing for a later flatten to wait for."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from kraken_tui.domain import Side
from kraken_tui.engine.manual import ManualOrder
from kraken_tui.engine.operator import OperatorState, TransitionSource
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import T0

D = Decimal
KEY = TransitionSource.KEY


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "journal.sqlite"


async def _settle(eng) -> None:
    await asyncio.sleep(0.2)
    await eng.wait_idle()


async def test_an_entry_whose_commit_meets_f_f_is_not_sent_and_journaled_refused(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        durable = eng.executor._durable
        flattening: list[Any] = []

        async def commit_then_f_f(prepared, exposure, what):  # F F pressed while the entry's intent is committed
            await durable(prepared, exposure, what)
            if not flattening:
                flattening.append(eng.begin_flatten("F F", KEY))

        eng.executor._durable = commit_then_f_f
        sent = eng.executor.sent
        res = await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01")), KEY)
        report = await asyncio.wait_for(flattening[0], 10)
        assert not res.ok and "not sent: flatten in progress" in res.message, res.message
        assert eng.executor.sent == sent  # the entry did not leave
        assert not ex.positions.get("PF_XBTUSD") or ex.positions["PF_XBTUSD"].size == 0
        assert not [o for o in ex.open_orders.values() if o.symbol == "PF_XBTUSD"]
        assert report.flat and eng.sm.state is OperatorState.HALTED
    with sqlite3.connect(journal) as conn:
        rows = conn.execute("SELECT i.purpose, e.status, e.error FROM intents i JOIN order_events e "
                            "ON e.cli_ord_id = i.cli_ord_id WHERE i.purpose IN ('entry', 'add')").fetchall()
    assert [p for p, _, _ in rows] == ["entry"]
    assert all(st == "refused" and "flatten in progress" in err for _, st, err in rows), rows


async def test_an_entry_job_that_ended_leaves_nothing_landing(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await _settle(eng)
        res = await eng.manual(ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), attach_exits=False), KEY)
        assert res.ok, res.message
        await _settle(eng)
        assert not eng.executor.exposure_landing  # the job ended: a later flatten waits for no entry of it
        assert eng.executor.may_add_exposure is not None and eng.executor.may_add_exposure() is None
        report = await eng.flatten("test", KEY)
        assert report.flat and eng.executor.may_add_exposure() is not None  # HALTED: still no entry
