"""Operator-facing wording helpers shared by the engine, the control channel and the front ends.

Owns: ``counted`` ("1 position", "2 positions", "0 orders") and ``where_left_open`` (where positions and orders
left open at a stop stay, per mode). Pure; no imports from the package.
Must not import: textual.
"""

from __future__ import annotations

__all__ = ["counted", "where_left_open"]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``counted(1, "position") == "1 position"``,
    ``counted(2, "order") == "2 orders"``, ``counted(0, "fill") == "0 fills"``; ``plural`` overrides
    the ``+ "s"`` form (``counted(2, "entry", "entries")``)."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def where_left_open(mode: str, paper_account: str | None = None) -> str:
    """Where positions and orders left open at a stop stay, as the end of "N positions stay open ...":
    ``live`` -> "on Kraken"; ``paper`` with a persisted account -> "in the paper account PATH (resumes at the
    next start)"; ``replay`` -> the replay account is discarded; anything else (a paper run whose account
    file is not known, a backtest) -> "on the exchange". ``mode`` is an ``engine.facade.EngineMode`` value."""
    if mode == "live":
        return "on Kraken"
    if mode == "paper" and paper_account:
        return f"in the paper account {paper_account} (resumes at the next start)"
    if mode == "replay":
        return "in the replay account, which is discarded when the run stops"
    return "on the exchange"
