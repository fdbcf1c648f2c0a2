"""A running engine's flatten against the real journal writer (engine.flatten module docstring, step 1; journal.writer,
"Durability and order"): at the instant each flatten request leaves, a separate reader of the journal file
already sees FLATTENING as the last state and an intent (purpose ``flatten``) for every close in it. With the
exchange's position report at hand, FLATTENING and round 1's intents are committed in one transaction before
the first request, and round 1 sends exactly those cliOrdIds."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Order, OrderResult, OrderStatus, Position
from kraken_tui.domain import PositionSide as PSide
from kraken_tui.domain.orders import OrderEvent, OrderEventType
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO, JournalOutlet
from kraken_tui.engine.controls import flatten_intent
from kraken_tui.engine.flatten import EngineFlatten
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.journal.records import EventSource, OperatorAction, RunStarted, StateChange
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.rest_parse_orders import CancelAllResult

D = Decimal


class _Exchange:
    """Positions and stops; at every request it reads the journal file with its own connection and keeps what
    it saw: the last state event and the flatten intents committed."""

    def __init__(self, path: Path, positions: dict[str, Decimal]) -> None:
        self.path, self.positions = path, dict(positions)
        self.seen: list[tuple[str, str | None, set[str], tuple[str, ...]]] = []
        self.commits_before_first_request: int | None = None
        self.writer: JournalWriter | None = None

    def _look(self, what: str, cli_ord_ids: tuple[str, ...] = ()) -> None:
        if self.commits_before_first_request is None and self.writer is not None:
            self.commits_before_first_request = self.writer.priority_commits
        with sqlite3.connect(self.path) as conn:
            row = conn.execute("SELECT name FROM events WHERE kind='state' ORDER BY id DESC LIMIT 1").fetchone()
            intents = {r[0] for r in conn.execute("SELECT cli_ord_id FROM intents WHERE purpose='flatten'")}
        self.seen.append((what, row[0] if row else None, intents, cli_ord_ids))

    def report(self) -> list[Position]:
        return [Position(s, PSide.LONG if q > 0 else PSide.SHORT, abs(q), D(100)) for s, q in self.positions.items()
                if q]

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        self._look("cancelallorders")
        await asyncio.sleep(0)
        return CancelAllResult(OrderStatus.CANCELLED, "all", ())

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        self._look("openpositions")
        await asyncio.sleep(0)
        return self.report()

    async def open_orders(self, *, priority: bool = False) -> list[Order]:
        self._look("openorders")
        await asyncio.sleep(0)
        return []

    async def batch_order(self, instructions, *, priority: bool = False) -> list[OrderResult]:
        ids = tuple(ins.request.cli_ord_id for ins in instructions)
        self._look("batchorder", ids)
        out = []
        for ins in instructions:
            self.positions[ins.request.symbol] = D(0)
            r = ins.request
            ev = OrderEvent(OrderEventType.EXECUTION, f"o-{r.cli_ord_id}", r.cli_ord_id, D(100), r.size)
            out.append(OrderResult(OrderStatus.PLACED, f"o-{r.cli_ord_id}", r.cli_ord_id, events=(ev,)))
        await asyncio.sleep(0)
        return out


async def _flatten(tmp_path: Path, *, feed: bool, work: bool = False) -> tuple[_Exchange, JournalWriter]:
    """``work``: order work (an exit job) is in flight when the flatten begins, held until the first request."""
    path = tmp_path / "j.sqlite"
    journal = JournalWriter(path)
    await journal.start()
    await journal.write(RunStarted("run-flat", 1, "paper", "h", "0.1"))
    ex = _Exchange(path, {"PF_XBTUSD": D("0.5"), "PF_ETHUSD": D("-3")})
    ex.writer = journal
    outlet = JournalOutlet(journal, lambda *a, **k: None)
    io = EngineIO(lambda *a, **k: None, lambda: 1_700_000_000_000, outlet.write, outlet.write_soon,
                  lambda name, job: None)
    sm = OperatorStateMachine(lambda: 1_700_000_000_000, OperatorState.RUNNING, "test")
    sm.add_listener(lambda t: io.write_soon(StateChange(t.ts_ms, t.to_state.value, t.reason,
                                                         EventSource(t.source.value), t.from_state.value)))
    for i in range(50):  # market-data records queued ahead of the flatten (the writer's batching is behind)
        outlet.write_soon(OperatorAction(i, "note", "queued before", EventSource.AUTOMATIC))
    jobs = JobQueue(on_error=lambda n, e: None, on_progress=lambda: None)
    worker = asyncio.ensure_future(jobs.run())
    held, running = asyncio.Event(), asyncio.Event()

    async def exit_job() -> None:
        running.set()
        await asyncio.wait_for(held.wait(), 5)

    if work:
        jobs.submit("exits PF_XBTUSD", exit_job)
        await running.wait()
    look = ex._look

    def look_and_release(what: str, cli_ord_ids: tuple[str, ...] = ()) -> None:
        look(what, cli_ord_ids + (("job running",) if jobs.running else ()))
        held.set()

    ex._look = look_and_release  # type: ignore[method-assign]
    flattener = EngineFlatten(
        client=ex, sm=sm, jobs=jobs,
        account=AccountTracker(), emit=lambda *a, **k: None, now_ms=lambda: 1_700_000_000_000,
        record_action=lambda action, reason, source: io.write_soon(
            OperatorAction(1, action, reason, EventSource(source.value))),
        known_positions=ex.report if feed else lambda: None, count_exit=lambda reason: None,
        journal=io.write, journal_intent=lambda req: io.write(flatten_intent(1, req)), settle=outlet.settle)
    rep = await flattener.flatten("test", TransitionSource.KEY)
    assert rep.flat and sm.state is OperatorState.HALTED
    worker.cancel()
    await journal.close()
    return ex, journal


async def test_with_the_feed_report_flattening_and_the_closes_are_one_commit_before_the_first_request(tmp_path):
    ex, journal = await _flatten(tmp_path, feed=True)
    first, state, intents, ids = ex.seen[0]
    assert first == "batchorder" and state == "FLATTENING"  # durable before the first request
    assert len(ids) == 2 and set(ids) <= intents  # every close's intent committed before it was sent
    assert ex.commits_before_first_request == 1  # FLATTENING and the intents: one transaction, one fsync
    for what, state, intents, ids in ex.seen:
        assert state in ("FLATTENING", "HALTED") and set(ids) <= intents, (what, state)


async def test_without_the_feed_report_flattening_is_durable_before_the_read_and_the_closes_before_the_send(tmp_path):
    ex, _ = await _flatten(tmp_path, feed=False)
    assert ex.seen[0][:2] == ("openpositions", "FLATTENING")
    sends = [s for s in ex.seen if s[0] == "batchorder"]
    assert sends and all(set(ids) <= intents and len(ids) == 2 for _, _, intents, ids in sends)


async def test_with_order_work_in_flight_the_early_closes_are_committed_with_flattening(tmp_path):
    ex, _ = await _flatten(tmp_path, feed=True, work=True)
    first, state, intents, ids = ex.seen[0]
    assert first == "batchorder" and state == "FLATTENING" and "job running" in ids  # while the work lands
    closes = [i for i in ids if i != "job running"]
    assert len(closes) == 2 and all("-r0-" in i for i in closes) and set(closes) <= intents
    assert ex.commits_before_first_request == 1  # FLATTENING and the early closes: one transaction, one fsync
    assert [s[0] for s in ex.seen].count("batchorder") == 1  # the account read afresh after the work: no 2nd close
    assert ex.seen[1][0] in ("openpositions", "openorders")
