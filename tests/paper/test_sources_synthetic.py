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
