"""The writer task: every record type stored, ordering, back-pressure, drain, retries, isolation."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import (
    FillType,
    Order,
    OrderEvent,
    OrderEventType,
    OrderResult,
    OrderStatus,
    OrderType,
    Side,
)
from kraken_tui.errors import JournalError
from kraken_tui.journal.db import open_db
from kraken_tui.journal.encode import encode
from kraken_tui.journal.queries import load_data, load_events, load_fills
from kraken_tui.journal.records import (
    Alert,
    EquitySnapshot,
    FundingPayment,
    IntentRecord,
    OperatorAction,
    ReconciliationDiff,
    RunStarted,
    RunStopped,
    SignalRecord,
    StateChange,
)
from kraken_tui.journal.writer import JournalWriter
from tests.journal.factory import D, fill

RUN = RunStarted("run-1", 1_000, "paper", "cfghash", "0.1.0", D("10000"))


async def _writer(tmp_path, **kw) -> JournalWriter:
    w = JournalWriter(tmp_path / "j.sqlite", **kw)
    await w.start()
    return w


async def test_every_record_type_is_stored(tmp_path):
    w = await _writer(tmp_path)
    order = Order("o1", "PF_XBTUSD", Side.BUY, "lmt", D("0.1"), limit_price=D("50000"), cli_ord_id="c1",
                  last_update_ts_ms=1_500)
    result = OrderResult(OrderStatus.PLACED, "o1", "c1", 1_400,
                         (OrderEvent(OrderEventType.PLACE, "o1", "c1", order=order),))
    records = [
        RUN,
        SignalRecord(1_100, "sig1", "PF_XBTUSD", "long", 0.8, "ema_cross", "fast>slow", "intent", {"ema": 1.5}),
        SignalRecord(1_150, "sig2", "PF_XBTUSD", "short", 0.4, "ema_cross", "x", "rejected", {}, "leverage cap"),
        IntentRecord(1_200, "c1", "PF_XBTUSD", "buy", D("0.1"), "lmt", "entry", limit_price=D("50000"),
                     signal_id="sig1"),
        result,
        order,
        fill("f1", "PF_XBTUSD", "buy", "0.1", "50000", 2_000, fee="1.0", cli="c1"),
        FundingPayment("PF_XBTUSD", 3_600_000, D("-0.05"), D("0.00001")),
        EquitySnapshot(3_000, D("9999.5"), {"PF_XBTUSD": 50010.5}),
        StateChange(4_000, "PAUSED", "daily loss limit", "automatic", "RUNNING"),
        OperatorAction(4_100, "resume", "operator", "key"),
        Alert(4_200, "HIGH", "liquidation distance 8%", "PF_XBTUSD"),
        ReconciliationDiff(4_300, "position", "PF_XBTUSD", "0.1", "0.2", "paused"),
        RunStopped(5_000, "quit"),
    ]
    for r in records:
        await w.write(r)
    assert w.run_id is None  # RunStopped ended the run
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    assert conn.execute("SELECT stopped_ms, stop_reason, starting_equity_usd FROM runs").fetchone() == (5_000, "quit", "10000")
    data = load_data(conn)
    assert data.starting_equity_usd == D(10000)
    assert data.intents["c1"].signal_id == "sig1" and data.intents["c1"].purpose == "entry"
    assert data.strategies == {"sig1": "ema_cross", "sig2": "ema_cross"}
    assert data.marks == {"PF_XBTUSD": [(3_000, 50010.5)]}
    assert data.funding == [FundingPayment("PF_XBTUSD", 3_600_000, D("-0.05"), D("0.00001"))]
    assert [f.fill_id for f in data.fills] == ["f1"]
    assert conn.execute("SELECT count(*) FROM order_events").fetchone()[0] == 2  # status row + PLACE event
    assert conn.execute("SELECT filled, status FROM orders").fetchone() == ("0", "untouched")
    assert conn.execute("SELECT rejection_reason FROM signals WHERE signal_id='sig2'").fetchone() == ("leverage cap",)
    # every fact carries the run id
    assert conn.execute("SELECT count(*) FROM fills WHERE run_id='run-1'").fetchone()[0] == 1
    kinds = [(e.kind, e.name, e.source) for e in load_events(conn)]
    assert kinds == [("state", "PAUSED", "automatic"), ("operator", "resume", "key"), ("alert", "HIGH", None),
                     ("reconciliation", "position", None)]
    assert [e.kind for e in load_events(conn, since_ms=4_150)] == ["alert", "reconciliation"]
    conn.close()


async def test_replayed_fill_and_funding_are_idempotent(tmp_path):
    w = await _writer(tmp_path)
    f = fill("dup", "PF_XBTUSD", "sell", "1", "100", 10)
    pay = FundingPayment("PF_XBTUSD", 3_600_000, D("1"), D("0.0001"))
    for _ in range(3):
        await w.write(f)
        await w.write(pay)
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    assert conn.execute("SELECT count(*) FROM fills").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM funding").fetchone()[0] == 1
    conn.close()


async def test_bad_records_raise_at_the_call_site(tmp_path):
    w = await _writer(tmp_path)
    with pytest.raises(TypeError):
        await w.write("not a record")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SignalRecord(1, "s", "PF_XBTUSD", "up", 0.5, "x", "y", "z")
    with pytest.raises(ValueError):
        SignalRecord(1, "s", "PF_XBTUSD", "long", 1.5, "x", "y", "z")
    with pytest.raises(ValueError):
        FundingPayment("PF_XBTUSD", 1, 0.5, D(0))  # type: ignore[arg-type]  # float money refused
    with pytest.raises(ValueError):
        StateChange(1, "PAUSED", "why", "keyboard")
    await w.close()
    with pytest.raises(JournalError, match="not running"):
        await w.write(RUN)


async def test_back_pressure_waits_and_loses_nothing(tmp_path):
    w = await _writer(tmp_path, queue_max=3, batch_max=2)
    gate = asyncio.Event()
    real = w._transaction  # noqa: SLF001

    async def slow(stmts, *, one_by_one):
        await gate.wait()
        await real(stmts, one_by_one=one_by_one)

    w._transaction = slow  # noqa: SLF001
    n = 20

    async def produce():
        for i in range(n):
            await w.write(fill(f"bp{i}", "PF_XBTUSD", "buy", "1", "100", i))

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.05)
    assert not producer.done() and w.pending == 3  # the producer is held back, not dropping
    gate.set()
    await asyncio.wait_for(producer, 5)
    await w.flush()
    assert w.committed_records == n
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    assert [f.fill_id for f in load_fills(conn)] == [f"bp{i}" for i in range(n)]  # in order
    conn.close()


async def test_transient_error_is_retried_and_reported(tmp_path):
    errors: list[JournalError] = []
    w = await _writer(tmp_path, on_error=errors.append)
    real = w._transaction  # noqa: SLF001
    calls = {"n": 0}

    async def flaky(stmts, *, one_by_one):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("disk I/O error")
        await real(stmts, one_by_one=one_by_one)

    w._transaction = flaky  # noqa: SLF001
    await w.write(fill("r1", "PF_XBTUSD", "buy", "1", "100", 1))
    await w.flush()
    assert len(errors) == 2 and "disk I/O error" in str(errors[0]) and w.error is None
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    assert [f.fill_id for f in load_fills(conn)] == ["r1"]
    conn.close()


async def test_constraint_violation_is_isolated_and_reported(tmp_path):
    errors: list[JournalError] = []
    w = await _writer(tmp_path, on_error=errors.append)
    await w.write(RUN)
    await w.write(fill("a", "PF_XBTUSD", "buy", "1", "100", 1))
    await w.write(RUN)  # same run id again: primary key violation
    await w.write(fill("b", "PF_XBTUSD", "sell", "1", "101", 2))
    await w.close()
    assert w.rejected_records == 1 and "runs" in str(errors[0])
    conn = open_db(tmp_path / "j.sqlite", create=False)
    assert [f.fill_id for f in load_fills(conn)] == ["a", "b"]
    conn.close()


async def test_reader_sees_commits_while_writer_is_open(tmp_path):
    w = await _writer(tmp_path)
    reader = open_db(tmp_path / "j.sqlite", create=False)
    for i in range(5):
        await w.write(fill(f"w{i}", "PF_XBTUSD", "buy", "1", "100", i))
        await w.flush()
        assert len(load_fills(reader)) == i + 1
    reader.close()
    await w.close()


async def test_a_second_journal_start_on_a_corrupt_file_fails(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"garbage" * 1000)
    w = JournalWriter(path)
    with pytest.raises(JournalError, match="not a usable SQLite database"):
        await w.start()


_dec = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False,
                   places=12)
_pos = st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e9"), allow_nan=False, places=12)


@settings(max_examples=150, deadline=None)
@given(size=_pos, price=_pos, fee=st.one_of(st.none(), _dec), amount=_dec,
       ts=st.integers(0, 2**53), cli=st.one_of(st.none(), st.text(min_size=1, max_size=100)),
       ftype=st.sampled_from(list(FillType)), side=st.sampled_from(list(Side)))
def test_stored_values_round_trip_exactly(tmp_path_factory, size, price, fee, amount, ts, cli, ftype, side):
    """Encode -> SQLite -> decode returns the same Decimals, texts and times (the journal's parser)."""
    path = tmp_path_factory.mktemp("rt") / "j.sqlite"
    conn = open_db(path, synchronous="NORMAL")
    f = fill("id", "PF_XBTUSD", side.value, "1", "1", ts, fee=None, cli=cli, fill_type=ftype)
    f = type(f)(f.fill_id, f.order_id, f.symbol, side, size, price, ts, ftype, cli, fee, "USD")
    pay = FundingPayment("PF_XBTUSD", ts, amount, amount)
    for sql, params in encode(f, None) + encode(pay, None):
        conn.execute(sql, params)
    data = load_data(conn)
    assert data.fills == [f]
    assert data.funding == [pay]
    conn.close()


def test_order_type_text_is_validated():
    with pytest.raises(ValueError):
        IntentRecord(1, "c", "PF_XBTUSD", Side.BUY, D(1), "limit", "entry")
    assert IntentRecord(1, "c", "PF_XBTUSD", Side.BUY, D(1), OrderType.POST, "tp2").purpose.value == "tp2"
