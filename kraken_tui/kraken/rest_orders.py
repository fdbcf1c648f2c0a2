"""Order requests -> Kraken wire parameters: sendorder/editorder params and the batchorder JSON.

Owns: the typed batch instructions (``BatchSend``, ``BatchEdit``, ``BatchCancel``), cliOrdId
assignment (uuid4 when the request has none, spec §4.10 "must be globally unique"), rounding of sizes
to the lot and prices to the tick with ``domain.Instrument`` helpers, and number formatting without
exponent (``Decimal('1E-10')`` -> ``0.0000000001``).
Must not import: httpx, websockets, aiohttp, textual.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from kraken_tui.domain import Instrument, OrderRequest, OrderType

__all__ = [
    "BatchCancel",
    "BatchEdit",
    "BatchInstruction",
    "BatchSend",
    "batch_json",
    "edit_params",
    "fmt_decimal",
    "json_str",
    "new_cli_ord_id",
    "order_params",
    "with_cli_ord_id",
]


def fmt_decimal(d: Decimal) -> str:
    """Format a Decimal for the wire: plain digits, no exponent, no trailing zeros (``1E+2`` -> ``100``)."""
    return format(d.normalize(), "f")


def new_cli_ord_id() -> str:
    """A fresh cliOrdId: a uuid4 in its 36-character text form (within Kraken's 100, spec §4.10)."""
    return str(uuid.uuid4())


def with_cli_ord_id(req: OrderRequest) -> OrderRequest:
    """Return ``req`` with a cliOrdId: its own, or a fresh uuid4 (36 chars, within the 100 limit)."""
    return req if req.cli_ord_id else replace(req, cli_ord_id=new_cli_ord_id())


def _size(size: Decimal, inst: Instrument | None) -> str:
    if inst is None:
        return fmt_decimal(size)
    rounded = inst.round_size(size)
    if rounded <= 0:
        raise ValueError(
            f"size {fmt_decimal(size)} rounds to 0 at lot {fmt_decimal(inst.lot_size)} for {inst.symbol}"
        )
    return fmt_decimal(rounded)


def _price(price: Decimal, inst: Instrument | None) -> str:
    if inst is None:
        return fmt_decimal(price)
    rounded = inst.round_price(price)
    if rounded <= 0:
        raise ValueError(f"price {fmt_decimal(price)} rounds to 0 at tick {fmt_decimal(inst.tick_size)}")
    return fmt_decimal(rounded)


def _order_fields(
    req: OrderRequest, inst: Instrument | None, cli_ord_id: str | None = None
) -> list[tuple[str, str | bool]]:
    fields: list[tuple[str, str | bool]] = [
        ("orderType", req.order_type.value),
        ("symbol", req.symbol.upper()),
        ("side", req.side.value),
        ("size", _size(req.size, inst)),
    ]
    if req.limit_price is not None and req.order_type is not OrderType.MARKET:
        fields.append(("limitPrice", _price(req.limit_price, inst)))
    if req.stop_price is not None:
        fields.append(("stopPrice", _price(req.stop_price, inst)))
    if req.trigger_signal is not None:
        fields.append(("triggerSignal", req.trigger_signal.value))
    if req.reduce_only:
        fields.append(("reduceOnly", True))
    cid = cli_ord_id or req.cli_ord_id
    if cid:
        fields.append(("cliOrdId", cid))
    return fields


def _as_text(v: str | bool) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else v


def order_params(
    req: OrderRequest, inst: Instrument | None = None, *, cli_ord_id: str | None = None
) -> list[tuple[str, str]]:
    """sendorder form parameters (spec §4.10): orderType, symbol, side, size, limitPrice (never for
    ``mkt``), stopPrice, triggerSignal, reduceOnly=true, cliOrdId (``cli_ord_id`` when given, else the
    request's own). With ``inst`` the size is rounded DOWN to the lot and prices to the tick.

    Raises:
        ValueError: the size rounds to zero lots or a price to zero ticks (nothing is sent).
    """
    return [(k, _as_text(v)) for k, v in _order_fields(req, inst, cli_ord_id)]


def edit_params(
    *,
    order_id: str | None,
    cli_ord_id: str | None,
    size: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    inst: Instrument | None = None,
    id_key: str = "orderId",
) -> list[tuple[str, str]]:
    """editorder parameters (spec §4.11; ``orderId`` camel-case) or, with ``id_key="order_id"``, the
    batch edit fields (spec §4.15). Exactly one of ``order_id``/``cli_ord_id`` is required.

    Raises:
        ValueError: neither or both ids given, nothing to change, or a value rounds to zero.
    """
    if (order_id is None) == (cli_ord_id is None):
        raise ValueError("give exactly one of order_id or cli_ord_id")
    if size is None and limit_price is None and stop_price is None:
        raise ValueError("an edit needs size, limit_price or stop_price")
    out = [(id_key, order_id)] if order_id is not None else [("cliOrdId", cli_ord_id)]
    if size is not None:
        out.append(("size", _size(size, inst)))
    if limit_price is not None:
        out.append(("limitPrice", _price(limit_price, inst)))
    if stop_price is not None:
        out.append(("stopPrice", _price(stop_price, inst)))
    return out  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class BatchSend:
    """Place ``request`` inside a batch. ``order_tag`` maps the answer back (default: the position)."""

    request: OrderRequest
    order_tag: str | None = None


@dataclass(frozen=True, slots=True)
class BatchEdit:
    """Amend one order inside a batch (one of ``order_id``/``cli_ord_id``); prices USD, size contracts."""

    order_id: str | None = None
    cli_ord_id: str | None = None
    size: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BatchCancel:
    """Cancel one order inside a batch, by ``order_id`` or ``cli_ord_id``."""

    order_id: str | None = None
    cli_ord_id: str | None = None


BatchInstruction = BatchSend | BatchEdit | BatchCancel

_NUMERIC = {"size", "limitPrice", "stopPrice"}


#: A character ``json.dumps`` would escape in a string (anything but printable ASCII other than ``"`` and ``\\``).
_NEEDS_ESCAPE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]').search


