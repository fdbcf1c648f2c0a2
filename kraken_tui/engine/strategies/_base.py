"""Shared plumbing of the built-in strategies: parameter resolution, per-symbol state, Signal building.

Owns: ``StrategyBase``. Each subclass declares ``name``, ``PARAMS`` (a tuple of ``Param``) and
``new_state()``; the base validates parameters (``ConfigError`` naming ``strategy.params.<name>``) and the
timeframe, keeps one state object per symbol, and stamps signals with the candle close time (UTC ms).
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kraken_tui.domain import Candle
from kraken_tui.errors import ConfigError

from ..candles import TIMEFRAMES, timeframe_ms
from ..signals import MarketView, PriceSeries, Signal, SignalSide
from ._params import Param, resolve_params

__all__ = ["StrategyBase"]


class StrategyBase:
    """Base of the built-in strategies (see ``engine.signals.Strategy`` for the protocol).

    Args:
        timeframe: the signal timeframe (``[strategy] timeframe``).
        params: the strategy's ``[strategy.params]`` table.
        prefix: config key prefix used in errors (the ensemble passes ``strategy.params.<component>``).

    Raises:
        ConfigError: unknown timeframe (key ``strategy.timeframe``) or a bad parameter.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    protective_exits: ClassVar[bool] = True
    """Place the exchange-side stop and take-profit ladder after an entry fills (``[exits]``, engine.exits);
    False for strategies whose exit is their own next signal (``sma_cross``)."""
    confidence_sized: ClassVar[bool] = False
    """The confidence weighs the evidence (ensemble, external): the entry's size grows with it
    (``engine.decide``, ``[risk] confidence_sizing``)."""
    sizing: ClassVar[str | None] = None
    """Override of ``risk.sizing`` ("risk" or "fixed") for this strategy; None = use the config."""

    def __init__(
        self,
        timeframe: str = "5m",
        params: Mapping[str, Any] | None = None,
        *,
        prefix: str = "strategy.params",
    ) -> None:
        if timeframe not in TIMEFRAMES:
            raise ConfigError("strategy.timeframe", timeframe, "one of " + ", ".join(TIMEFRAMES))
        self.prefix = prefix
        self.p: dict[str, Any] = resolve_params(self.name, params, self.PARAMS, prefix=prefix)
        self.timeframe = timeframe
        self.timeframes: tuple[str, ...] = (timeframe,)
        self.series: PriceSeries = self.p.get("series", "trade")
        self.warmup_bars = 1
        self._tf_ms = timeframe_ms(timeframe)
        self._states: dict[str, Any] = {}
        self.configure()

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Consume one closed candle; return a Signal or None (``engine.signals.Strategy``). Every built-in
        strategy overrides it.

        Raises:
            NotImplementedError: a subclass that does not override it.
        """
        raise NotImplementedError

    def configure(self) -> None:
        """Hook for subclasses: cross-parameter checks (raise ``self.bad_param``) and derived attributes."""

    def new_state(self) -> Any:
        """A fresh per-symbol state (indicators, memory); subclasses override."""
        return None

    def state(self, symbol: str) -> Any:
        """The state of ``symbol``, created on first use."""
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = self.new_state()
        return st

    def signal(
        self,
        symbol: str,
        side: SignalSide,
        confidence: float,
        reason: str,
        features: dict[str, float],
        candle: Candle,
    ) -> Signal:
        """A Signal from this strategy, stamped with the close time of ``candle`` (open + timeframe)."""
        return self.signal_at(symbol, side, confidence, reason, features, candle.ts_ms)

    def signal_at(
        self,
        symbol: str,
        side: SignalSide,
        confidence: float,
        reason: str,
        features: dict[str, float],
        open_ms: int,
    ) -> Signal:
        """``signal`` for the bar opening at ``open_ms`` (UTC ms), for batch paths that hold no Candle."""
        return Signal(
            symbol,
            side,
            min(1.0, max(0.0, confidence)),
            reason,
            features,
            ts_ms=open_ms + self._tf_ms,
            strategy=self.name,
        )

    def bad_param(self, name: str, expected: str) -> ConfigError:
        """A ConfigError for parameter ``name`` (its resolved value) with ``expected`` text."""
        return ConfigError(f"{self.prefix}.{name}", self.p.get(name), expected)
