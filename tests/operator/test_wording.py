"""Operator wording: counts read in the right number ("1 position closed", "2 orders cancelled")."""

from __future__ import annotations

from kraken_tui.control.views import format_report
from kraken_tui.wording import counted


def test_counted_singular_plural_zero_and_irregular():
    assert counted(1, "position") == "1 position"
    assert counted(2, "order") == "2 orders"
    assert counted(0, "fill") == "0 fills"
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(3, "entry", "entries") == "3 entries"


def test_flatten_report_text_pluralises():
    one = {"flat": True, "rounds": 1, "requests": 1, "cancelled_orders": 1, "closed": [], "elapsed_ms": 5.0,
           "error": None}
    text = format_report(one)
    assert "cancelled 1 order;" in text and "1 round, 1 REST call, 5 ms" in text
    many = dict(one, rounds=2, requests=4, cancelled_orders=3)
    text = format_report(many)
    assert "cancelled 3 orders;" in text and "2 rounds, 4 REST calls" in text
