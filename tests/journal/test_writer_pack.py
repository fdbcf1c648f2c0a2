"""A queued record's statements are packed into bytes (journal.writer ``_pack``: nothing in the queue for the
garbage collector to walk) and come back exactly, in order; what marshal cannot carry exactly stays as it was."""

from __future__ import annotations

import enum
import gc

from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.journal import writer as writer_mod
from kraken_tui.journal.encode import encode
from kraken_tui.journal.records import OperatorAction, RunStarted
from tests.journal.factory import fill

_param = (st.none() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary() | st.booleans())
_stmt = st.tuples(st.sampled_from(["INSERT INTO a VALUES (?)", "INSERT INTO b VALUES (?,?)", "UPDATE c SET x=?"]),
                  st.tuples(*[_param] * 3) | st.tuples(_param))


@given(st.lists(st.lists(_stmt, min_size=1, max_size=4), max_size=6))
def test_packed_records_unpack_to_the_same_statements_in_order(records):
    packed = [writer_mod._pack(r) for r in records]
    out = writer_mod._unpack(packed)
    assert out == [s for r in records for s in r]
    for got, want in zip(out, [s for r in records for s in r], strict=True):
        assert [type(v) for v in got[1]] == [type(v) for v in want[1]]  # True stays a bool, 1 an int


def test_a_packed_record_is_untracked_bytes_and_an_enum_parameter_keeps_the_tuple():
    class Kind(enum.StrEnum):
        A = "a"

    stmts = encode(fill("f1", "PF_XBTUSD", "buy", "1", "100", 1), "run") + encode(
        OperatorAction(1, "pause", "test", "key"), "run")
    packed = writer_mod._pack(stmts)
    assert isinstance(packed, bytes) and not gc.is_tracked(packed)
    assert writer_mod._unpack([packed]) == stmts
    odd = [("INSERT INTO a VALUES (?)", (Kind.A,))]
    kept = writer_mod._pack(odd)
    assert kept == tuple(odd) and writer_mod._unpack([kept])[0][1][0] is Kind.A
    assert writer_mod._unpack([writer_mod._pack(encode(RunStarted("r", 1, "paper", "h", "v"), None))])[0][1][0] == "r"


async def test_records_behind_a_backlog_are_packed_and_a_short_queue_keeps_them_as_statements(tmp_path):
    """The first ``_PACK_FROM`` queued records stay statements (an intent taken at once by the priority lane
    skips packing); from there on each record is packed; all of them commit, in order."""
    from kraken_tui.journal.db import open_db
    from kraken_tui.journal.queries import load_fills
    from kraken_tui.journal.writer import JournalWriter

    w = JournalWriter(tmp_path / "j.sqlite", linger_s=0)
    await w.start()
    w.write_nowait(RunStarted("r", 1, "paper", "h", "v"))
    n = writer_mod._PACK_FROM + 5
    for i in range(n):
        w.write_nowait(fill(f"f{i}", "PF_XBTUSD", "buy", "1", "100", i))
    queued = list(w._queue._queue)  # type: ignore[attr-defined]  # nothing taken yet: no await since
    kinds = [type(item) for item in queued]
    assert kinds == [tuple] * writer_mod._PACK_FROM + [bytes] * (n + 1 - writer_mod._PACK_FROM)
    await w.commit_now()
    await w.close()
    conn = open_db(tmp_path / "j.sqlite", create=False)
    try:
        assert [f.fill_id for f in load_fills(conn)] == [f"f{i}" for i in range(n)]
    finally:
        conn.close()
