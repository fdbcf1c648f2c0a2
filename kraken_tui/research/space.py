"""The search space and study settings of ``kraken-tui optimize``, read from a TOML file (``--space``).

Owns: ``ParamRange`` (one searched parameter), ``SearchSpace`` (the ranges, the ``[study]`` and
``[constraints]`` tables), ``load_space`` (TOML -> ``SearchSpace``, ``ConfigError`` naming file and key) and
``apply`` (a trial's values -> strategy params, ``[risk]`` and ``[exits]`` overrides).

Format (every key documented in ``optimize.example.toml`` at the repository root):
- ``[study]``: ``strategy``, ``objective``, ``trials``, ``folds``, ``walk_forward`` (anchored|rolling),
  ``train_segments``, ``seed``, ``batch`` (all optional; command-line flags override them).
- ``[constraints]``: ``min_trades`` (closed trades in the window, default 1), ``max_drawdown_pct``
  (mark-to-market drawdown from the peak, percent, default 100 = off).
- ``[strategy.NAME]``, ``[risk.NAME]``, ``[exits.NAME]``: one table per searched parameter, NAME a strategy
  parameter (``[strategy.params]``) or a ``[risk]`` / ``[exits]`` key of config.toml; keys ``type`` (``int``,
  ``float`` or ``categorical``), ``low`` / ``high`` (inclusive), ``step`` (optional), ``log`` (optional,
  bool), ``choices`` (categorical: a list of strings, numbers or booleans).
``[exits.take_profit_scale]`` (derived, not a config key): the take-profit ladder of ``[exits] take_profit_pct``
multiplied by the value (e.g. 0.5 halves every level), so the ladder's shape is kept while its distance is searched.
The optuna parameter name is ``group.NAME`` (e.g. ``strategy.fast``).
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.errors import ConfigError

__all__ = ["GROUPS", "OBJECTIVES", "ParamRange", "SearchSpace", "apply", "load_space"]

GROUPS = ("strategy", "risk", "exits")
#: Searchable [exits] names that are not config keys (module docstring).
DERIVED_EXITS = ("take_profit_scale",)
#: Objective names (research.objectives).
OBJECTIVES = ("net_pnl", "sharpe", "sortino", "calmar", "profit_factor")
_STUDY_KEYS = {"strategy": str, "objective": str, "trials": int, "folds": int, "walk_forward": str,
               "train_segments": int, "seed": int, "batch": int}
_CONSTRAINT_KEYS = {"min_trades": int, "max_drawdown_pct": float}
Scalar = str | int | float | bool


@dataclass(frozen=True)
class ParamRange:
    """One searched parameter: ``group`` (strategy|risk|exits), ``name``, ``kind`` (int|float|categorical),
    inclusive ``low``/``high``, optional ``step`` and ``log``, or ``choices``."""

    group: str
    name: str
    kind: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Scalar, ...] = ()

    @property
    def key(self) -> str:
        """The optuna parameter name ``group.name``."""
        return f"{self.group}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (part of the study's fingerprint)."""
        return {"key": self.key, "kind": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "log": self.log, "choices": list(self.choices)}


@dataclass
class SearchSpace:
    """The parsed space file: ``ranges`` in file order, ``study`` and ``constraints`` settings (only the keys
    the file gives), ``source`` the file path (or ``<default>``)."""

    ranges: list[ParamRange]
    study: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=dict)
    source: str = "<default>"

    def to_json(self) -> list[dict[str, Any]]:
        """The ranges as JSON."""
        return [r.to_json() for r in self.ranges]


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _range(group: str, name: str, body: object, src: str) -> ParamRange:
    key = f"{group}.{name}"
    if not isinstance(body, Mapping):
        raise ConfigError(key, body, "a table with type, low, high (or choices)", source=src)
    unknown = set(body) - {"type", "low", "high", "step", "log", "choices"}
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}", body[sorted(unknown)[0]],
                          "one of the keys type, low, high, step, log, choices", source=src)
    kind = body.get("type")
    if kind not in ("int", "float", "categorical"):
        raise ConfigError(f"{key}.type", kind, "int, float or categorical", source=src)
    if kind == "categorical":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not all(
                isinstance(c, str | bool) or _num(c) for c in choices):
            raise ConfigError(f"{key}.choices", choices, "a non-empty list of strings, numbers or booleans",
                              source=src)
        return ParamRange(group, name, "categorical", choices=tuple(choices))
    low, high, step, log = body.get("low"), body.get("high"), body.get("step"), body.get("log", False)
    for k, v in (("low", low), ("high", high)):
        if not _num(v) or (kind == "int" and not isinstance(v, int)):
            raise ConfigError(f"{key}.{k}", v, f"{'an integer' if kind == 'int' else 'a number'}", source=src)
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if high < low:
        raise ConfigError(f"{key}.high", high, f"at least low ({low})", source=src)
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log", log, "true or false", source=src)
    if step is not None and (not _num(step) or step <= 0 or (kind == "int" and not isinstance(step, int))):
        raise ConfigError(f"{key}.step", step, "a positive number (an integer for int)", source=src)
    if log and (low <= 0 or step not in (None, 1)):
        raise ConfigError(f"{key}.log", log, "log = true needs low > 0 and no step", source=src)
    return ParamRange(group, name, kind, float(low) if kind == "float" else low,
                      float(high) if kind == "float" else high, step, log)


