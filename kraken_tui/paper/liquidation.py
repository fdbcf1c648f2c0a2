"""Liquidation of the paper account from mark price: partial first, with a fee, then full.

Owns: ``check`` (the order of liquidation steps on the exchange: which account and position, cancelling its
orders, booking the liquidation fills). Each margin account is liquidated on its own figures (``paper.margin``):
the flex account (PF_) on its margin equity and MM in USD, an inverse account (PI_) on its portfolio value and
MM in the coin (docs/kraken-futures-api.md §9, single-collateral trigger); the partial size below is the same
rule in the coin. The rules are ``kraken_tui.domain.money``'s: the trigger (equity below maintenance margin,
``liquidation_triggered``), the partial size (``partial_liquidation_size``: the
smallest lot-rounded size that brings equity back to 1.25 x the remaining maintenance margin; the whole
position when no partial is enough, or when equity is still below MM after a partial) and the fee of a full
liquidation, charged only out of the margin equity left (``capped_liquidation_fee_bps``). Kraken Support
"Margining & Liquidations: Multi-Collateral" (trigger) and "Equity Protection Process" (liquidation priced
"so that the account does not go negative"). [GAP] Kraken's liquidation fee is not published in the API
documentation; ``paper.liquidation_fee_pct`` defaults to 0.25, below the lowest first-tier MM rate (0.5%,
PF_XBTUSD), so that a partial liquidation can succeed (it needs f < 1.25 x MM rate x entry / mark).
Liquidation executions are booked as fills of an exchange-generated ``liquidation`` order with fill type
``partialLiquidation`` or ``liquidation`` and account-log rows ``futures liquidation`` carrying
``liquidation_fee``. Stages (Equity Protection Process): partial liquidation, then full liquidation at mark;
when the account is already bankrupt at mark (equity < 0: the market gapped past the bankruptcy price), a
linear position is instead assigned at its bankruptcy price (``bankruptcy_price``; fill type ``assignor``,
account log ``futures assignor``, no fee) so the account ends at 0, not below. That stage is on when
``PaperExchange.assignment_stage`` is True; it is off by default because the backtester models liquidation
at mark and the backtest-equals-paper reference tests hold the two to the same fills. [GAP] Kraken's assignment
counterparties and the final unwind stage act on other accounts; the paper account's own place in the unwind
queue is served by ``unwindqueue`` (``paper.unwind``). Inverse (PI_) positions still close at mark. Open orders of the symbol are cancelled first (WS reason ``liquidation``).
Must not import: aiohttp, httpx, websockets, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kraken_tui.domain import Instrument, Side
from kraken_tui.domain.money import (
    MAX_LIQUIDATION_STEPS,
    capped_liquidation_fee_bps,
    fee_amount,
    liquidation_fee_per_contract,
    liquidation_triggered,
    partial_liquidation_size,
    settlement_margins,
)
from kraken_tui.paper.account import FLEX_ACCOUNT
from kraken_tui.paper.ledger import book_fill
from kraken_tui.paper.margin import account_of, equity_and_mm
from kraken_tui.paper.orders import PaperOrder
from kraken_tui.paper.venue import Venue

__all__ = ["bankruptcy_price", "check"]

ONE = Decimal(1)


def bankruptcy_price(inst: Instrument, signed_size: Decimal, mark: Decimal, equity_usd: Decimal) -> Decimal:
    """The price at which closing ``signed_size`` contracts of a linear position leaves the account's equity at
    exactly 0 (USD): mark - equity / size, on the tick grid rounded so equity is not below 0 (a long sells at
    or above it, a short buys at or below it). Kraken Support "Equity Protection Process": the liquidation
    is priced "so that the account does not go negative"."""
    raw = mark - equity_usd / (signed_size * inst.contract_size)
    return inst.round_price(raw, rounding=ROUND_CEILING if signed_size > 0 else ROUND_FLOOR).max(inst.tick_size)


def _liquidate(ex: Venue, symbol: str, qty: Decimal, full: bool, equity_usd: Decimal) -> None:
    pos = ex.positions[symbol]
    inst = ex.instruments[symbol]
    side = Side.SELL if pos.size > 0 else Side.BUY
    price = ex.mark_of(symbol, pos.entry_price)
    if ex.assignment_stage and full and equity_usd < 0 and inst.is_linear and qty == abs(pos.size):
        # bankrupt at mark (the market gapped through the bankruptcy price): the position is assigned at the
        # bankruptcy price instead (stage 3 of the Equity Protection Process; the assignee takes the loss)
        order = PaperOrder(str(uuid.uuid4()), symbol, side, "assignment", qty, ex.now_ms,
                           limit_price=bankruptcy_price(inst, pos.size, price, equity_usd), reduce_only=True,
                           last_update_ms=ex.now_ms)
        book_fill(ex, order, order.limit_price or price, qty, "assignor", Decimal(0))
        order.status, order.closed_ms, order.update_reason = "FULLY_EXECUTED", ex.now_ms, "ASSIGNMENT"
        return
    order = PaperOrder(str(uuid.uuid4()), symbol, side, "liquidation", qty, ex.now_ms, limit_price=price,
                       reduce_only=True, last_update_ms=ex.now_ms)
    # a full close pays the liquidation fee only out of the equity left (capped rate); a partial the configured one
    fee_bps = (capped_liquidation_fee_bps(ex.instruments[symbol], qty, price, equity_usd, ex.liquidation_fee_bps)
               if full else None)
    book_fill(ex, order, price, qty, "liquidation" if full else "partialLiquidation", fee_bps)
    order.status, order.closed_ms, order.update_reason = "FULLY_EXECUTED", ex.now_ms, "LIQUIDATION"


def _accounts(ex: Venue) -> list[str]:
    """The margin accounts holding a position: the flex account first, then the coins in order."""
    accounts = {account_of(ex.instruments[s]) for s in ex.positions}
    return sorted(accounts, key=lambda a: (a != FLEX_ACCOUNT, a))


def _triggered(ex: Venue) -> tuple[str, Decimal, Decimal] | None:
    """The first margin account whose equity is below its maintenance margin: (account, equity, MM) in the
    account's unit (USD for flex, the coin for an inverse account), or None."""
    for account in _accounts(ex):
        equity, mm = equity_and_mm(ex, account)
        if liquidation_triggered(equity, mm):
            return account, equity, mm
    return None


