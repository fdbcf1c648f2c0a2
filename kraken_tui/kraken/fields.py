"""Strict readers for fields of Kraken JSON messages, shared by the REST and WebSocket parsers.

Owns: turning one JSON value into a typed value or a ``ProtocolError`` that names the source
(endpoint or feed) and the field. Numbers are accepted as JSON numbers or numeric strings (spec §10:
"Numbers may come as JSON numbers or strings depending on era"); NaN and infinities are refused;
timestamps are accepted as ISO-8601 UTC strings with ms or µs, or epoch milliseconds as numbers or
strings (spec §1 "Time format", §10).
Must not import: httpx, websockets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, overload

from kraken_tui.errors import ProtocolError

__all__ = ["get_bool", "get_decimal", "get_float", "get_int", "get_str", "get_ts_ms", "parse_ts_ms", "require_dict"]

_MISSING = object()


def require_dict(value: Any, source: str, field: str | None = None) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else raise ProtocolError naming ``source``/``field``."""
    if not isinstance(value, dict):
        raise ProtocolError(source, f"expected an object, got {type(value).__name__}", field=field)
    return value


def _fetch(obj: dict[str, Any], key: str, source: str, required: bool) -> Any:
    v = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
    if v is _MISSING or v is None:
        if required:
            raise ProtocolError(source, "missing", field=key)
        return None
    return v


def _check_sign(v: float | Decimal, key: str, source: str, positive: bool, nonneg: bool) -> None:
    if positive and not v > 0:
        raise ProtocolError(source, f"must be > 0, got {v}", field=key)
    if nonneg and v < 0:
        raise ProtocolError(source, f"must be >= 0, got {v}", field=key)


def _to_float(v: Any) -> float:
    return float(v)


def _to_decimal(v: Any) -> Decimal:
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v).strip())


def _get_number(obj: dict[str, Any], key: str, source: str, convert: Callable[[Any], float | Decimal],
                required: bool, positive: bool, nonneg: bool) -> float | Decimal | None:
    if type(obj) is dict:
        # Fast path (a WS ticker reads ~20 fields per message): a plain finite JSON number with the right
        # sign needs no error handling; anything else takes the general path below, which decides as always.
        v = obj.get(key)
        if v is None and not required:
            return None
        tv = type(v)
        if type(v) is float or (type(v) is int and convert is _to_float):
            try:
                f = float(v)
            except OverflowError:  # an integer beyond the float range: the general path refuses it
                f = math.nan
            if f - f == 0.0 and (f > 0 if positive else (f >= 0 if nonneg else True)):
                if convert is _to_float:
                    return f
                if tv is float:
                    return Decimal(repr(v))
    v = _fetch(obj, key, source, required)
    if v is None:
        return None
    if isinstance(v, bool):
        raise ProtocolError(source, f"expected a number, got {v!r}", field=key)
    try:
        n = convert(v)
    except OverflowError:
        raise ProtocolError(source, f"not a finite number: {str(v)[:40]}...", field=key) from None
    except (TypeError, ValueError, InvalidOperation):
        raise ProtocolError(source, f"expected a number, got {v!r}", field=key) from None
    if not (n.is_finite() if isinstance(n, Decimal) else math.isfinite(n)):
        raise ProtocolError(source, f"not a finite number: {v!r}", field=key)
    _check_sign(n, key, source, positive, nonneg)
    return n


@overload
def get_float(
    obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ..., positive: bool = ..., nonneg: bool = ...
) -> float: ...
@overload
def get_float(
    obj: dict[str, Any], key: str, source: str, *, required: bool, positive: bool = ..., nonneg: bool = ...
) -> float | None: ...
def get_float(
    obj: dict[str, Any], key: str, source: str, *, required: bool = True, positive: bool = False, nonneg: bool = False
) -> float | None:
    """Read a finite float from a JSON number or numeric string.

    Raises:
        ProtocolError: missing (when required), not a number, NaN/inf, or the wrong sign.
    """
    n = _get_number(obj, key, source, _to_float, required, positive, nonneg)
    assert n is None or isinstance(n, float)
    return n


