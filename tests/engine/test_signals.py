"""Signal validation, basis guard arithmetic, BuilderMarketView."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.signals import (
    BuilderMarketView,
    MarketView,
    Signal,
    SignalSide,
    basis_bps,
    basis_guard,
)


def test_signal_validates_confidence_and_side():
    s = Signal("PF_XBTUSD", "long", 0.5, "why")  # type: ignore[arg-type]
    assert s.side is SignalSide.LONG and s.side.sign == 1 and SignalSide.FLAT.sign == 0
    for bad in (-0.01, 1.01, math.nan, True):
        with pytest.raises(ValueError, match="confidence"):
            Signal("PF_XBTUSD", SignalSide.SHORT, bad, "x")
    with pytest.raises(ValueError, match="symbol"):
        Signal("", SignalSide.SHORT, 0.5, "x")
    with pytest.raises(ValueError, match="features"):
        Signal("X", SignalSide.SHORT, 0.5, "x", {"a": math.inf})


def test_basis_guard_hand_examples():
    # (100 500 - 100 000) / 100 000 = 0.005 = 50 bps
    assert basis_bps(100_500.0, 100_000.0) == pytest.approx(50.0)
    assert basis_guard(100_500.0, 100_000.0, 50.0) is None  # exactly at the limit: allowed
    reason = basis_guard(100_500.0, 100_000.0, 40.0)
    assert reason == "basis 50.0 bps exceeds max 40.0 bps (mark 100500, index 100000)"
    # discount: (99 000 - 100 000) / 100 000 = -100 bps, |.| > 50
    assert "basis -100.0 bps exceeds" in basis_guard(99_000.0, 100_000.0, 50.0)
    assert basis_guard(None, 100_000.0, 50.0).startswith("basis unknown")
    assert basis_guard(100.0, 0.0, 50.0).startswith("basis unknown")
    with pytest.raises(ValueError):
        basis_bps(1.0, 0.0)


@given(st.floats(1, 1e6), st.floats(1, 1e6), st.floats(0, 1000))
def test_basis_guard_agrees_with_formula(mark, index, max_bps):
    blocked = basis_guard(mark, index, max_bps) is not None
    assert blocked == (abs(mark - index) / index * 10_000 > max_bps)


def test_builder_market_view():
    v = BuilderMarketView()
    b = CandleBuilder("PF_XBTUSD", ["1m"])
    v.add_builder(b)
    b.add_trade(0, 100.0)
    b.add_trade(60_000, 101.0)
    v.set_prices("PF_XBTUSD", mark=101.0, index=100.5)
    assert isinstance(v, MarketView)
    assert [c.close for c in v.candles("PF_XBTUSD", "1m")] == [100.0]
    assert v.candles("PF_XBTUSD", "5m") == () and v.candles("PF_XBTUSD", "1m", "spot") == ()
    assert (v.mark_price("PF_XBTUSD"), v.index_price("PF_XBTUSD"), v.mark_price("PF_ETHUSD")) == (
        101.0,
        100.5,
        None,
    )
