"""Booking of executions and funding: positions, wallet, fills list and account log of the paper exchange.

Owns: the three booking operations that move money on a ``paper.venue.Venue``: ``book_fill`` (trade or
liquidation: position, realised P&L, fee, liquidation fee, two account-log rows, a cash leg and a position leg,
Kraken Futures docs "Account log"), ``settle_funding`` (hourly ``funding rate change`` rows) and
``new_log_entry``. The amounts are ``domain.money``'s (``apply_fill``, ``fee_amount``, ``funding_payment``);
``paper.fills.PaperFill`` is the execution record.
Must not import: aiohttp, httpx, websockets, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from kraken_tui.domain import ZERO, AccountLogEntry
from kraken_tui.domain.money import fee_amount, funding_payment, settlement_currency
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.orders import PaperOrder
from kraken_tui.paper.venue import Venue

__all__ = ["book_fill", "new_log_entry", "settle_funding"]

LIQUIDATION_TYPES = ("liquidation", "partialLiquidation", "assignor")
_LOG_INFO = {"liquidation": "futures liquidation", "partialLiquidation": "futures liquidation",
             "assignor": "futures assignor"}
MAX_CHARGED_HOURS = 24 * 400


def new_log_entry(ex: Venue, **kw: object) -> AccountLogEntry:
    """Append an account-log row (ids start at 1, spec §4.18) and notify ``account_log`` listeners."""
    ex.log_seq += 1
    entry = AccountLogEntry(id=ex.log_seq, **kw)  # type: ignore[arg-type]
    ex.account_log.append(entry)
    ex.notify("account_log", entry)
    return entry


def book_fill(
    ex: Venue, order: PaperOrder, price: Decimal, qty: Decimal, fill_type: str,
    liquidation_fee_bps: Decimal | None = None,
) -> PaperFill:
    """Execute ``qty`` contracts of ``order`` at ``price``: update the position, realise P&L, charge the fee
    (maker or taker bps; liquidation fills pay paper.liquidation_fee_pct of notional instead: the account log's
    cash leg then has ``fee`` 0 and the amount in ``liquidation_fee``, booked once, spec §4.18), write the
    account-log cash and position legs and the fills list, and notify listeners (fill, order, position,
    balance). ``liquidation_fee_bps`` overrides the configured liquidation fee rate for this fill (the capped
    rate of a full liquidation). Returns the fill.
    """
    inst = ex.instruments[order.symbol]
    now = ex.now_ms
    pos = ex.positions.get(order.symbol) or PaperPosition(order.symbol)
    ex.positions[order.symbol] = pos
    old_size = pos.size
    realized = pos.apply_fill(inst, qty * order.side.sign, price, now)
    liquidation = fill_type in LIQUIDATION_TYPES
    liq_bps = ex.liquidation_fee_bps if liquidation_fee_bps is None else liquidation_fee_bps
    liq_fee = fee_amount(inst, qty, price, liq_bps) if liquidation else ZERO
    fee = liq_fee if liquidation else fee_amount(inst, qty, price, ex.maker_fee_bps if fill_type == "maker"
                                                 else ex.taker_fee_bps)
    cur = settlement_currency(inst)
    old_bal, new_bal = ex.balances.add(cur, realized - fee)
    order.filled += qty
    order.last_update_ms = now
    fill = PaperFill(str(uuid.uuid4()), order.order_id, order.cli_ord_id, order.symbol, order.side, qty, price, now,
                     fill_type, fee, "USD" if cur == "usd" else inst.base, order.order_type, order.remaining)
    ex.fills.append(fill)
    mark = ex.markets[order.symbol].mark
    mark_d = Decimal(repr(mark)) if mark is not None else None
    info = _LOG_INFO.get(fill_type, "futures trade")
    new_log_entry(ex, ts_ms=now, asset=cur, info=info, contract=order.symbol.lower(), old_balance=old_bal,
                  new_balance=new_bal, realized_pnl=realized, fee=ZERO if liquidation else fee, trade_price=price,
                  mark_price=mark_d,
                  liquidation_fee=liq_fee if liquidation else None, execution=fill.fill_id)
    new_log_entry(ex, ts_ms=now, asset=order.symbol.lower(), info=info, contract=order.symbol.lower(),
                  old_balance=old_size, new_balance=pos.size, trade_price=price, mark_price=mark_d,
                  execution=fill.fill_id)
    if pos.size == 0:
        del ex.positions[order.symbol]
    ex.notify("fill", fill)
    ex.notify("position", order.symbol)
    ex.notify("balance", None)
    return fill


def settle_funding(ex: Venue, hour_end_ms: int) -> None:
    """Book one hour of funding on every open position at the top of the hour ``hour_end_ms`` (spec §8.3).

    Rate: the relative rate of the hour that just ended (``PaperMarket.funding_rate_for``), converted to
    Kraken's absolute rate at the index price (mark when no index). Payment = -signed_size x absolute
    (longs pay when the rate is positive), booked to the settlement currency as an account-log
    ``funding rate change`` row with ``funding_rate`` (absolute) and ``realized_funding``.
    """
    for sym, m in ex.markets.items():
        ref_price = m.index if m.index is not None else m.mark
        if m.funding_rates and ref_price is not None:  # the rate charged this hour, for historicalfundingrates
            rel_now = m.funding_rate_for(hour_end_ms - HOUR_MS)
            absolute_now, _ = funding_payment(ex.instruments[sym], Decimal(1), Decimal(repr(rel_now)),
                                              Decimal(repr(ref_price)))
            m.charged_rates[hour_end_ms - HOUR_MS] = (rel_now, float(absolute_now))
            if len(m.charged_rates) > MAX_CHARGED_HOURS:
                del m.charged_rates[min(m.charged_rates)]
    for sym, pos in list(ex.positions.items()):
        m = ex.markets[sym]
        rel = m.funding_rate_for(hour_end_ms - HOUR_MS)
        ref = m.index if m.index is not None else m.mark
        if rel == 0 or ref is None or pos.size == 0:
            continue
        inst = ex.instruments[sym]
        absolute, payment = funding_payment(inst, pos.size, Decimal(repr(rel)), Decimal(repr(ref)))
        cur = settlement_currency(inst)
        old_bal, new_bal = ex.balances.add(cur, payment)
        new_log_entry(ex, ts_ms=hour_end_ms, asset=cur, info="funding rate change", contract=sym.lower(),
                      old_balance=old_bal, new_balance=new_bal, funding_rate=absolute, realized_funding=payment,
                      mark_price=Decimal(repr(m.mark)) if m.mark is not None else None)
        ex.notify("balance", None)