def _typed(table: object, spec: dict[str, type], where: str, src: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(where, table, "a table", source=src)
    out: dict[str, Any] = {}
    for k, v in table.items():
        want = spec.get(k)
        if want is None:
            raise ConfigError(f"{where}.{k}", v, "one of " + ", ".join(spec), source=src)
        ok = isinstance(v, want) and not isinstance(v, bool) or (want is float and _num(v))
        if not ok:
            raise ConfigError(f"{where}.{k}", v, f"a{'n integer' if want is int else ' ' + want.__name__}",
                              source=src)
        out[k] = float(v) if want is float else v
    return out


def parse_space(doc: Mapping[str, Any], source: str = "<default>") -> SearchSpace:
    """A ``SearchSpace`` from a parsed TOML document (module docstring).

    Raises:
        ConfigError: an unknown table or key, a bad range, or a [risk]/[exits] key config.toml does not have.
    """
    ranges: list[ParamRange] = []
    known = {"risk": RiskConfig.model_fields, "exits": ExitsConfig.model_fields}
    for top, body in doc.items():
        if top in ("study", "constraints"):
            continue
        if top not in GROUPS:
            raise ConfigError(top, "...", "a table [study], [constraints], [strategy.*], [risk.*] or [exits.*]",
                              source=source)
        if not isinstance(body, Mapping):
            raise ConfigError(top, body, "tables [" + top + ".NAME]", source=source)
        for name, spec in body.items():
            if top in known and name not in known[top] and not (top == "exits" and name in DERIVED_EXITS):
                raise ConfigError(f"{top}.{name}", "...", f"a [{top}] key of config.toml", source=source)
            ranges.append(_range(top, name, spec, source))
    study = _typed(doc.get("study", {}), _STUDY_KEYS, "study", source)
    constraints = _typed(doc.get("constraints", {}), _CONSTRAINT_KEYS, "constraints", source)
    if "objective" in study and study["objective"] not in OBJECTIVES:
        raise ConfigError("study.objective", study["objective"], "one of " + ", ".join(OBJECTIVES), source=source)
    if "walk_forward" in study and study["walk_forward"] not in ("anchored", "rolling"):
        raise ConfigError("study.walk_forward", study["walk_forward"], "anchored or rolling", source=source)
    for k in ("trials", "folds", "train_segments", "batch"):
        if k in study and study[k] < 1:
            raise ConfigError(f"study.{k}", study[k], "at least 1", source=source)
    if constraints.get("min_trades", 1) < 0:
        raise ConfigError("constraints.min_trades", constraints["min_trades"], "0 or more", source=source)
    if not 0 < constraints.get("max_drawdown_pct", 100.0) <= 100:
        raise ConfigError("constraints.max_drawdown_pct", constraints["max_drawdown_pct"], "a percent in (0, 100]",
                          source=source)
    return SearchSpace(ranges, study, constraints, source)


def load_space(path: Path) -> SearchSpace:
    """Read and check a space file (module docstring).

    Raises:
        ConfigError: unreadable, not TOML (names the file and the parser's message), or a bad table or key.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--space", str(path), f"a readable TOML file ({exc.strerror})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--space", str(path), f"valid TOML ({exc})") from None
    space = parse_space(doc, str(path))
    if not space.ranges:
        raise ConfigError("--space", str(path), "at least one [strategy.NAME], [risk.NAME] or [exits.NAME] range")
    return space


def apply(values: Mapping[str, Any], base_params: Mapping[str, Any], risk: RiskConfig,
          exits: ExitsConfig) -> tuple[dict[str, Any], RiskConfig, ExitsConfig]:
    """A trial's values (``group.name`` -> value) over the base strategy params and the configs.

    Raises:
        ConfigError: a value the config refuses (pydantic validation; names ``risk.KEY`` / ``exits.KEY``).
    """
    params = dict(base_params)
    upd: dict[str, dict[str, Any]] = {"risk": {}, "exits": {}}
    for key, v in values.items():
        group, _, name = key.partition(".")
        if group == "strategy":
            params[name] = v
        else:
            upd[group][name] = v
    scale = upd["exits"].pop("take_profit_scale", None)
    if scale is not None:  # the ladder's distance, its shape kept (module docstring)
        if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
            raise ConfigError("exits.take_profit_scale", scale, "a number > 0")
        upd["exits"]["take_profit_pct"] = [round(x * scale, 10) for x in exits.take_profit_pct]
    from pydantic import ValidationError

    try:
        r = RiskConfig.model_validate({**risk.model_dump(), **upd["risk"]}) if upd["risk"] else risk
        e = ExitsConfig.model_validate({**exits.model_dump(), **upd["exits"]}) if upd["exits"] else exits
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{'risk' if loc in upd['risk'] else 'exits'}.{loc}", err.get("input"), err["msg"]) from None
    return params, r, e
