"""Ensemble: the weighted vote arithmetic, memory, flat votes and the higher-timeframe veto."""

from __future__ import annotations

import pytest

from kraken_tui.domain import Candle
from kraken_tui.engine.signals import BuilderMarketView, Signal, SignalSide
from kraken_tui.engine.strategies import build_strategy

VIEW = BuilderMarketView()
H = 3_600_000


class Scripted:
    """A fake component returning pre-set signals bar by bar."""

    def __init__(self, script):
        self.script = list(script)

    def on_candle(self, symbol, timeframe, candle, view):
        side_conf = self.script.pop(0) if self.script else None
        if side_conf is None:
            return None
        return Signal(symbol, SignalSide(side_conf[0]), side_conf[1], "scripted")


def ensemble(scripts, **params):
    e = build_strategy("ensemble", {"bias_timeframe": "", **params}, timeframe="5m")
    e.components = {name: Scripted(scripts.get(name, [])) for name in e.weights}
    return e


def bar(i):
    return Candle(i * 300_000, 100, 100, 100, 100)


def test_default_weights_and_score_arithmetic():
    e = ensemble({"ema_cross": [("long", 1.0)], "smc": [("long", 0.6)]})
    assert e.weights == {"ema_cross": 0.4, "mean_reversion": 0.3, "smc": 0.2, "external": 0.1}
    sig = e.on_candle("X", "5m", bar(0), VIEW)
    # (0.4 * 1.0 + 0.2 * 0.6) / (0.4 + 0.3 + 0.2 + 0.1) = 0.52
    assert sig.side is SignalSide.LONG and sig.confidence == pytest.approx(0.52)
    assert sig.features["score"] == pytest.approx(0.52)


def test_opposing_votes_and_min_confidence():
    # 0.4 * 1.0 - 0.3 * 0.9 = 0.13 < 0.35 -> nothing
    e = ensemble({"ema_cross": [("long", 1.0)], "mean_reversion": [("short", 0.9)]})
    assert e.on_candle("X", "5m", bar(0), VIEW) is None
    # mean_reversion short 1.0 alone: -0.3 -> |0.3| < 0.35 -> nothing; with min_confidence 0.3 -> short 0.3
    e = ensemble({"mean_reversion": [("short", 1.0)]}, min_confidence=0.3)
    sig = e.on_candle("X", "5m", bar(0), VIEW)
    assert sig.side is SignalSide.SHORT and sig.confidence == pytest.approx(0.3)


def test_votes_are_remembered_for_memory_bars_and_cleared_by_flat():
    e = ensemble(
        {"ema_cross": [("long", 1.0), None, None, None], "smc": [None, ("long", 0.5)]}, memory_bars=2
    )
    # bar 0: 0.4 -> long 0.4; bar 1: ema vote still counts (2 bars) + smc 0.2*0.5 -> 0.5; bar 2: only smc 0.1 -> none
    out = [e.on_candle("X", "5m", bar(i), VIEW) for i in range(3)]
    assert [None if s is None else round(s.confidence, 9) for s in out] == [0.4, 0.5, None]
    e = ensemble(
        {"ema_cross": [("long", 1.0), None], "mean_reversion": [None], "smc": [None, None]}, memory_bars=3
    )
    e.components["ema_cross"].script = [("long", 1.0), ("flat", 1.0)]
    out = [e.on_candle("X", "5m", bar(i), VIEW) for i in range(2)]
    assert out[0].side is SignalSide.LONG and out[1] is None  # flat removed the ema_cross vote


def test_weights_override_and_zero_disables():
    e = ensemble({"ema_cross": [("short", 0.5)]}, weights={"external": 0, "mean_reversion": 0, "smc": 0})
    assert set(e.weights) == {"ema_cross"}
    assert e.on_candle("X", "5m", bar(0), VIEW).confidence == pytest.approx(0.5)  # 0.4 * 0.5 / 0.4


def test_higher_timeframe_bias_vetoes_entry_against_it():
    e = build_strategy("ensemble", {"bias_period": 2}, timeframe="5m")
    assert e.timeframes == ("5m", "1h")
    e.components = {n: Scripted([("long", 1.0), ("short", 1.0)]) for n in e.weights}
    # 1h closes 100, 90: EMA(2) seeded with their SMA = 95; last close 90 < 95 -> bias down
    assert e.on_candle("X", "1h", Candle(0, 100, 100, 100, 100), VIEW) is None
    assert e.on_candle("X", "1h", Candle(H, 90, 90, 90, 90), VIEW) is None
    sig = e.on_candle("X", "5m", bar(24), VIEW)
    assert sig.side is SignalSide.FLAT and sig.confidence == 0.0 and sig.features["vetoed"] == 1.0
    assert "vetoed by 1h bias" in sig.reason and "close 90 below EMA(2) 95.00" in sig.reason
    sig = e.on_candle("X", "5m", bar(25), VIEW)  # every component now says short (replacing its long vote)
    assert sig.side is SignalSide.SHORT and sig.confidence == pytest.approx(
        1.0
    )  # agrees with the bias: passes


def test_no_veto_before_bias_is_known():
    e = build_strategy("ensemble", {"bias_period": 5}, timeframe="5m")
    e.components = {n: Scripted([("long", 1.0)]) for n in e.weights}
    e.on_candle("X", "1h", Candle(0, 100, 100, 90, 90), VIEW)  # 1 of 5 bias bars: EMA not ready
    sig = e.on_candle("X", "5m", bar(12), VIEW)
    assert sig.side is SignalSide.LONG and sig.confidence == pytest.approx(1.0)
