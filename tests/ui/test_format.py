"""Console number formatting: hand-computed expectations."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.ui import format as fmt


def test_money_and_signed_money():
    assert fmt.money(Decimal("12345.678")) == "12,345.68"
    assert fmt.signed_money(Decimal("12.3")) == "+12.30"
    assert fmt.signed_money(-4) == "-4.00"
    assert fmt.signed_money(Decimal("0.001")) == "0.00"  # rounds to zero: no sign
    assert fmt.money(None) == fmt.signed_money(None) == "-"


def test_price_keeps_decimal_digits_and_sizes_are_exact():
    assert fmt.price(Decimal("3400.50")) == "3,400.50"
    assert fmt.price(62950.0) == "62,950.00"
    assert fmt.price(1.23456) == "1.2346"
    assert fmt.size(Decimal("-1.200")) == "1.2"
    assert fmt.size(Decimal("100")) == "100"


def test_funding_rates_per_hour_and_annualised():
    # 0.00125 % per hour x 24 x 365 = 10.95 % a year
    assert fmt.rate_pct(0.0000125) == "+0.0013%"
    assert fmt.annualised_pct(0.00001) == "+8.8%"  # 0.001 % x 8760 h = 8.76 %
    assert fmt.annualised_pct(-0.0000310) == "-27.2%"  # 0.00310 % x 8760 = 27.156 %


def test_arrows_countdowns_ages_and_bars():
    assert (fmt.arrow(1), fmt.arrow(-0.5), fmt.arrow(0), fmt.arrow(None)) == ("▲", "▼", "·", "·")
    assert fmt.countdown(1800) == "30:00"
    assert fmt.countdown(3725) == "1:02:05"
    assert fmt.countdown(-1) == "now"
    assert fmt.age(0.44) == "0.4s" and fmt.age(12.9) == "12s" and fmt.age(185) == "3m05s"
    assert fmt.bar(0.125, 8) == "████░░░░"  # half of the 25 % full scale
    assert fmt.bar(0.5, 4) == "████" and fmt.bar(-0.1, 4) == "░░░░" and fmt.bar(None, 3) == "---"


def test_utc_times():
    assert fmt.hhmmss_utc(1_719_835_200_000) == "12:00:00"
    assert fmt.ymd_hms_utc(1_719_835_200_000) == "2024-07-01 12:00"
    assert fmt.pct(0.0183, 2) == "1.83%" and fmt.pct(0.006, 2, True) == "+0.60%"


def test_reference_prices_show_the_cents_a_tick_would_hide():
    # a mark of 3,432.23 on a 0.1 tick: the tick's one decimal would show 3,432.2 and hide 3 cents of uPnL
    assert fmt.reference_price(3432.23, 1) == "3,432.23"
    assert fmt.reference_price(3432.2, 1) == "3,432.2"  # the whole value: no padding beyond the tick
    assert fmt.reference_price(3432.0, 1) == "3,432.0"  # at least the tick's decimals
    assert fmt.reference_price(62950.0, 0) == "62,950"
    assert fmt.reference_price(3432.23456, 1) == "3,432.235"  # capped at the tick's decimals + 2
    assert fmt.reference_price(Decimal("3432.230"), 1) == "3,432.23"
    assert fmt.reference_price(None, 1) == "-"
    assert fmt.reference_price(3432.23) == fmt.price(3432.23)  # no tick known: the general rule


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**10), st.integers(min_value=0, max_value=4), st.integers(0, 2))
def test_a_reference_price_within_the_cap_is_shown_exactly(units, tick_decimals, extra):
    # any price with at most tick + 2 decimals reads back exactly from the screen (uPnL can be recomputed)
    places = tick_decimals + extra
    exact = Decimal(units).scaleb(-places)
    shown = fmt.reference_price(float(exact), tick_decimals)
    assert Decimal(shown.replace(",", "")) == exact
    assert (len(shown.partition(".")[2]) if "." in shown else 0) >= tick_decimals
