"""``ensemble``: a weighted vote of four slots: ML 40 %, technical analysis 30 %, chart patterns 20 %,
multi-timeframe 10 %.

Owns: ``Ensemble`` and ``MultiTimeframe`` (the multi-timeframe slot's score). Slots and their sources:

- ``ml`` (0.4): the ``ml`` component (a model built by ``kraken-tui train``, engine.strategies.ml) when
  ``[strategy.params.ml] model_path`` names one, and the ``external`` component (an outside model's JSON
  lines, engine.strategies.external) while a reader feeds it (``ExternalSignals.live``: a file, pipe, socket
  or webhook is attached, or a backtest signal file is loaded). The slot vote is the mean of the votes of
  its sourced components (``sign * confidence`` of each one's latest signal; a silent one votes 0). The model
  is loaded and checked at start (``ml.load_model``): a missing or corrupt file, or one built for other
  features, another timeframe or feature code that computes other numbers, is a ``ConfigError``.
- ``technical`` (0.3): ``ema_cross`` 0.4, ``mean_reversion`` 0.3, ``smc`` 0.3 (``technical_weights``); the slot
  vote is ``sum(w_c * sign_c * confidence_c) / sum(w_c)``, so a silent component pulls it toward 0.
- ``patterns`` (0.2): the ``patterns`` component (chart patterns, engine.strategies.patterns); its vote is
  ``sign * reliability`` of its latest pattern signal. Chart patterns are rare events, so the slot abstains
  on a bar where no pattern vote is remembered: its weight goes to the other active slots for that bar
  (a standing 0 vote would cap every other score at 0.8).
- ``mtf`` (0.1): ``MultiTimeframe`` over ``mtf_timeframes`` (default 15m, 1h, 4h): per timeframe,
  trend = sign(close - EMA(``mtf_period``)) and momentum = sign(close - close ``mtf_momentum_bars`` bars
  earlier); the timeframe scores (trend + momentum) / 2 and the slot vote is the mean over the
  timeframes (one not known yet scores 0). Timeframes shorter than the signal timeframe are dropped.

A slot without a source has its weight redistributed over the slots that have one (``active_weights``;
``describe()`` says which, for the start-up event and the backtest report). The score is

    score = sum(w_s * vote_s) / sum(w_s)     over the slots with a source and weight > 0

and the ensemble emits long (score > 0) or short with confidence ``|score|`` when ``|score| >=
min_confidence`` (default 0.7). A component's latest long/short signal counts for
``memory_bars`` bars (the bar it came on included); its flat signal clears its vote.
Example (no ML source, so technical 0.3/0.4 = 0.75 and mtf 0.1/0.4 = 0.25): ema_cross long 1.0 and smc long 0.8
-> technical (0.4 x 1.0 + 0.3 x 0.8) / 1.0 = 0.64; mtf +1.0 -> score 0.75 x 0.64 + 0.25 x 1.0 = 0.73 -> long 0.73.

Size grows with confidence (``confidence_sized``; engine.decide scales the risk gate's size).
Component parameters go in sub-tables, e.g. ``[strategy.params.ema_cross] fast = 12``.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

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
from .ml import MlSignals
from .patterns import ChartPatterns
from .smc import SmartMoney

__all__ = ["DEFAULT_WEIGHTS", "SLOTS", "TECHNICAL_WEIGHTS", "Ensemble", "MultiTimeframe"]

COMPONENTS: dict[str, type[StrategyBase]] = {
    "ema_cross": EmaCross,
    "mean_reversion": MeanReversion,
    "smc": SmartMoney,
    "external": ExternalSignals,
    "patterns": ChartPatterns,
    "ml": MlSignals,
}
SLOTS = ("ml", "technical", "patterns", "mtf")
DEFAULT_WEIGHTS = {"ml": 0.4, "technical": 0.3, "patterns": 0.2, "mtf": 0.1}
TECHNICAL_WEIGHTS = {"ema_cross": 0.4, "mean_reversion": 0.3, "smc": 0.3}


class MultiTimeframe:
    """Trend and momentum on several timeframes -> one score in -1..1 (module docstring).

    Args:
        timeframes: the timeframes read (e.g. ("15m", "1h", "4h")). period: EMA length, bars.
        momentum_bars: bars back for the momentum sign.
    """

    def __init__(self, timeframes: tuple[str, ...], period: int, momentum_bars: int) -> None:
        self.timeframes = timeframes
        self._ema = {tf: EMA(period) for tf in timeframes}
        self._closes: dict[str, deque[float]] = {tf: deque(maxlen=momentum_bars + 1) for tf in timeframes}
        self.per_tf: dict[str, float] = {}
        """Latest score of each timeframe (-1, -0.5, 0, 0.5, 1); absent until its EMA is known."""

    def update(self, timeframe: str, close: float) -> None:
        """One closed candle of ``timeframe`` (ignored when not read)."""
        ema = self._ema.get(timeframe)
        if ema is None:
            return
        value = ema.update(close)
        closes = self._closes[timeframe]
        closes.append(close)
        if value is None or len(closes) < (closes.maxlen or 1):
            return
        trend = (close > value) - (close < value)
        momentum = (close > closes[0]) - (close < closes[0])
        self.per_tf[timeframe] = (trend + momentum) / 2

    @property
    def score(self) -> float:
        """Mean of the timeframes' scores, unknown ones counting 0; -1..1."""
        if not self.timeframes:
            return 0.0
        return sum(self.per_tf.get(tf, 0.0) for tf in self.timeframes) / len(self.timeframes)


