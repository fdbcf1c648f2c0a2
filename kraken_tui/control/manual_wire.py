"""Manual actions on the control socket: an ``engine.manual`` action as a JSON object and back, strictly.

Owns: ``action_to_json`` / ``action_from_json`` and ``WireError``. The request is ``{"cmd": "manual", "action":
{...}, "override": bool, "confirm": str|null, "preview": bool}`` (``control`` package docstring); ``action`` has a
``kind`` and exactly the fields of that kind:

- ``order``: symbol, side (buy|sell), size | notional_usd, order_type (mkt|lmt|stp|take_profit), limit_price,
  stop_price, reduce_only, post_only, attach_exits
- ``close``: symbol, fraction, size, limit_price
- ``cancel``: order_id;  ``edit``: order_id, price, size
- ``stop``: symbol, price, breakeven;  ``tpcancel``: symbol;  ``reprotect``: symbol

Numbers travel as decimal strings (``"0.01"``), never floats; booleans as JSON booleans; absent optional fields
may be omitted or null. Anything else (an unknown kind or field, a wrong type, a bad number) is a ``WireError``.
Must not import: textual.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.domain import Side
from kraken_tui.engine.facade import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualAction,
    ManualClose,
    ManualOrder,
    MoveStopTo,
    Reprotect,
)
from kraken_tui.engine.manual import OrderKind

__all__ = ["FIELDS", "WireError", "action_from_json", "action_to_json"]

#: kind -> {field: type name} ("str", "dec", "bool"); symbol and order_id are required where present.
FIELDS: dict[str, dict[str, str]] = {
    "order": {"symbol": "str", "side": "str", "size": "dec", "notional_usd": "dec", "order_type": "str",
              "limit_price": "dec", "stop_price": "dec", "reduce_only": "bool", "post_only": "bool",
              "attach_exits": "bool"},
    "close": {"symbol": "str", "fraction": "dec", "size": "dec", "limit_price": "dec"},
    "cancel": {"order_id": "str"},
    "edit": {"order_id": "str", "price": "dec", "size": "dec"},
    "stop": {"symbol": "str", "price": "dec", "breakeven": "bool"},
    "tpcancel": {"symbol": "str"},
    "reprotect": {"symbol": "str"},
}
_REQUIRED = {"order": ("symbol", "side"), "close": ("symbol",), "cancel": ("order_id",), "edit": ("order_id",),
             "stop": ("symbol",), "tpcancel": ("symbol",), "reprotect": ("symbol",)}


class WireError(ValueError):
    """A manual action object the server refuses (answered ``code`` 2); the message names the field."""


def _dec(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def action_to_json(a: ManualAction) -> dict[str, Any]:
    """``a`` as the ``action`` object of a ``manual`` request (module docstring)."""
    if isinstance(a, ManualOrder):
        return {"kind": "order", "symbol": a.symbol, "side": a.side.value, "size": _dec(a.size_contracts),
                "notional_usd": _dec(a.notional_usd), "order_type": OrderKind(a.order_type).value,
                "limit_price": _dec(a.limit_price), "stop_price": _dec(a.stop_price), "reduce_only": a.reduce_only,
                "post_only": a.post_only, "attach_exits": a.attach_exits}
    if isinstance(a, ManualClose):
        return {"kind": "close", "symbol": a.symbol, "fraction": _dec(a.fraction), "size": _dec(a.size),
                "limit_price": _dec(a.limit_price)}
    if isinstance(a, CancelOrder):
        return {"kind": "cancel", "order_id": a.order_id}
    if isinstance(a, EditOrder):
        return {"kind": "edit", "order_id": a.order_id, "price": _dec(a.price), "size": _dec(a.size)}
    if isinstance(a, MoveStopTo):
        return {"kind": "stop", "symbol": a.symbol, "price": _dec(a.price), "breakeven": a.breakeven}
    if isinstance(a, CancelTakeProfits):
        return {"kind": "tpcancel", "symbol": a.symbol}
    return {"kind": "reprotect", "symbol": a.symbol}


def _field(obj: dict[str, Any], name: str, kind: str) -> Any:
    v = obj.get(name)
    if v is None:
        return None
    if kind == "bool":
        if not isinstance(v, bool):
            raise WireError(f"action.{name} must be true or false, got {v!r}")
        return v
    if not isinstance(v, str):
        raise WireError(f"action.{name} must be a string, got {type(v).__name__}")
    if kind == "str":
        if not 0 < len(v) <= 100:
            raise WireError(f"action.{name} must be 1..100 characters")
        return v
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise WireError(f"action.{name} must be a decimal number as a string, got {v!r}") from None
    if not d.is_finite() or d <= 0:
        raise WireError(f"action.{name} must be a positive finite number, got {v!r}")
    return d


def action_from_json(obj: Any) -> ManualAction:
    """The action an ``action`` object stands for (module docstring).

    Raises:
        WireError: not an object, unknown ``kind``, an unknown field, a missing required field or a wrong type.
    """
    if not isinstance(obj, dict):
        raise WireError("action must be a JSON object")
    kind = obj.get("kind")
    if kind not in FIELDS:
        raise WireError(f"action.kind must be one of {', '.join(FIELDS)}")
    spec = FIELDS[kind]
    unknown = sorted(set(obj) - set(spec) - {"kind"})
    if unknown:
        raise WireError(f"action ({kind}) has unknown field(s): {', '.join(unknown)}")
    v = {name: _field(obj, name, t) for name, t in spec.items()}
    missing = [n for n in _REQUIRED[kind] if v[n] is None]
    if missing:
        raise WireError(f"action ({kind}) needs {', '.join(missing)}")
    if kind == "order":
        if v["side"] not in ("buy", "sell"):
            raise WireError(f"action.side must be buy or sell, got {v['side']!r}")
        otype = v["order_type"] or "mkt"
        if otype not in {k.value for k in OrderKind}:
            raise WireError(f"action.order_type must be one of {', '.join(k.value for k in OrderKind)}")
        return ManualOrder(v["symbol"].upper(), Side(v["side"]), size_contracts=v["size"],
                           notional_usd=v["notional_usd"], order_type=OrderKind(otype), limit_price=v["limit_price"],
                           stop_price=v["stop_price"], reduce_only=bool(v["reduce_only"]),
                           post_only=bool(v["post_only"]),
                           attach_exits=True if v["attach_exits"] is None else v["attach_exits"])
    if kind == "close":
        return ManualClose(v["symbol"].upper(), fraction=v["fraction"], size=v["size"], limit_price=v["limit_price"])
    if kind == "cancel":
        return CancelOrder(v["order_id"])
    if kind == "edit":
        return EditOrder(v["order_id"], price=v["price"], size=v["size"])
    if kind == "stop":
        return MoveStopTo(v["symbol"].upper(), price=v["price"], breakeven=bool(v["breakeven"]))
    if kind == "tpcancel":
        return CancelTakeProfits(v["symbol"].upper())
    return Reprotect(v["symbol"].upper())
