"""Declared strategy parameters and their validation against ``[strategy.params]`` (config.toml).

Owns: ``Param`` (name, default, type, bounds, doc), ``resolve_params`` (defaults + validation, raising
``ConfigError`` that names ``strategy.params.<name>``), the ``series`` parameter every strategy shares,
and ``crossed`` (the backtesting.py crossover test used by the cross strategies).
Must not import: textual, numpy, the engine's risk or execution modules.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kraken_tui.errors import ConfigError

__all__ = ["SERIES", "Param", "crossed", "resolve_params"]


@dataclass(frozen=True, slots=True)
class Param:
    """One strategy parameter.

    Attributes:
        name: key under ``[strategy.params]``.
        default: value used when the key is absent.
        doc: meaning and unit, shown in errors and docs.
        kind: ``int``, ``float``, ``str``, ``bool`` or ``dict``.
        lo, hi: inclusive bounds for numbers (None = unbounded).
        choices: allowed values for strings (None = any).
    """

    name: str
    default: Any
    doc: str
    kind: type = int
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None

    def expected(self) -> str:
        """Human description of the accepted values."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices) + f" ({self.doc})"
        rng = ""
        if self.lo is not None and self.hi is not None:
            rng = f" in {self.lo:g}..{self.hi:g}"
        elif self.lo is not None:
            rng = f" >= {self.lo:g}"
        return f"{'an integer' if self.kind is int else 'a ' + self.kind.__name__}{rng} ({self.doc})"


#: The price series a strategy reads (spec §6 tick types; see engine.signals).
SERIES = Param(
    "series", "trade", "price series read: perpetual trades or the index", str, choices=("trade", "spot")
)


def _check(p: Param, value: Any, key: str) -> Any:
    if p.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, p.kind) and not (p.kind is not bool and isinstance(value, bool))
    if ok and p.kind is float and not math.isfinite(value):
        ok = False
    if ok and p.kind in (int, float):
        ok = (p.lo is None or value >= p.lo) and (p.hi is None or value <= p.hi)
    if ok and p.choices is not None:
        ok = value in p.choices
    if not ok:
        raise ConfigError(key, value, p.expected())
    return value


def resolve_params(
    strategy: str, params: Mapping[str, Any] | None, spec: Sequence[Param], *, prefix: str = "strategy.params"
) -> dict[str, Any]:
    """Merge ``params`` over the defaults of ``spec`` and validate every value.

    Returns:
        A dict with every parameter of ``spec`` (ints stay ints; ints given for floats become floats).

    Raises:
        ConfigError: an unknown key, a wrong type or a value out of range; ``key`` is
            ``<prefix>.<name>`` (e.g. ``strategy.params.fast``) and the message lists what is accepted.
    """
    params = dict(params or {})
    known = {p.name: p for p in spec}
    for k, v in params.items():
        if k not in known:
            raise ConfigError(f"{prefix}.{k}", v, f"a parameter of {strategy}: {', '.join(known)}")
    return {
        p.name: _check(p, params.get(p.name, copy.deepcopy(p.default)), f"{prefix}.{p.name}") for p in spec
    }


def crossed(prev_a: float, prev_b: float, a: float, b: float) -> bool:
    """True when series a crossed above series b on this bar: ``a[-2] < b[-2] and a[-1] > b[-1]``
    (strict both times; backtesting.py ``lib.crossover``)."""
    return prev_a < prev_b and a > b
