"""The derived-trades cache extended over new facts (``tradecache``, "Incremental upkeep") equals a full
re-derivation: trades (exact), open positions, and the stored statistics; facts out of order fall back to it."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain import FillType
from kraken_tui.journal import tradecache
from kraken_tui.journal.db import open_db
from kraken_tui.journal.records import EquitySnapshot, FundingPayment, IntentRecord, RunStarted, SignalRecord
from kraken_tui.journal.stats import summarize_rows_with_breakdowns
from tests.journal.factory import D, fill, write_journal

XBT, ETH, INV = "PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"
MIN = 60_000
H = 3_600_000


def _full(conn: sqlite3.Connection) -> tradecache._Derived:
    with tradecache.read_snapshot(conn):
        return tradecache._derive(conn)


def _assert_equal_to_full(conn: sqlite3.Connection) -> None:
    """Every account's cached trades, open symbols and summary equal a full derivation's."""
    der = _full(conn)
    every, opened = tradecache.load_cached_trades(conn, all_accounts=True)
    assert every == tradecache._all_closed(der.sets)
    assert opened == [p.symbol for ts in der.sets.values() for p in ts.open]
    for acct, ts in der.sets.items():
        closed, open_syms = tradecache.load_cached_trades(conn, acct)
        assert closed == ts.closed and open_syms == [p.symbol for p in ts.open]
        inp = tradecache.load_summary_input(conn, None, acct)
        assert inp.summary() == summarize_rows_with_breakdowns(tradecache.rows_of(ts.closed), der.starts[acct])


class _Counting:
    """Counts full derivations (``tradecache._derive`` calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = tradecache._derive

        def counted(conn: sqlite3.Connection) -> tradecache._Derived:
            self.n += 1
            return real(conn)

        monkeypatch.setattr(tradecache, "_derive", counted)


# one step of a random trading history: (symbol, side, size, price step, fee, fill type index, an intent?)
_step = st.tuples(st.sampled_from([XBT, ETH, INV]), st.sampled_from(["buy", "sell"]), st.integers(1, 5),
                  st.integers(-30, 30), st.sampled_from(["0", "0.25", "1.5", "-0.1"]), st.integers(0, 9),
                  st.booleans(), st.integers(0, 3))


def _records(steps: list[tuple], first: int, run: str, account: str) -> list[list[object]]:
    """The facts of ``steps`` in time order, cut into chunks where a step's last field is 0 (a summary is read
    after each chunk); each fill may have its intent (with a signal) journaled just before it, marks and funding
    come between fills, and a run of ``account`` starts the history."""
    chunks: list[list[object]] = [[RunStarted(run, first, "paper", "h", "0", D(10_000), account=account)]]
    ftypes = ["taker", "maker", "taker", "maker", "liquidation", "taker", "maker", "taker", "maker", "taker"]
    price = {XBT: 50_000, ETH: 3_000, INV: 40_000}
    for k, (sym, side, size, step, fee, ftype, with_intent, cut) in enumerate(steps):
        ts = first + (k + 1) * MIN
        price[sym] += step
        cli = None
        if with_intent:
            sid = f"{run}-{sym}-{ts}"
            cli = f"kt-{sid}-entry"
            chunks[-1].append(SignalRecord(ts, sid, sym, "long" if side == "buy" else "short", 0.5,
                                           "s" + str(k % 2), "x", "intent"))
            chunks[-1].append(IntentRecord(ts, cli, sym, side, D(size), "mkt", ["entry", "stop", "flatten"][k % 3],
                                           signal_id=sid))
        chunks[-1].append(fill(f"{run}-f{k}", sym, side, str(size), str(price[sym]), ts, fee=fee, cli=cli,
                               fill_type=FillType(ftypes[ftype])))
        if k % 3 == 1:
            chunks[-1].append(EquitySnapshot(ts + 10, D(10_000), {sym: float(price[sym]) + 0.5}))
        if k % 4 == 2:
            chunks[-1].append(FundingPayment(sym, ts + 20, D("-0.125") if k % 8 == 2 else D("0.5"), D("0.0001")))
        if cut == 0:  # the next chunk: a new run of the same account (as an app restarted)
            chunks.append([RunStarted(f"{run}-{k}", ts + 30, "paper", "h", "0", account=account)])
    return chunks


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=40), two_accounts=st.booleans())
def test_extended_cache_equals_full_derivation(tmp_path_factory, monkeypatch, steps, two_accounts):
    """Random fills (partial closes, reversals, liquidations, inverse contracts) with intents, signals, marks
    and funding, journaled in time order in chunks with a summary read after each: the cache is only ever
    extended (the one full derivation: the migration's, on the empty journal), and equals a full derivation."""
    path = tmp_path_factory.mktemp("inc") / "j.sqlite"
    counting = _Counting(monkeypatch)
    chunks = _records(steps, 1_700_000_000_000, "r1", "acct-a")
    if two_accounts:  # a second account's run in the same journal, later in time
        more = _records(steps[::-1], 1_700_000_000_000 + (len(steps) + 5) * MIN, "r2", "acct-b")
        chunks = [*chunks, *more]
    for chunk in chunks:
        if chunk:
            write_journal(path, chunk, synchronous="NORMAL")
        conn = open_db(path, create=False)
        try:
            with tradecache.read_snapshot(conn):
                acct = tradecache.current_account(conn)
            tradecache.load_summary_input(conn, None, acct)
            tradecache.load_cached_trades(conn, acct)
        finally:
            conn.close()
    derivations = counting.n
    conn = open_db(path, create=False)
    try:
        _assert_equal_to_full(conn)
    finally:
        conn.close()
    # the migration builds the (empty) cache; every later read extends it
    assert derivations == 1


