"""engine.fill_origin: which fills are ours, which are the account's history, which are booked.

Pure rules, on hand-made fills (times UTC ms): ``OurOrders.match`` (by cliOrdId, by order id with the
cliOrdId filled in, never a foreign cliOrdId), ``split_snapshot`` (WS fills snapshot, spec §7.9) and
``split_rest`` (REST fills of a reconciliation pass, spec §4.9, and the history boundary of a fresh journal).
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.engine.fill_origin import OurOrders, our_orders, split_rest, split_snapshot

OURS = OurOrders({"kt-a-entry": "entry", "kt-b-stop": "stop"}, {"oid-b": "kt-b-stop"})


def fill(fid: str, ts: int, *, oid: str = "oid-x", cli: str | None = None) -> Fill:
    return Fill(fid, oid, "PF_XBTUSD", Side.BUY, Decimal("0.01"), Decimal(50_000), ts, FillType.TAKER, cli)


def _new(seen: set[str]):
    return lambda fid: fid not in seen


def test_match_by_cli_or_by_order_id_restores_the_cli():
    assert OURS.match(fill("f1", 1, cli="kt-a-entry")) == fill("f1", 1, cli="kt-a-entry")
    assert OURS.match(fill("f2", 1, oid="oid-b")) == fill("f2", 1, oid="oid-b", cli="kt-b-stop")
    assert OURS.match(fill("f3", 1, oid="oid-b", cli="manual-1")) is None  # the ids disagree: not ours
    assert OURS.match(fill("f4", 1, cli="kt-someone-else")) is None  # our prefix alone is not enough
    assert OURS.match(fill("f5", 1)) is None


def test_add_keeps_a_known_purpose():
    o = OurOrders({"kt-a-entry": "entry"})
    o.add("kt-a-entry", order_id="oid-a")
    o.add("kt-c-tp1", purpose="tp1")
    assert o.purposes == {"kt-a-entry": "entry", "kt-c-tp1": "tp1"}
    assert o.cli_of == {"oid-a": "kt-a-entry"}


def test_snapshot_books_ours_and_new_fills_keeps_history_and_defers_unknown_owners():
    fills = [
        fill("journaled", 50, cli="kt-a-entry"),       # already in the journal: nothing
        fill("old-manual", 90, cli="manual-1"),        # before the boundary: history
        fill("old-ours", 80, oid="oid-b"),             # ours, even before the boundary: booked
        fill("new-manual", 120, cli="manual-2"),       # after the boundary, foreign cliOrdId: booked
        fill("new-unknown", 110),                      # after the boundary, owner unknown: left for REST
        fill("new-ours", 100, cli="kt-a-entry"),
    ]
    split = split_snapshot(fills, is_new=_new({"journaled"}), ours=OURS.match, history_ms=100)
    assert [f.fill_id for f in split.book] == ["old-ours", "new-ours", "new-manual"]  # time order
    assert split.book[0].cli_ord_id == "kt-b-stop"
    assert split.history == ("old-manual",)
    assert split.undecided == ("new-unknown",)


def test_snapshot_before_any_boundary_books_only_ours():
    fills = [fill("m", 5, cli="manual-1"), fill("u", 6), fill("o", 7, cli="kt-a-entry")]
    split = split_snapshot(fills, is_new=_new(set()), ours=OURS.match, history_ms=None)
    assert [f.fill_id for f in split.book] == ["o"]
    assert split.history == () and split.undecided == ("m", "u")


def test_rest_with_journal_fills_uses_the_last_journaled_fill_as_boundary():
    fills = [fill("j", 100, cli="kt-a-entry"), fill("old-foreign", 90, cli="manual-1"),
             fill("old-ours", 95, oid="oid-b"), fill("new-foreign", 101, cli="manual-2"), fill("same-ms", 100)]
    split = split_rest(fills, is_new=_new({"j"}), ours=OURS.match, history_ms=None, journal_last_ms=100)
    assert split.history_ms == 100
    assert [f.fill_id for f in split.book] == ["old-ours", "same-ms", "new-foreign"]
    assert split.history == ()  # older foreign fills are simply not booked (the journal never had them)


def test_rest_fresh_journal_without_fills_of_ours_is_all_history():
    fills = [fill("a", 10, cli="manual-1"), fill("b", 30, cli="kt-someone-else"), fill("c", 20)]
    split = split_rest(fills, is_new=_new(set()), ours=OURS.match, history_ms=None, journal_last_ms=None)
    assert split.book == () and set(split.history) == {"a", "b", "c"} and split.history_ms == 30
    empty = split_rest([], is_new=_new(set()), ours=OURS.match, history_ms=None, journal_last_ms=None)
    assert empty.history_ms == 0  # an account without fills: every later fill is new


def test_rest_fresh_journal_with_a_fill_of_ours_books_it_and_what_followed():
    fills = [fill("before", 10, cli="manual-1"), fill("ours", 20, cli="kt-a-entry"),
             fill("after", 30, cli="manual-2")]
    split = split_rest(fills, is_new=_new(set()), ours=OURS.match, history_ms=None, journal_last_ms=None)
    assert split.history_ms == 20 and split.history == ("before",)
    assert [f.fill_id for f in split.book] == ["ours", "after"]


def test_rest_after_the_boundary_is_fixed_books_only_new_fills():
    fills = [fill("seen", 40), fill("old", 10, cli="manual-1"), fill("late", 45), fill("mine-old", 5, oid="oid-b")]
    split = split_rest(fills, is_new=_new({"seen"}), ours=OURS.match, history_ms=30, journal_last_ms=60)
    assert split.history_ms == 30 and split.history == ()
    assert [f.fill_id for f in split.book] == ["mine-old", "late"]


def test_our_orders_of_a_missing_journal_is_empty(tmp_path):
    assert our_orders(str(tmp_path / "nothing.sqlite")) == OurOrders()
    assert our_orders(None) == OurOrders()