def json_str(text: str) -> str:
    """``json.dumps(text)`` for a str: the same text; printable ASCII without ``"`` or ``\\`` (symbols,
    cliOrdIds, order kinds) is quoted directly, anything else goes through ``json.dumps``."""
    return json.dumps(text) if _NEEDS_ESCAPE(text) else f'"{text}"'


#: A field name -> its JSON text and the colon (a handful of names, built once each).
_JSON_KEYS: dict[str, str] = {}


def _json_object(pairs: Sequence[tuple[str, str | bool]]) -> str:
    parts = []
    for k, v in pairs:
        if isinstance(v, bool):
            val = "true" if v else "false"
        elif k in _NUMERIC:
            val = v  # already a plain decimal string: emitted as a JSON number, exactly
        else:
            val = json_str(v)
        key = _JSON_KEYS.get(k)
        if key is None:
            key = _JSON_KEYS[k] = json_str(k) + ":"
        parts.append(key + val)
    return "{" + ",".join(parts) + "}"


def batch_json(
    instructions: Sequence[BatchInstruction], instruments: Mapping[str, Instrument] | None = None
) -> tuple[str, list[BatchInstruction]]:
    """Build the ``json`` form value of batchorder (spec §4.15): ``{"batchOrder":[...]}``.

    Sends get a cliOrdId (uuid4 when missing) and an ``order_tag`` (their index when missing); sizes
    and prices are exact JSON numbers, rounded with ``instruments[symbol]`` when known.

    Returns:
        (JSON text, the instructions as sent, with cliOrdIds and tags filled in).

    Raises:
        ValueError: empty batch, a cancel/edit without exactly one id, or a value rounding to zero.
    """
    if not instructions:
        raise ValueError("a batch needs at least one instruction")
    instruments = instruments or {}
    elems: list[str] = []
    sent: list[BatchInstruction] = []
    for i, ins in enumerate(instructions):
        if isinstance(ins, BatchSend):
            req = with_cli_ord_id(ins.request)
            ins = BatchSend(req, ins.order_tag or str(i))
            pairs: list[tuple[str, str | bool]] = [("order", "send"), ("order_tag", ins.order_tag)]  # type: ignore[list-item]
            pairs += _order_fields(req, instruments.get(req.symbol.upper()))
            if not req.reduce_only:
                pairs.append(("reduceOnly", False))
        elif isinstance(ins, BatchEdit):
            pairs = [("order", "edit")]
            pairs += edit_params(
                order_id=ins.order_id,
                cli_ord_id=ins.cli_ord_id,
                size=ins.size,
                limit_price=ins.limit_price,
                stop_price=ins.stop_price,
                id_key="order_id",
            )
        elif isinstance(ins, BatchCancel):
            if (ins.order_id is None) == (ins.cli_ord_id is None):
                raise ValueError(f"batch instruction {i}: give exactly one of order_id or cli_ord_id")
            pairs = [("order", "cancel")]
            pairs.append(("order_id", ins.order_id) if ins.order_id else ("cliOrdId", ins.cli_ord_id))  # type: ignore[arg-type]
        else:
            raise TypeError(f"batch instruction {i}: not a BatchSend/BatchEdit/BatchCancel: {ins!r}")
        elems.append(_json_object(pairs))
        sent.append(ins)
    return '{"batchOrder":[' + ",".join(elems) + "]}", sent
