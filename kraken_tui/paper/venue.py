"""What order entry, booking and liquidation read and change on the paper exchange: the ``Venue`` protocol.

Owns: ``Venue``, the typed view of ``paper.exchange.PaperExchange`` that ``paper.entry``, ``paper.ledger``
and ``paper.liquidation`` take. They import this module, never ``paper.exchange``, so the exchange imports
them without an import cycle. Units as in ``PaperExchange``: sizes contracts, prices USD, fee rates bps,
times UTC epoch ms.
Must not import: aiohttp, httpx, websockets, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Protocol

from kraken_tui.domain import AccountLogEntry, Instrument
from kraken_tui.paper.account import AccountFigures, Balances, PaperPosition
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.matching import PaperMarket
from kraken_tui.paper.orders import PaperOrder

__all__ = ["Venue"]


class Venue(Protocol):
    """The account and markets of the paper exchange (``PaperExchange`` implements it).

    Attributes: ``instruments``/``markets`` by upper-case symbol; ``positions`` open positions by symbol;
    ``balances`` the wallet; ``open_orders`` by order id; ``closed_orders`` recently closed orders;
    ``fills`` and ``account_log`` the booked history; ``log_seq`` the last account-log id; ``now_ms`` the
    exchange clock; ``maker_fee_bps``/``taker_fee_bps``/``liquidation_fee_bps`` fee rates (bps).
    """

    instruments: dict[str, Instrument]
    markets: dict[str, PaperMarket]
    positions: dict[str, PaperPosition]
    balances: Balances
    open_orders: dict[str, PaperOrder]
    closed_orders: deque[PaperOrder]
    fills: deque[PaperFill]
    account_log: deque[AccountLogEntry]
    log_seq: int
    now_ms: int
    suspended: set[str]
    assignment_stage: bool
    maker_fee_bps: Decimal
    taker_fee_bps: Decimal
    liquidation_fee_bps: Decimal

    def notify(self, kind: str, payload: object) -> None:
        """Tell every listener about a change (``PaperExchange.notify``)."""

    def add_open(self, order: PaperOrder, reason: str = ...) -> None:
        """Rest ``order`` (``PaperExchange.add_open``)."""

    def close_order(self, order: PaperOrder, status: str, reason: str, update_reason: str) -> None:
        """Remove an order for good (``PaperExchange.close_order``)."""

    def find_open(self, order_id: str | None = None, cli_ord_id: str | None = None) -> PaperOrder | None:
        """The open order with this id or cliOrdId (``PaperExchange.find_open``)."""

    def find_recent(self, order_id: str | None = None, cli_ord_id: str | None = None) -> PaperOrder | None:
        """An open or recently closed order (``PaperExchange.find_recent``)."""

    def mark_of(self, symbol: str, fallback: Decimal) -> Decimal:
        """Mark price of ``symbol`` in USD, ``fallback`` when unknown (``PaperExchange.mark_of``)."""

    def upnl_usd(self, pos: PaperPosition) -> Decimal:
        """Unrealised P&L of a position at mark, USD (``PaperExchange.upnl_usd``)."""

    def initial_margin_with_orders(self, extra: PaperOrder | None = None) -> Decimal:
        """IM of positions and open orders, USD (``PaperExchange.initial_margin_with_orders``)."""

    def equity_and_mm(self) -> tuple[Decimal, Decimal]:
        """(margin equity, maintenance margin) USD (``PaperExchange.equity_and_mm``)."""

    def figures(self) -> AccountFigures:
        """The flex account now (``PaperExchange.figures``)."""
