"""The derived-trades cache (schema v3): equal to ``derive_trades``, rebuilt when stale, built by the
v2 -> v3 migration; float statistics equal the exact Decimal ones."""

from __future__ import annotations

import json
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.cli import main
from kraken_tui.domain import FillType
from kraken_tui.journal import tradecache
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_data
from kraken_tui.journal.records import EquitySnapshot, FundingPayment, IntentRecord, RunStarted, SignalRecord
from kraken_tui.journal.schema import APPLICATION_ID, LATEST_VERSION, MIGRATIONS
from kraken_tui.journal.stats import breakdowns, summarize, summarize_rows_with_breakdowns
from kraken_tui.journal.trades import derive_trades
from tests.journal.factory import D, fill, trade, write_journal

XBT, ETH = "PF_XBTUSD", "PF_ETHUSD"
H = 3_600_000
RECORDS = [
    RunStarted("r1", 0, "paper", "h", "0.1.0", D(10000)),
    SignalRecord(0, "s1", XBT, "long", 0.8, "sma_cross", "x", "intent", features={"fast": 1.5}),
    IntentRecord(0, "e1", XBT, "buy", D("0.2"), "mkt", "entry", signal_id="s1"),
    IntentRecord(0, "tp", XBT, "sell", D("0.15"), "lmt", "tp1", limit_price=D(52000)),
    IntentRecord(0, "x2", ETH, "buy", D("5"), "mkt", "entry"),
    fill("f1", XBT, "buy", "0.2", "50000", H, fee="5.00", cli="e1"),
    FundingPayment(XBT, 2 * H, D("-0.75"), D("0.0001")),
    EquitySnapshot(2 * H, D(10010), {XBT: 53000.0}),
    fill("f2", XBT, "buy", "0.1", "51000", 3 * H, fee="2.55"),
    fill("f3", XBT, "sell", "0.3", "52000", 4 * H, fee="3.90", cli="tp"),
    FundingPayment(XBT, 4 * H, D("0.25"), D("-0.0001")),  # on the exit: this trade
    # ETH: short 2, reversal buy 5 (closes 2, opens 3 long), liquidation sell 3
    fill("a", ETH, "sell", "2", "3000", 5 * H, fee="3"),
    fill("b", ETH, "buy", "5", "2900", 6 * H, fee="7.25", cli="x2"),
    FundingPayment(ETH, 6 * H, D("-1.1"), D("0.0001")),  # boundary of two trades: the earlier one
    FundingPayment(ETH, 7 * H, D("0.4"), D("-0.0001")),
    fill("c", ETH, "sell", "3", "2950", 8 * H, fee="4.425", fill_type=FillType.LIQUIDATION),
    fill("d", XBT, "buy", "1", "40000", 9 * H, fee="1"),  # still open
]


def _derived(conn: sqlite3.Connection):
    d = load_data(conn)
    return derive_trades(d.fills, intents=d.intents, strategies=d.strategies, funding=d.funding, marks=d.marks)


