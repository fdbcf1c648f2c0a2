"""Strategies on hand-made candle series with known answers, on real data, and registry validation."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from kraken_tui.config import StrategyConfig
from kraken_tui.domain import Candle
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.indicators import EMA
from kraken_tui.engine.signals import BuilderMarketView, SignalSide, Strategy
from kraken_tui.engine.strategies import STRATEGIES, build_strategy, strategy_defaults
from kraken_tui.errors import ConfigError

from ._data import ETH_5M, PF_1H, PF_1M, read_candles

M = 60_000
VIEW = BuilderMarketView()


def bars(closes, *, spread=0.0):
    """1m candles with the given closes (open = previous close, high/low = max/min +/- spread)."""
    out, prev = [], closes[0]
    for i, c in enumerate(closes):
        out.append(Candle(i * M, prev, max(prev, c) + spread, min(prev, c) - spread, c, 1.0))
        prev = c
    return out


def run(strategy, candles, tf="1m"):
    return [(i, s) for i, c in enumerate(candles) if (s := strategy.on_candle("X", tf, c, VIEW)) is not None]


# ----------------------------------------------------------------------------- sma_cross


def test_sma_cross_hand_series():
    s = build_strategy("sma_cross", {"fast": 2, "slow": 3}, timeframe="1m")
    closes = [5, 5, 5, 4, 3, 6, 9, 2, 1]
    # i3: fast (5+4)/2 = 4.5 < slow (5+5+4)/3 = 4.67, but at i2 fast == slow (5 == 5): strict test -> no cross
    # i4: fast 3.5, slow 4.0; i5: fast (3+6)/2 = 4.5 > slow (4+3+6)/3 = 4.33 -> LONG at i5
    # i7: fast (9+2)/2 = 5.5 < slow (6+9+2)/3 = 5.67 after 7.5 > 6 at i6 -> SHORT at i7
    got = run(s, bars(closes))
    assert [(i, sig.side) for i, sig in got] == [(5, SignalSide.LONG), (7, SignalSide.SHORT)]
    assert got[0][1].confidence == 1.0 and got[0][1].features["sma_fast"] == 4.5
    assert got[0][1].ts_ms == 6 * M  # close time of bar 5
    assert "crossed above" in got[0][1].reason


def test_sma_cross_matches_independent_crossover_reference(shared_data):
    """backtesting.py semantics, re-derived with exact window sums: fast[-2] < slow[-2] and fast[-1] > slow[-1]."""
    candles = read_candles(shared_data(ETH_5M))[:6000]
    closes = [c.close for c in candles]
    fast, slow = 10, 20

    def sma(i, n):
        return math.fsum(closes[i - n + 1 : i + 1]) / n if i >= n - 1 else math.nan

    expected = []
    for i in range(1, len(closes)):
        f0, s0, f1, s1 = sma(i - 1, fast), sma(i - 1, slow), sma(i, fast), sma(i, slow)
        if f0 < s0 and f1 > s1:
            expected.append((i, SignalSide.LONG))
        elif s0 < f0 and s1 > f1:
            expected.append((i, SignalSide.SHORT))
    got = [(i, sig.side) for i, sig in run(build_strategy("sma_cross", {}, timeframe="5m"), candles, "5m")]
    assert got == expected and len(got) > 100
    sides = [s for _, s in got]
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False))  # reversal on every cross


# ----------------------------------------------------------------------------- ema_cross


V_SHAPE = [100 - i for i in range(10)] + [91 + 2 * k for k in range(10)] + [109 - 2 * k for k in range(10)]
EMA_PARAMS = {"fast": 2, "slow": 4, "macd_fast": 2, "macd_slow": 4, "macd_signal": 2}


def test_ema_cross_overbought_rsi_does_not_confirm():
    s = build_strategy("ema_cross", {**EMA_PARAMS, "rsi_period": 2}, timeframe="1m")
    got = run(s, bars(V_SHAPE))
    assert [(i, sig.side) for i, sig in got] == [(11, SignalSide.LONG), (22, SignalSide.SHORT)]
    sig = got[0][1]
    # Falling by 1 each bar, EMA(2) (k = 2/3) lags by 0.5 and EMA(4) (k = 0.4) by 1.5: at bar 9 (close 91)
    # EMA2 = 91.5, EMA4 = 92.5. Bar 10 (91): EMA2 = 91 + (91.5-91)/3 = 91.1667, EMA4 = 92.5 - 0.4*1.5 = 91.9.
    # Bar 11 (93): EMA2 = 91.1667 + 2/3*1.8333 = 92.3889 > EMA4 = 91.9 + 0.4*1.1 = 92.34 -> cross up.
    assert sig.features["ema_fast"] == pytest.approx(92.3889, abs=1e-4)
    assert sig.features["ema_slow"] == pytest.approx(92.34, abs=1e-9)
    # RSI(2): after the fall avg gain 0, avg loss 1; bar 10 change 0 -> loss 0.5; bar 11 change +2 ->
    # gain (0 + 2)/2 = 1, loss 0.5/2 = 0.25 -> RSI = 100 * 1 / 1.25 = 80 >= 70: not confirmed.
    assert sig.features["rsi"] == pytest.approx(80.0)
    assert sig.features["macd_hist"] > 0
    assert sig.confidence == pytest.approx(0.4 + 0.3)  # cross + MACD only
    assert "RSI 80.0 does not confirm" in sig.reason


def test_ema_cross_fully_confirmed_and_min_confidence_filter():
    got = run(build_strategy("ema_cross", {**EMA_PARAMS, "rsi_period": 3}, timeframe="1m"), bars(V_SHAPE))
    # RSI(3) at bar 11 is 60 (50 < 60 < 70) and at bar 22 34.1 (30 < 34.1 < 50): 0.4 + 0.3 + 0.3 = 1.0
    assert [(i, sig.side, sig.confidence) for i, sig in got] == [
        (11, SignalSide.LONG, 1.0),
        (22, SignalSide.SHORT, 1.0),
    ]
    assert got[0][1].features["rsi"] == pytest.approx(60.0)
    strict = build_strategy(
        "ema_cross", {**EMA_PARAMS, "rsi_period": 2, "min_confidence": 1.0}, timeframe="1m"
    )
    assert run(strict, bars(V_SHAPE)) == []


# ----------------------------------------------------------------------------- mean_reversion


def test_mean_reversion_lower_touch_long_then_middle_exit():
    s = build_strategy("mean_reversion", {"bb_period": 5, "rsi_period": 3}, timeframe="1m")
    closes = [100, 101, 100, 101, 100, 101, 95]
    candles = bars(closes)
    candles.append(Candle(7 * M, 95, 95, 80, 84, 1.0))  # a long wick to 80 touches the lower band
    candles += [Candle(8 * M, 84, 99, 84, 98, 1.0), Candle(9 * M, 98, 101, 97, 100.5, 1.0)]
    got = run(s, candles)
    assert [(i, sig.side) for i, sig in got][:1] == [(7, SignalSide.LONG)]
    long_sig = got[0][1]
    # RSI(3) at bar 7 is below 30 after two down closes; conf = 0.5 + 0.5 * (30 - rsi) / 30
    assert long_sig.features["rsi"] < 30
    assert long_sig.confidence == pytest.approx(0.5 + 0.5 * (30 - long_sig.features["rsi"]) / 30)
    # bands at bar 7 over closes 101, 100, 101, 95, 84: mean 96.2; squared deviations 23.04 + 14.44 + 23.04
    # + 1.44 + 148.84 = 210.8 -> variance 42.16, sd 6.49307 -> lower = 96.2 - 2 * 6.49307 = 83.21386 >= low 80
    assert long_sig.features["bb_lower"] == pytest.approx(83.21386, abs=1e-5)
    # bar 8: middle = (100 + 101 + 95 + 84 + 98) / 5 = 95.6 and close 98 >= 95.6 -> flat (mean reached)
    assert [(i, sig.side) for i, sig in got] == [(7, SignalSide.LONG), (8, SignalSide.FLAT)]
    assert got[1][1].features["bb_middle"] == pytest.approx(95.6)


def test_mean_reversion_upper_touch_short():
    s = build_strategy("mean_reversion", {"bb_period": 5, "rsi_period": 3}, timeframe="1m")
    candles = bars([100, 99, 100, 99, 100, 99, 104, 105])
    candles.append(Candle(8 * M, 105, 120, 105, 116, 1.0))
    got = run(s, candles)
    assert got and got[-1][0] == 8 and got[-1][1].side is SignalSide.SHORT
    assert got[-1][1].features["rsi"] >= 70


# ----------------------------------------------------------------------------- smc


def C(i, h, lo, c):
    return Candle(i * M, c, h, lo, c, 1.0)


def test_smc_bos_then_choch():
    s = build_strategy("smc", {"swing_length": 1}, timeframe="1m")
    candles = [
        C(0, 10, 9, 9.5),
        C(1, 12, 10, 11),  # swing high 12 (confirmed at bar 2)
        C(2, 11, 9.5, 10),
        C(3, 10.5, 8, 8.5),  # swing low 8 (confirmed at bar 4)
        C(4, 9.5, 8.5, 9),
        C(5, 13, 9.2, 12.8),  # close 12.8 > 12: BOS up (no prior trend), no bullish FVG (9.2 < 10.5)
        C(6, 12.9, 7.5, 7.6),  # close 7.6 < 8 after a bullish break: CHoCH down
    ]
    got = run(s, candles)
    assert [(i, sig.side, sig.confidence) for i, sig in got] == [
        (5, SignalSide.LONG, 0.6),
        (6, SignalSide.SHORT, 0.7),
    ]
    assert got[0][1].reason.startswith("BOS up") and got[1][1].reason.startswith("CHoCH down")


def test_smc_fvg_confluence_adds_confidence():
    s = build_strategy("smc", {"swing_length": 1}, timeframe="1m")
    candles = [C(0, 10, 9, 9.5), C(1, 11, 9.5, 10.5), C(2, 10.8, 10, 10.2), C(3, 13, 11.2, 12.5)]
    # bar 3: low 11.2 > high 11 of bar 1 -> bullish FVG 11..11.2; close 12.5 > swing high 11 -> BOS up 0.6 + 0.2
    got = run(s, candles)
    assert (
        len(got) == 1
        and got[0][1].confidence == pytest.approx(0.8)
        and "open bullish FVG" in got[0][1].reason
    )


# ----------------------------------------------------------------------------- all strategies on real data


def _drive(strategy, candles, base_tf, warm_1h=None):
    builder = CandleBuilder("PF_XBTUSD", strategy.timeframes + (base_tf,))
    view = BuilderMarketView()
    view.add_builder(builder)
    if warm_1h:
        for c in builder.warm_up("1h", warm_1h):
            strategy.on_candle("PF_XBTUSD", "1h", c, view)
    sides = Counter()
    for c in candles:
        for cc in builder.add_candle(c, base_tf):
            sig = strategy.on_candle("PF_XBTUSD", cc.timeframe, cc.candle, view)
            if sig is not None:
                assert sig.symbol == "PF_XBTUSD" and 0 <= sig.confidence <= 1 and sig.reason
                sides[sig.side] += 1
    return sides


@pytest.mark.parametrize("name", ["sma_cross", "ema_cross", "mean_reversion", "smc", "ensemble"])
def test_real_1m_data_gives_longs_and_shorts(name, shared_data):
    candles = read_candles(shared_data(PF_1M))
    s = build_strategy(name, {"min_confidence": 0.5} if name == "ensemble" else {}, timeframe="1m")
    assert isinstance(s, Strategy)
    sides = _drive(s, candles, "1m")
    assert sides[SignalSide.LONG] > 0 and sides[SignalSide.SHORT] > 0, sides


def test_spot_series_strategy_reads_index_candles(shared_data):
    s = build_strategy("sma_cross", {"series": "spot"}, timeframe="5m")
    assert s.series == "spot"  # the engine feeds it index ('spot' tick type) candles
    sides = _drive(s, read_candles(shared_data(ETH_5M))[:3000], "5m")
    assert sides[SignalSide.LONG] and sides[SignalSide.SHORT]


def test_ensemble_with_warm_1h_multi_timeframe_score_on_real_data(shared_data):
    hour = read_candles(shared_data(PF_1H))
    one = read_candles(shared_data(PF_1M))
    s = build_strategy("ensemble", {"mtf_period": 20, "min_confidence": 0.5}, timeframe="1m")
    first_1m_hour = one[0].ts_ms - one[0].ts_ms % 3_600_000
    sides = _drive(s, one, "1m", warm_1h=[c for c in hour if c.ts_ms < first_1m_hour])
    assert sides[SignalSide.LONG] + sides[SignalSide.SHORT] > 0
    assert "1h" in s.state("PF_XBTUSD").mtf.per_tf  # the warm 1h candles made the 1h score known


# ----------------------------------------------------------------------------- registry and validation


def test_registry_covers_config_names_and_defaults():
    names = StrategyConfig.model_fields["name"].annotation.__args__
    assert set(names) == set(STRATEGIES)
    assert strategy_defaults("sma_cross") == {"fast": 10, "slow": 20, "series": "trade"}
    d = strategy_defaults("ensemble")
    d["weights"]["x"] = 1  # a fresh copy each time
    assert strategy_defaults("ensemble")["weights"] == {}


@pytest.mark.parametrize(
    "name,params,key",
    [
        ("sma_cross", {"fast": 30, "slow": 20}, "strategy.params.fast"),
        ("sma_cross", {"fast": "10"}, "strategy.params.fast"),
        ("sma_cross", {"fats": 10}, "strategy.params.fats"),
        ("sma_cross", {"series": "mark"}, "strategy.params.series"),
        ("ema_cross", {"min_confidence": 1.5}, "strategy.params.min_confidence"),
        ("mean_reversion", {"bb_nbdev": math.nan}, "strategy.params.bb_nbdev"),
        ("smc", {"swing_length": 0}, "strategy.params.swing_length"),
        ("external", {"max_age_s": -1}, "strategy.params.max_age_s"),
        ("ensemble", {"weights": {"ema_cross": -1}}, "strategy.params.weights.ema_cross"),
        ("ensemble", {"weights": {"magic": 1}}, "strategy.params.weights.magic"),
        ("ensemble", {"ema_cross": {"fast": 0}}, "strategy.params.ema_cross.fast"),
        ("ensemble", {"smc": {"series": "spot"}}, "strategy.params.smc.series"),
        ("ensemble", {"bias_timeframe": "1m"}, "strategy.params.bias_timeframe"),
        ("nope", {}, "strategy.name"),
    ],
)
def test_bad_params_raise_config_error_naming_the_key(name, params, key):
    with pytest.raises(ConfigError) as ei:
        build_strategy(name, params, timeframe="5m")
    assert ei.value.key == key and key in str(ei.value)


def test_bad_timeframe():
    with pytest.raises(ConfigError) as ei:
        build_strategy("smc", {}, timeframe="2m")
    assert ei.value.key == "strategy.timeframe"


def test_state_is_per_symbol():
    s = build_strategy("sma_cross", {"fast": 2, "slow": 3}, timeframe="1m")
    closes = [5, 5, 5, 4, 3, 6]
    for c in bars(closes)[:-1]:
        s.on_candle("A", "1m", c, VIEW)
    assert s.on_candle("B", "1m", bars(closes)[-1], VIEW) is None  # B has no history
    assert s.on_candle("A", "1m", bars(closes)[-1], VIEW).side is SignalSide.LONG
    assert s.on_candle("A", "5m", bars(closes)[-1], VIEW) is None  # other timeframes are ignored


def test_ema_reference_used_by_bias():
    e = EMA(2)
    assert [e.update(x) for x in (100.0, 90.0)] == [None, 95.0]
