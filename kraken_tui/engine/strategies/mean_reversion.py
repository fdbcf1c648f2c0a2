"""``mean_reversion``: fade RSI extremes at Bollinger band touches, exit at the middle band.

Owns: ``MeanReversion``. On each close of the signal timeframe (TA-Lib BBANDS and RSI of closes):
- long when the candle touches the lower band (``low <= lower``) and RSI <= ``rsi_oversold``;
  confidence = 0.5 + 0.5 * min(1, (rsi_oversold - RSI) / rsi_oversold);
- short when the candle touches the upper band (``high >= upper``) and RSI >= ``rsi_overbought``;
  confidence = 0.5 + 0.5 * min(1, (RSI - rsi_overbought) / (100 - rsi_overbought));
- with ``exit_at_middle`` (default true): after a long, the first close at or above the middle band gives
  ``flat`` (after a short: at or below), confidence 1.0 - the mean has been reached.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from typing import Any

from kraken_tui.domain import Candle

from ..indicators import RSI, BBands
from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param

__all__ = ["MeanReversion"]


class _State:
    __slots__ = ("bands", "rsi", "holding")

    def __init__(self, p: dict[str, Any]) -> None:
        self.bands = BBands(p["bb_period"], p["bb_nbdev"], p["bb_nbdev"])
        self.rsi = RSI(p["rsi_period"])
        self.holding = 0  # +1 after a long signal, -1 after a short, 0 after flat


class MeanReversion(StrategyBase):
    """RSI extremes plus Bollinger band touches (see module docstring for the exact rule).

    Parameters (defaults): ``bb_period`` 20 bars, ``bb_nbdev`` 2.0 (standard deviations), ``rsi_period``
    14 bars, ``rsi_oversold`` 30, ``rsi_overbought`` 70, ``exit_at_middle`` true, ``series`` "trade".

    Raises:
        ConfigError: a bad parameter.
    """

    name = "mean_reversion"
    PARAMS = (
        Param("bb_period", 20, "Bollinger SMA length, bars", int, 2, 10_000),
        Param("bb_nbdev", 2.0, "band width, population standard deviations", float, 0.1, 10),
        Param("rsi_period", 14, "RSI length, bars", int, 2, 1_000),
        Param("rsi_oversold", 30.0, "RSI at or below which a lower-band touch is bought", float, 1, 49.5),
        Param("rsi_overbought", 70.0, "RSI at or above which an upper-band touch is sold", float, 50.5, 99),
        Param("exit_at_middle", True, "emit flat when price returns to the middle band", bool),
        SERIES,
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self.warmup_bars = max(self.p["bb_period"], self.p["rsi_period"] + 1)

    def new_state(self) -> _State:
        """Fresh indicators for one symbol."""
        return _State(self.p)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update bands and RSI with ``candle``; return an entry, an exit (flat) or None."""
        if timeframe != self.timeframe:
            return None
        st: _State = self.state(symbol)
        bands, rsi = st.bands.update(candle.close), st.rsi.update(candle.close)
        if bands is None or rsi is None:
            return None
        p = self.p
        features = {
            "bb_upper": bands.upper,
            "bb_middle": bands.middle,
            "bb_lower": bands.lower,
            "rsi": rsi,
            "close": candle.close,
        }
        if candle.low <= bands.lower and rsi <= p["rsi_oversold"]:
            st.holding = 1
            conf = 0.5 + 0.5 * min(1.0, (p["rsi_oversold"] - rsi) / p["rsi_oversold"])
            reason = f"low {candle.low:g} touched lower band {bands.lower:.2f} with RSI {rsi:.1f} <= {p['rsi_oversold']:g}"
            return self.signal(symbol, SignalSide.LONG, conf, reason, features, candle)
        if candle.high >= bands.upper and rsi >= p["rsi_overbought"]:
            st.holding = -1
            conf = 0.5 + 0.5 * min(1.0, (rsi - p["rsi_overbought"]) / (100.0 - p["rsi_overbought"]))
            reason = f"high {candle.high:g} touched upper band {bands.upper:.2f} with RSI {rsi:.1f} >= {p['rsi_overbought']:g}"
            return self.signal(symbol, SignalSide.SHORT, conf, reason, features, candle)
        if p["exit_at_middle"] and st.holding and (candle.close - bands.middle) * st.holding >= 0:
            st.holding = 0
            reason = f"close {candle.close:g} reached the middle band {bands.middle:.2f}"
            return self.signal(symbol, SignalSide.FLAT, 1.0, reason, features, candle)
        return None
