"""An order's intent is committed to the journal file before its request leaves (engine.execution module
docstring; journal.writer, "Durability and order"): the client, at the instant ``send_order`` is called, reads
the journal with its own connection and finds the intent, while market-data records are still queued ahead."""

from __future__ import annotations

import re
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


class _WireCheck:
    """An ``HttpSender`` under the real ``KrakenRestClient``: when a request's bytes are handed to it, it reads the
    journal with its own connection and notes which of the body's cliOrdIds have their intent on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[tuple[str, bool]] = []

    async def send_request(self, method, url, body, headers, timeout_s):
        from urllib.parse import unquote

        from kraken_tui.kraken.rest_http import HttpAnswer

        text = unquote((body or b"").decode())
        cids = re.findall(r'kt-[a-z]+-\d', text)
        with sqlite3.connect(self.path) as conn:
            for cid in cids:
                found = conn.execute("SELECT 1 FROM intents WHERE cli_ord_id=?", (cid,)).fetchone()
                self.seen.append((cid, found is not None))
        head = '{"result":"success","serverTime":"2025-08-01T00:00:00.000Z",'
        if url.endswith("/batchorder"):
            items = ",".join(f'{{"status":"placed","order_id":"o{k}","order_tag":"{k}"}}' for k in range(len(cids)))
            return HttpAnswer(200, {}, (head + f'"batchStatus":[{items}]}}').encode())
        return HttpAnswer(200, {}, (head + '"sendStatus":{"status":"placed","order_id":"o1"}}').encode())


async def test_with_the_real_client_no_request_byte_leaves_before_its_intents_are_committed(tmp_path):
    """The prepared path (request built before the commit, signed during its fsync, sent after it): the bytes
    reach the HTTP backend only once every intent they carry is in the journal file."""
    from pydantic import SecretStr

    from kraken_tui.config import Credentials
    from kraken_tui.kraken.ratelimit import RateLimiter
    from kraken_tui.kraken.rest import KrakenRestClient
    from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET

    path = tmp_path / "j.sqlite"
    journal = JournalWriter(path)
    await journal.start()
    await journal.write(RunStarted("run-wire", 1, "paper", "h", "0.1"))
    wire = _WireCheck(path)
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="test")
    client = KrakenRestClient(wire, "http://x", creds, rate_limit=RateLimiter(budget=10**6))
    ex = Executor(client, journal, lambda: 1_700_000_000_000)
    for i in range(3):
        for k in range(40):  # records queued ahead of the intents (the writer's batching is behind them)
            journal.write_nowait(OperatorAction(k, "note", "queued", EventSource.AUTOMATIC))
        entry = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, Decimal("0.01"), cli_ord_id=f"kt-entry-{i}")
        stop = OrderRequest("PF_XBTUSD", Side.SELL, OrderType.STOP, Decimal("0.01"), stop_price=Decimal(90),
                            reduce_only=True, cli_ord_id=f"kt-stop-{i}")
        results = await ex.submit_batch([(entry, IntentPurpose.ENTRY), (stop, IntentPurpose.STOP)])
        assert [r.status for r in results] == [OrderStatus.PLACED, OrderStatus.PLACED]
        single = OrderRequest("PF_XBTUSD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), limit_price=Decimal(100),
                              cli_ord_id=f"kt-add-{i}")
        assert (await ex.submit(single, IntentPurpose.ADD)).status is OrderStatus.PLACED
    await journal.close()
    expected = []
    for i in range(3):
        expected += [(f"kt-entry-{i}", True), (f"kt-stop-{i}", True), (f"kt-add-{i}", True)]
    assert wire.seen == expected