def test_out_of_order_facts_are_re_derived(tmp_path, monkeypatch):
    """A fill earlier than one already walked, an intent journaled after its fill, a payment inside a cached
    trade, a mark older than a walked fill: each makes the next read re-derive everything; a fill in order is
    only walked on. Either way the cache equals a full derivation."""
    path = tmp_path / "j.sqlite"
    write_journal(path, [RunStarted("r", 0, "paper", "h", "0", D(10_000), account="acct"),
                         fill("a", XBT, "buy", "1", "100", 10 * MIN), fill("b", XBT, "sell", "1", "110", 20 * MIN),
                         fill("c", ETH, "buy", "2", "50", 30 * MIN)])
    counting = _Counting(monkeypatch)
    late = [
        ([fill("d", ETH, "sell", "2", "55", 40 * MIN, cli="x")], False),  # in order: walked on
        ([IntentRecord(41 * MIN, "x", ETH, "sell", D(2), "mkt", "stop")], True),  # the intent of a walked fill
        ([fill("e", XBT, "buy", "1", "90", 5 * MIN)], True),  # earlier than a walked fill
        ([FundingPayment(ETH, 35 * MIN, D("-3"), D("0.0001"))], True),  # inside the cached ETH trade
        ([fill("f", ETH, "buy", "1", "95", 50 * MIN)], False),
        ([EquitySnapshot(45 * MIN, D(1), {ETH: 99.0}), fill("g", ETH, "sell", "1", "96", 60 * MIN)], True),
        ([FundingPayment(ETH, 65 * MIN, D("-3"), D("0.0001")), fill("h", ETH, "buy", "1", "97", 70 * MIN)], False),
    ]
    for k, (chunk, derives) in enumerate(late):
        write_journal(path, [RunStarted(f"r{k}", 10 * MIN + k, "paper", "h", "0", account="acct"), *chunk])
        conn = open_db(path, create=False)
        try:
            before = counting.n
            tradecache.load_summary_input(conn, None, "acct")
            tradecache.load_cached_trades(conn, "acct")
            assert (counting.n > before) is derives, chunk
            _assert_equal_to_full(conn)
        finally:
            conn.close()


def test_two_readers_extending_at_once_store_the_new_trades_once(tmp_path, monkeypatch):
    """Another reader extends and stores the cache while this one is extending it: this one's extension is not
    stored on top (the trades would be there twice); it finds the cache fresh instead."""
    path = tmp_path / "j.sqlite"
    write_journal(path, [RunStarted("r", 0, "paper", "h", "0", D(10_000), account="acct"),
                         fill("a", XBT, "buy", "1", "100", 10 * MIN), fill("b", XBT, "sell", "1", "110", 20 * MIN)])
    conn, other = open_db(path, create=False), open_db(path, create=False)
    try:
        tradecache.load_summary_input(conn, None, "acct")
        write_journal(path, [RunStarted("r2", 21 * MIN, "paper", "h", "0", account="acct"),
                             fill("c", XBT, "buy", "1", "100", 30 * MIN), fill("d", XBT, "sell", "2", "90", 40 * MIN)])
        real = tradecache._extend
        raced: list[bool] = []

        def racing(c: sqlite3.Connection, stored: tradecache._Stored) -> tradecache._Extension | None:
            ext = real(c, stored)
            if c is conn and not raced:
                raced.append(True)
                assert tradecache.load_summary_input(other, None, "acct").summary()[0].trades == 2
            return ext

        monkeypatch.setattr(tradecache, "_extend", racing)
        assert tradecache.load_summary_input(conn, None, "acct").summary()[0].trades == 2
        assert raced and conn.execute("SELECT count(*) FROM trade_cache").fetchone()[0] == 2
        _assert_equal_to_full(conn)
    finally:
        conn.close()
        other.close()
