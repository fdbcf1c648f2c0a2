"""Public market-data handlers of the paper exchange (spec §4.2-§4.5, §6): instruments and their status,
tickers, order book, public trades, fee schedules, funding-rate history, candles and chart analytics. Each takes (exchange, parsed request) and returns a JSON-able object, a text body, or
(body, HTTP status); ``paper.routes`` maps paths to them.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.kraken.fields import parse_ts_ms
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
    """GET historicalfundingrates?symbol= (spec §4.5): ascending by period start; ``relativeFundingRate`` per
    hour and the absolute ``fundingRate``. Hours the exchange settled show the rate it charged (absolute at the
    price it used); other known hours up to now (a synthetic market's seeded backfill, a replay's funding-file
    rows, the announced current hour) are valued at the current index. 400 for a symbol that is no perpetual."""
    sym = req.params["symbol"].upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound"), 400
    inst, m = ex.instruments[sym], ex.markets[sym]
    price = m.index or m.mark or 0.0
    rows: dict[int, tuple[float, float]] = {}
    for ts, rel in m.funding_rates:
        if ts <= ex.now_ms:
            rows[ts] = (rel, rel * price if inst.is_linear else (rel / price if price else 0.0))
    rows.update(m.charged_rates)
    return wire.success(ex.now_ms, rates=[{"timestamp": wire.iso(ts), "fundingRate": absolute,
                                           "relativeFundingRate": rel}
                                          for ts, (rel, absolute) in sorted(rows.items())])


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




def orderbook(ex: PaperExchange, req: Any) -> Any:
    """GET orderbook?symbol= : the whole L2 book, bids descending and asks ascending, ``[price, size]`` pairs
    (spec §4.4). ``symbol`` is required (PKS); an unknown one answers ``contractNotFound``."""
    sym = (req.params.get("symbol") or "").upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    bids, asks = ex.book_levels(sym)
    return wire.success(ex.now_ms, orderBook={"bids": [[p, s] for p, s in bids], "asks": [[p, s] for p, s in asks]})


def trade_history(ex: PaperExchange, req: Any) -> Any:
    """GET history?symbol=&lastTime= : the last 100 public trades, newest first, before ``lastTime`` (ISO or
    epoch ms) when given (spec §4.4). Rows ``time, trade_id, price, size, side, type, uid``."""
    sym = (req.params.get("symbol") or "").upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    before: int | None = None
    if req.params.get("lastTime"):
        try:
            before = parse_ts_ms(req.params["lastTime"])
        except ValueError:
            return wire.error(ex.now_ms, "invalidArgument")
    rows = [t for t in reversed(ex.history.tape.get(sym, ())) if before is None or t.ts_ms < before][:100]
    return wire.success(ex.now_ms, history=[wire.public_trade_row(t) for t in rows])


def _status_row(sym: str) -> dict[str, Any]:
    # [GAP] the paper exchange simulates no dislocation or extreme-volatility regime: the flags Kraken shows
    # on a calm market (spec §4.2 example).
    return {"tradeable": sym, "experiencingDislocation": False, "priceDislocationDirection": None,
            "experiencingExtremeVolatility": False, "extremeVolatilityInitialMarginMultiplier": 1}


def instruments_status(ex: PaperExchange, req: Any) -> Any:
    """GET instruments/status: one calm-market status row per instrument (spec §4.2)."""
    return wire.success(ex.now_ms, instrumentStatus=[_status_row(s) for s in ex.instruments])


def instrument_status(ex: PaperExchange, req: Any) -> Any:
    """GET instruments/{symbol}/status: the status row of one instrument, fields at the top level. [GAP] the
    spec names the path (PKS, JK) without an example; the fields are those of ``instruments/status``."""
    sym = req.args[0].upper()
    if sym not in ex.instruments:
        return wire.error(ex.now_ms, "contractNotFound")
    return wire.success(ex.now_ms, **_status_row(sym))


def feeschedules(ex: PaperExchange, req: Any) -> Any:
    """GET feeschedules: the paper exchange's single fee schedule, one tier at the configured maker/taker rates
    in **percent** (spec §12.2 ``fetchTradingFees``: makerFee 0.02 = 0.02 %)."""
    return wire.success(ex.now_ms, feeSchedules=[wire.fee_schedule(ex.fee_schedule_uid, ex.maker_fee_bps,
                                                                   ex.taker_fee_bps)])


_INTERVALS = {60: "1m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 14400: "4h", 43200: "12h", 86400: "1d",
              604800: "1w"}
ANALYTICS_TYPES = ("open-interest", "aggressor-differential", "trade-volume", "trade-count", "liquidation-volume",
                   "rolling-volatility", "long-short-ratio", "long-short-info", "cvd", "top-traders", "orderbook",
                   "spreads", "liquidity", "slippage", "future-basis", "funding")
SIMULATED_ANALYTICS = ("trade-volume", "trade-count", "funding")


def analytics(ex: PaperExchange, req: Any) -> Any:
    """GET /api/charts/v1/analytics/{symbol}/{type}?interval=<s>&since=<s>[&to=<s>] (spec §6, field report).

    Served types: ``trade-volume`` (contracts traded per bucket, from the trade candles), ``trade-count``
    (prints per bucket, from the public tape) and ``funding`` (relative hourly rate in force at each bucket).
    [GAP] the response shape is not in the spec; the paper exchange answers
    ``{"result":{"timestamp":[s…],"data":[…],"more":bool},"errors":[]}`` with at most 2000 points (the field
    report's page cap). Other documented types answer HTTP 400 ``analytics type not simulated``.
    """
    sym, kind = req.args[0].upper(), req.args[1]
    if sym not in ex.instruments:
        return "Invalid symbol", 400
    if kind not in ANALYTICS_TYPES:
        return "Invalid analytics type", 400
    if kind not in SIMULATED_ANALYTICS:
        return "analytics type not simulated", 400
    interval = int_param(req, "interval")
    if interval not in _INTERVALS:
        return "Invalid interval", 400
    step = interval * 1000
    since = int_param(req, "since", lo=0)
    to = int_param(req, "to", lo=0)
    end = (to * 1000 if to is not None else ex.now_ms) // step * step
    start = since * 1000 // step * step if since is not None else end - 99 * step
    keys = list(range(start, end + 1, step))
    more = len(keys) > 2000
    keys = keys[:2000]
    data: list[Any]
    if kind == "trade-volume":
        bars, _ = ex.candles.query("trade", sym, _INTERVALS[interval], keys[0] if keys else 0,
                                   keys[-1] if keys else 0, 2000)
        vol = {b[0]: b[5] for b in bars}
        data = [vol.get(k, 0.0) for k in keys]
    elif kind == "trade-count":
        counts = dict.fromkeys(keys, 0)
        for t in ex.history.tape.get(sym, ()):
            k = t.ts_ms // step * step
            if k in counts:
                counts[k] += 1
        data = [counts[k] for k in keys]
    else:
        m = ex.markets[sym]
        data = [m.funding_rate_for(k) for k in keys]
    return {"result": {"timestamp": [k // 1000 for k in keys], "data": data, "more": more}, "errors": []}
