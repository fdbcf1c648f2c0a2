"""Orders, order results and fills, exact Decimals (spec §4.8-§4.16, §7.8-§7.9).

Part of ``kraken_tui.domain`` (import from there). Units as stated in the package docstring.
Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.fastinit import fast_init
from kraken_tui.domain.values import (
    ZERO,
    FillType,
    OrderEventType,
    OrderStatus,
    OrderType,
    Side,
    TriggerSignal,
)

__all__ = ["Fill", "Order", "OrderEvent", "OrderRequest", "OrderResult"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What to send to sendorder (spec §4.10). Prices USD, size in contracts, both exact.

    ``cli_ord_id`` is the client order id (cliOrdId): deterministic per intent, at most 100 chars.
    """

    symbol: str
    side: Side
    order_type: OrderType
    size: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    cli_ord_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, Decimal) or not self.size.is_finite() or self.size <= 0:
            raise ValueError(f"order size must be a positive finite Decimal, got {self.size!r}")
        for name in ("limit_price", "stop_price"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, Decimal) or not v.is_finite() or v <= 0):
                raise ValueError(f"{name} must be a positive finite Decimal, got {v!r}")
        if self.order_type in (OrderType.LIMIT, OrderType.POST, OrderType.IOC, OrderType.FOK) and (
            self.limit_price is None
        ):
            raise ValueError(f"{self.order_type.value} order needs limit_price")
        if self.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT) and self.stop_price is None:
            raise ValueError(f"{self.order_type.value} order needs stop_price")
        if self.cli_ord_id is not None and not (0 < len(self.cli_ord_id) <= 100):
            raise ValueError("cli_ord_id must be 1..100 characters")


@fast_init
@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it (openorders §4.8, WS open_orders §7.8, orderEvents §4.10).

    ``size`` is the *unfilled* remainder in contracts; ``filled`` what has executed.
    """

    order_id: str
    symbol: str
    side: Side
    order_type: str  # lmt, post, ioc, stp, take_profit, trailing_stop, ... as reported
    size: Decimal
    filled: Decimal = ZERO
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    cli_ord_id: str | None = None
    status: str = "untouched"
    received_ts_ms: int | None = None
    last_update_ts_ms: int | None = None

    @property
    def is_trigger(self) -> bool:
        """True for untriggered stop / take-profit / trailing-stop orders."""
        return self.order_type in ("stp", "stop", "take_profit", "trailing_stop")


@fast_init
@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One element of ``orderEvents`` (spec §4.10): what happened to the order in this request.

    For EXECUTION: ``price`` (USD) and ``amount`` (contracts) of the execution. For REJECT: ``reason``
    is Kraken's OrderError (``POST_WOULD_EXECUTE``...). ``order`` is the order after the event (for
    EXECUTION: the order prior to execution; for EDIT: the new order) when the message carries one.
    """

    type: OrderEventType
    order_id: str | None = None
    cli_ord_id: str | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    reason: str | None = None
    execution_id: str | None = None
    order: Order | None = None


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The typed answer to sendorder / editorder / cancelorder / one batch instruction.

    ``status`` is never a crash: a rejection is a status (``postWouldExecute``...), a timeout is
    ``OrderStatus.UNKNOWN`` with ``error`` saying why, to be resolved by the caller.
    ``raw_status`` keeps Kraken's string when it is one we did not know (status ``UNRECOGNISED``).
    """

    status: OrderStatus
    order_id: str | None = None
    cli_ord_id: str | None = None
    received_ts_ms: int | None = None
    events: tuple[OrderEvent, ...] = ()
    order_tag: str | None = None
    raw_status: str | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the exchange did what was asked."""
        return self.status.accepted

    @property
    def filled_size(self) -> Decimal:
        """Contracts executed within this request (sum of EXECUTION amounts)."""
        return sum((e.amount or ZERO for e in self.events if e.type is OrderEventType.EXECUTION), ZERO)


@fast_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders (fills §4.9, WS fills §7.9).

    ``size`` in contracts (positive), ``price`` in USD. ``fee`` is in ``fee_currency`` (USD for PF_),
    negative for a rebate; None when the source carries no fee (REST fills never do).
    """

    fill_id: str
    order_id: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    ts_ms: int
    fill_type: FillType
    cli_ord_id: str | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None

    @property
    def notional_usd(self) -> Decimal:
        """size x price (USD; meaningful for PF_ linear contracts)."""
        return self.size * self.price
