"""JSON encode/decode for the hot wire paths (WS frames both ways, paper REST bodies).

Owns: ``loads`` and ``dumps_bytes``. They use ``orjson`` when it is installed (several times faster than the
standard library on Kraken's small flat messages) and the standard ``json`` module otherwise, so results
do not depend on it: whatever ``orjson`` refuses (``NaN``/``Infinity`` literals, invalid UTF-8, integers
beyond 64 bits on encoding, non-string keys, Decimal, ...) is handed to ``json``, which decides exactly as
before (its ``ValueError`` or ``TypeError`` propagates). Two differences remain, on values neither Kraken
nor the paper exchange sends: ``orjson`` decodes an integer beyond 64 bits as a float (ids are strings and
times fit in 64 bits), and encodes a non-finite float as ``null`` where ``json`` writes ``NaN``.
Must not import: textual, httpx, websockets, aiohttp.
"""

from __future__ import annotations

import json
from typing import Any

try:  # optional accelerator (a dependency in pyproject; the fallback keeps a bare install working)
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None  # type: ignore[assignment]

__all__ = ["HAVE_ORJSON", "dumps_bytes", "loads"]

HAVE_ORJSON = _orjson is not None


def loads(data: str | bytes) -> Any:
    """Decode one JSON document (text or UTF-8 bytes).

    Raises:
        ValueError: (``json.JSONDecodeError``) the document is not JSON, exactly as ``json.loads`` says; or
            it nests deeper than the decoder's recursion limit (~1000 levels; Kraken's messages nest < 6).
    """
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass  # let the standard library decide (and word the error) as before
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps_bytes(obj: Any) -> bytes:
    """Encode ``obj`` as compact-or-standard JSON in UTF-8 bytes (whitespace is not significant on the wire).

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent (as ``json.dumps`` says).
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(obj)
        except TypeError:
            pass
    return json.dumps(obj).encode()
