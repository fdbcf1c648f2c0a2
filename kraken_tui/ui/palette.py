"""Semantic colours for cell text (long/short, warning, muted), taken from the active textual theme.

Owns: the mapping theme variable -> meaning, and small helpers that build coloured ``rich.text.Text``
cells. DataTable cells are Rich renderables, which cannot use ``$variables``, so the panels ask the
palette (rebuilt when the theme changes). Colour is never the only cue: callers add arrows or signs.
Must not import: textual (it takes the theme's variables as a plain mapping), the engine's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from kraken_tui.engine.facade import RiskLevel

__all__ = ["Palette"]


@dataclass(frozen=True, slots=True)
class Palette:
    """Colour strings (``#rrggbb``) for the meanings the panels draw."""

    long: str = "green"
    short: str = "red"
    warn: str = "yellow"
    muted: str = "bright_black"
    text: str = "default"
    accent: str = "cyan"

    @classmethod
    def from_variables(cls, v: Mapping[str, str], muted: str | None = None) -> Palette:
        """Build from ``App.theme_variables`` (success = long/profit, error = short/loss); ``muted`` is the
        secondary text colour already blended onto the background (cells cannot use alpha)."""

        def get(name: str, default: str) -> str:
            value = v.get(name)
            return value if isinstance(value, str) and value.startswith("#") else default

        return cls(long=get("success", "green"), short=get("error", "red"), warn=get("warning", "yellow"),
                   muted=muted or "bright_black", text=get("foreground", "default"),
                   accent=get("accent", "cyan"))

    def signed(self, text: str, value: float | Decimal | None, *, bold: bool = False) -> Text:
        """``text`` coloured long (value > 0), short (< 0) or plain (0 / None)."""
        if value is None or value == 0:
            return Text(text)
        colour = self.long if value > 0 else self.short
        return Text(text, style=f"bold {colour}" if bold else colour)

    def risk(self, level: RiskLevel) -> Text:
        """A liquidation risk label: LOW plain, MEDIUM warning, HIGH bold warning, EXTREME/CRITICAL
        reversed in the loss colour (the word itself carries the level)."""
        if level is RiskLevel.LOW:
            return Text(level.value, style=self.long)
        if level is RiskLevel.MEDIUM:
            return Text(level.value, style=self.warn)
        if level is RiskLevel.HIGH:
            return Text(level.value, style=f"bold {self.warn}")
        return Text(f" {level.value} ", style=f"bold reverse {self.short}")

    def dim(self, text: str) -> Text:
        """Secondary text."""
        return Text(text, style=self.muted)
