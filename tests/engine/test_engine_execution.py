"""Executor: deterministic cliOrdIds, the intent committed before the order is sent, unknown outcomes
resolved (never re-sent), refusals as results."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest

from kraken_tui.domain import (
    OrderEvent,
    OrderEventType,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    Side,
)
from kraken_tui.engine.execution import ClientOrderIds, Executor, intent_purpose, make_signal_id
from kraken_tui.errors import InsufficientFundsError, TransportError
from kraken_tui.journal.records import IntentPurpose, RunStarted
from kraken_tui.journal.writer import JournalWriter

D = Decimal


class FakeClient:
    """Records every call; ``answers`` are returned by send_order in turn; ``resolved`` by resolve_unknown."""

    def __init__(self, answers, resolved=(), on_send=None):
        self.answers = list(answers)
        self.resolved = list(resolved)
        self.calls: list[str] = []
        self.on_send = on_send

    async def send_order(self, req, *, instrument=None, priority=False):
        self.calls.append(f"send {req.cli_ord_id}")
        if self.on_send is not None:
            self.on_send(req)
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    async def resolve_unknown(self, cli_ord_id, *, size=None):
        self.calls.append(f"resolve {cli_ord_id}")
        a = self.resolved.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


class ListJournal:
    def __init__(self):
        self.records, self.flushes = [], 0

    async def write(self, record):
        self.records.append(record)

    async def flush(self):
        self.flushes += 1


def _req(cid="kt-x-entry"):
    return OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, D("0.5"), cli_ord_id=cid)


async def _no_sleep(_s):
    return None


def test_client_order_ids_are_deterministic_unique_and_bounded():
    sid = make_signal_id("0123456789abcdef", "pf_xbtusd", 1_720_000_000_000)
    assert sid == "01234567-PF_XBTUSD-1720000000000"
    a, b = ClientOrderIds(), ClientOrderIds()
    seq_a = [a.make(sid, "entry"), a.make(sid, "stop"), a.make(sid, "stop")]
    seq_b = [b.make(sid, "entry"), b.make(sid, "stop"), b.make(sid, "stop")]
    assert seq_a == seq_b == [f"kt-{sid}-entry", f"kt-{sid}-stop", f"kt-{sid}-stop-1"]
    assert len(a.make("x" * 300, "trailing")) <= 100


def test_intent_purpose_maps_reasons():
    assert intent_purpose("tp2") is IntentPurpose.TP2
    assert intent_purpose("signal").value == "signal"
    assert intent_purpose("no-such-reason") is IntentPurpose.MANUAL


def test_intent_is_committed_to_the_journal_before_the_order_is_sent(tmp_path):
    """A real JournalWriter: when send_order is called the intent row is already readable from disk."""
    path = tmp_path / "j.sqlite"
    seen_at_send: list[tuple] = []

    def on_send(req):
        conn = sqlite3.connect(path)
        seen_at_send.extend(conn.execute("SELECT cli_ord_id, purpose, size FROM intents").fetchall())
        conn.close()

    async def main():
        w = JournalWriter(path)
        await w.start()
        await w.write(RunStarted("r1", 1, "paper", "h", "v"))
        client = FakeClient([OrderResult(OrderStatus.FILLED, order_id="o1", cli_ord_id="kt-x-entry")], on_send=on_send)
        ex = Executor(client, w, lambda: 1_000)
        r = await ex.submit(_req(), IntentPurpose.ENTRY, signal_id="sig-1")
        await w.close()
        return r

    r = asyncio.run(main())
    assert r.status is OrderStatus.FILLED
    assert seen_at_send == [("kt-x-entry", "entry", "0.5")]


def test_unknown_outcome_is_resolved_and_never_resent():
    fill_ev = OrderEvent(OrderEventType.EXECUTION, "o1", "kt-x-entry", D(50_000), D("0.5"), execution_id="f1")
    client = FakeClient(
        [OrderResult(OrderStatus.UNKNOWN, cli_ord_id="kt-x-entry", error="timeout")],
        resolved=[TransportError("still down", endpoint="orders/status"),
                  OrderResult(OrderStatus.FILLED, order_id="o1", cli_ord_id="kt-x-entry", events=(fill_ev,))],
    )
    j = ListJournal()
    ex = Executor(client, j, lambda: 5, sleep=_no_sleep)
    r = asyncio.run(ex.submit(_req(), IntentPurpose.ENTRY))
    assert r.status is OrderStatus.FILLED and r.filled_size == D("0.5")
    assert client.calls == ["send kt-x-entry", "resolve kt-x-entry", "resolve kt-x-entry"]  # one send only
    assert [type(x).__name__ for x in j.records] == ["IntentRecord", "OrderResult", "OrderResult"]
    assert j.records[1].status is OrderStatus.UNKNOWN  # the ambiguous answer is journaled as such
    assert not ex.unresolved


def test_unknown_with_no_trace_resolves_to_not_found():
    client = FakeClient([OrderResult(OrderStatus.UNKNOWN, cli_ord_id="kt-x-entry")], resolved=[None, None])
    ex = Executor(client, ListJournal(), lambda: 5, sleep=_no_sleep)
    r = asyncio.run(ex.submit(_req(), IntentPurpose.ENTRY))
    assert r.status is OrderStatus.NOT_FOUND
    assert client.calls.count("send kt-x-entry") == 1


def test_unresolvable_outcome_stays_unknown_and_blocks():
    err = TransportError("down", endpoint="orders/status")
    client = FakeClient([OrderResult(OrderStatus.UNKNOWN, cli_ord_id="kt-x-entry")], resolved=[err] * 3)
    ex = Executor(client, ListJournal(), lambda: 5, resolve_attempts=3, sleep=_no_sleep)
    r = asyncio.run(ex.submit(_req(), IntentPurpose.ENTRY))
    assert r.status is OrderStatus.UNKNOWN
    assert ex.unresolved == {"kt-x-entry"}
    assert client.calls.count("send kt-x-entry") == 1


def test_refusal_is_a_result_and_a_cli_ord_id_is_never_sent_twice():
    client = FakeClient([InsufficientFundsError("insufficientAvailableFunds", endpoint="sendorder")])
    ex = Executor(client, ListJournal(), lambda: 5)
    r = asyncio.run(ex.submit(_req(), IntentPurpose.ENTRY))
    assert r.status is OrderStatus.UNRECOGNISED and r.raw_status == "refused"
    with pytest.raises(ValueError, match="never re-sent"):
        asyncio.run(ex.submit(_req(), IntentPurpose.ENTRY))
    with pytest.raises(ValueError, match="cliOrdId"):
        asyncio.run(ex.submit(_req(None), IntentPurpose.ENTRY))
