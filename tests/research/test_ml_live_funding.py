"""The ``ml`` source's funding features live: the runtime gives it the rates the feed's tickers said for each hour
(``MarketState.funding_rate_at``), and they are the numbers the backtest reads from the funding file
(``FundingSchedule.known_rate``). A headless replay against the paper exchange over loopback, with the funding file,
gives finite funding features, equal to the backtest's at the same bars.

Data: ``kraken/pf_xbtusd_5m_2025-08.csv`` (500 bars, 2025-08-29 to 2025-08-30) and the hourly funding file
``kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv`` (PI_XBTUSD's rates, applied to PF_XBTUSD).
Source: kraken_tui/engine/strategies/ml_features.py (funding features), Kraken Futures docs WS "ticker"
(``relative_funding_rate``: the current hour's rate).
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3

import pytest

pytest.importorskip("sklearn")
from threadpoolctl import threadpool_limits  # noqa: E402 - comes with scikit-learn

from kraken_tui.backtest.data import FundingSchedule, open_candles  # noqa: E402
from kraken_tui.cli import main  # noqa: E402
from kraken_tui.domain import Candle, Ticker  # noqa: E402
from kraken_tui.domain.timeunits import HOUR_MS  # noqa: E402
from kraken_tui.engine.market import MarketState  # noqa: E402
from kraken_tui.engine.strategies.ml_features import FeatureBuilder  # noqa: E402
from tests.backtest._util import FUNDING, PF_5M, settings_for  # noqa: E402

SYMBOL = "PF_XBTUSD"


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _same(a: list[float], b: list[float]) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


def test_ticker_rates_give_the_backtest_feature_rows(shared_data):
    """Candles and the funding file -> the backtest's rows; the same candles with tickers saying each hour's rate
    (what the paper exchange's ticker says: ``funding_rate_for`` the current hour) -> the live rows. Equal, and
    the funding features are finite once two hours of tickers were seen."""
    sched = FundingSchedule.from_csv(shared_data(FUNDING), SYMBOL)
    stream = open_candles(shared_data(PF_5M), symbol=SYMBOL)
    market = MarketState([SYMBOL], ["5m"])
    live, back = FeatureBuilder(stream.bar_ms), FeatureBuilder(stream.bar_ms)
    finite = rows = 0
    start_ms: int | None = None
    for r in stream.rows:
        c = Candle(int(r[0]), *r[1:])
        start_ms = c.ts_ms if start_ms is None else start_ms
        for ts in range(c.ts_ms, c.ts_ms + stream.bar_ms, 60_000):  # a ticker a minute during the bar
            market.on_ticker(Ticker(SYMBOL, ts_ms=ts, mark_price=c.close,
                                    funding_rate=sched.rate_for(ts - ts % HOUR_MS)))
        a = live.update(c, lambda h: market.funding_rate_at(SYMBOL, h))
        b = back.update(c, sched.known_rate)
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        rows += 1
        if c.ts_ms + stream.bar_ms >= start_ms - start_ms % HOUR_MS + 2 * HOUR_MS:  # two whole hours of tickers
            assert _same(a, b), (c.ts_ms, a[-3:], b[-3:])
            finite += all(math.isfinite(v) for v in a)
    assert rows > 400 and finite > 400


def test_funding_rate_at_is_the_last_rate_of_each_hour_and_keeps_48_hours():
    m = MarketState([SYMBOL], ["5m"])
    m.on_ticker(Ticker(SYMBOL, ts_ms=HOUR_MS + 1, funding_rate=1e-5))
    m.on_ticker(Ticker(SYMBOL, ts_ms=2 * HOUR_MS - 1, funding_rate=2e-5))
    m.on_ticker(Ticker(SYMBOL, ts_ms=2 * HOUR_MS, funding_rate=3e-5))
    m.on_ticker(Ticker(SYMBOL, ts_ms=2 * HOUR_MS + 5, funding_rate=None))  # no funding fields: keeps the rate
    assert m.funding_rate_at(SYMBOL, HOUR_MS) == 2e-5 and m.funding_rate_at(SYMBOL, 2 * HOUR_MS) == 3e-5
    assert m.funding_rate_at(SYMBOL, 0) is None and m.funding_rate_at("PF_ETHUSD", HOUR_MS) is None
    for h in range(3, 60):
        m.on_ticker(Ticker(SYMBOL, ts_ms=h * HOUR_MS, funding_rate=h * 1e-6))
    assert m.funding_rate_at(SYMBOL, 59 * HOUR_MS) == 59e-6 and m.funding_rate_at(SYMBOL, 12 * HOUR_MS) == 12e-6
    assert m.funding_rate_at(SYMBOL, 11 * HOUR_MS) is None  # 48 hours kept


async def _replay(cfg, csv, funding, journal):
    from kraken_tui.runtime import RunOptions, build_runtime

    rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@{SYMBOL}"], funding=str(funding), speed=None,
                                             exit_at_end=True, journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=180)
        source = rt.engine.strategy.funding_source
    finally:
        await rt.aclose()
    return code, source


def test_paper_replay_gives_the_ml_source_finite_funding_features_equal_to_the_backtest(shared_data, tmp_path,
                                                                                       capsys):
    """train --funding -> a headless replay of the same candles and funding file through the paper exchange:
    every signal after the first two hours has finite funding features, the same as the backtest's at that bar."""
    from kraken_tui.backtest.runner import Backtest
    from kraken_tui.config import Config

    csv, funding, model = shared_data(PF_5M), shared_data(FUNDING), tmp_path / "m.pkl"
    assert main(["train", "--candles", str(csv), "--symbol", SYMBOL, "--out", str(model), "--horizon", "6",
                 "--embargo", "6", "--max-iter", "20", "--funding", str(funding), "--json"]) == 0
    capsys.readouterr()
    params = {"model_path": str(model), "min_confidence": 0.0}
    cfg = Config.model_validate({"strategy": {"name": "ml", "symbols": [SYMBOL], "timeframe": "5m",
                                              "params": params}, "operator": {"stale_data_s": 60}})
    journal = tmp_path / "journal.sqlite"
    code, source = asyncio.run(_replay(cfg, csv, funding, journal))
    assert code == 0 and source == "the feed's ticker funding rates"
    with sqlite3.connect(journal) as db:
        live = {ts: json.loads(f) for ts, f in db.execute("SELECT ts_ms, features FROM signals WHERE strategy = 'ml'")}
    settings, rows = settings_for(csv, "ml", params, funding=FundingSchedule.from_csv(funding, SYMBOL))
    records: list = []
    bt = Backtest(settings, sink=records.append)
    bt.run(rows)
    bt.finish()
    back = {r.ts_ms: r.features for r in records if type(r).__name__ == "SignalRecord"}
    first = min(back) - min(back) % HOUR_MS + 2 * HOUR_MS
    compared = [ts for ts in live if ts >= first and ts in back]
    assert len(compared) > 100, (len(live), len(back))
    for ts in compared:
        f = live[ts]
        assert f["funding_fed"] == 1.0 and math.isfinite(f["funding_rate_bps"]) and "funding_change_bps" in f
        for k in ("funding_rate_bps", "funding_change_bps", "minutes_to_funding"):
            assert f[k] == back[ts][k], (ts, k, f[k], back[ts][k])
    # the whole feature row is the same: the model says the same at every bar, live and in the backtest
    assert set(live) == set(back)
    assert all(live[ts]["p_up"] == back[ts]["p_up"] and live[ts]["expected_move_bps"] == back[ts]["expected_move_bps"]
               for ts in compared)


def test_seeded_hours_fill_what_no_ticker_said_and_keep_48():
    m = MarketState([SYMBOL], ["5m"])
    m.on_ticker(Ticker(SYMBOL, ts_ms=100 * HOUR_MS + 5, funding_rate=7e-5))
    added = m.seed_funding(SYMBOL, [(h * HOUR_MS, h * 1e-6) for h in range(40, 101)])
    assert m.funding_rate_at(SYMBOL, 100 * HOUR_MS) == 7e-5  # the ticker's rate wins
    assert m.funding_rate_at(SYMBOL, 99 * HOUR_MS) == 99e-6 and m.funding_rate_at(SYMBOL, 53 * HOUR_MS) == 53e-6
    assert m.funding_rate_at(SYMBOL, 52 * HOUR_MS) is None and added == 47  # 48 hours kept in all
    assert m.seed_funding("PF_ETHUSD", [(0, 1e-5)]) == 0


def test_a_paper_run_with_a_model_reads_the_funding_history_at_start(shared_data, tmp_path, capsys):
    """The synthetic paper market announces a month of past hourly rates (``historicalfundingrates``): a run
    whose ml source reads funding has the two hours before its start, so its first bars' features are known."""
    import time

    from kraken_tui.config import Config
    from kraken_tui.runtime import RunOptions, build_runtime

    model = tmp_path / "m.pkl"
    assert main(["train", "--candles", str(shared_data(PF_5M)), "--symbol", SYMBOL, "--out", str(model),
                 "--horizon", "6", "--embargo", "6", "--max-iter", "5"]) == 0
    capsys.readouterr()

    async def run(params):
        cfg = Config.model_validate({"strategy": {"name": "ensemble", "symbols": [SYMBOL], "timeframe": "5m",
                                                  "params": params}})
        rt = await build_runtime(cfg, RunOptions(journal=tmp_path / f"j{len(params)}.sqlite"))
        await rt.start()
        try:
            now = int(time.time() * 1000)
            top = now - now % HOUR_MS
            return [rt.engine.market.funding_rate_at(SYMBOL, top - k * HOUR_MS) for k in (1, 2)]
        finally:
            await rt.aclose()

    seen = asyncio.run(run({"ml": {"model_path": str(model)}}))
    assert all(r is not None and math.isfinite(r) for r in seen), seen
    assert asyncio.run(run({})) == [None, None]  # no model reads funding: no history is read
