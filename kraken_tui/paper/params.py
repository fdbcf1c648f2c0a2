"""Request-parameter readers shared by the paper exchange's REST handlers (spec §2.1, §4).

Owns: integer / boolean / choice readers over a parsed request (``paper.server.Request``: ``params`` first value
per name, ``multi`` all values). Each returns the value, ``None`` when absent, or raises ``BadParam`` naming the
parameter when present but malformed, so a handler can answer Kraken's ``invalidArgument``.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadParam", "int_param", "choice_param", "bool_param"]


class BadParam(ValueError):
    """A parameter was given but malformed; ``name`` is the parameter, ``value`` what was sent."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"parameter {name!r}: bad value {value!r}")
        self.name, self.value = name, value


def int_param(req: Any, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
    """Integer parameter ``name`` (optionally signed) within [lo, hi]; None when absent or empty.

    Raises:
        BadParam: not an integer, or outside [lo, hi].
    """
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise BadParam(name, raw)
    value = int(raw)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadParam(name, raw)
    return value


def choice_param(req: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    """Parameter ``name`` that must be one of ``choices`` (case-insensitive); ``default`` when absent.

    Raises:
        BadParam: any other value.
    """
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in choices:
        raise BadParam(name, raw)
    return raw.lower()


def bool_param(req: Any, name: str, default: bool) -> bool:
    """``true``/``false`` parameter ``name``; ``default`` when absent.

    Raises:
        BadParam: any other value.
    """
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise BadParam(name, raw)
    return raw.lower() == "true"
