"""``ml``: the signal of a model built by ``kraken-tui train`` (gradient boosting on ``ml_features``).

Owns: ``MlSignals`` and ``ModelFileError``. At start the model file (``model_path``) is read and checked:
missing, unreadable or not a model file (corrupt), another format version, or built for other features than
``ml_features.FEATURES`` (names, or values: ``ml_features.feature_fingerprint``), or for another timeframe than ``[strategy] timeframe``: a ``ConfigError`` naming
``strategy.params.model_path`` and what is wrong; there is no fallback. On each close of the signal timeframe
the features are computed (``FeatureBuilder``, the code training used) and the model gives

- direction: long when P(up over ``horizon_bars``) > 0.5, else short;
- confidence: ``|2 x P(up) - 1|`` (0 = a coin toss, 1 = certain);
- expected move: the regressor's log return over the horizon, bps (feature ``expected_move_bps``);

Funding features read the source given to ``attach_funding``: the backtest attaches its funding schedule
(``backtest.runner``, ``FundingSchedule.known_rate``), the live and paper runtime the rates the feed's tickers
said for each hour (``runtime``, ``engine.market.MarketState.funding_rate_at``), the same numbers for the same
hours. Without a source they are NaN, as in training without ``--funding``, and every signal's features say
``funding_fed`` 0 (and its reason says the funding features are missing when the model was trained with
funding). A signal's features carry the funding features that are known (``funding_rate_bps``,
``funding_change_bps``, ``minutes_to_funding``).
A signal is emitted when confidence >= ``min_confidence`` and the expected move agrees with the direction
by at least ``min_move_bps``. The model file is a pickle: only load files you built (unpickling runs code).
scikit-learn must be installed (``pip install 'kraken-tui[ml]'``).
Must not import: textual, numpy, sklearn (the model's own pickle imports it), risk or execution modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kraken_tui.domain import Candle
from kraken_tui.errors import ConfigError

from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param
from .ml_features import FEATURES, FeatureBuilder, FundingRateAt, feature_fingerprint

__all__ = ["MODEL_FORMAT", "MlSignals", "load_model"]

MODEL_FORMAT = "kraken-tui-ml/1"
_FUNDING_NAMES = ("funding_rate_bps", "funding_change_bps", "minutes_to_funding")
_FUNDING_AT = FEATURES.index(_FUNDING_NAMES[0])
_KEY = "strategy.params.model_path"


def load_model(path: Path, timeframe: str, key: str = _KEY) -> dict[str, Any]:
    """Read and check a model file (module docstring). Returns the model document.

    Raises:
        ConfigError: (key ``key``) missing, corrupt, other format, other feature names, a feature fingerprint
            other than ``ml_features.feature_fingerprint()``, or other timeframe.
    """
    if not str(path):
        raise ConfigError(key, "", "the path of a model file written by kraken-tui train")
    import pickle  # here: a run that loads no model (the default ensemble) does not import it

    try:
        with open(path, "rb") as fh:
            doc = pickle.load(fh)
    except FileNotFoundError:
        raise ConfigError(key, str(path), "an existing model file (kraken-tui train --out PATH)") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(key, str(path), f"a model whose library is installed ({exc.name} is missing: "
                                          "pip install 'kraken-tui[ml]')") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the file is not a model
        raise ConfigError(key, str(path), f"a readable model file (corrupt: {type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(key, str(path), f"a {MODEL_FORMAT} model file (found {fmt!r})")
    if doc.get("features") != list(FEATURES):
        raise ConfigError(key, str(path), f"a model built for the features {', '.join(FEATURES)} "
                                          f"(it has {doc.get('features')!r}): retrain with kraken-tui train")
    have, want = doc.get("features_sha256"), feature_fingerprint()
    if have != want:
        raise ConfigError(key, str(path), f"a model whose features are computed as this engine computes them "
                                          f"(features_sha256 {str(have)[:12]} in the model, {want[:12]} here: "
                                          "the feature code changed since training): retrain with kraken-tui train")
    if doc.get("timeframe") != timeframe:
        raise ConfigError(key, str(path), f"a model for timeframe {timeframe} (it was trained on "
                                          f"{doc.get('timeframe')!r} candles)")
    for part in ("classifier", "regressor"):
        if not hasattr(doc.get(part), "predict"):
            raise ConfigError(key, str(path), f"a model file with a fitted {part}")
    return doc


class MlSignals(StrategyBase):
    """Signals from a ``kraken-tui train`` model (module docstring).

    Parameters (defaults): ``model_path`` "" (required), ``min_confidence`` 0.2 (0..1), ``min_move_bps`` 0.0
    (expected move in the signal's direction, bps), ``series`` "trade".

    Raises:
        ConfigError: a bad parameter, or a model file that is missing, corrupt or built for other features or
            another timeframe (key ``strategy.params.model_path``).
    """

    name = "ml"
    confidence_sized = True
    PARAMS = (
        Param("model_path", "", "model file written by kraken-tui train", str),
        Param("min_confidence", 0.2, "lowest confidence emitted, 0..1", float, 0, 1),
        Param("min_move_bps", 0.0, "smallest expected move in the signal's direction, bps", float, 0, 10_000),
        SERIES,
    )

    def configure(self) -> None:
        """Load and check the model (called by StrategyBase.__init__)."""
        self.model = load_model(Path(self.p["model_path"]), self.timeframe, f"{self.prefix}.model_path")
        self.horizon_bars = int(self.model["horizon_bars"])
        self.warmup_bars = 51

    _funding: Callable[[str, int], float | None] | None = None
    funding_source: str = "none"
    """Where the funding features' rates come from (``attach_funding``), for reports."""

    def attach_funding(self, rate_at: Callable[[str, int], float | None], source: str) -> bool:
        """Read funding rates from ``rate_at(symbol, hour_start_ms)`` (relative per hour, None = unknown);
        ``source`` names it (e.g. the funding file). Returns True (the rates are read)."""
        self._funding = rate_at
        self.funding_source = source
        return True

    def _rate_at(self, symbol: str) -> FundingRateAt | None:
        f = self._funding
        if f is None:
            return None
        return lambda hour_ms: f(symbol, hour_ms)

    def new_state(self) -> FeatureBuilder:
        """Fresh feature indicators for one symbol."""
        return FeatureBuilder(self._tf_ms)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Compute the features of ``candle`` and return the model's long/short signal, or None."""
        if timeframe != self.timeframe:
            return None
        row = self.state(symbol).update(candle, self._rate_at(symbol))
        if row is None:
            return None
        p_up = float(self.model["classifier"].predict_proba([row])[0][1])
        move = float(self.model["regressor"].predict([row])[0])
        conf = abs(2.0 * p_up - 1.0)
        d = 1 if p_up > 0.5 else -1
        if conf < self.p["min_confidence"] or d * move < self.p["min_move_bps"]:
            return None
        side = SignalSide.LONG if d > 0 else SignalSide.SHORT
        features = {"p_up": p_up, "expected_move_bps": move, "close": candle.close,
                    "funding_fed": float(self._funding is not None)}
        for name, value in zip(_FUNDING_NAMES, row[_FUNDING_AT:], strict=True):
            if math.isfinite(value):  # NaN = unknown (no source, or an hour the source does not cover)
                features[name] = value
        reason = (f"ml: P(up over {self.horizon_bars} bars) {p_up:.2f}, expected move {move:+.1f} bps")
        if (self.model.get("data") or {}).get("funding"):
            if self._funding is None:
                reason += "; funding features missing (trained with funding, no funding source attached)"
            elif "funding_rate_bps" not in features:
                reason += f"; funding rate of the last hour unknown ({self.funding_source})"
        return self.signal(symbol, side, conf, reason, features, candle)
