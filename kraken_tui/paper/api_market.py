"""Public market-data handlers of the paper exchange (spec §4.2-§4.5, §6): instruments, tickers, funding-rate
history and candles. Each takes (exchange, parsed request) and returns a JSON-able object, a text body, or
(body, HTTP status); ``paper.routes`` maps paths to them.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.paper import wire
from kraken_tui.paper.candles import RESOLUTIONS_MS, TICK_TYPES
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.params import int_param

def instruments(ex: PaperExchange, req: Any) -> Any:
    """GET instruments (spec §4.2)."""
    return wire.success(ex.now_ms, instruments=[wire.instrument(i) for i in ex.instruments.values()])


def _ticker(ex: PaperExchange, sym: str) -> dict[str, Any]:
    pos = ex.positions.get(sym)
    return wire.ticker(ex.instruments[sym], ex.markets[sym], ex.candles.stats_24h(sym, ex.now_ms),
                       abs(pos.size) if pos else Decimal(0), ex.now_ms)


def tickers(ex: PaperExchange, req: Any) -> Any:
    """GET tickers, optionally ``symbol`` repeated (spec §4.3)."""
    wanted = {s.upper() for s in req.multi.get("symbol", [])}
    rows = [_ticker(ex, s) for s in ex.instruments if (not wanted or s in wanted) and ex.markets[s].has_price]
    return wire.success(ex.now_ms, tickers=rows)


def ticker_one(ex: PaperExchange, req: Any) -> Any:
    """GET tickers/{symbol} (spec §4.3)."""
    sym = req.args[0].upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    if not ex.markets[sym].has_price:
        return wire.error(ex.now_ms, "marketUnavailable")
    return wire.success(ex.now_ms, ticker=_ticker(ex, sym))


def funding_rates(ex: PaperExchange, req: Any) -> Any:
    """GET historicalfundingrates (spec §4.5)."""
    sym = req.params["symbol"].upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound"), 400
    inst, m = ex.instruments[sym], ex.markets[sym]
    price = m.index or m.mark or 0.0
    rows = [{"timestamp": wire.iso(ts), "fundingRate": (rel * price if inst.is_linear else (rel / price if price else 0.0)),
             "relativeFundingRate": rel} for ts, rel in m.funding_rates]
    return wire.success(ex.now_ms, rates=rows)



def charts(ex: PaperExchange, req: Any) -> Any:
    """GET /api/charts/v1/... candles and their listings (spec §6)."""
    args = [a for a in req.args if a]
    if not args:
        return list(TICK_TYPES)
    if args[0] not in TICK_TYPES:
        return "Invalid tick type", 400
    if len(args) == 1:
        return list(ex.instruments)
    sym = args[1].upper()
    if sym not in ex.instruments:
        return "Invalid symbol", 400
    if len(args) == 2:
        return list(RESOLUTIONS_MS)
    if args[2] not in RESOLUTIONS_MS:
        return "Invalid resolution", 400
    f, t, c = int_param(req, "from"), int_param(req, "to"), int_param(req, "count")
    rows, more = ex.candles.query(args[0], sym, args[2], f * 1000 if f is not None else None,
                                  t * 1000 if t is not None else None, min(c, 2000) if c is not None else 2000)
    return {"candles": wire.candle_rows(rows), "more_candles": more}


