"""An order's intent is committed to the journal file before its request leaves (engine.execution module
docstring; journal.writer, "Durability and order"): the client, at the instant ``send_order`` is called, reads
the journal with its own connection and finds the intent, while market-data records are still queued ahead."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import OrderRequest, OrderResult, OrderStatus, OrderType, Side
from kraken_tui.engine.execution import Executor
from kraken_tui.journal.records import EventSource, IntentPurpose, OperatorAction, RunStarted
from kraken_tui.journal.writer import JournalWriter


class _Client:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[tuple[str, bool]] = []

    async def send_order(self, req: OrderRequest, *, instrument=None, priority: bool = False) -> OrderResult:
        with sqlite3.connect(self.path) as conn:
            found = conn.execute("SELECT 1 FROM intents WHERE cli_ord_id=?", (req.cli_ord_id,)).fetchone()
        self.seen.append((req.cli_ord_id or "", found is not None))
        return OrderResult(OrderStatus.PLACED, f"o-{req.cli_ord_id}", req.cli_ord_id)


async def test_each_intent_is_committed_before_its_request_leaves(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = JournalWriter(path)
    await journal.start()
    await journal.write(RunStarted("run-int", 1, "paper", "h", "0.1"))
    client = _Client(path)
    ex = Executor(client, journal, lambda: 1_700_000_000_000)  # type: ignore[arg-type]
    for i in range(5):
        for k in range(40):  # records queued ahead of the intent (the writer's batching is behind them)
            journal.write_nowait(OperatorAction(k, "note", "queued", EventSource.AUTOMATIC))
        req = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal(100),
                           cli_ord_id=f"kt-entry-{i}")
        res = await ex.submit(req, IntentPurpose.ENTRY)
        assert res.status is OrderStatus.PLACED
    await journal.close()
    assert client.seen == [(f"kt-entry-{i}", True) for i in range(5)]
