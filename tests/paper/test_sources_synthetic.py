"""SyntheticSource: deterministic for a seed, realistic volatility, funding from premium, labelled."""

from __future__ import annotations

import math

import pytest

from kraken_tui.paper.sources.base import FundingEvent, MarketSource, MarketTick
from kraken_tui.paper.sources.synthetic import MAX_RELATIVE_FUNDING, ModelParams, SyntheticSource, params_for

H = 3_600_000


def _events(**kw):
    kw.setdefault("start_ms", 0)
    kw.setdefault("speed", None)
    return list(SyntheticSource(**kw).iter_events())


def test_same_seed_same_events_other_seed_differs():
    a = _events(symbols=["PF_XBTUSD", "PF_ETHUSD"], seed=7, end_ms=600_000)
    b = _events(symbols=["PF_XBTUSD", "PF_ETHUSD"], seed=7, end_ms=600_000)
    c = _events(symbols=["PF_XBTUSD", "PF_ETHUSD"], seed=8, end_ms=600_000)
    assert a == b and a != c
    # a symbol's path does not depend on which other symbols are simulated
    solo = [e for e in _events(symbols=["PF_XBTUSD"], seed=7, end_ms=600_000)]
    assert solo == [e for e in a if e.symbol == "PF_XBTUSD"]


def test_labelled_synthetic_and_shapes():
    src = SyntheticSource(["pf_xbtusd"], seed=1, start_ms=0, end_ms=10_000, speed=None)
    assert isinstance(src, MarketSource) and src.synthetic and src.name == "synthetic"
    assert src.symbols == ("PF_XBTUSD",)
    ticks = [e for e in src.iter_events() if isinstance(e, MarketTick)]
    assert [t.ts_ms for t in ticks] == list(range(0, 10_001, 1000))
    for t in ticks:
        assert t.bid < t.ask and t.index_price > 0
        # mark = index * (1 + premium), premium capped at 1 %
        assert abs(t.mark_price / t.index_price - 1) <= 0.01
        if t.trade_size is not None:
            assert t.last in (t.bid, t.ask)


def test_annualised_volatility_is_crypto_like():
    # 20 days of 1-minute steps; XBT target: sqrt(0.55^2 + 4*365*0.006^2) = 0.60
    p = params_for("PF_XBTUSD")
    assert (p.annual_vol, p.start_price) == (0.55, 100_000.0)
    ev = _events(symbols=["PF_XBTUSD"], seed=3, tick_ms=60_000, end_ms=20 * 24 * H)
    idx = [e.index_price for e in ev if isinstance(e, MarketTick)]
    r = [math.log(b / a) for a, b in zip(idx, idx[1:], strict=False)]
    ann = math.sqrt(sum(x * x for x in r) / len(r) * 365 * 24 * 60)
    assert 0.40 < ann < 0.85


def test_jumps_happen():
    calm = ModelParams(100.0, 0.0001, jumps_per_day=0.0)
    jumpy = ModelParams(100.0, 0.0001, jumps_per_day=2000.0, jump_sd=0.01)
    def biggest(params):
        ev = _events(symbols=["PF_X"], seed=1, tick_ms=60_000, end_ms=H, params={"PF_X": params})
        idx = [e.index_price for e in ev if isinstance(e, MarketTick)]
        return max(abs(math.log(b / a)) for a, b in zip(idx, idx[1:], strict=False))
    assert biggest(calm) < 1e-4 < 1e-3 < biggest(jumpy)


def test_hourly_funding_from_premium_clamped():
    ev = _events(symbols=["PF_XBTUSD"], seed=5, start_ms=H - 2000, end_ms=3 * H)
    fund = [e for e in ev if isinstance(e, FundingEvent)]
    assert [f.ts_ms for f in fund] == [H, 2 * H, 3 * H]
    assert all(abs(f.funding_rate) <= MAX_RELATIVE_FUNDING for f in fund)
    # rate = mean premium over the hour / 8: with premium within +-1 % it is within +-0.00125
    prem = [e.mark_price / e.index_price - 1 for e in ev if isinstance(e, MarketTick) and H <= e.ts_ms < 2 * H]
    assert fund[1].funding_rate == pytest.approx(sum(prem) / len(prem) / 8, rel=1e-9)
    # a premium pinned at the 1 % cap gives 0.01 / 8 = 0.00125 per hour
    pinned = ModelParams(100.0, 0.5, premium_mean=0.05, premium_sd=0.0)
    ev = _events(symbols=["PF_X"], seed=1, start_ms=0, end_ms=H, params={"PF_X": pinned})
    assert [f.funding_rate for f in ev if isinstance(f, FundingEvent)][-1] == pytest.approx(0.00125)