@overload
def get_decimal(
    obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ..., positive: bool = ..., nonneg: bool = ...
) -> Decimal: ...
@overload
def get_decimal(
    obj: dict[str, Any], key: str, source: str, *, required: bool, positive: bool = ..., nonneg: bool = ...
) -> Decimal | None: ...
def get_decimal(
    obj: dict[str, Any], key: str, source: str, *, required: bool = True, positive: bool = False, nonneg: bool = False
) -> Decimal | None:
    """Read an exact Decimal from a JSON number or numeric string (floats via ``repr``: 0.1 -> 0.1).

    Raises:
        ProtocolError: missing (when required), not a number, NaN/inf, or the wrong sign.
    """
    n = _get_number(obj, key, source, _to_decimal, required, positive, nonneg)
    assert n is None or isinstance(n, Decimal)
    return n


@overload
def get_int(obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ...) -> int: ...
@overload
def get_int(obj: dict[str, Any], key: str, source: str, *, required: bool) -> int | None: ...
def get_int(obj: dict[str, Any], key: str, source: str, *, required: bool = True) -> int | None:
    """Read an integer (JSON integer, integral float, or digit string).

    Raises:
        ProtocolError: missing (when required) or not an integer.
    """
    if type(obj) is dict:
        v = obj.get(key)
        if type(v) is int:
            return v
    v = _fetch(obj, key, source, required)
    if v is None:
        return None
    if isinstance(v, bool):
        raise ProtocolError(source, f"expected an integer, got {v!r}", field=key)
    if isinstance(v, int):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ProtocolError(source, f"expected an integer, got {str(v)[:40]!r}", field=key) from None
    if not math.isfinite(f) or f != int(f):
        raise ProtocolError(source, f"expected an integer, got {v!r}", field=key)
    return int(f)


@overload
def get_str(obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ...) -> str: ...
@overload
def get_str(obj: dict[str, Any], key: str, source: str, *, required: bool) -> str | None: ...
def get_str(obj: dict[str, Any], key: str, source: str, *, required: bool = True) -> str | None:
    """Read a string.

    Raises:
        ProtocolError: missing (when required) or not a string.
    """
    if type(obj) is dict:
        v = obj.get(key)
        if type(v) is str:
            return v
        if v is None and not required:
            return None
    v = _fetch(obj, key, source, required)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ProtocolError(source, f"expected a string, got {type(v).__name__}", field=key)
    return v


@overload
def get_bool(obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ...) -> bool: ...
@overload
def get_bool(obj: dict[str, Any], key: str, source: str, *, required: bool) -> bool | None: ...
def get_bool(obj: dict[str, Any], key: str, source: str, *, required: bool = True) -> bool | None:
    """Read a boolean (JSON true/false or the strings "true"/"false").

    Raises:
        ProtocolError: missing (when required) or not a boolean.
    """
    if type(obj) is dict:
        v = obj.get(key)
        if type(v) is bool:
            return v
        if v is None and not required:
            return None
    v = _fetch(obj, key, source, required)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise ProtocolError(source, f"expected a boolean, got {v!r}", field=key)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


@lru_cache(maxsize=1024)
def _iso_ms(text: str) -> int:
    """Epoch ms of a stripped ISO-8601 string (microseconds truncated; no offset = UTC). One answer repeats
    its times (an order's ``receivedTime``, ``timestamp``, ``lastUpdateTimestamp``), hence the cache.

    Raises:
        ValueError: not an ISO-8601 time.
    """
    dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_MS


def parse_ts_ms(value: Any) -> int:
    """Convert an ISO-8601 string (``2016-02-26T12:09:38.830Z``, µs allowed) or epoch ms to epoch ms.

    Raises:
        ValueError: when the value is neither.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a timestamp: {value!r}")
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return int(s)
        return _iso_ms(s)
    raise ValueError(f"not a timestamp: {value!r}")


@overload
def get_ts_ms(obj: dict[str, Any], key: str, source: str, *, required: Literal[True] = ...) -> int: ...
@overload
def get_ts_ms(obj: dict[str, Any], key: str, source: str, *, required: bool) -> int | None: ...
def get_ts_ms(obj: dict[str, Any], key: str, source: str, *, required: bool = True) -> int | None:
    """Read a timestamp as epoch milliseconds (see ``parse_ts_ms``).

    Raises:
        ProtocolError: missing (when required) or not a timestamp.
    """
    if type(obj) is dict:
        v = obj.get(key)
        if type(v) is int:
            return v
        if v is None and not required:
            return None
    v = _fetch(obj, key, source, required)
    if v is None:
        return None
    try:
        return parse_ts_ms(v)
    except (ValueError, TypeError, OverflowError):
        raise ProtocolError(source, f"expected an ISO-8601 time or epoch ms, got {v!r}", field=key) from None
