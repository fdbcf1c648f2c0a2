"""MarketState (engine.market): quotes, basis, candles from trades and index, warm-up, views."""

from __future__ import annotations

import pytest

from kraken_tui.domain import Candle, PublicTrade, Side, Ticker
from kraken_tui.engine.facade import MarketStateView
from kraken_tui.engine.market import MarketState, SeriesCandle
from kraken_tui.engine.signals import MarketView
from kraken_tui.errors import ProtocolError

M = 60_000
XBT = "PF_XBTUSD"


def state(**kw):
    return MarketState([XBT, "PF_ETHUSD"], ["1m", "5m"], **kw)


def tick(ts, mark=100_500.0, index=100_000.0, **kw):
    return Ticker(XBT, ts_ms=ts, mark_price=mark, index_price=index, **kw)


def trade(ts, price, size=1.0, sym=XBT):
    return PublicTrade(sym, ts, price, size, Side.BUY)


def test_is_a_market_view():
    assert isinstance(state(), MarketView)


def test_ticker_fields_and_view():
    m = state()
    m.on_ticker(
        tick(1_000, last=100_400.0, bid=100_390.0, ask=100_410.0, funding_rate=1.2e-5,
             funding_rate_prediction=-3e-6, next_funding_ts_ms=3_600_000),
        now_ms=1_050,
    )
    # basis (100500 - 100000) / 100000 x 1e4 = 50 bps
    assert m.view(XBT) == MarketStateView(
        XBT, 100_500.0, 100_000.0, 100_400.0, 100_390.0, 100_410.0, 1.2e-5, -3e-6, 3_600_000, 50.0, 1_050
    )
    assert m.mark_price(XBT) == 100_500.0 and m.index_price(XBT) == 100_000.0
    assert m.funding_rate(XBT) == 1.2e-5 and m.last_update_ms(XBT) == 1_050


def test_partial_ticker_keeps_previous_values():
    m = state()
    m.on_ticker(tick(1_000, funding_rate=1e-5, bid=1.0))
    m.on_ticker(Ticker(XBT, ts_ms=2_000, mark_price=100_100.0))
    v = m.view(XBT)
    assert (v.mark_price, v.index_price, v.funding_rate, v.bid, v.last_update_ms) == (
        100_100.0, 100_000.0, 1e-5, 1.0, 2_000,
    )
    assert v.basis_bps == pytest.approx(10.0)  # (100100 - 100000) / 100000 x 1e4


def test_unknown_symbol_ignored_and_empty_view():
    m = state()
    assert m.on_ticker(Ticker("PF_SOLUSD", ts_ms=1, mark_price=1.0)) == []
    assert m.on_trade(trade(1, 1.0, sym="PF_SOLUSD")) == []
    assert m.ignored_updates == 2
    assert m.view("PF_SOLUSD") == MarketStateView("PF_SOLUSD")
    assert m.basis_bps(XBT) is None and m.candles("PF_SOLUSD", "1m") == ()


def test_trades_build_trade_candles_and_return_closes():
    m = state()
    assert m.on_trade(trade(0, 100.0, 1.0)) == []
    assert m.on_trade(trade(10_000, 103.0, 2.0)) == []
    assert m.on_trade(trade(50_000, 99.0, 0.5)) == []
    [c] = m.on_trade(trade(M + 1, 101.0))  # first trade of the next minute closes the 1m bar
    assert isinstance(c, SeriesCandle) and (c.symbol, c.series, c.timeframe) == (XBT, "trade", "1m")
    assert c.candle == Candle(0, 100.0, 103.0, 99.0, 99.0, 3.5)
    assert m.last_price(XBT) == 101.0
    closed = m.on_trade(trade(5 * M, 102.0))
    # 1m bars 1..4 close (bar 1 real, 2..4 flat fill), then the 5m bar 0 (close time 5m, longer after 1m)
    assert [(c.timeframe, c.candle.ts_ms, c.closed.filled) for c in closed] == [
        ("1m", M, False), ("1m", 2 * M, True), ("1m", 3 * M, True), ("1m", 4 * M, True), ("5m", 0, False),
    ]
    assert m.candles(XBT, "5m")[-1] == Candle(0, 100.0, 103.0, 99.0, 101.0, 4.5)


