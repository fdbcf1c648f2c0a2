"""The backtest's shared flag values: ``--param``, ``--fees`` and the cost defaults, read by ``kraken-tui
backtest`` (``backtest.cli``), its portfolio form and ``kraken-tui optimize`` (``research``) alike
(cli-contract.md). Must not import: textual, the research package.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kraken_tui.config import Config
from kraken_tui.errors import ConfigError

__all__ = ["DEFAULT_FUNDING_RATE", "DEFAULT_SLIPPAGE_BPS", "candles_arg", "fees_of", "parse_param"]

#: Relative funding rate per hour used when neither --funding nor --funding-rate is given: 1e-5/h
#: (0.024%/day), about the median hourly rate of PI_XBTUSD 2025-08..2026-08 (shared data SOURCES.md §3).
DEFAULT_FUNDING_RATE = 1e-5
#: Market-order slippage, basis points, when --slippage-bps is not given.
DEFAULT_SLIPPAGE_BPS = 1.0


def candles_arg(text: str | Path) -> tuple[Path, str | None]:
    """``--candles PATH[@SYMBOL]`` -> (path, upper-case symbol or None). The last ``@`` splits, unless the whole
    text names an existing file (a path may contain ``@``).

    Raises:
        ConfigError: ``PATH@`` with an empty symbol (names ``--candles``).
    """
    raw = str(text)
    if "@" not in raw or Path(raw).exists():
        return Path(raw), None
    path_s, _, sym = raw.rpartition("@")
    if not path_s or not sym.strip():
        raise ConfigError("--candles", raw, "PATH or PATH@SYMBOL, e.g. eth_5m.csv@PF_ETHUSD")
    return Path(path_s), sym.strip().upper()


def parse_param(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> (name, value); the value becomes an int, a float, a bool (true/false) or a string.

    Raises:
        ConfigError: not ``NAME=VALUE`` (names ``--param``).
    """
    name, sep, raw = item.partition("=")
    if not sep or not name.strip() or not raw.strip():
        raise ConfigError("--param", item, "NAME=VALUE, e.g. --param fast=10")
    raw = raw.strip()
    value: Any
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return name.strip(), value


def fees_of(text: str | None, cfg: Config) -> tuple[float, float]:
    """``--fees MAKER_BPS,TAKER_BPS`` (default ``[paper]`` maker/taker) -> (maker, taker) bps.

    Raises:
        ConfigError: not two numbers, or out of range (names ``--fees``).
    """
    if text is None:
        return cfg.paper.maker_fee_bps, cfg.paper.taker_fee_bps
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        maker, taker = float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError("--fees", text, "MAKER_BPS,TAKER_BPS, e.g. 2,5") from None
    if not (math.isfinite(maker) and math.isfinite(taker)) or taker < 0 or not -10 <= maker <= 100 or taker > 100:
        raise ConfigError("--fees", text, "maker in -10..100 and taker in 0..100 basis points")
    return maker, taker