async def test_paced_real_time_with_fake_clock():
    now = [0.0]
    sleeps = []

    async def sleep(s):
        sleeps.append(s)
        now[0] += s

    src = SyntheticSource(["PF_ETHUSD"], seed=1, start_ms=1000, speed=1.0, clock=lambda: now[0], sleep=sleep)
    got = []
    async for e in src.events():
        got.append(e)
        if len(got) == 4:
            await src.close()
    assert len(got) == 4 and sleeps == [pytest.approx(1.0)] * 3  # one tick per second at 1x


def test_backfill_history_precedes_the_start_and_the_live_stream_continues_from_it():
    start = 10 * H
    src = SyntheticSource(["PF_XBTUSD", "PF_ETHUSD"], seed=3, start_ms=start, end_ms=start + 5_000, speed=None,
                          backfill_ms=2 * H, backfill_step_ms=10_000)
    hist = src.history()
    assert src.history() is hist  # computed once
    xbt = [t for t in hist if t.symbol == "PF_XBTUSD"]
    assert [t.ts_ms for t in xbt] == list(range(start - 2 * H, start, 10_000))
    assert all(t.last is not None and t.trade_size for t in hist)  # a trade at every history step
    assert [t.ts_ms for t in hist] == sorted(t.ts_ms for t in hist)
    stream = list(src.iter_events())
    live = [e for e in stream if isinstance(e, MarketTick) and e.symbol == "PF_XBTUSD"]
    assert live[0].ts_ms == start
    # continuity: the first live index is one 1 s step from the last history index, not the start price
    assert abs(live[0].index_price / xbt[-1].index_price - 1) < 0.01
    assert abs(xbt[0].index_price / params_for("PF_XBTUSD").start_price - 1) < 0.01
    # deterministic with the backfill
    again = SyntheticSource(["PF_XBTUSD", "PF_ETHUSD"], seed=3, start_ms=start, end_ms=start + 5_000, speed=None,
                            backfill_ms=2 * H, backfill_step_ms=10_000)
    assert again.history() == hist and list(again.iter_events()) == stream


def test_backfill_volatility_matches_the_live_model():
    src = SyntheticSource(["PF_XBTUSD"], seed=5, start_ms=400 * H, speed=None, backfill_ms=240 * H,
                          backfill_step_ms=60_000, params={"PF_XBTUSD": ModelParams(100_000.0, 0.55, jumps_per_day=0)})
    idx = [t.index_price for t in src.history()]
    rets = [math.log(b / a) for a, b in zip(idx, idx[1:], strict=False)]
    var = sum(r * r for r in rets) / len(rets)
    annual = math.sqrt(var * 365 * 1440)
    assert 0.45 < annual < 0.65, annual


def test_no_backfill_by_default_and_bad_backfill_rejected():
    assert SyntheticSource(["PF_XBTUSD"], start_ms=0).history() == []
    with pytest.raises(ValueError, match="backfill_ms"):
        SyntheticSource(["PF_XBTUSD"], backfill_ms=-1)


def test_paper_exchange_serves_the_backfill_as_candle_history():
    from kraken_tui.config import PaperConfig
    from kraken_tui.paper.exchange import PaperExchange

    start = 100 * H
    src = SyntheticSource(["PF_XBTUSD"], seed=2, start_ms=start, speed=None, backfill_ms=6 * H)
    ex = PaperExchange(PaperConfig(symbols=["PF_XBTUSD"]))
    assert ex.backfill_candles(src.history()) == len(src.history())
    assert ex.now_ms < start and not ex.markets["PF_XBTUSD"].mark  # no market or clock effect
    rows, more = ex.candles.query("trade", "PF_XBTUSD", "5m", None, None, 34)
    # a count-only request reads the newest bars, ending at the bar before the start
    assert len(rows) == 34 and more
    assert rows[-1][0] == start - 5 * 60_000 and rows[0][0] == start - 34 * 5 * 60_000
    first, _ = ex.candles.query("trade", "PF_XBTUSD", "5m", start - 6 * H, None, 2)
    assert first[0][0] == start - 6 * H  # with ``from``: the oldest, for paging