def check(ex: Venue) -> None:
    """Liquidate while a margin account's equity < its maintenance margin (the flex account: margin equity in
    USD; an inverse account: portfolio value in its coin, ``paper.margin``): within that account the position
    with the largest MM first, partially when a partial close restores equity >= 1.25 x MM, else fully (fee
    capped at the equity left, module docstring); repeat (at most 20 steps)."""
    partial_done: set[str] = set()
    for _ in range(MAX_LIQUIDATION_STEPS):
        if not ex.positions:
            return
        found = _triggered(ex)
        if found is None:
            return
        account, equity, mm_total = found
        symbol = max((s for s in ex.positions if account_of(ex.instruments[s]) == account),
                     key=lambda s: settlement_margins(ex.instruments[s], ex.positions[s].size,
                                                      ex.positions[s].entry_price)[1])
        for o in [o for o in ex.open_orders.values() if o.symbol == symbol]:
            ex.close_order(o, "CANCELLED", "liquidation", "LIQUIDATION")
        pos = ex.positions[symbol]
        inst = ex.instruments[symbol]
        size_abs = abs(pos.size)
        price = ex.mark_of(symbol, pos.entry_price)
        # the fee cap is stated in USD: a coin account's equity is valued at the mark
        equity_usd = equity if inst.is_linear else equity * price
        if symbol in partial_done:
            _liquidate(ex, symbol, size_abs, True, equity_usd)
            continue
        mm_pos = settlement_margins(inst, pos.size, pos.entry_price)[1]
        fee_per_contract = (liquidation_fee_per_contract(inst, price, ex.liquidation_fee_bps) if inst.is_linear
                            else fee_amount(inst, ONE, price, ex.liquidation_fee_bps))
        q = partial_liquidation_size(equity, mm_total, mm_pos, size_abs, fee_per_contract, inst.lot_size)
        if q <= 0:
            return
        full = q >= size_abs
        _liquidate(ex, symbol, q if not full else size_abs, full, equity_usd)
        partial_done.add(symbol)
