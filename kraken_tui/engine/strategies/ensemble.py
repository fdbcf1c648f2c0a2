"""``ensemble``: a weighted vote of ema_cross, mean_reversion, smc and external, with a higher-timeframe veto.

Owns: ``Ensemble``. On each close of the signal timeframe every component sees the candle; a component's
latest long/short signal counts for ``memory_bars`` bars (the bar it came on included); its flat signal
clears its vote. The score is

    score = sum(weight_i * sign_i * confidence_i) / sum(weight_i)   over all components with weight > 0

(sign +1 long, -1 short), so a silent component pulls the score toward 0. When ``|score| >=
min_confidence`` the ensemble emits long (score > 0) or short with confidence ``|score|``. Default
weights map to components as ema_cross 0.4, mean_reversion 0.3, smc 0.2, external 0.1.
Example with defaults: ema_cross long at 1.0 and smc long at 0.6 -> (0.4*1.0 + 0.2*0.6) / 1.0 = 0.52.

Higher-timeframe bias (``bias_timeframe``, default "1h"; "" disables): bias is up when the last closed
bias candle closes above EMA(``bias_period``) of bias closes, down when below. An entry against the bias
becomes ``flat`` with confidence 0 and reason "vetoed by 1h bias ..." and feature ``vetoed`` = 1: it
asks for no new position and must not be read as an exit signal. While the bias EMA is warming up
there is no veto (no bias known).

Component parameters go in sub-tables, e.g. ``[strategy.params.ema_cross] fast = 12``; a component
whose weight is 0 is not built. All components read the ensemble's ``series``.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from kraken_tui.domain import Candle
from kraken_tui.errors import ConfigError

from ..candles import TIMEFRAMES, timeframe_ms
from ..indicators import EMA
from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param
from .ema_cross import EmaCross
from .external import ExternalSignals
from .mean_reversion import MeanReversion
from .smc import SmartMoney

__all__ = ["DEFAULT_WEIGHTS", "Ensemble"]

COMPONENTS: dict[str, type[StrategyBase]] = {
    "ema_cross": EmaCross,
    "mean_reversion": MeanReversion,
    "smc": SmartMoney,
    "external": ExternalSignals,
}
DEFAULT_WEIGHTS = {"ema_cross": 0.4, "mean_reversion": 0.3, "smc": 0.2, "external": 0.1}


class _State:
    __slots__ = ("votes", "bias_ema", "bias")

    def __init__(self, bias_period: int) -> None:
        self.votes: dict[str, tuple[Signal, int]] = {}  # component -> (signal, bars left)
        self.bias_ema = EMA(bias_period)
        self.bias: tuple[int, float, float] | None = None  # (direction, close, ema)


class Ensemble(StrategyBase):
    """Weighted combination of component strategies (see module docstring for the exact rule).

    Parameters (defaults): ``weights`` {ema_cross: 0.4, mean_reversion: 0.3, smc: 0.2, external: 0.1}
    (missing names keep their default; 0 disables), ``min_confidence`` 0.35, ``memory_bars`` 3,
    ``bias_timeframe`` "1h" ("" = off), ``bias_period`` 50 bars, ``series`` "trade", and one sub-table per
    component (``ema_cross``, ``mean_reversion``, ``smc``, ``external``).

    Raises:
        ConfigError: bad parameter, weight or component parameter (key ``strategy.params.<component>.<name>``),
            all weights 0, or a bias timeframe not longer than the signal timeframe.
    """

    name = "ensemble"
    PARAMS = (
        Param("weights", {}, "component -> weight >= 0", dict),
        Param("min_confidence", 0.35, "lowest |score| emitted, 0..1", float, 0, 1),
        Param("memory_bars", 3, "bars a component's signal keeps its vote", int, 1, 1_000),
        Param(
            "bias_timeframe",
            "1h",
            "higher timeframe of the trend veto; empty = off",
            str,
            choices=("", *TIMEFRAMES),
        ),
        Param("bias_period", 50, "EMA length on the bias timeframe, bars", int, 2, 10_000),
        SERIES,
        *(Param(name, {}, f"parameters of the {name} component", dict) for name in COMPONENTS),
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self.weights = dict(DEFAULT_WEIGHTS)
        for name, w in self.p["weights"].items():
            key = f"{self.prefix}.weights.{name}"
            if name not in COMPONENTS:
                raise self._err(key, w, "a component: " + ", ".join(COMPONENTS))
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1000:
                raise self._err(key, w, "a number >= 0")
            self.weights[name] = float(w)
        self.weights = {k: v for k, v in self.weights.items() if v > 0}
        if not self.weights:
            raise self._err(f"{self.prefix}.weights", self.p["weights"], "at least one weight > 0")
        self.components: dict[str, StrategyBase] = {}
        for name in self.weights:
            sub = dict(self.p[name])
            if "series" in sub:
                raise self._err(
                    f"{self.prefix}.{name}.series",
                    sub["series"],
                    "no per-component series; set series on the ensemble",
                )
            if COMPONENTS[name] is not ExternalSignals:
                sub["series"] = self.series
            self.components[name] = COMPONENTS[name](self.timeframe, sub, prefix=f"{self.prefix}.{name}")
        self.bias_timeframe: str = self.p["bias_timeframe"]
        if self.bias_timeframe:
            if timeframe_ms(self.bias_timeframe) <= self._tf_ms:
                raise self.bad_param("bias_timeframe", f"a timeframe longer than {self.timeframe}")
            self.timeframes = (self.timeframe, self.bias_timeframe)
        self.warmup_bars = max(c.warmup_bars for c in self.components.values())

    @staticmethod
    def _err(key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(key, value, expected)

    def new_state(self) -> _State:
        """Fresh votes and bias for one symbol."""
        return _State(self.p["bias_period"])

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Route ``candle`` to the components (signal timeframe) or the bias EMA (bias timeframe)."""
        st: _State = self.state(symbol)
        if timeframe == self.bias_timeframe:
            ema = st.bias_ema.update(candle.close)
            if ema is not None:
                st.bias = ((candle.close > ema) - (candle.close < ema), candle.close, ema)
            return None
        if timeframe != self.timeframe:
            return None
        for name, strat in self.components.items():
            sig = strat.on_candle(symbol, timeframe, candle, view)
            if sig is not None:
                if sig.side is SignalSide.FLAT:
                    st.votes.pop(name, None)
                else:
                    st.votes[name] = (sig, self.p["memory_bars"])
        total_w = sum(self.weights.values())
        score = sum(self.weights[n] * s.side.sign * s.confidence for n, (s, _) in st.votes.items()) / total_w
        voters = ", ".join(f"{n} {s.side} {s.confidence:.2f}" for n, (s, _) in st.votes.items())
        features = {f"vote_{n}": s.side.sign * s.confidence for n, (s, _) in st.votes.items()}
        features["score"] = score
        st.votes = {n: (s, left - 1) for n, (s, left) in st.votes.items() if left > 1}
        if abs(score) < self.p["min_confidence"] or score == 0:
            return None
        side = SignalSide.LONG if score > 0 else SignalSide.SHORT
        if st.bias is not None and st.bias[0] == -side.sign:
            d, close, ema = st.bias
            word = "below" if d < 0 else "above"
            reason = f"{side} vetoed by {self.bias_timeframe} bias: close {close:g} {word} EMA({self.p['bias_period']}) {ema:.2f}"
            features.update(vetoed=1.0, bias_close=close, bias_ema=ema)
            return self.signal(symbol, SignalSide.FLAT, 0.0, reason, features, candle)
        reason = f"ensemble score {score:+.2f} ({voters})"
        return self.signal(symbol, side, abs(score), reason, features, candle)
