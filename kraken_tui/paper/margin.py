"""Which margin account margins a position, and the figures of the inverse (coin) margin accounts.

Owns: ``account_of`` (the flex account for PF_, the coin's inverse margin account for PI_), ``im_with_orders``
(initial margin of an account's positions plus its open orders, in the account's unit), ``coin_currencies``,
``coin_figures`` (one inverse margin account: balance, P&L, portfolio value, IM/MM, available funds, all in the
coin) and ``equity_and_mm`` (the two figures the liquidation check compares, per account).
Kraken keeps inverse contracts in single-collateral accounts apart from the multi-collateral flex account
(docs/kraken-futures-api.md §4.6 ``fi_xbtusd``, §9 "Liquidation trigger": single-collateral accounts are
liquidated when the portfolio value falls below the maintenance margin); P&L, fees and funding of a PI_
position settle in the coin (§8.5; Kraken Support "Portfolio Management"). The formulas are
``kraken_tui.domain.money``'s (``settlement_margins``, ``unrealized_pnl``).
Must not import: aiohttp, httpx, websockets, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import ZERO, Instrument, Side
from kraken_tui.domain.money import (
    inverse_liquidation_price,
    margin_rates,
    settlement_currency,
    settlement_margins,
    unrealized_pnl,
)
from kraken_tui.paper.account import FLEX_ACCOUNT, CoinAccountFigures
from kraken_tui.paper.orders import PaperOrder
from kraken_tui.paper.venue import Venue

__all__ = ["account_of", "coin_currencies", "coin_figures", "coin_price_usd", "coin_trigger_prices", "equity_and_mm",
           "im_with_orders"]


def account_of(inst: Instrument) -> str:
    """The margin account of ``inst``: ``FLEX_ACCOUNT`` (``"flex"``) for a PF_ linear perpetual, else the
    lower-case coin of its inverse margin account (``PI_XBTUSD`` -> ``"xbt"``, account ``fi_xbtusd``)."""
    return FLEX_ACCOUNT if inst.is_linear else settlement_currency(inst)


def coin_currencies(ex: Venue) -> list[str]:
    """The coins with an inverse margin account, sorted: every non-USD balance and the settlement coin of
    every listed inverse instrument."""
    coins = {c for c in ex.balances.quantities if c != "usd"}
    coins.update(settlement_currency(i) for i in ex.instruments.values() if not i.is_linear)
    return sorted(coins)


def coin_price_usd(ex: Venue, currency: str) -> Decimal | None:
    """USD per coin: the index (else mark) price of the first listed contract on that base, None before any."""
    for sym, inst in ex.instruments.items():
        if inst.base.lower() != currency:
            continue
        m = ex.markets[sym]
        price = m.index if m.index is not None else m.mark
        if price:
            return Decimal(repr(price))
    return None


def im_with_orders(ex: Venue, account: str, extra: PaperOrder | None = None) -> Decimal:
    """Initial margin of the positions and open (non-trigger) orders margined by ``account`` (``"flex"``: USD;
    a coin: that coin), ``extra`` an order counted as if open: per symbol the larger of the position's IM and
    the IM of the worst-case exposure if every open order on one side filled, valued at mark (else the first
    order's limit price). Source: docs/kraken-futures-api.md §9 ("Open orders add to initialMarginWithOrders")."""
    total = ZERO
    by_sym: dict[str, list[PaperOrder]] = {}
    for o in ex.open_orders.values():
        if not o.is_trigger:
            by_sym.setdefault(o.symbol, []).append(o)
    if extra is not None:
        by_sym.setdefault(extra.symbol, []).append(extra)
    for sym, inst in ex.instruments.items():
        if account_of(inst) != account:
            continue
        pos = ex.positions.get(sym)
        size = pos.size if pos else ZERO
        orders = by_sym.get(sym, [])
        if size == 0 and not orders:
            continue
        im_pos = settlement_margins(inst, size, pos.entry_price)[0] if pos else ZERO
        buys = sum((o.remaining for o in orders if o.side is Side.BUY), ZERO)
        sells = sum((o.remaining for o in orders if o.side is Side.SELL), ZERO)
        worst = max(abs(size + buys), abs(size - sells))
        if worst > abs(size):
            ref = ex.mark_of(sym, next((o.limit_price for o in orders if o.limit_price), ZERO) or ZERO)
            if ref > 0:
                im_pos = max(im_pos, settlement_margins(inst, worst, ref)[0])
        total += im_pos
    return total


def coin_figures(ex: Venue, currency: str) -> CoinAccountFigures:
    """The inverse margin account of ``currency`` now (``CoinAccountFigures``; every figure in the coin).

    Example: 0.1 XBT, long 10 000 PI_XBTUSD from 50 000, mark 40 000: pnl (1/50 000 - 1/40 000) x 10 000 =
    -0.05 XBT, portfolio value 0.05 XBT, IM 0.004 XBT, MM 0.002 XBT, available funds 0.046 XBT."""
    balance = ex.balances.quantities.get(currency, ZERO)
    pnl = im = mm = ZERO
    positions: dict[str, Decimal] = {}
    for sym, pos in ex.positions.items():
        inst = ex.instruments[sym]
        if account_of(inst) != currency or pos.size == 0:
            continue
        positions[sym] = pos.size
        pnl += unrealized_pnl(inst, pos.size, pos.entry_price, ex.mark_of(sym, pos.entry_price))
        p_im, p_mm = settlement_margins(inst, pos.size, pos.entry_price)
        im, mm = im + p_im, mm + p_mm
    im_orders = max(im, im_with_orders(ex, currency))
    pv = balance + pnl
    return CoinAccountFigures(currency, balance, pnl, pv, im, im_orders, mm, pv - im_orders, positions,
                              coin_price_usd(ex, currency))


def equity_and_mm(ex: Venue, account: str) -> tuple[Decimal, Decimal]:
    """(equity, maintenance margin) of ``account``, the two figures the liquidation check compares: the flex
    account's margin equity and MM in USD (``Venue.equity_and_mm``), or an inverse account's portfolio value
    and MM in its coin."""
    if account == FLEX_ACCOUNT:
        return ex.equity_and_mm()
    balance = ex.balances.quantities.get(account, ZERO)
    pnl = mm = ZERO
    for sym, pos in ex.positions.items():
        inst = ex.instruments[sym]
        if account_of(inst) != account or pos.size == 0:
            continue
        pnl += unrealized_pnl(inst, pos.size, pos.entry_price, ex.mark_of(sym, pos.entry_price))
        mm += settlement_margins(inst, pos.size, pos.entry_price)[1]
    return balance + pnl, mm


def coin_trigger_prices(ex: Venue, currency: str) -> dict[str, Decimal] | None:
    """Estimated mark prices (USD) at which the inverse account of ``currency`` would reach its initial
    (``im``) and maintenance (``mm``) margin, other figures fixed, for an account holding exactly one position
    (``domain.money.inverse_liquidation_price`` on the coin balance); None with no or several positions, and a
    key is left out when no positive price reaches it. The paper exchange liquidates at the maintenance margin,
    so the liquidation and termination thresholds ``lt``/``tt`` are the ``mm`` price.
    Source: docs/kraken-futures-api.md §4.6 (``triggerEstimates``, inverse accounts only) and §9."""
    held = [(s, p) for s, p in ex.positions.items() if p.size != 0 and account_of(ex.instruments[s]) == currency]
    if len(held) != 1:
        return None
    sym, pos = held[0]
    inst = ex.instruments[sym]
    im_rate, mm_rate = margin_rates(inst, pos.size, pos.entry_price)
    balance = ex.balances.quantities.get(currency, ZERO)
    out: dict[str, Decimal] = {}
    for key, rate in (("im", im_rate), ("mm", mm_rate)):
        price = inverse_liquidation_price(pos.size * inst.contract_size, pos.entry_price, rate, balance)
        if price is not None and price > 0:
            out[key] = price
    if "mm" in out:
        out["lt"] = out["tt"] = out["mm"]
    return out
