"""Shape checks of paper-exchange responses against Kraken's published examples (spec and ccxt captures)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def assert_shape(example: Any, ours: Any, where: str = "$") -> None:
    """Every key of ``example`` is in ``ours``, recursively through dicts and the first element of lists, and
    JSON types agree where both sides are non-null (int and float count as one number type)."""
    if isinstance(example, dict):
        assert isinstance(ours, dict), f"{where}: expected an object, got {ours!r}"
        missing = set(example) - set(ours)
        assert not missing, f"{where}: missing keys {sorted(missing)}"
        for k, v in example.items():
            assert_shape(v, ours[k], f"{where}.{k}")
    elif isinstance(example, list):
        assert isinstance(ours, list), f"{where}: expected a list, got {ours!r}"
        if example and ours:
            assert_shape(example[0], ours[0], f"{where}[0]")
    elif example is not None and ours is not None:
        num = (int, float)
        same = (isinstance(example, num) and isinstance(ours, num) and not isinstance(ours, bool)
                and not isinstance(example, bool)) or type(example) is type(ours)
        assert same, f"{where}: {type(ours).__name__} where the example has {type(example).__name__}"


def ccxt_response(method: str, index: int = 0) -> Any | None:
    """The ``httpResponse`` of ccxt's static test ``method`` entry under $KRAKEN_TUI_DATA/ccxt, or None."""
    root = os.environ.get("KRAKEN_TUI_DATA")
    if not root:
        return None
    f = Path(root) / "ccxt" / "krakenfutures_static_response.json"
    if not f.is_file():
        return None
    entries = json.loads(f.read_text(encoding="utf-8"))["methods"].get(method, [])
    return entries[index]["httpResponse"] if index < len(entries) else None
