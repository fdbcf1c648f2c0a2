"""No instant at which the exchange holds an entry's position without its stop having been sent: the market entry
and its reduce-only stop go out in one ``batchorder`` request (``OrderFlow.enter``, ``Executor.submit_batch``).

The worst-timed crash is modelled in process: the HTTP layer lets the first order request reach the paper exchange
(served over loopback), then "kills" the engine - nothing after it is ever sent. The exchange must hold the
position together with a reduce-only stop for its whole size. Also: after a normal entry the stop rests at the
fill price's level for the filled size, and an entry that does not fill leaves no stop behind.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from kraken_tui.config import ExitsConfig
from kraken_tui.domain import PositionSide
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.exits import initial_stop_price
from kraken_tui.engine.order_flow import OrderFlow
from tests.operator.paper_env import T0, make_exchange, paper_env

D = Decimal
SYM = "PF_XBTUSD"


class Killed(BaseException):
    """The engine process died (nothing after this point runs)."""


class _Journal:
    def __init__(self) -> None:
        self.records: list = []

    async def write(self, record) -> None:
        self.records.append(record)

    async def flush(self) -> None:
        return None


async def _instruments(client) -> dict:
    return {i.symbol: i for i in await client.instruments()}


def _enter(inst, exits: ExitsConfig, size: str, mark: Decimal) -> Enter:
    stop = initial_stop_price(exits, inst, PositionSide.LONG, mark)
    return Enter(SYM, PositionSide.LONG, D(size), mark, stop, True, D(1), ())


def _stops(ex) -> list:
    return [o for o in ex.open_orders.values() if o.symbol == SYM and o.reduce_only and o.is_trigger]


def test_a_kill_right_after_the_entry_leaves_the_position_with_its_stop():
    async def go() -> None:
        ex = make_exchange(1)
        exits = ExitsConfig()
        async with paper_env(ex) as env:
            insts = await _instruments(env.client)
            flow = OrderFlow(Executor(env.client, _Journal(), lambda: T0 + 2000), AccountTracker(), insts, exits,
                             lambda *a, **k: None, lambda: T0 + 2000)
            inner = env.transport.handle_async_request
            sent: list[str] = []

            async def die_after_first_order(request: httpx.Request) -> httpx.Response:
                if request.method == "POST" and sent:
                    raise Killed()
                resp = await inner(request)
                if request.method == "POST":
                    sent.append(request.url.path.rsplit("/", 1)[-1])
                return resp

            env.transport.handle_async_request = die_after_first_order  # type: ignore[method-assign]
            mark = D(repr(ex.markets[SYM].mark))
            with pytest.raises(Killed):
                await flow.enter(_enter(insts[SYM], exits, "0.01", mark), "run1-PF_XBTUSD-1")
            env.transport.handle_async_request = inner  # type: ignore[method-assign]
            pos = ex.positions.get(SYM)
            assert pos is not None and pos.size == D("0.01")
            stops = _stops(ex)
            assert len(stops) == 1, f"position {pos.size} without a stop after a kill (sent: {sent})"
            assert stops[0].size == D("0.01") and stops[0].side.value == "sell"
            assert sent == ["batchorder"]

    asyncio.run(go())


def test_entry_stop_ends_at_the_fill_price_level_and_unfilled_entry_leaves_no_stop():
    async def go() -> None:
        ex = make_exchange(1)
        exits = ExitsConfig()
        async with paper_env(ex) as env:
            insts = await _instruments(env.client)
            flow = OrderFlow(Executor(env.client, _Journal(), lambda: T0 + 2000), AccountTracker(), insts, exits,
                             lambda *a, **k: None, lambda: T0 + 2000)
            mark = D(repr(ex.markets[SYM].mark)) * D("0.99")  # a stale mark: the fill is 1 % higher
            await flow.enter(_enter(insts[SYM], exits, "0.01", mark), "run1-PF_XBTUSD-1")
            mp = flow.account.managed[SYM]
            (stop,) = _stops(ex)
            assert mp.orders["stop"] == stop.cli_ord_id
            assert (stop.size, stop.stop_price) == (D("0.01"), mp.exits.stop_price)
            assert mp.exits.stop_price == initial_stop_price(exits, insts[SYM], PositionSide.LONG,
                                                             mp.exits.entry_price)
            assert len([o for o in ex.open_orders.values() if not o.is_trigger]) == len(exits.take_profit_pct)

            ex2 = make_exchange(1, balance=1.0)  # too poor to open: the entry is refused
        async with paper_env(ex2) as env2:
            insts2 = await _instruments(env2.client)
            flow2 = OrderFlow(Executor(env2.client, _Journal(), lambda: T0 + 2000), AccountTracker(), insts2, exits,
                              lambda *a, **k: None, lambda: T0 + 2000)
            mark2 = D(repr(ex2.markets[SYM].mark))
            result = await flow2.enter(_enter(insts2[SYM], exits, "1", mark2), "run1-PF_XBTUSD-2")
            assert result is not None and not result.accepted
            assert not ex2.positions.get(SYM) and not ex2.open_orders

    asyncio.run(go())


def test_submit_batch_commits_intents_first_and_resolves_lost_answers_per_order():
    from kraken_tui.domain import OrderRequest, OrderResult, OrderStatus, OrderType, Side, TriggerSignal
    from kraken_tui.journal.records import IntentPurpose, IntentRecord

    journal = _Journal()
    calls: list[str] = []

    class Client:
        async def batch_order(self, instructions, *, priority=False):
            assert all(isinstance(r, IntentRecord) for r in journal.records)  # both intents before the send
            assert len(journal.records) == 2 and not priority
            calls.append("batch " + ",".join(i.request.cli_ord_id for i in instructions))
            return [OrderResult(status=OrderStatus.UNKNOWN, cli_ord_id=i.request.cli_ord_id) for i in instructions]

        async def resolve_unknown(self, cli_ord_id, *, size=None):
            calls.append(f"resolve {cli_ord_id}")
            return OrderResult(status=OrderStatus.PLACED, cli_ord_id=cli_ord_id, order_id="o-" + cli_ord_id)

    ex = Executor(Client(), journal, lambda: T0)
    entry = OrderRequest(SYM, Side.BUY, OrderType.MARKET, D("1"), cli_ord_id="kt-a-entry")
    stop = OrderRequest(SYM, Side.SELL, OrderType.STOP, D("1"), stop_price=D("90"), trigger_signal=TriggerSignal.MARK,
                        reduce_only=True, cli_ord_id="kt-a-stop")
    out = asyncio.run(ex.submit_batch([(entry, IntentPurpose.ENTRY), (stop, IntentPurpose.STOP)], signal_id="a"))
    assert [r.status for r in out] == [OrderStatus.PLACED, OrderStatus.PLACED]
    assert calls == ["batch kt-a-entry,kt-a-stop", "resolve kt-a-entry", "resolve kt-a-stop"]  # never re-sent
    assert ex.sent == 2 and set(ex.intents) == {"kt-a-entry", "kt-a-stop"}
    with pytest.raises(ValueError, match="already sent"):
        asyncio.run(ex.submit_batch([(entry, IntentPurpose.ENTRY)]))
