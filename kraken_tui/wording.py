"""Operator-facing wording helpers shared by the engine, the control channel and the front ends.

Owns: ``counted`` ("1 position", "2 positions", "0 orders"). Pure; no imports from the package.
Must not import: textual.
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``counted(1, "position") == "1 position"``,
    ``counted(2, "order") == "2 orders"``, ``counted(0, "fill") == "0 fills"``; ``plural`` overrides
    the ``+ "s"`` form (``counted(2, "entry", "entries")``)."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
