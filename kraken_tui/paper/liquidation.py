"""Liquidation of the paper account from mark price: partial first, with a fee, then full.

Owns: ``check`` (the order of liquidation steps on the exchange: which position, cancelling its orders,
booking the liquidation fills). The rules are ``kraken_tui.domain.money``'s: the trigger (margin equity
below maintenance margin, ``liquidation_triggered``), the partial size (``partial_liquidation_size``: the
smallest lot-rounded size that brings equity back to 1.25 x the remaining maintenance margin; the whole
position when no partial is enough, or when equity is still below MM after a partial) and the fee of a full
liquidation, charged only out of the margin equity left (``capped_liquidation_fee_bps``). Kraken Support
"Margining & Liquidations: Multi-Collateral" (trigger) and "Equity Protection Process" (liquidation priced
"so that the account does not go negative"). [GAP] Kraken's liquidation fee is not published in the API
documentation; ``paper.liquidation_fee_pct`` defaults to 0.25, below the lowest first-tier MM rate (0.5%,
PF_XBTUSD), so that a partial liquidation can succeed (it needs f < 1.25 x MM rate x entry / mark).
Liquidation executions are booked as fills of an exchange-generated ``liquidation`` order with fill type
``partialLiquidation`` or ``liquidation`` and account-log rows ``futures liquidation`` carrying
``liquidation_fee``. Open orders of the symbol are cancelled first (WS reason ``liquidation``).
Must not import: aiohttp, httpx, websockets, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from kraken_tui.domain import Side
from kraken_tui.domain.money import (
    MAX_LIQUIDATION_STEPS,
    capped_liquidation_fee_bps,
    liquidation_fee_per_contract,
    liquidation_triggered,
    partial_liquidation_size,
    position_margins,
)
from kraken_tui.paper.ledger import book_fill
from kraken_tui.paper.orders import PaperOrder
from kraken_tui.paper.venue import Venue

__all__ = ["check"]


def _liquidate(ex: Venue, symbol: str, qty: Decimal, full: bool, equity_usd: Decimal) -> None:
    pos = ex.positions[symbol]
    side = Side.SELL if pos.size > 0 else Side.BUY
    price = ex.mark_of(symbol, pos.entry_price)
    order = PaperOrder(str(uuid.uuid4()), symbol, side, "liquidation", qty, ex.now_ms, limit_price=price,
                       reduce_only=True, last_update_ms=ex.now_ms)
    # a full close pays the liquidation fee only out of the equity left (capped rate); a partial the configured one
    fee_bps = (capped_liquidation_fee_bps(ex.instruments[symbol], qty, price, equity_usd, ex.liquidation_fee_bps)
               if full else None)
    book_fill(ex, order, price, qty, "liquidation" if full else "partialLiquidation", fee_bps)
    order.status, order.closed_ms, order.update_reason = "FULLY_EXECUTED", ex.now_ms, "LIQUIDATION"


def check(ex: Venue) -> None:
    """Liquidate while margin equity < maintenance margin: the position with the largest MM first, partially
    when a partial close restores equity >= 1.25 x MM, else fully (fee capped at the equity left, module
    docstring); repeat (at most 20 steps)."""
    partial_done: set[str] = set()
    for _ in range(MAX_LIQUIDATION_STEPS):
        if not ex.positions:
            return
        equity, mm = ex.equity_and_mm()  # the per-tick question, without the rest of figures()
        if not liquidation_triggered(equity, mm):
            return
        figs = ex.figures()
        symbol = max(ex.positions, key=lambda s: position_margins(ex.instruments[s], ex.positions[s].size,
                                                                    ex.positions[s].entry_price)[1])
        for o in [o for o in ex.open_orders.values() if o.symbol == symbol]:
            ex.close_order(o, "CANCELLED", "liquidation", "LIQUIDATION")
        pos = ex.positions[symbol]
        inst = ex.instruments[symbol]
        size_abs = abs(pos.size)
        if symbol in partial_done:
            _liquidate(ex, symbol, size_abs, True, figs.margin_equity)
            continue
        mm_pos = position_margins(inst, pos.size, pos.entry_price)[1]
        price = ex.mark_of(symbol, pos.entry_price)
        fee_per_contract = liquidation_fee_per_contract(inst, price, ex.liquidation_fee_bps)
        q = partial_liquidation_size(figs.margin_equity, figs.maintenance_margin, mm_pos, size_abs,
                                     fee_per_contract, inst.lot_size)
        if q <= 0:
            return
        full = q >= size_abs
        _liquidate(ex, symbol, q if not full else size_abs, full, figs.margin_equity)
        partial_done.add(symbol)
