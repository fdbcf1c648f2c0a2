"""Fault injection for the paper exchange (tests and resilience drills only).

Owns: ``Faults``: added latency, HTTP 5xx and 429 answers, WebSocket disconnects, dropped and duplicated WS
messages, and "order accepted but response lost" (the order is processed, then the connection is closed
without an answer, so the client's outcome is unknown). Rates are probabilities per request / per WS
message, drawn from a seeded RNG so a test run is reproducible. ``Faults.parse`` reads the text form
``latency_ms=50,http_5xx_rate=0.1,seed=7`` used by ``kraken-tui sim`` through the environment variable
``KRAKEN_TUI_PAPER_FAULTS``.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields

from kraken_tui.errors import ConfigError

__all__ = ["ENV_FAULTS", "Faults"]

ENV_FAULTS = "KRAKEN_TUI_PAPER_FAULTS"
_RATES = ("http_5xx_rate", "http_429_rate", "ws_disconnect_rate", "ws_drop_rate", "ws_duplicate_rate",
          "lost_response_rate")


@dataclass
class Faults:
    """What to break, and how often (rates are probabilities 0..1; latency in milliseconds)."""

    latency_ms: float = 0.0
    http_5xx_rate: float = 0.0
    http_429_rate: float = 0.0
    ws_disconnect_rate: float = 0.0
    ws_drop_rate: float = 0.0
    ws_duplicate_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in _RATES:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"faults.{name}", v, "a probability between 0 and 1")
        if self.latency_ms < 0:
            raise ConfigError("faults.latency_ms", self.latency_ms, "milliseconds >= 0")
        self._rng = random.Random(self.seed)

    @property
    def active(self) -> bool:
        """True when any fault is configured."""
        return self.latency_ms > 0 or any(getattr(self, n) > 0 for n in _RATES)

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0 and self._rng.random() < rate

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``"latency_ms=50,http_5xx_rate=0.1,seed=7"`` -> Faults. Empty text = no faults.

        Raises:
            ConfigError: unknown name or a value that is not a number (names the item).
        """
        known = {f.name for f in fields(cls) if f.init}
        kwargs: dict[str, float | int] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ConfigError(ENV_FAULTS, item, f"name=value with name in {sorted(known)}")
            try:
                kwargs[name] = int(value) if name == "seed" else float(value)
            except ValueError:
                raise ConfigError(f"{ENV_FAULTS}:{name}", value, "a number") from None
        return cls(**kwargs)  # type: ignore[arg-type]
