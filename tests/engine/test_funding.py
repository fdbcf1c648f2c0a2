"""Hourly funding accrual (engine.funding) against hand-computed payments, both signs."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.engine.funding import MAX_HOURS_PER_STEP, FundingAccrual, HourlyFunding, funding_payment

H = 3_600_000
DAY0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
XBT, ETH = "PF_XBTUSD", "PF_ETHUSD"


def test_payment_signs():
    # 0.5 x 100000 x 0.0001 = 5 USD per hour: positive rate -> long pays, short receives
    assert funding_payment(D("0.5"), D("100000"), D("0.0001")) == D("-5")
    assert funding_payment(D("-0.5"), D("100000"), D("0.0001")) == D("5")
    # negative rate -> long receives, short pays
    assert funding_payment(D("0.5"), D("100000"), D("-0.0001")) == D("5")
    assert funding_payment(D("-0.5"), D("100000"), D("-0.0001")) == D("-5")
    assert funding_payment(D("2"), D("10"), D("0.001"), contract_size=D("10")) == D("-0.2")


def test_hourly_accrual_since_open_and_today():
    f = FundingAccrual()
    f.observe(XBT, 100_000.0, 0.0001, DAY0 + 10 * 60_000)
    assert f.set_position(XBT, D("0.5"), DAY0 + 15 * 60_000) == []
    assert f.advance(DAY0 + H - 1) == []
    # hour 1: long 0.5 x 100000 x 0.0001 -> pays 5
    assert f.advance(DAY0 + H) == [HourlyFunding(XBT, DAY0 + H, D("0.5"), D("100000"), D("0.0001"), D("-5"))]
    assert f.accrued(XBT) == D("-5")
    # hour 2: rate turned negative: -0.5 x 102000 x -0.00005 = +2.55 (the long receives)
    f.observe(XBT, 102_000.0, -0.00005, DAY0 + H + 5 * 60_000)
    [p] = f.advance(DAY0 + 2 * H + 1)
    assert p.amount_usd == D("2.55") and f.accrued(XBT) == D("-2.45")
    # reverse to short 0.2: a new position, accrued since open starts again
    f.set_position(XBT, D("-0.2"), DAY0 + 2 * H + 10 * 60_000)
    assert f.accrued(XBT) == 0
    f.observe(ETH, 3_000.0, 0.0002, DAY0 + 2 * H + 20 * 60_000)
    f.set_position(ETH, D("-2"), DAY0 + 2 * H + 20 * 60_000)
    # hour 3: XBT short 0.2 x 102000 x -0.00005 -> pays 1.02; ETH short 2 x 3000 x 0.0002 -> receives 1.2
    out = f.advance(DAY0 + 3 * H)
    assert [(p.symbol, p.amount_usd) for p in out] == [(XBT, D("-1.02")), (ETH, D("1.2"))]
    assert f.accrued(XBT) == D("-1.02") and f.accrued(ETH) == D("1.2")
    # today: -5 + 2.55 - 1.02 (XBT) and +1.2 (ETH)
    assert f.today(XBT, DAY0 + 3 * H) == D("-3.47") and f.today(ETH) == D("1.2")
    assert f.today_total(DAY0 + 3 * H) == D("-2.27")


def test_hour_paid_with_values_seen_before_it_ended():
    f = FundingAccrual()
    f.observe(XBT, 100.0, 0.01, DAY0 + 1)
    f.set_position(XBT, D("1"), DAY0 + 2)
    # the first ticker of the new hour brings a new rate; the ended hour is paid at the old one
    [p] = f.observe(XBT, 200.0, 0.05, DAY0 + H + 1)
    assert (p.price, p.funding_rate, p.amount_usd) == (D("100"), D("0.01"), D("-1"))
    [p] = f.advance(DAY0 + 2 * H)
    assert p.amount_usd == D("-10")  # 1 x 200 x 0.05


def test_utc_day_rollover():
    f = FundingAccrual()
    f.observe(XBT, 100.0, 0.01, DAY0 + 22 * H + 1)
    f.set_position(XBT, D("1"), DAY0 + 22 * H + 30 * 60_000)
    f.advance(DAY0 + 23 * H)  # -1 USD, booked on day 0
    assert f.today_total(DAY0 + 23 * H) == D("-1")
    f.advance(DAY0 + 24 * H)  # the 23:00-24:00 hour settles at 00:00 of day 1
    assert f.today_total(DAY0 + 24 * H) == D("-1") and f.accrued(XBT) == D("-2")
    assert f.today_total(DAY0 + 48 * H + 5) == 0  # a later day without payments


def test_resize_keeps_accrual_and_flat_drops_it():
    f = FundingAccrual()
    f.observe(XBT, 100.0, 0.01, DAY0)
    f.set_position(XBT, D("1"), DAY0)
    f.advance(DAY0 + H)  # -1
    f.set_position(XBT, D("3"), DAY0 + H + 1)
    [p] = f.advance(DAY0 + 2 * H)  # 3 x 100 x 0.01 = 3
    assert p.amount_usd == D("-3") and f.accrued(XBT) == D("-4")
    f.set_position(XBT, D("0"), DAY0 + 2 * H + 1)
    assert f.accrued(XBT) == 0 and f.advance(DAY0 + 5 * H) == []
    assert f.today_total() == D("-4")  # closed positions still count for the day


def test_missing_prices_zero_rate_and_long_gaps():
    f = FundingAccrual()
    f.set_position(XBT, D("1"), DAY0)
    assert f.advance(DAY0 + H) == [] and f.missing_price_hours == 1
    f.observe(XBT, 100.0, 0.0, DAY0 + H)
    assert f.advance(DAY0 + 2 * H) == []  # zero rate: nothing paid
    f.observe(XBT, None, 0.001, DAY0 + 2 * H)  # None keeps the mark
    out = f.advance(DAY0 + 2 * H + 800 * H)
    assert len(out) == MAX_HOURS_PER_STEP and f.hours_skipped == 800 - MAX_HOURS_PER_STEP
    assert out[0].amount_usd == D("-0.1")  # 1 x 100 x 0.001


@given(
    size=st.integers(1, 10**6).map(lambda n: D(n) / 10_000),
    price=st.integers(1, 10**7).map(lambda n: D(n) / 100),
    rate=st.integers(-10**5, 10**5).filter(bool).map(lambda n: D(n) / 10**8),
)
def test_sign_convention_property(size, price, rate):
    long, short = funding_payment(size, price, rate), funding_payment(-size, price, rate)
    assert long == -short
    assert (long < 0) == (rate > 0)  # longs pay exactly when the rate is positive
