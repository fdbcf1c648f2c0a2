"""F F while a strategy entry is in flight, end to end against the paper exchange served over loopback: the
flatten closes the entry's position from the entry's own REST answer (batchorder ``sendStatus`` EXECUTION events,
spec §4.15) while the entry's job still runs and its stop still rests, with the feed's position reports held back
(so only the answer can tell the size). One close only, the cancel-all after it, the close journaled with
purpose ``flatten`` and the trade's exit reason ``flatten``; the account ends flat and the engine HALTED."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from kraken_tui.domain import PositionSide
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.journal.queries import load_trades
from kraken_tui.kraken import ws_events as W
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served
from .lossy import T0

D = Decimal
SYM = "PF_XBTUSD"


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "journal.sqlite"


class _Prepared:
    """The entry's prepared batch: F F lands as its bytes leave (the guard already let it go)."""

    def __init__(self, inner: Any, f_f: Any) -> None:
        self.inner, self.f_f = inner, f_f

    def sign(self) -> None:
        self.inner.sign()

    async def send(self) -> Any:
        sending = asyncio.ensure_future(self.inner.send())
        await asyncio.sleep(0)  # the request is on its way
        self.f_f()
        return await sending


async def test_f_f_during_an_entry_closes_it_from_the_answer_once_and_ends_flat_and_halted(journal):
    ex = make_exchange()
    quote(ex, T0)
    async with served(ex) as srv, engine_run(srv, journal) as eng:
        await asyncio.sleep(0.2)
        await eng.wait_idle()
        # the feed's position reports are held back until the flatten is done
        handle = eng.account_events.handle
        holding = [True]

        async def no_position_reports(ev: Any) -> bool:
            if holding[0] and isinstance(ev, W.PositionsEvent):
                return True
            return await handle(ev)

        eng.account_events.handle = no_position_reports  # type: ignore[method-assign]
        flattening: list[Any] = []
        fired = asyncio.Event()

        def f_f() -> None:
            flattening.append(eng.begin_flatten("F F", TransitionSource.KEY))
            fired.set()

        client = eng.executor.client
        prepare = client.prepare_batch_order

        async def prepare_then_f_f(instructions: Any, **k: Any) -> Any:
            inner = await prepare(instructions, **k)
            return _Prepared(inner, f_f)

        client.prepare_batch_order = prepare_then_f_f  # type: ignore[method-assign]
        calls: list[tuple[str, bool]] = []  # (flatten request, the entry job still running)
        batch, cancel_all = client.batch_order, client.cancel_all_orders
        close_seen = asyncio.Event()

        async def batch_order(instructions: Any, **k: Any) -> Any:
            if any((i.request.cli_ord_id or "").startswith("flat-") for i in instructions):
                calls.append(("close", eng.jobs.running))
                close_seen.set()
            return await batch(instructions, **k)

        async def cancel_all_orders(*a: Any, **k: Any) -> Any:
            calls.append(("cancelallorders", eng.jobs.running))
            return await cancel_all(*a, **k)

        client.batch_order = batch_order  # type: ignore[method-assign]
        client.cancel_all_orders = cancel_all_orders  # type: ignore[method-assign]
        manage = eng.flow.manage

        async def manage_slowly(*a: Any, **k: Any) -> Any:  # the job goes on (its take-profits) for up to 3 s
            out = await manage(*a, **k)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(close_seen.wait(), 3.0)
            return out

        eng.flow.manage = manage_slowly  # type: ignore[method-assign]
        act = Enter(SYM, PositionSide.LONG, D("0.01"), D(50_000), D(49_000), True, D(1), ())
        eng.jobs.submit("signal t-PF_XBTUSD-1", lambda: eng.flow.enter(act, "t-PF_XBTUSD-1"))
        await asyncio.wait_for(fired.wait(), 10)
        report = await asyncio.wait_for(flattening[0], 15)
        holding[0] = False
        assert calls and calls[0] == ("close", True), calls  # first request: the close, while the job ran
        assert [c for c, _ in calls].count("close") == 1, calls  # one close only
        assert calls.index(("cancelallorders", False)) > 0, calls  # the stop rested until the close was answered
        assert report.flat, report
        assert report.closed == ((SYM, D("0.01")),), report
        assert eng.sm.state is OperatorState.HALTED
        assert not ex.positions.get(SYM) or ex.positions[SYM].size == 0
        assert not [o for o in ex.open_orders.values() if o.symbol == SYM]
    with sqlite3.connect(journal) as conn:
        closes = conn.execute("SELECT cli_ord_id FROM intents WHERE purpose = 'flatten'").fetchall()
        trades, _eq = load_trades(conn)
    assert len(closes) == 1 and closes[0][0].startswith("flat-key-"), closes
    assert [(t.exit_reason, t.size) for t in trades.closed] == [("flatten", D("0.01"))]