def _cache_rows(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM trade_cache").fetchone()[0]


def test_cached_trades_equal_derived_trades_including_reversal_and_funding(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, RECORDS)
    conn = open_db(path)
    expected = _derived(conn)
    assert len(expected.closed) == 3 and expected.closed[0].funding_usd == D("-0.5")
    assert any(t.exit_reason == "reverse" for t in expected.closed)
    first, open_first = tradecache.load_cached_trades(conn)  # stale: derives and stores
    assert _cache_rows(conn) == 3
    conn.execute("UPDATE trade_cache SET exit_reason = 'from-cache'")  # proves the next read uses the rows
    cached, open_symbols = tradecache.load_cached_trades(conn)
    assert first == expected.closed and open_first == open_symbols == [XBT]
    assert [t.exit_reason for t in cached] == ["from-cache"] * 3
    restored = [type(t)(**{**{f: getattr(t, f) for f in t.__slots__ if f not in ("net_pnl_usd", "net_pnl_coin")},
                           "exit_reason": e.exit_reason}) for t, e in zip(cached, expected.closed, strict=True)]
    assert restored == expected.closed  # every field, exact Decimals, MAE/MFE floats
    conn.close()


def test_new_fact_makes_the_cache_stale(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, RECORDS)
    conn = open_db(path)
    before, _ = tradecache.load_cached_trades(conn)
    inp = tradecache.load_summary_input(conn)
    assert inp.was_fresh and inp.stats is not None and inp.stats[0].trades == 3
    conn.close()
    # a funding payment journaled after the trade closed (on the ETH trade's open interval)
    write_journal(path, [FundingPayment(ETH, 5 * H + 1, D("-2"), D("0.0001"))])
    conn = open_db(path)
    inp = tradecache.load_summary_input(conn)
    assert not inp.was_fresh
    after, _ = tradecache.load_cached_trades(conn)
    assert after == _derived(conn).closed and after != before
    assert after[1].funding_usd == before[1].funding_usd - 2
    assert tradecache.load_summary_input(conn).was_fresh  # stored again
    conn.close()


def test_marks_only_do_not_make_the_summary_stale(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, RECORDS)
    conn = open_db(path)
    tradecache.load_summary_input(conn)
    conn.close()
    write_journal(path, [EquitySnapshot(10 * H, D(10020), {XBT: 41000.0})])
    conn = open_db(path)
    assert tradecache.load_summary_input(conn).was_fresh
    closed, _ = tradecache.load_cached_trades(conn)  # trades carry MAE/MFE: re-derived
    assert closed == _derived(conn).closed
    conn.close()


def test_migration_v2_to_v3_builds_the_cache(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO runs(run_id, started_ms, mode, config_hash, version, starting_equity_usd) "
                 "VALUES ('r0', 1, 'paper', 'h', '0', '1000')")
    for fid, side, price, ts in (("f1", "buy", "100", 5), ("f2", "sell", "110.5", 6), ("f3", "sell", "90", 7)):
        conn.execute("INSERT INTO fills(run_id, fill_id, order_id, symbol, side, size, price, ts_ms, fill_type, fee) "
                     "VALUES ('r0', ?, 'o', 'PF_XBTUSD', ?, '2', ?, ?, 'taker', '0.1')", (fid, side, price, ts))
    conn.close()
    conn = open_db(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert _cache_rows(conn) == 1  # built by the migration, before any reader asked
    inp = tradecache.load_summary_input(conn)
    assert inp.was_fresh and inp.open_symbols == ["PF_XBTUSD"]
    overall, _ = inp.summary()
    assert overall.trades == 1 and overall.net_pnl_usd == 20.8  # (110.5 - 100) x 2 - 0.2
    closed, _ = tradecache.load_cached_trades(conn)
    assert closed == _derived(conn).closed
    conn.close()


def test_stored_summary_equals_summary_computed_from_rows(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    write_journal(path, RECORDS)
    assert main(["journal", "--journal", str(path), "summary", "--json"]) == 0  # derives, stores
    assert main(["journal", "--journal", str(path), "summary", "--json"]) == 0  # stored summary
    assert main(["journal", "--journal", str(path), "summary", "--since", "1970-01-01", "--json"]) == 0  # rows
    derived, stored, from_rows = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert derived == stored == from_rows
    assert stored["trades"] == 3 and stored["open_positions"] == 1


_money = st.integers(-50_000, 50_000).map(lambda n: D(n) / 100)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_money, _money, st.integers(0, 4 * 86_400_000), st.integers(0, 3_000_000),
                          st.sampled_from(["long", "short"]), st.sampled_from(["A", "B"])), max_size=30),
       st.sampled_from([None, D(1000), D(250000)]))
def test_float_statistics_match_decimal_statistics(specs, start):
    trades = [trade(str(net), entry, entry + dur, side=side, symbol=sym, funding=str(funding))
              for net, funding, entry, dur, side, sym in specs]
    trades.sort(key=lambda t: (t.exit_ts_ms, t.entry_ts_ms))
    overall, groups = summarize_rows_with_breakdowns(tradecache.rows_of(trades), start)
    pairs = [(overall, summarize(trades, start))]
    exact_groups = breakdowns(trades, start)
    assert groups.keys() == exact_groups.keys()
    for g, per in groups.items():
        assert per.keys() == exact_groups[g].keys()
        pairs.extend((per[k], exact_groups[g][k]) for k in per)
    for fast, exact in pairs:
        for name in exact.__slots__:
            a, b = getattr(fast, name), getattr(exact, name)
            if b is None or a is None:
                assert a is None and b is None, name
            elif isinstance(b, int):
                assert a == b, name
            else:
                # totals are rounded to 1e-8 USD; the rest is float arithmetic
                assert abs(float(a) - float(b)) <= 1e-8 + 1e-9 * abs(float(b)), (name, a, b)
