"""``ema_cross``: trend following on an EMA crossover, confirmed by MACD and RSI.

Owns: ``EmaCross``. On each close of the signal timeframe (indicators from engine.indicators, TA-Lib
definitions):
- a *cross up* (``fast[-2] < slow[-2] and fast[-1] > slow[-1]``, EMAs of closes) proposes a long,
  a *cross down* a short; no cross, no signal;
- MACD confirms a long when its histogram > 0 (short: < 0);
- RSI confirms a long when 50 < RSI < ``rsi_overbought`` (short: ``rsi_oversold`` < RSI < 50): trend
  strength without buying an exhausted move;
- confidence = 0.4 + 0.3 * (MACD confirms) + 0.3 * (RSI confirms); emitted when >= ``min_confidence``
  (default 0.7: the cross plus at least one confirmation). No signal until MACD and RSI are warm.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from typing import Any

from kraken_tui.domain import Candle

from ..indicators import EMA, MACD, RSI
from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param, crossed

__all__ = ["EmaCross"]


class _State:
    __slots__ = ("fast", "slow", "rsi", "macd", "prev")

    def __init__(self, p: dict[str, Any]) -> None:
        self.fast, self.slow = EMA(p["fast"]), EMA(p["slow"])
        self.rsi = RSI(p["rsi_period"])
        self.macd = MACD(p["macd_fast"], p["macd_slow"], p["macd_signal"])
        self.prev: tuple[float, float] | None = None


class EmaCross(StrategyBase):
    """EMA crossover with MACD and RSI confirmation (see module docstring for the exact rule).

    Parameters (defaults): ``fast`` 9 bars, ``slow`` 21 bars, ``rsi_period`` 14, ``rsi_overbought`` 70,
    ``rsi_oversold`` 30, ``macd_fast`` 12, ``macd_slow`` 26, ``macd_signal`` 9 bars,
    ``min_confidence`` 0.7 (0..1), ``series`` "trade".

    Raises:
        ConfigError: a bad parameter, ``fast >= slow``, or ``rsi_oversold >= 50`` / ``rsi_overbought <= 50``
            is prevented by the bounds.
    """

    name = "ema_cross"
    PARAMS = (
        Param("fast", 9, "fast EMA length, bars", int, 1, 10_000),
        Param("slow", 21, "slow EMA length, bars", int, 2, 10_000),
        Param("rsi_period", 14, "RSI length, bars", int, 2, 1_000),
        Param("rsi_overbought", 70.0, "RSI above which no long is confirmed", float, 50.5, 100),
        Param("rsi_oversold", 30.0, "RSI below which no short is confirmed", float, 0, 49.5),
        Param("macd_fast", 12, "MACD fast EMA, bars", int, 2, 1_000),
        Param("macd_slow", 26, "MACD slow EMA, bars", int, 3, 1_000),
        Param("macd_signal", 9, "MACD signal EMA, bars", int, 1, 1_000),
        Param("min_confidence", 0.7, "lowest confidence emitted, 0..1", float, 0, 1),
        SERIES,
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        p = self.p
        if p["fast"] >= p["slow"]:
            raise self.bad_param("fast", f"fewer bars than slow ({p['slow']})")
        if p["macd_fast"] >= p["macd_slow"]:
            raise self.bad_param("macd_fast", f"fewer bars than macd_slow ({p['macd_slow']})")
        self.warmup_bars = max(p["slow"], p["macd_slow"] + p["macd_signal"] - 2, p["rsi_period"]) + 1

    def new_state(self) -> _State:
        """Fresh indicators for one symbol."""
        return _State(self.p)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update the indicators with ``candle.close``; return a confirmed cross signal or None."""
        if timeframe != self.timeframe:
            return None
        st: _State = self.state(symbol)
        x = candle.close
        f, s = st.fast.update(x), st.slow.update(x)
        rsi, macd = st.rsi.update(x), st.macd.update(x)
        prev = st.prev
        st.prev = (f, s) if f is not None and s is not None else None
        if prev is None or f is None or s is None or rsi is None or macd is None:
            return None
        p = self.p
        if crossed(prev[0], prev[1], f, s):
            side, word = SignalSide.LONG, "above"
            macd_ok, rsi_ok = macd.hist > 0, 50.0 < rsi < p["rsi_overbought"]
        elif crossed(prev[1], prev[0], s, f):
            side, word = SignalSide.SHORT, "below"
            macd_ok, rsi_ok = macd.hist < 0, p["rsi_oversold"] < rsi < 50.0
        else:
            return None
        confidence = 0.4 + 0.3 * macd_ok + 0.3 * rsi_ok
        if confidence < p["min_confidence"] - 1e-12:
            return None
        reason = (
            f"EMA({p['fast']}) crossed {word} EMA({p['slow']}); MACD hist {macd.hist:+.2f} "
            f"{'confirms' if macd_ok else 'does not confirm'}; RSI {rsi:.1f} {'confirms' if rsi_ok else 'does not confirm'}"
        )
        features = {
            "ema_fast": f,
            "ema_slow": s,
            "rsi": rsi,
            "macd": macd.macd,
            "macd_hist": macd.hist,
            "close": x,
        }
        return self.signal(symbol, side, confidence, reason, features, candle)
