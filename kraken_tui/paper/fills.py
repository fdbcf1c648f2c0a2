"""One execution of one of our orders on the paper exchange: ``PaperFill``.

Owns: ``PaperFill``, the record ``paper.ledger.book_fill`` creates and the REST ``fills`` / WS ``fills`` feeds
report (Kraken Futures docs "Get fills" and WS "fills").
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import Side

__all__ = ["PaperFill"]


@dataclass(frozen=True, slots=True)
class PaperFill:
    """One execution: ``size`` contracts at ``price`` USD; ``fee`` in ``fee_currency`` (USD for PF_, base for
    PI_; includes the liquidation fee for liquidation fills). ``fill_type``: maker, taker, liquidation,
    partialLiquidation (spec §4.9). ``remaining_order_qty`` = contracts still open on the order after it."""

    fill_id: str
    order_id: str
    cli_ord_id: str | None
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    ts_ms: int
    fill_type: str
    fee: Decimal
    fee_currency: str
    order_type: str
    remaining_order_qty: Decimal
