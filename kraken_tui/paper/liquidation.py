"""Liquidation of the paper account from mark price (spec §9; lessons.md "Liquidation": partial first, with a
fee, since 2026-03-26).

Owns: ``check`` (is margin equity below maintenance margin? then liquidate) and the size rule of a partial
liquidation. With equity E, total maintenance margin M, and a position of |s| contracts whose MM is m_p,
closing q contracts at mark P costs the liquidation fee f x notional(q, P) and frees q x m_p/|s| of MM
(realising P&L at mark does not change equity). The partial size is the smallest q on the lot grid with
E - f x notional(q, P) >= TARGET x (M - q x m_p/|s|), TARGET = 1.25 ("back above MM plus a margin"). If that
needs the whole position, or equity is still below MM after the partial, the position is closed fully.
Liquidation executions are booked as fills of an exchange-generated ``liquidation`` order with fill type
``partialLiquidation`` or ``liquidation`` and account-log rows ``futures liquidation`` carrying
``liquidation_fee``. Open orders of the symbol are cancelled first (WS reason ``liquidation``).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from kraken_tui.domain import ZERO, Side
from kraken_tui.paper.account import BPS, notional_usd, position_margins
from kraken_tui.paper.ledger import book_fill
from kraken_tui.paper.orders import PaperOrder

if TYPE_CHECKING:
    from kraken_tui.paper.exchange import PaperExchange

__all__ = ["TARGET", "check", "partial_size"]

TARGET = Decimal("1.25")
MAX_STEPS = 20


def partial_size(equity: Decimal, mm_total: Decimal, mm_pos: Decimal, size_abs: Decimal, fee_per_contract: Decimal,
                 lot: Decimal) -> Decimal:
    """Contracts to close so that equity >= TARGET x remaining MM (formula in the module docstring), rounded
    up to the lot; ``size_abs`` (everything) when no partial size is enough."""
    freed = TARGET * mm_pos / size_abs - fee_per_contract
    if freed <= 0:
        return size_abs
    q = (TARGET * mm_total - equity) / freed
    if q <= 0:
        return ZERO
    q = (q / lot).to_integral_value(rounding=ROUND_CEILING) * lot
    return min(q, size_abs)


def _liquidate(ex: PaperExchange, symbol: str, qty: Decimal, full: bool) -> None:
    pos = ex.positions[symbol]
    side = Side.SELL if pos.size > 0 else Side.BUY
    price = ex.mark_of(symbol, pos.entry_price)
    order = PaperOrder(str(uuid.uuid4()), symbol, side, "liquidation", qty, ex.now_ms, limit_price=price,
                       reduce_only=True, last_update_ms=ex.now_ms)
    book_fill(ex, order, price, qty, "liquidation" if full else "partialLiquidation")
    order.status, order.closed_ms, order.update_reason = "FULLY_EXECUTED", ex.now_ms, "LIQUIDATION"


def check(ex: PaperExchange) -> None:
    """Liquidate while margin equity < maintenance margin: the position with the largest MM first, partially
    when a partial close restores equity >= 1.25 x MM, else fully; repeat (at most 20 steps)."""
    partial_done: set[str] = set()
    for _ in range(MAX_STEPS):
        if not ex.positions:
            return
        figs = ex.figures()
        if figs.margin_equity >= figs.maintenance_margin:
            return
        symbol = max(ex.positions, key=lambda s: position_margins(ex.instruments[s], ex.positions[s].size,
                                                                    ex.positions[s].entry_price)[1])
        for o in [o for o in ex.open_orders.values() if o.symbol == symbol]:
            ex.close_order(o, "CANCELLED", "liquidation", "LIQUIDATION")
        pos = ex.positions[symbol]
        inst = ex.instruments[symbol]
        size_abs = abs(pos.size)
        if symbol in partial_done:
            _liquidate(ex, symbol, size_abs, True)
            continue
        mm_pos = position_margins(inst, pos.size, pos.entry_price)[1]
        price = ex.mark_of(symbol, pos.entry_price)
        fee_per_contract = notional_usd(inst, Decimal(1), price) * ex.liquidation_fee_bps / BPS
        q = partial_size(figs.margin_equity, figs.maintenance_margin, mm_pos, size_abs, fee_per_contract,
                         inst.lot_size)
        if q <= 0:
            return
        full = q >= size_abs
        _liquidate(ex, symbol, q if not full else size_abs, full)
        partial_done.add(symbol)
