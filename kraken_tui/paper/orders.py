"""Order state of the paper exchange: orders, trigger rules, request validation, order events.

Owns: ``PaperOrder`` (one order, mutable while open), ``OrderEventRec`` (one ``orderEvents`` element before
rendering), ``Outcome`` (the answer to one order instruction), ``parse_order_params`` (sendorder parameters
-> typed values or a Kraken status string, spec §4.10) and the trigger rules: stop buy / take-profit sell
trigger above, stop sell / take-profit buy trigger below (spec §4.10 "Observed trigger sides").
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from kraken_tui.domain import ZERO, Instrument, Side, TriggerSignal

__all__ = ["OrderEventRec", "OrderParams", "Outcome", "PaperOrder", "parse_order_params", "parse_bool"]

ORDER_TYPES = ("lmt", "post", "mkt", "ioc", "fok", "stp", "take_profit", "trailing_stop")
TRIGGER_TYPES = ("stp", "take_profit", "trailing_stop")
TRAIL_UNITS = ("PERCENT", "QUOTE_CURRENCY")
MAX_CLI_ORD_ID = 100


@dataclass(slots=True)
class PaperOrder:
    """One order. ``size`` is the original quantity, ``filled`` what executed (contracts); prices USD.

    ``order_type`` is Kraken's request type (lmt, post, ioc, mkt, stp, take_profit); a triggered stop keeps
    its id and becomes ``lmt`` (limit given) or ``ioc`` (market with 1% protection), spec §10.
    """

    order_id: str
    symbol: str
    side: Side
    order_type: str
    size: Decimal
    received_ms: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    cli_ord_id: str | None = None
    filled: Decimal = ZERO
    last_update_ms: int = 0
    status: str = "open"  # open | FULLY_EXECUTED | CANCELLED | REJECTED (orders/status vocabulary)
    update_reason: str | None = None
    closed_ms: int | None = None
    trail_deviation: Decimal | None = None
    """``trailing_stop``: the distance of the stop from the best price seen, in ``trail_unit``."""
    trail_unit: str | None = None
    """``PERCENT`` (of the price) or ``QUOTE_CURRENCY`` (USD), spec §4.10 ``trailingStopDeviationUnit``."""

    @property
    def remaining(self) -> Decimal:
        """Unfilled contracts."""
        return self.size - self.filled

    @property
    def is_trigger(self) -> bool:
        """True while the order is an untriggered stop / take-profit."""
        return self.order_type in TRIGGER_TYPES

    @property
    def trigger_above(self) -> bool:
        """True when the trigger fires at price >= stop (stop buy, trailing-stop buy, take-profit sell),
        spec §4.10."""
        return (self.order_type in ("stp", "trailing_stop")) == (self.side is Side.BUY)

    def trail(self, price: float | None) -> None:
        """``trailing_stop``: move the stop with the watched price (USD) when it moves in the position's favour:
        a sell stop follows the price up at ``trail_deviation`` below it, a buy stop follows it down above it;
        never away. The stop stays on ``tick`` multiples (rounded away from the price)."""
        if price is None or self.trail_deviation is None or self.order_type != "trailing_stop":
            return
        p = Decimal(repr(price))
        dist = p * self.trail_deviation / 100 if self.trail_unit == "PERCENT" else self.trail_deviation
        cand = p + dist if self.side is Side.BUY else p - dist
        if self.stop_price is None or (cand < self.stop_price if self.side is Side.BUY else cand > self.stop_price):
            self.stop_price = cand

    def triggered_by(self, price: float | None) -> bool:
        """Whether the watched price (USD) reached the stop price."""
        if price is None or self.stop_price is None:
            return False
        p = Decimal(repr(price))
        return p >= self.stop_price if self.trigger_above else p <= self.stop_price

    def snapshot(self) -> PaperOrder:
        """An independent copy (what an event reports about the order at that moment)."""
        return dataclasses.replace(self)


@dataclass(frozen=True, slots=True)
class OrderEventRec:
    """One ``orderEvents`` element (spec §4.10). ``order`` is the order after the event, except for EXECUTION
    (the order prior to the execution) and EDIT (the new order; ``old`` the order before)."""

    type: str  # PLACE | CANCEL | EDIT | REJECT | EXECUTION
    order: PaperOrder
    old: PaperOrder | None = None
    reason: str | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    execution_id: str | None = None
    reduced_quantity: Decimal | None = None


@dataclass(slots=True)
class Outcome:
    """The result of one send / edit / cancel instruction: Kraken ``status`` plus its ``orderEvents``."""

    status: str
    received_ms: int
    order_id: str | None = None
    cli_ord_id: str | None = None
    events: list[OrderEventRec] = field(default_factory=list)
    order_tag: str | None = None


@dataclass(frozen=True, slots=True)
class OrderParams:
    """Validated sendorder parameters (spec §4.10): size in contracts, prices USD, exact."""

    order_type: str
    symbol: str
    side: Side
    size: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    trigger_signal: TriggerSignal
    reduce_only: bool
    cli_ord_id: str | None
    trail_deviation: Decimal | None = None
    trail_unit: str | None = None


def parse_bool(value: object) -> bool | None:
    """``true``/``false`` (any case) or a JSON bool -> bool; anything else -> None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _dec(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _on_grid(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


def parse_order_params(p: dict[str, object], inst: Instrument) -> OrderParams | str:
    """Validate sendorder parameters against the instrument (spec §4.10 statuses).

    Args:
        p: parameter values by name (strings from a query/form, or JSON values from batchorder).
        inst: the (already resolved) instrument of ``p["symbol"]``.

    Returns:
        ``OrderParams``, or the Kraken status string of the first problem: ``invalidOrderType``,
        (``fok`` needs a limit; ``trailing_stop`` needs ``trailingStopMaxDeviation`` 0.1-50 for
        ``trailingStopDeviationUnit`` PERCENT (default) or > 0 for QUOTE_CURRENCY and no limit: else
        ``invalidArgument``)
        ``invalidSide``, ``invalidSize`` (not > 0, not a multiple of the lot, above maxPositionSize),
        ``invalidPrice`` (missing/not positive/off the tick grid), ``clientOrderIdTooLong``, or
        ``invalidArgument`` (bad triggerSignal / reduceOnly).
    """
    order_type = str(p.get("orderType", "")).strip()
    if order_type not in ORDER_TYPES:
        return "invalidOrderType"
    side_s = str(p.get("side", "")).strip().lower()
    if side_s not in ("buy", "sell"):
        return "invalidSide"
    size = _dec(p.get("size"))
    if size is None or size <= 0 or not _on_grid(size, inst.lot_size):
        return "invalidSize"
    if inst.max_position_size is not None and size > inst.max_position_size:
        return "invalidSize"
    prices: dict[str, Decimal | None] = {}
    for name in ("limitPrice", "stopPrice"):
        raw = p.get(name)
        if raw is None or raw == "":
            prices[name] = None
            continue
        d = _dec(raw)
        if d is None or d <= 0 or not _on_grid(d, inst.tick_size):
            return "invalidPrice"
        prices[name] = d
    if order_type in ("lmt", "post", "ioc", "fok") and prices["limitPrice"] is None:
        return "invalidPrice"
    if order_type in ("stp", "take_profit") and prices["stopPrice"] is None:
        return "invalidPrice"
    trail: Decimal | None = None
    unit: str | None = None
    if order_type == "trailing_stop":
        # spec §4.10: limitPrice left undefined; max deviation 0.1-50 (percent) or a positive USD distance
        unit = str(p.get("trailingStopDeviationUnit", "PERCENT") or "PERCENT").upper()
        trail = _dec(p.get("trailingStopMaxDeviation"))
        if prices["limitPrice"] is not None or unit not in TRAIL_UNITS or trail is None or trail <= 0:
            return "invalidArgument"
        if unit == "PERCENT" and not Decimal("0.1") <= trail <= 50:
            return "invalidArgument"
        prices["stopPrice"] = None
    if order_type == "mkt":
        prices = {"limitPrice": None, "stopPrice": None}
    sig_s = str(p.get("triggerSignal", "mark") or "mark").strip().lower()
    sig_s = "index" if sig_s == "spot" else sig_s
    if sig_s not in ("mark", "index", "last"):
        return "invalidArgument"
    reduce_only = parse_bool(p.get("reduceOnly", False))
    if reduce_only is None:
        return "invalidArgument"
    cli = p.get("cliOrdId")
    cli_s = None if cli in (None, "") else str(cli)
    if cli_s is not None and len(cli_s) > MAX_CLI_ORD_ID:
        return "clientOrderIdTooLong"
    return OrderParams(order_type, inst.symbol, Side(side_s), size, prices["limitPrice"], prices["stopPrice"],
                       TriggerSignal(sig_s), reduce_only, cli_s, trail, unit)
