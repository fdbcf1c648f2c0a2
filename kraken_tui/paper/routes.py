"""The paper exchange's REST route table (spec §4.1, §5, §6): the single source of truth for what is served.

Owns: ``Route`` (method, path pattern, handler, auth flag, required arguments, rate-limit cost and pool, spec
section, coverage state and note), ``ROUTES`` (every served REST endpoint), ``NOT_SERVED`` (spec endpoints the
paper exchange does not serve, with the reason) and ``resolve`` (method + path -> handler, route, captured path
segments). ``paper.coverage`` renders docs/paper-coverage.md from these tables; ``paper.ratelimit`` charges
``Route.cost`` to the route's pool. Handlers live in ``paper.api_market`` (public), ``paper.api_trading``
(private /derivatives) and ``paper.api_history`` (history API); auth, parsing and faults are ``paper.server``'s.
Must not import: aiohttp, textual, the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from kraken_tui.paper import api_history, api_market, api_trading
from kraken_tui.paper.exchange import PaperExchange

__all__ = ["NOT_SERVED", "POOL_DERIVATIVES", "POOL_HISTORY", "ROUTES", "Resolved", "Route", "SpecEndpoint", "resolve"]

V3 = "/derivatives/api/v3/"
HIST = "/api/history/"
POOL_DERIVATIVES = "derivatives"
POOL_HISTORY = "history"
Handler = Callable[[PaperExchange, Any], Any]


@dataclass(frozen=True, slots=True)
class Route:
    """One served REST endpoint.

    ``pattern``: path with ``*`` = one captured segment, ``**`` = the rest (captured). ``required``: argument
    names checked before auth (``a|b`` = either), spec §3.2 item 5. ``cost``: points charged per call to
    ``pool`` (spec §5.1 /derivatives budget, §5.2 history pool; 0 = free, public endpoints). Endpoints whose cost
    depends on the request (fills with lastFillTime, batchorder, account-log count) are priced by
    ``paper.ratelimit.request_cost``. ``state``: ``served`` or ``partial`` (``note`` says what is missing).
    """

    method: str
    pattern: str
    handler: Handler
    private: bool
    spec: str
    required: tuple[str, ...] = ()
    cost: int = 0
    pool: str | None = None
    state: str = "served"
    note: str = ""


@dataclass(frozen=True, slots=True)
class SpecEndpoint:
    """An endpoint or feed of the spec that the paper exchange does not serve, and why."""

    method: str
    path: str
    spec: str
    why: str


class Resolved(NamedTuple):
    """The handler for a request, its route and the path segments captured by ``*``/``**``."""

    handler: Handler
    route: Route
    args: tuple[str, ...]


def _d(method: str, path: str, handler: Handler, spec: str, cost: int, **kw: Any) -> Route:
    return Route(method, V3 + path, handler, True, spec, cost=cost, pool=POOL_DERIVATIVES, **kw)


def _pub(method: str, path: str, handler: Handler, spec: str, **kw: Any) -> Route:
    return Route(method, path, handler, False, spec, **kw)


def _h(path: str, handler: Handler, spec: str, cost: int, **kw: Any) -> Route:
    return Route("GET", HIST + path, handler, True, spec, cost=cost, pool=POOL_HISTORY, **kw)


ROUTES: tuple[Route, ...] = (
    # public market data (spec §4.2-§4.5, §6): no cost
    _pub("GET", V3 + "instruments", api_market.instruments, "§4.2"),
    _pub("GET", V3 + "tickers", api_market.tickers, "§4.3"),
    _pub("GET", V3 + "tickers/*", api_market.ticker_one, "§4.3"),
    _pub("GET", V3 + "instruments/status", api_market.instruments_status, "§4.2",
         state="partial", note="no dislocation or extreme-volatility regime is simulated: flags always calm"),
    _pub("GET", V3 + "instruments/*/status", api_market.instrument_status, "§4.2",
         state="partial", note="as instruments/status; fields at the top level [GAP]"),
    _pub("GET", V3 + "orderbook", api_market.orderbook, "§4.4", required=("symbol",)),
    _pub("GET", V3 + "history", api_market.trade_history, "§4.4", required=("symbol",)),
    _pub("GET", V3 + "feeschedules", api_market.feeschedules, "§4.1, §8.6",
         note="deprecated by Kraken (2026-06); one paper schedule at the configured fees"),
    _pub("GET", "/derivatives/api/v4/historicalfundingrates", api_market.funding_rates, "§4.5", required=("symbol",)),
    _pub("GET", V3 + "historical-funding-rates", api_market.funding_rates, "§4.5", required=("symbol",)),
    _pub("GET", HIST + "v3/market/*/executions", api_history.market_executions, "§4.18"),
    _pub("GET", "/api/charts/v1/analytics/*/*", api_market.analytics, "§6", state="partial",
         note="trade-volume, trade-count and funding only; response shape [GAP]"),
    _pub("GET", "/api/charts/v1/**", api_market.charts, "§6"),
    _pub("GET", "/api/charts/v1", api_market.charts, "§6"),
    # private /derivatives (spec §4.6-§4.17, costs §5.1)
    _d("GET", "accounts", api_trading.accounts, "§4.6", 2),
    _d("GET", "openpositions", api_trading.openpositions, "§4.7", 2),
    _d("GET", "openorders", api_trading.openorders, "§4.8", 2),
    _d("GET", "fills", api_trading.fills, "§4.9", 2, note="25 points with lastFillTime"),
    _d("POST", "sendorder", api_trading.sendorder, "§4.10", 10, required=("orderType", "symbol", "side", "size")),
    _d("POST", "editorder", api_trading.editorder, "§4.11", 10, required=("orderId|order_id|cliOrdId",)),
    _d("POST", "cancelorder", api_trading.cancelorder, "§4.12", 10, required=("order_id|cliOrdId",)),
    _d("POST", "cancelallorders", api_trading.cancelall, "§4.13", 25),
    _d("POST", "cancelallordersafter", api_trading.cancelafter, "§4.14", 25, required=("timeout",)),
    _d("POST", "batchorder", api_trading.batchorder, "§4.15", 9, required=("json",), note="9 + instructions"),
    _d("POST", "orders/status", api_trading.orders_status, "§4.16", 1),
    _d("GET", "leveragepreferences", api_trading.leverage_get, "§4.17", 2),
    _d("PUT", "leveragepreferences", api_trading.leverage_put, "§4.17", 10, required=("symbol",)),
    _d("GET", "pnlpreferences", api_trading.pnl_get, "§4.17", 2),
    _d("PUT", "pnlpreferences", api_trading.pnl_put, "§4.17", 10, required=("symbol", "pnlPreference"),
       state="partial", note="recorded and served back; P&L still settles in USD"),
    _d("GET", "feeschedules/volumes", api_trading.feeschedule_volumes, "§4.1", 0,
       note="cost not documented [GAP]: free"),
    _d("GET", "notifications", api_trading.notifications, "§4.1", 0, note="cost not documented [GAP]: free"),
    _d("GET", "unwindqueue", api_trading.unwindqueue, "§4.1, §9", 200, state="partial",
       note="one account: percentile from its own profit x leverage [GAP]"),
    _d("POST", "transfer", api_trading.transfer, "§4.1", 10, required=("fromAccount", "toAccount", "unit", "amount"),
       state="partial", note="between the margin accounts and the cash wallet only; the cash wallet is not persisted"),
    _d("GET", "initialmargin", api_trading.initialmargin, "§0, §4.1", 0, required=("symbol", "side", "size"),
       state="partial", note="removed from Kraken's API; kept for older clients, shape [GAP]"),
    # history API (spec §4.18, pool §5.2)
    _h("v3/account-log", api_history.account_log, "§4.18", 3, note="1-10 tokens by count"),
    _h("v2/account-log", api_history.account_log, "§4.18", 3, note="1-10 tokens by count"),
    _h("v2/accountlogcsv", api_history.account_log_csv, "§4.18", 6, state="partial", note="column set [GAP]"),
    _h("v2/orders", api_history.orders, "§4.18", 1),
    _h("v2/triggers", api_history.triggers, "§4.18", 1),
    _h("v2/executions", api_history.executions, "§4.18", 1),
    _h("v3/orders", api_history.orders, "§4.18", 1),
    _h("v3/triggers", api_history.triggers, "§4.18", 1),
    _h("v3/executions", api_history.executions, "§4.18", 1),
    _h("v3/positions", api_history.positions, "§4.18", 1, state="partial",
       note="fields beyond the spec's list follow the account log [GAP]"),
)

NOT_SERVED: tuple[SpecEndpoint, ...] = (
    SpecEndpoint("POST", V3 + "transfer/subaccount", "§4.1", "the paper exchange has one account and no subaccounts"),
    SpecEndpoint("POST", V3 + "withdrawal", "§4.1", "there is no spot wallet to withdraw to"),
    SpecEndpoint("GET", V3 + "initialmargin/maxordersize", "§0, §4.1", "removed from Kraken's API (2025-07)"),
    SpecEndpoint("PUT", V3 + "subaccount/{uid}/trading-enabled", "§5.1", "no subaccounts"),
    SpecEndpoint("GET", V3 + "self-trade-strategy", "§5.1", "listed only in the rate-limit table; shape undocumented"),
    SpecEndpoint("GET", HIST + "v3/market/{symbol}/orders", "§4.18",
                 "needs every participant's orders; the paper book has no order-level history"),
    SpecEndpoint("GET", HIST + "v3/market/{symbol}/price", "§4.18", "shape undocumented; candles serve prices"),
)


def resolve(method: str, path: str) -> Resolved | None:
    """The route serving ``method path``, or None (the server answers Kraken's Spring-style 404)."""
    segs = path.rstrip("/").split("/") if path != "/" else [""]
    for route in ROUTES:
        if route.method != method:
            continue
        pat = route.pattern.split("/")
        if pat[-1] == "**":
            if segs[: len(pat) - 1] == pat[:-1] and len(segs) <= len(pat) + 2:
                return Resolved(route.handler, route, tuple(segs[len(pat) - 1:]))
            continue
        if len(pat) == len(segs) and all(p in ("*", s) for p, s in zip(pat, segs, strict=True)):
            return Resolved(route.handler, route, tuple(s for p, s in zip(pat, segs, strict=True) if p == "*"))
    return None
