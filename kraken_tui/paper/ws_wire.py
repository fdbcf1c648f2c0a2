"""Kraken WebSocket v1 message shapes of the paper exchange (spec §7): the only place WS field names are written.

Owns: rendering of ticker, ticker_lite, book (snapshot/delta), trade (snapshot/delta), heartbeat, and the
private open_orders, fills, open_positions and balances messages from exchange state. Times are epoch ms;
numbers are JSON numbers; ``open_orders`` ``qty`` is the remaining open quantity (spec §7.8 note).
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.domain.money import position_margins
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper import margin
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.orders import PaperOrder

__all__ = ["balances", "fill", "open_order", "open_positions", "ticker", "ticker_lite"]

_TYPES = {"stp": "stop", "take_profit": "take_profit"}
_SIGNALS = {"mark": "mark", "index": "spot", "last": "last"}


def _f(d: Decimal | float | None) -> float:
    return float(d) if d is not None else 0.0


def ticker_lite(ex: PaperExchange, sym: str, stats: Any = False) -> dict[str, Any]:
    """``ticker_lite`` (spec §7.4). ``stats``: ``ex.candles.stats_24h`` when the caller already has it."""
    inst, m = ex.instruments[sym], ex.markets[sym]
    if stats is False:
        stats = ex.candles.stats_24h(sym, ex.now_ms)
    vol = stats[3] if stats else 0.0
    change = (m.last - stats[0]) / stats[0] * 100 if stats and stats[0] and m.last else 0.0
    premium = ((m.mark or 0) - (m.index or 0)) / m.index * 100 if m.index and m.mark else 0.0
    return {"feed": "ticker_lite", "product_id": sym, "bid": m.bid, "ask": m.ask, "change": change,
            "premium": round(premium, 4), "volume": vol, "tag": "perpetual", "pair": f"{inst.base}:{inst.quote}",
            "dtm": 0, "maturityTime": 0, "volumeQuote": vol * (m.last or 0.0)}


def ticker(ex: PaperExchange, sym: str) -> dict[str, Any]:
    """``ticker`` (spec §7.3): every field each time; funding fields absolute + relative, omitted when zero;
    ``next_funding_rate_time`` = epoch ms of the next top of the hour."""
    inst, m = ex.instruments[sym], ex.markets[sym]
    stats = ex.candles.stats_24h(sym, ex.now_ms)
    msg = ticker_lite(ex, sym, stats)
    pos = ex.positions.get(sym)
    msg.update({"feed": "ticker", "time": ex.now_ms, "bid_size": m.bid_size, "ask_size": m.ask_size,
                "leverage": f"{int(1 / inst.margin_levels[0].initial_margin_rate)}x", "index": m.index,
                "last": m.last, "suspended": False, "openInterest": _f(abs(pos.size)) if pos else 0.0,
                "markPrice": m.mark, "post_only": inst.post_only, "open": stats[0] if stats else m.last,
                "high": stats[1] if stats else m.last, "low": stats[2] if stats else m.last,
                "next_funding_rate_time": ex.now_ms - ex.now_ms % HOUR_MS + HOUR_MS})
    rel = m.funding_rate_for(ex.now_ms - ex.now_ms % HOUR_MS)
    price = m.index or m.mark
    if rel and price:
        absolute = rel * price if inst.is_linear else rel / price
        msg.update({"funding_rate": absolute, "funding_rate_prediction": absolute, "relative_funding_rate": rel,
                    "relative_funding_rate_prediction": rel})
    return msg


def open_order(o: PaperOrder) -> dict[str, Any]:
    """The ``order`` object of open_orders (spec §7.8)."""
    out: dict[str, Any] = {
        "instrument": o.symbol, "time": o.received_ms, "last_update_time": o.last_update_ms or o.received_ms,
        "qty": _f(o.remaining), "filled": _f(o.filled), "limit_price": _f(o.limit_price),
        "stop_price": _f(o.stop_price), "type": _TYPES.get(o.order_type, "limit") if o.is_trigger else "limit",
        "order_id": o.order_id, "direction": 0 if o.side.value == "buy" else 1, "reduce_only": o.reduce_only,
    }
    if o.cli_ord_id:
        out["cli_ord_id"] = o.cli_ord_id
    if o.is_trigger:
        out["triggerSignal"] = _SIGNALS[o.trigger_signal.value if o.trigger_signal else "mark"]
    return out


def fill(f: PaperFill, with_cli: bool = True) -> dict[str, Any]:
    """One element of ``fills`` (spec §7.9); ``fee_paid`` in ``fee_currency`` (USD for PF_)."""
    out: dict[str, Any] = {
        "instrument": f.symbol, "time": f.ts_ms, "price": _f(f.price), "seq": 0, "buy": f.side.value == "buy",
        "qty": _f(f.size), "remaining_order_qty": _f(f.remaining_order_qty), "order_id": f.order_id,
        "fill_id": f.fill_id, "fill_type": f.fill_type, "fee_paid": _f(f.fee), "fee_currency": f.fee_currency,
        "order_type": f.order_type, "taker_order_type": f.order_type,
    }
    if with_cli and f.cli_ord_id:
        out["cli_ord_id"] = f.cli_ord_id
    return out


def _liquidation_threshold(ex: PaperExchange, sym: str, equity: Decimal, mm_total: Decimal) -> float:
    """Mark price at which the position's margin account meets its maintenance margin, other prices fixed:
    for PF_ the flex account (spec §9 estimate for a linear position: P_liq = e - (C + U - m|q|e) / q); for PI_
    its coin account's ``mm`` trigger estimate (``paper.margin.coin_trigger_prices``; one position per coin
    account); 0 when there is no positive solution."""
    pos = ex.positions[sym]
    inst = ex.instruments[sym]
    if pos.size == 0:
        return 0.0
    if not inst.is_linear:
        triggers = margin.coin_trigger_prices(ex, margin.account_of(inst))
        return float(triggers["mm"]) if triggers and "mm" in triggers else 0.0
    mark = ex.mark_of(sym, pos.entry_price)
    # equity(P) = equity_now + q (P - mark); liquidation when equity(P) = mm_total
    p_liq = mark - (equity - mm_total) / pos.size
    return float(p_liq) if p_liq > 0 else 0.0


def open_positions(ex: PaperExchange, seq: int) -> dict[str, Any]:
    """``open_positions`` with every open position of the account (spec §7.10; ``balance`` signed)."""
    figs = ex.figures()
    rows = []
    for sym, pos in ex.positions.items():
        inst, m = ex.instruments[sym], ex.markets[sym]
        im, mm = position_margins(inst, pos.size, pos.entry_price)
        pnl = ex.upnl_usd(pos)
        rows.append({
            "instrument": sym, "balance": _f(pos.size), "pnl": _f(pnl), "entry_price": _f(pos.entry_price),
            "mark_price": m.mark, "index_price": m.index,
            "liquidation_threshold": _liquidation_threshold(ex, sym, figs.margin_equity, figs.maintenance_margin),
            "effective_leverage": _f(figs.total_position_notional / figs.margin_equity) if figs.margin_equity > 0 else 0.0,
            "return_on_equity": _f(pnl / im) if im else 0.0, "unrealized_funding": 0.0, "initial_margin": _f(im),
            "initial_margin_with_orders": _f(im), "maintenance_margin": _f(mm),
            **({"pnl_currency": "USD"} if inst.is_linear else {}),
        })
    return {"feed": "open_positions", "account": ex.account_uid, "positions": rows, "seq": seq,
            "timestamp": ex.now_ms}


def _futures(ex: PaperExchange) -> dict[str, Any]:
    """The ``futures`` section: one entry per inverse margin account, keyed ``F-XBT:USD`` (spec §7.11), figures
    in the coin (``unit``)."""
    out: dict[str, Any] = {}
    for coin in margin.coin_currencies(ex):
        c = ex.coin_figures(coin)
        key = f"F-{coin.upper()}:USD"
        out[key] = {"name": key, "pair": f"{coin.upper()}/USD", "unit": coin.upper(),
                    "portfolio_value": _f(c.portfolio_value), "balance": _f(c.balance),
                    "maintenance_margin": _f(c.maintenance_margin), "initial_margin": _f(c.initial_margin_with_orders),
                    "available": _f(c.available_funds), "unrealized_funding": 0.0, "pnl": _f(c.pnl),
                    "cash_value": 0.0}
    return out


def balances(ex: PaperExchange, seq: int, snapshot: bool) -> dict[str, Any]:
    """``balances_snapshot`` / ``balances`` with the ``flex_futures`` section (the flex account) and the
    ``futures`` section (the inverse margin accounts, in their coins) (spec §7.11)."""
    f = ex.figures()
    cur = {c.upper(): {"quantity": _f(q), "value": _f(v), "collateral_value": _f(v), "available": _f(q),
                       "haircut": 0.0, "conversion_spread": 0.0} for c, (q, v) in f.currencies.items()}
    section = {
        "balance_value": _f(f.balance_value), "portfolio_value": _f(f.portfolio_value),
        "collateral_value": _f(f.collateral_value), "initial_margin": _f(f.initial_margin_with_orders),
        "initial_margin_without_orders": _f(f.initial_margin), "maintenance_margin": _f(f.maintenance_margin),
        "pnl": _f(f.pnl), "unrealized_funding": _f(f.unrealized_funding), "total_unrealized": _f(f.pnl),
        "total_unrealized_as_margin": _f(f.pnl), "margin_equity": _f(f.margin_equity),
        "available_margin": _f(f.available_margin), "total_position_size": _f(f.total_position_notional),
    }
    return {"feed": "balances_snapshot" if snapshot else "balances", "account": ex.account_uid,
            "timestamp": ex.now_ms, "seq": seq, "holding": {}, "futures": _futures(ex),
            "flex_futures": {"currencies": cur, **section, "isolated": {}, "cross": dict(section)}}
