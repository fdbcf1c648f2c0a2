"""Liquidation of the paper account from mark price (spec §9; lessons.md "Liquidation": partial first, with a
fee, since 2026-03-26).

Owns: ``check`` (is margin equity below maintenance margin? then liquidate) and the size rule of a partial
liquidation. With equity E, total maintenance margin M, and a position of |s| contracts whose MM is m_p,
closing q contracts at mark P costs the liquidation fee f x notional(q, P) and frees q x m_p/|s| of MM
(realising P&L at mark does not change equity). The partial size is the smallest q on the lot grid with
E - f x notional(q, P) >= TARGET x (M - q x m_p/|s|), TARGET = 1.25 ("back above MM plus a margin"). If that
needs the whole position, or equity is still below MM after the partial, the position is closed fully.
A full liquidation charges the fee only out of margin equity above zero: fee = min(f x notional, max(E, 0))
(closing at mark realises the position's uP&L, so E is what the account has left to pay with). By the rule
above a later full liquidation happens exactly when E <= f x notional(everything), so without the cap every
full liquidation would push the balance below zero by the fee alone. [GAP] Kraken's liquidation fee and its
cap are not in the spec (§9: the Equity Protection Process prices the liquidation "so that the account does
not go negative"); ``paper.liquidation_fee_pct`` defaults to 0.25, below the lowest first-tier MM rate (0.5%,
PF_XBTUSD), so that a partial liquidation can succeed (it needs f < 1.25 x MM rate x entry / mark).
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
from kraken_tui.paper.account import BPS, fee_amount, notional_usd, position_margins
from kraken_tui.paper.ledger import book_fill
from kraken_tui.paper.orders import PaperOrder

if TYPE_CHECKING:
    from kraken_tui.paper.exchange import PaperExchange

__all__ = ["TARGET", "capped_fee_bps", "check", "partial_size"]

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


def capped_fee_bps(ex: PaperExchange, symbol: str, qty: Decimal, price: Decimal, equity_usd: Decimal) -> Decimal:
    """The liquidation fee rate (bps) that charges min(configured fee, max(equity, 0)) on closing ``qty`` at
    ``price`` (module docstring). Equity is USD; for PI_ it is converted to the base asset at ``price``."""
    inst = ex.instruments[symbol]
    fee_at_one_bp = fee_amount(inst, qty, price, Decimal(1))  # settlement currency per bp of fee rate
    cap = max(equity_usd, ZERO) if inst.is_linear else max(equity_usd, ZERO) / price
    if fee_at_one_bp <= 0 or fee_at_one_bp * ex.liquidation_fee_bps <= cap:
        return ex.liquidation_fee_bps
    return cap / fee_at_one_bp


def _liquidate(ex: PaperExchange, symbol: str, qty: Decimal, full: bool, equity_usd: Decimal) -> None:
    pos = ex.positions[symbol]
    side = Side.SELL if pos.size > 0 else Side.BUY
    price = ex.mark_of(symbol, pos.entry_price)
    order = PaperOrder(str(uuid.uuid4()), symbol, side, "liquidation", qty, ex.now_ms, limit_price=price,
                       reduce_only=True, last_update_ms=ex.now_ms)
    # a full close pays the liquidation fee only out of the equity left (capped rate); a partial the configured one
    fee_bps = capped_fee_bps(ex, symbol, qty, price, equity_usd) if full else None
    book_fill(ex, order, price, qty, "liquidation" if full else "partialLiquidation", fee_bps)
    order.status, order.closed_ms, order.update_reason = "FULLY_EXECUTED", ex.now_ms, "LIQUIDATION"


def check(ex: PaperExchange) -> None:
    """Liquidate while margin equity < maintenance margin: the position with the largest MM first, partially
    when a partial close restores equity >= 1.25 x MM, else fully (fee capped at the equity left, module
    docstring); repeat (at most 20 steps)."""
    partial_done: set[str] = set()
    for _ in range(MAX_STEPS):
        if not ex.positions:
            return
        equity, mm = ex.equity_and_mm()  # the per-tick question, without the rest of figures()
        if equity >= mm:
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
        fee_per_contract = notional_usd(inst, Decimal(1), price) * ex.liquidation_fee_bps / BPS
        q = partial_size(figs.margin_equity, figs.maintenance_margin, mm_pos, size_abs, fee_per_contract,
                         inst.lot_size)
        if q <= 0:
            return
        full = q >= size_abs
        _liquidate(ex, symbol, q if not full else size_abs, full, figs.margin_equity)
        partial_done.add(symbol)
