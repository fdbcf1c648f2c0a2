"""The strategy registry: ``build_strategy(name, params, timeframe=...)`` -> a ``Strategy``.

Owns: the name -> class table and the documented defaults. Names (``[strategy] name``):
``ema_cross``, ``mean_reversion``, ``sma_cross``, ``smc``, ``patterns``, ``breakout``, ``ml``, ``external``,
``ensemble``. Each class lists its
parameters, defaults and units in its docstring and in its ``PARAMS`` tuple; ``strategy_defaults(name)``
returns them as a dict.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kraken_tui.errors import ConfigError

from ._base import StrategyBase
from .breakout import Breakout
from .ema_cross import EmaCross
from .ensemble import Ensemble
from .external import ExternalSignals, parse_signal_line
from .mean_reversion import MeanReversion
from .ml import MlSignals
from .patterns import ChartPatterns
from .sma_cross import SmaCross
from .smc import SmartMoney

__all__ = [
    "STRATEGIES",
    "Breakout",
    "ChartPatterns",
    "EmaCross",
    "Ensemble",
    "ExternalSignals",
    "MeanReversion",
    "MlSignals",
    "SmaCross",
    "SmartMoney",
    "StrategyBase",
    "build_strategy",
    "parse_signal_line",
    "strategy_defaults",
]

STRATEGIES: dict[str, type[StrategyBase]] = {
    "ema_cross": EmaCross,
    "mean_reversion": MeanReversion,
    "sma_cross": SmaCross,
    "smc": SmartMoney,
    "patterns": ChartPatterns,
    "breakout": Breakout,
    "ml": MlSignals,
    "external": ExternalSignals,
    "ensemble": Ensemble,
}


def _cls(name: str) -> type[StrategyBase]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError("strategy.name", name, "one of " + ", ".join(STRATEGIES)) from None


def build_strategy(
    name: str, params: Mapping[str, Any] | None = None, *, timeframe: str = "5m"
) -> StrategyBase:
    """Build the strategy ``name`` from its ``[strategy.params]`` table for signals on ``timeframe``.

    Typical use: ``build_strategy(cfg.strategy.name, cfg.strategy.params, timeframe=cfg.strategy.timeframe)``.

    Raises:
        ConfigError: unknown name (key ``strategy.name``), unknown timeframe (``strategy.timeframe``), or a
            bad parameter (``strategy.params.<name>``, nested for ensemble components).
    """
    return _cls(name)(timeframe, params)


def strategy_defaults(name: str) -> dict[str, Any]:
    """Default parameters of strategy ``name`` (a fresh dict). Raises ConfigError for an unknown name."""
    return {p.name: copy.deepcopy(p.default) for p in _cls(name).PARAMS}
