"""queries.load_signal (one signal by its id) and the filters of queries.load_fills (symbol, time range)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.errors import JournalError
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_fills, load_signal
from kraken_tui.journal.records import RunStarted, SignalRecord

from .factory import fill, write_journal

T = 1_704_067_200_000
SIG = SignalRecord(T, "0123abcd-PF_XBTUSD-1704067200000", "PF_XBTUSD", "long", 0.75, "ema_cross", "fast above slow",
                   "entry sent", {"fast": 101.5, "slow": 100.0}, None)
REJ = SignalRecord(T + 60_000, "0123abcd-PF_ETHUSD-1704067260000", "PF_ETHUSD", "short", 0.5, "ema_cross", "cross",
                   "rejected", {}, "daily loss limit reached")


@pytest.fixture()
def conn(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, [
        RunStarted("0123abcd" * 4, T, "paper", "cfg", "test", Decimal(10_000)), SIG, REJ,
        fill("a", "PF_XBTUSD", "buy", "1", "100", T),
        fill("b", "PF_ETHUSD", "buy", "2", "10", T + 1_000),
        fill("c", "PF_XBTUSD", "sell", "1", "110", T + 2_000),
        fill("d", "PF_XBTUSD", "buy", "0.5", "105", T + 3_000),
    ])
    c = open_db(path, create=False)
    yield c
    c.close()


def test_load_signal_round_trips_the_record(conn):
    assert load_signal(conn, SIG.signal_id) == SIG
    got = load_signal(conn, REJ.signal_id)
    assert got is not None and got.rejection_reason == "daily loss limit reached" and got.features == {}
    assert load_signal(conn, "nope") is None


def test_load_signal_bad_features_names_the_row(conn):
    conn.execute("UPDATE signals SET features = '[1, 2]' WHERE signal_id = ?", (SIG.signal_id,))
    with pytest.raises(JournalError, match="table signals row"):
        load_signal(conn, SIG.signal_id)


def test_load_fills_filters_by_symbol_and_inclusive_time_range(conn):
    ids = lambda fs: [f.fill_id for f in fs]  # noqa: E731
    assert ids(load_fills(conn)) == ["a", "b", "c", "d"]
    assert ids(load_fills(conn, symbol="PF_XBTUSD")) == ["a", "c", "d"]
    assert ids(load_fills(conn, since_ms=T + 1_000, until_ms=T + 2_000)) == ["b", "c"]  # both ends included
    assert ids(load_fills(conn, symbol="PF_XBTUSD", since_ms=T + 1)) == ["c", "d"]
    assert ids(load_fills(conn, symbol="PF_XBTUSD", until_ms=T + 2_999)) == ["a", "c"]
    assert load_fills(conn, symbol="PF_SOLUSD") == []
    (d,) = load_fills(conn, since_ms=T + 3_000)
    assert (d.size, d.price) == (Decimal("0.5"), Decimal("105"))