class _State:
    __slots__ = ("votes", "mtf")

    def __init__(self, mtf: MultiTimeframe) -> None:
        self.votes: dict[str, tuple[Signal, int]] = {}  # component -> (signal, bars left)
        self.mtf = mtf


class Ensemble(StrategyBase):
    """The four-slot ensemble (see module docstring for the exact rule).

    Parameters (defaults): ``weights`` {ml: 0.4, technical: 0.3, patterns: 0.2, mtf: 0.1} (missing slots keep
    their default; 0 disables), ``technical_weights`` {ema_cross: 0.4, mean_reversion: 0.3, smc: 0.3},
    ``min_confidence`` 0.7, ``memory_bars`` 3, ``mtf_timeframes`` "15m,1h,4h", ``mtf_period`` 20 bars,
    ``mtf_momentum_bars`` 3, ``series`` "trade", and one sub-table per component (``ema_cross``,
    ``mean_reversion``, ``smc``, ``external``, ``patterns``, ``ml``; the ``ml`` component is built only when
    its ``model_path`` is set).

    Raises:
        ConfigError: bad parameter, weight or component parameter (key ``strategy.params.<component>.<name>``),
            all weights 0, an unknown multi-timeframe timeframe, or an ML model file that is missing, corrupt
            or built for other features (key ``strategy.params.ml.model_path``).
    """

    name = "ensemble"
    confidence_sized: ClassVar[bool] = True
    PARAMS = (
        Param("weights", {}, "slot (ml, technical, patterns, mtf) -> weight >= 0", dict),
        Param("technical_weights", {}, "technical component -> weight >= 0", dict),
        Param("min_confidence", 0.7, "lowest |score| emitted, 0..1", float, 0, 1),
        Param("memory_bars", 3, "bars a component's signal keeps its vote", int, 1, 1_000),
        Param("mtf_timeframes", "15m,1h,4h", "comma-separated timeframes of the multi-timeframe score", str),
        Param("mtf_period", 20, "EMA length of the multi-timeframe trend, bars", int, 2, 10_000),
        Param("mtf_momentum_bars", 3, "bars back of the multi-timeframe momentum", int, 1, 1_000),
        SERIES,
        *(Param(name, {}, f"parameters of the {name} component", dict) for name in COMPONENTS),
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self.weights = self._weights("weights", DEFAULT_WEIGHTS)
        tech = self._weights("technical_weights", TECHNICAL_WEIGHTS)
        if not self.weights:
            raise self._err(f"{self.prefix}.weights", self.p["weights"], "at least one weight > 0")
        names: list[str] = []
        if self.weights.get("ml"):
            names.append("external")
            if self.p["ml"].get("model_path"):
                names.append("ml")
        if self.weights.get("technical"):
            names.extend(tech)
        if self.weights.get("patterns"):
            names.append("patterns")
        self.technical_weights = tech if self.weights.get("technical") else {}
        self.components: dict[str, Any] = {}
        for name in names:
            sub = dict(self.p[name])
            if "series" in sub:
                raise self._err(f"{self.prefix}.{name}.series", sub["series"],
                                "no per-component series; set series on the ensemble")
            if COMPONENTS[name] is not ExternalSignals:
                sub["series"] = self.series
            self.components[name] = COMPONENTS[name](self.timeframe, sub, prefix=f"{self.prefix}.{name}")
        ext = self.components.get("external")
        self._external = ext if isinstance(ext, ExternalSignals) else None
        model = self.components.get("ml")
        self._model = model if isinstance(model, MlSignals) else None
        tfs = tuple(t.strip() for t in self.p["mtf_timeframes"].split(",") if t.strip())
        for tf in tfs:
            if tf not in TIMEFRAMES:
                raise self.bad_param("mtf_timeframes", "comma-separated timeframes among " + ", ".join(TIMEFRAMES))
        self.mtf_timeframes = tuple(tf for tf in tfs if timeframe_ms(tf) >= self._tf_ms) if self.weights.get(
            "mtf") else ()
        self.timeframes = tuple(dict.fromkeys((self.timeframe, *self.mtf_timeframes)))
        self.warmup_bars = max([c.warmup_bars for c in self.components.values()] or [1])

    def _weights(self, key: str, defaults: dict[str, float]) -> dict[str, float]:
        out = dict(defaults)
        for name, w in self.p[key].items():
            k = f"{self.prefix}.{key}.{name}"
            if name not in defaults:
                raise self._err(k, w, "one of " + ", ".join(defaults))
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1000:
                raise self._err(k, w, "a number >= 0")
            out[name] = float(w)
        return {k: v for k, v in out.items() if v > 0}

    @staticmethod
    def _err(key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(key, value, expected)

    @property
    def external(self) -> ExternalSignals | None:
        """The ML slot's external component (readers attach to it), or None when the slot is off."""
        return self._external

    @property
    def model(self) -> MlSignals | None:
        """The ML slot's model component (``[strategy.params.ml] model_path``), or None."""
        return self._model

    def attach_funding(self, rate_at: Callable[[str, int], float | None], source: str) -> bool:
        """Give the ML model component its funding source (``MlSignals.attach_funding``); no-op without a model.
        Returns whether a model reads the rates."""
        return self._model is not None and self._model.attach_funding(rate_at, source)

    def ml_sources(self) -> list[str]:
        """The ML slot's components with a source now: ``ml`` (a loaded model) and/or ``external`` (a live
        reader)."""
        out = ["ml"] if self._model is not None else []
        ext = self.external
        if ext is not None and ext.live:
            out.append("external")
        return out

    def sourced(self, slot: str) -> bool:
        """Whether ``slot`` has a source now (ml: a loaded model or a live external reader; technical: a
        component; mtf: a timeframe; patterns: its component)."""
        if slot == "ml":
            return bool(self.ml_sources())
        if slot == "technical":
            return bool(self.technical_weights)
        if slot == "mtf":
            return bool(self.mtf_timeframes)
        if slot == "patterns":
            return "patterns" in self.components
        return False

    def active_weights(self) -> dict[str, float]:
        """The slots with a source and their weights, renormalised to sum 1 (empty when none has one)."""
        w = {s: v for s, v in self.weights.items() if self.sourced(s)}
        total = sum(w.values())
        return {s: v / total for s, v in w.items()} if total > 0 else {}

    def describe(self) -> str:
        """One line for the start-up event and the backtest report: the weights in force and the slots
        whose weight was redistributed because they have no source."""
        active = self.active_weights()
        used = ", ".join(f"{s} {v * 100:.0f}%" for s, v in active.items()) or "none"
        idle = [s for s in self.weights if s not in active]
        text = f"ensemble slots: {used}"
        if "ml" in active and self._model is not None:  # which model the slot reads
            src = self.ml_sources()
            names = [f"model {self._model.p['model_path']}" if s == "ml" and self._model else "external feed"
                     for s in src]
            text += f" (ml: {', '.join(names)})"
        if idle:
            text += f"; no source for {', '.join(idle)}: weight redistributed"
        return text + f"; entries at confidence >= {self.p['min_confidence']:g}"

    def new_state(self) -> _State:
        """Fresh votes and multi-timeframe score for one symbol."""
        return _State(MultiTimeframe(self.mtf_timeframes, self.p["mtf_period"], self.p["mtf_momentum_bars"]))

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Feed the multi-timeframe score; on the signal timeframe run the components and vote."""
        st: _State = self.state(symbol)
        if timeframe in self.mtf_timeframes:
            st.mtf.update(timeframe, candle.close)
        if timeframe != self.timeframe:
            return None
        for name, strat in self.components.items():
            sig = strat.on_candle(symbol, timeframe, candle, view)
            if sig is not None:
                if sig.side is SignalSide.FLAT:
                    st.votes.pop(name, None)
                else:
                    st.votes[name] = (sig, self.p["memory_bars"])
        votes = {n: s.side.sign * s.confidence for n, (s, _) in st.votes.items()}
        st.votes = {n: (s, left - 1) for n, (s, left) in st.votes.items() if left > 1}
        slot_vote: dict[str, float] = {}
        tw = self.technical_weights
        if tw:
            slot_vote["technical"] = sum(w * votes.get(n, 0.0) for n, w in tw.items()) / sum(tw.values())
        ml_src = self.ml_sources()
        slot_vote["ml"] = sum(votes.get(n, 0.0) for n in ml_src) / len(ml_src) if ml_src else 0.0
        slot_vote["patterns"] = votes.get("patterns", 0.0)
        slot_vote["mtf"] = st.mtf.score
        active = self.active_weights()
        if "patterns" in active and "patterns" not in votes:  # no pattern remembered: the slot abstains
            rest = {s: w for s, w in active.items() if s != "patterns"}
            total = sum(rest.values())
            active = {s: w / total for s, w in rest.items()} if total > 0 else {}
        score = sum(w * slot_vote.get(s, 0.0) for s, w in active.items())
        features: dict[str, float] = {f"vote_{n}": v for n, v in votes.items()}
        features.update({f"slot_{s}": slot_vote.get(s, 0.0) for s in active})
        features.update({f"mtf_{tf}": v for tf, v in st.mtf.per_tf.items()})
        features["score"] = score
        if abs(score) < self.p["min_confidence"] or score == 0:
            return None
        side = SignalSide.LONG if score > 0 else SignalSide.SHORT
        parts = ", ".join(f"{s} {slot_vote.get(s, 0.0):+.2f}x{w:.2f}" for s, w in active.items())
        return self.signal(symbol, side, abs(score), f"ensemble score {score:+.2f} ({parts})", features, candle)
