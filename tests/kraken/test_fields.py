"""Strict wire-field readers: numbers as JSON numbers or strings, timestamps ISO or epoch ms."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.fields import (
    get_bool,
    get_decimal,
    get_float,
    get_int,
    get_str,
    get_ts_ms,
    parse_ts_ms,
)

SRC = "/derivatives/api/v3/tickers"


def test_numbers_as_strings_or_numbers():
    assert get_float({"p": "0.09624183255"}, "p", SRC) == pytest.approx(0.09624183255)
    assert get_decimal({"p": 68.54}, "p", SRC) == Decimal("68.54")
    assert get_decimal({"p": "23062948.000000000000000"}, "p", SRC) == Decimal("23062948")


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity", "abc", True, [], {}])
def test_bad_numbers_name_source_and_field(bad):
    with pytest.raises(ProtocolError) as info:
        get_float({"markPrice": bad}, "markPrice", SRC)
    assert info.value.field == "markPrice" and SRC in str(info.value)


def test_sign_checks():
    with pytest.raises(ProtocolError, match="> 0"):
        get_decimal({"size": "-1"}, "size", SRC, positive=True)
    with pytest.raises(ProtocolError, match=">= 0"):
        get_float({"size": -0.5}, "size", SRC, nonneg=True)


def test_missing_required_and_optional():
    with pytest.raises(ProtocolError, match="missing"):
        get_str({}, "symbol", SRC)
    assert get_str({"symbol": None}, "symbol", SRC, required=False) is None


def test_timestamps():
    assert parse_ts_ms("2016-02-25T09:45:53.818Z") == 1456393553818
    assert parse_ts_ms("2025-10-21T08:42:03.057503Z") == 1761036123057  # microseconds truncated to ms
    assert parse_ts_ms("1769618176659") == 1769618176659  # history API: epoch-ms string
    assert get_ts_ms({"time": 1612269657781}, "time", SRC) == 1612269657781
    with pytest.raises(ProtocolError):
        get_ts_ms({"time": "yesterday"}, "time", SRC)


def _reference_ms(dt: datetime) -> int:
    """Epoch ms by the calendar module: whole seconds of the UTC time tuple, microseconds truncated."""
    return calendar.timegm(dt.utctimetuple()) * 1000 + dt.microsecond // 1000


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
       st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", ""]), st.sampled_from(["ms", "us", "s"]), st.booleans())
def test_iso_timestamps_match_the_calendar_formula(naive, suffix, precision, pad):
    """Every ISO form Kraken sends (ms or µs, ``Z`` or an offset; none = UTC) -> the same ms as the formula."""
    text = naive.isoformat(timespec={"ms": "milliseconds", "us": "microseconds", "s": "seconds"}[precision]) + suffix
    tz = UTC if suffix in ("Z", "") else datetime.strptime(suffix, "%z").tzinfo
    truncated = naive if precision == "us" else naive.replace(microsecond=naive.microsecond // 1000 * 1000 if
                                                              precision == "ms" else 0)
    expected = _reference_ms(truncated.replace(tzinfo=tz))
    assert parse_ts_ms(f" {text} " if pad else text) == expected
    assert parse_ts_ms(text) == expected  # a second read (from the cache) gives the same


def test_missing_optional_fields_read_as_none_and_required_ones_raise():
    for reader in (get_float, get_decimal, get_int, get_str, get_bool, get_ts_ms):
        assert reader({}, "f", SRC, required=False) is None
        assert reader({"f": None}, "f", SRC, required=False) is None
        with pytest.raises(ProtocolError, match="missing"):
            reader({"f": None}, "f", SRC)
    assert get_bool({"f": False}, "f", SRC) is False
    with pytest.raises(ProtocolError, match="boolean"):
        get_bool({"f": 1}, "f", SRC, required=False)


def test_bools_and_ints():
    assert get_bool({"reduceOnly": "true"}, "reduceOnly", SRC) is True
    assert get_int({"seq": 326072249.0}, "seq", SRC) == 326072249
    with pytest.raises(ProtocolError):
        get_int({"seq": 1.5}, "seq", SRC)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)


@given(_json)
def test_readers_never_raise_anything_but_protocol_error(value):
    obj = {"f": value}
    for reader in (get_float, get_decimal, get_int, get_str, get_bool, get_ts_ms):
        try:
            reader(obj, "f", SRC)
        except ProtocolError as exc:
            assert exc.field == "f"
