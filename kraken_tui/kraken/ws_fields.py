"""Readers for the nested shapes of Kraken Futures WebSocket messages (arrays of objects, enums,
product ids), on top of ``kraken_tui.kraken.fields``; shared by ``ws_parse`` and ``ws_parse_private``.

Owns: field-path prefixing (``bids[3].price``) so a ProtocolError names the exact nested field.
Must not import: websockets, httpx, textual, the parsers themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kraken_tui.errors import ProtocolError
from kraken_tui.kraken.fields import get_str

T = TypeVar("T")

__all__ = ["get_choice", "get_dict_items", "get_list", "get_symbol", "nested", "parse_objects"]


@contextmanager
def nested(prefix: str) -> Iterator[None]:
    """Re-raise a ProtocolError from inside a nested object with the path prefixed (``bids[3].qty``)."""
    try:
        yield
    except ProtocolError as exc:
        path = f"{prefix}.{exc.field}" if exc.field else prefix
        raise ProtocolError(exc.source, exc.reason, field=path) from None


def get_list(obj: dict[str, Any], key: str, source: str) -> list[Any]:
    """Read a required JSON array. Raises ProtocolError (missing or not an array)."""
    v = obj.get(key)
    if not isinstance(v, list):
        what = "missing" if v is None else f"expected an array, got {type(v).__name__}"
        raise ProtocolError(source, what, field=key)
    return v


def get_dict_items(obj: dict[str, Any], key: str, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, object)`` for a required array of JSON objects. Raises ProtocolError."""
    for i, item in enumerate(get_list(obj, key, source)):
        if not isinstance(item, dict):
            raise ProtocolError(source, f"expected an object, got {type(item).__name__}", field=f"{key}[{i}]")
        yield i, item


def parse_objects(
    obj: dict[str, Any], key: str, source: str, parse: Callable[[dict[str, Any]], T]
) -> list[T]:
    """``[parse(item) for item in obj[key]]`` for a required array of objects; errors name ``key[i].field``."""
    out = []
    for i, item in get_dict_items(obj, key, source):
        with nested(f"{key}[{i}]"):
            out.append(parse(item))
    return out


def get_choice(obj: dict[str, Any], key: str, source: str, choices: dict[Any, Any]) -> Any:
    """Map a required field through ``choices``. Raises ProtocolError on a value not in ``choices``."""
    v = obj.get(key)
    if v is None:
        raise ProtocolError(source, "missing", field=key)
    if isinstance(v, bool) or not isinstance(v, str | int) or v not in choices:
        raise ProtocolError(source, f"expected one of {sorted(map(str, choices))}, got {v!r}", field=key)
    return choices[v]


def get_symbol(obj: dict[str, Any], key: str, source: str) -> str:
    """Read a product id and upper-case it (spec §7.2: responses are upper-case). Raises ProtocolError."""
    s = get_str(obj, key, source)
    assert s is not None
    if not s.strip():
        raise ProtocolError(source, "empty product id", field=key)
    return s.upper()