def test_index_builds_spot_candles_mark_optional():
    m = state(series=("trade", "spot", "mark"))
    m.on_ticker(tick(0, mark=10.0, index=9.0))
    m.on_ticker(tick(30_000, mark=12.0, index=8.0))
    closed = m.on_ticker(tick(M, mark=11.0, index=9.5))
    assert [(c.series, c.timeframe, c.candle) for c in closed] == [
        ("spot", "1m", Candle(0, 9.0, 9.0, 8.0, 8.0, 0.0)),
        ("mark", "1m", Candle(0, 10.0, 12.0, 10.0, 12.0, 0.0)),
    ]
    assert m.candles(XBT, "1m", "spot")[-1].close == 8.0
    assert len(m.candles(XBT, "1m", "trade")) == 0


def test_ticker_without_time_uses_now_or_skips_candles():
    m = state()
    m.on_ticker(Ticker(XBT, index_price=5.0))  # no time at all: prices only
    assert m.index_price(XBT) == 5.0 and m.builder(XBT, "spot").forming("1m") is None
    m.on_ticker(Ticker(XBT, index_price=6.0), now_ms=2 * M + 5)
    assert m.builder(XBT, "spot").forming("1m") == Candle(2 * M, 6.0, 6.0, 6.0, 6.0, 0.0)


def test_advance_closes_quiet_bars_for_all_series():
    m = state()
    m.on_trade(trade(0, 100.0))
    m.on_ticker(tick(0))
    closed = m.advance(M)
    assert sorted((c.series, c.timeframe) for c in closed) == [("spot", "1m"), ("trade", "1m")]
    assert m.advance(M) == []


def test_warm_up_then_live():
    m = state()
    hist = [Candle(i * M, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1.0) for i in range(3)]
    # the last candle (open 2m) has not ended at now = 2m + 30 s: it becomes the forming bar
    accepted = m.warm_up(XBT, "1m", hist, now_ms=2 * M + 30_000)
    assert accepted == hist[:2] and list(m.candles(XBT, "1m")) == hist[:2]
    [c] = [c for c in m.on_trade(trade(3 * M, 110.0)) if c.timeframe == "1m"]
    assert c.candle == hist[2]
    assert m.warm_up(XBT, "5m", [Candle(0, 1.0, 2.0, 0.5, 1.5)], series="spot") == [Candle(0, 1.0, 2.0, 0.5, 1.5)]
    with pytest.raises(ProtocolError):
        m.warm_up("PF_ETHUSD", "1m", [Candle(M, 1, 1, 1, 1), Candle(0, 1, 1, 1, 1)])
    with pytest.raises(KeyError):
        m.warm_up("PF_SOLUSD", "1m", hist)
    with pytest.raises(KeyError):
        m.warm_up(XBT, "1m", hist, series="mark")


def test_on_candle_for_backtests():
    m = state()
    closed = []
    for i in range(5):
        closed += m.on_candle(XBT, Candle(i * M, 1.0, 2.0, 0.5, 1.0 + i), "1m")
    assert [c.timeframe for c in closed] == ["1m"] * 5 + ["5m"]
    assert closed[-1].candle == Candle(0, 1.0, 2.0, 0.5, 5.0, 0.0) and m.last_price(XBT) == 5.0
    m.on_candle(XBT, Candle(0, 1.0, 1.0, 1.0, 7.0), "1m", series="spot")
    assert m.index_price(XBT) == 7.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        MarketState([XBT], ["7m"])
    with pytest.raises(ValueError):
        MarketState([XBT], ["1m"], series=("book",))


def test_the_charts_timeframes_are_built_for_the_trade_series_only():
    # the index ("spot") series feeds strategies only: it skips the chart's extra timeframes (a candle update each)
    m = MarketState(["PF_ETHUSD"], ["5m"], series=("trade", "spot"), trade_timeframes=("1m", "5m", "15m", "1h"))
    assert set(m.builder("PF_ETHUSD", "trade").timeframes) == {"1m", "5m", "15m", "1h"}
    assert m.builder("PF_ETHUSD", "spot").timeframes == ("5m",)
