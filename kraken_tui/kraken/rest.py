"""The Kraken Futures async REST v3 client: every endpoint kraken-tui uses, with typed domain results.

Owns: ``KrakenRestClient`` - public market data (spec §4.2 instruments, §4.3 tickers, §4.5 funding
history, §6 charts candles), private reads (§4.6-4.9, §4.16-4.18), and, through its base class
``rest_trading.OrderCalls``, the order calls (§4.10-4.15) with their safety rules:
- every sendorder carries a cliOrdId (uuid4 when the request has none) and the result carries it;
- ORDERS ARE NEVER RE-SENT: a timeout, connection failure, 5xx or unreadable answer on an order call
  returns ``OrderResult(status=OrderStatus.UNKNOWN, error=...)``; ``resolve_unknown`` looks the
  cliOrdId up in orders/status and fills;
- reads retry with backoff (``ClientConfig.read_retries``); a client-side rate limiter waits instead
  of exceeding Kraken's budget (§5) and keeps ``rate_limit_reserve`` points for ``priority`` calls.

Rate-limit priority: ``cancel_order``, ``cancel_all_orders`` and ``cancel_all_orders_after`` always
spend from the reserve when needed; ``send_order(..., priority=True)`` / ``batch_order(...,
priority=True)`` do too but are refused unless every order is reduce-only (flatten), and so may
``open_positions(priority=True)`` / ``open_orders(priority=True)`` (flatten's reads).
Must not import: websockets, aiohttp, textual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kraken_tui.config import ClientConfig, Credentials
from kraken_tui.domain import (
    ZERO,
    Account,
    AccountLogEntry,
    Candle,
    CoinAccount,
    Fill,
    FundingRate,
    Instrument,
    LeveragePreference,
    Order,
    Position,
    Ticker,
)
from kraken_tui.errors import NotFoundError
from kraken_tui.kraken import rest_parse as P
from kraken_tui.kraken import rest_parse_account as PA
from kraken_tui.kraken import rest_parse_orders as PO
from kraken_tui.kraken.auth import NonceSource
from kraken_tui.kraken.ratelimit import DERIVATIVES_COSTS, RateLimiter, account_log_cost
from kraken_tui.kraken.rest_trading import OrderCalls
from kraken_tui.kraken.rest_transport import RestTransport

__all__ = ["CHART_RESOLUTIONS", "KrakenRestClient"]

V3 = "/derivatives/api/v3"
ACCOUNT_LOG_PATH = "/api/history/v3/account-log"
CHART_RESOLUTIONS = ("1m", "5m", "15m", "30m", "1h", "4h", "12h", "1d", "1w")
_RES_S = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "12h": 43200,
    "1d": 86400,
    "1w": 604800,
}
_TICK_TYPES = {"trade": "trade", "mark": "mark", "spot": "spot", "index": "spot"}


class KrakenRestClient(OrderCalls):
    """Async client for Kraken Futures REST (or the paper exchange, which speaks the same protocol).

    Args:
        http: the HTTP backend, owned and closed by the caller: an ``aiohttp.ClientSession`` (the default,
            ``rest_http.new_session()``), an ``httpx.AsyncClient`` (tests' MockTransport) or a
            ``rest_http.HttpSender``. Every request leaves through ``RestTransport.send_http``.
        base_url: ``https://futures.kraken.com`` or the paper exchange's ``http://127.0.0.1:<port>``.
        credentials: API key pair (``SecretStr``; read only when signing) or None for public use.
        config: ``[client]`` settings (timeout, retries, backoff, rate-limit budget and reserve).
        nonce: Nonce source (default: ms clock + counter). rate_limit: a shared RateLimiter
            (default: one built from ``config``). sleep: async sleep for retry backoff (tests).

    Attributes:
        rate_limit: the RateLimiter; ``client.rate_limit.headroom() -> (available, capacity)``.

    Errors raised by every method: ``TransportError`` (reads, after retries), the ``ExchangeError``
    subclasses of ``rest_errors.check_response``, ``ProtocolError`` naming endpoint and field.
    """

    def __init__(
        self,
        http: Any,
        base_url: str,
        credentials: Credentials | None,
        *,
        config: ClientConfig | None = None,
        nonce: NonceSource | None = None,
        rate_limit: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        config = config or ClientConfig()
        self.rate_limit = rate_limit or RateLimiter(
            budget=config.rate_limit_budget,
            window_s=config.rate_limit_window_s,
            reserve=config.rate_limit_reserve,
        )
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._t = RestTransport(
            http, base_url, credentials, config, nonce or NonceSource(), self.rate_limit, **kw
        )
        self._instruments: dict[str, Instrument] = {}

    # ------------------------------------------------------------------------- public market data

    async def instruments(self) -> list[Instrument]:
        """All contracts (spec §4.2); also caches them for order rounding (``instrument(symbol)``)."""
        path = f"{V3}/instruments"
        out = P.parse_instruments(await self._t.call("GET", path), path)
        self._instruments = {i.symbol: i for i in out}
        return out

    def instrument(self, symbol: str) -> Instrument | None:
        """The cached Instrument of ``symbol`` (any case) from the last ``instruments()`` call."""
        return self._instruments.get(symbol.upper())

    async def tickers(self) -> list[Ticker]:
        """Tickers of every listed symbol (spec §4.3); ``funding_rate`` relative per hour (§8.3)."""
        path = f"{V3}/tickers"
        return P.parse_tickers(await self._t.call("GET", path), path)

    async def ticker(self, symbol: str) -> Ticker:
        """One symbol's ticker via ``GET /tickers/{SYMBOL}`` (spec §4.3)."""
        path = f"{V3}/tickers/{symbol.upper()}"
        return P.parse_tickers(await self._t.call("GET", path), path)[0]

    async def funding_rates(self, symbol: str) -> list[FundingRate]:
        """Hourly funding history, ascending (spec §4.5): ``/derivatives/api/v4/historicalfundingrates``,
        falling back to the documented ``/derivatives/api/v3/historical-funding-rates`` on 404."""
        q = [("symbol", symbol.upper())]
        path = "/derivatives/api/v4/historicalfundingrates"
        try:
            body = await self._t.call("GET", path, query=q)
        except NotFoundError:
            path = f"{V3}/historical-funding-rates"
            body = await self._t.call("GET", path, query=q)
        return P.parse_funding_rates(body, path, symbol)

    async def candles(
        self,
        symbol: str,
        resolution: str,
        *,
        tick_type: str = "trade",
        from_s: int | None = None,
        to_s: int | None = None,
        count: int | None = None,
    ) -> tuple[list[Candle], bool]:
        """One charts call (spec §6): ``/api/charts/v1/{trade|mark|spot}/{SYMBOL}/{resolution}``.

        ``from_s``/``to_s`` are epoch SECONDS (``to`` inclusive); ``tick_type`` ``index`` means ``spot``.
        Returns (candles ascending by open time ms, ``more_candles``).

        Raises:
            ValueError: unknown resolution or tick type.
        """
        if resolution not in _RES_S:
            raise ValueError(f"resolution {resolution!r} not in {CHART_RESOLUTIONS}")
        if tick_type not in _TICK_TYPES:
            raise ValueError(f"tick_type {tick_type!r} not in trade, mark, spot, index")
        path = f"/api/charts/v1/{_TICK_TYPES[tick_type]}/{symbol.upper()}/{resolution}"
        q = [(k, str(v)) for k, v in (("from", from_s), ("to", to_s), ("count", count)) if v is not None]
        return P.parse_candles(await self._t.call("GET", path, query=q), path)

    async def candles_range(
        self,
        symbol: str,
        resolution: str,
        from_s: int,
        to_s: int,
        *,
        tick_type: str = "trade",
        max_pages: int = 100,
    ) -> list[Candle]:
        """All candles with open time in [from_s, to_s] seconds, paging while ``more_candles`` is true
        (next ``from`` = last open time + one resolution). Stops after ``max_pages`` calls."""
        out: list[Candle] = []
        start = from_s
        for _ in range(max_pages):
            page, more = await self.candles(symbol, resolution, tick_type=tick_type, from_s=start, to_s=to_s)
            page = [c for c in page if not out or c.ts_ms > out[-1].ts_ms]
            out.extend(page)
            if not more or not page:
                break
            start = out[-1].ts_ms // 1000 + _RES_S[resolution]
            if start > to_s:
                break
        return out

    # ------------------------------------------------------------------------- private reads

    async def accounts(self) -> PA.AccountsSnapshot:
        """All wallets (spec §4.6): flex -> ``Account``, inverse margin accounts, cash balances."""
        path = f"{V3}/accounts"
        body = await self._t.call("GET", path, private=True, cost=DERIVATIVES_COSTS["accounts"])
        return PA.parse_accounts(body, path)

    async def account(self) -> Account:
        """The multi-collateral (flex) account, USD figures (spec §4.6).

        Raises:
            NotFoundError: the answer has no multi-collateral account.
        """
        snap = await self.accounts()
        if snap.flex is None:
            raise NotFoundError("no multi-collateral (flex) account in the answer", endpoint=f"{V3}/accounts")
        return snap.flex

    async def wallets(self) -> tuple[Account, tuple[CoinAccount, ...]]:
        """The multi-collateral (flex) account (USD figures) and the inverse margin accounts (``fi_xbtusd``...,
        coin figures: the coin balance, ``pv``, ``im``, ``mm``, ``af``), from one ``accounts`` read (spec §4.6).

        Raises:
            NotFoundError: the answer has no multi-collateral account.
        """
        snap = await self.accounts()
        if snap.flex is None:
            raise NotFoundError("no multi-collateral (flex) account in the answer", endpoint=f"{V3}/accounts")
        coins = tuple(CoinAccount(currency=a.currency.lower(), balance_coin=a.balances.get(a.currency.upper(), ZERO),
                                  portfolio_value_coin=a.portfolio_value, initial_margin_coin=a.initial_margin,
                                  maintenance_margin_coin=a.maintenance_margin, available_coin=a.available_funds)
                      for a in snap.inverse.values() if a.currency)
        return snap.flex, coins

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        """Open positions (spec §4.7). No liquidation price on REST.

        ``priority=True`` may spend the rate-limit reserve (flatten's sizing and verifying reads)."""
        path = f"{V3}/openpositions"
        cost = DERIVATIVES_COSTS["openpositions"]
        body = await self._t.call("GET", path, private=True, cost=cost, priority=priority)
        return PA.parse_open_positions(body, path)

    async def open_orders(self, *, priority: bool = False) -> list[Order]:
        """Resting orders including untriggered stop/take-profit orders (spec §4.8).

        ``priority=True`` may spend the rate-limit reserve (flatten's verifying read)."""
        path = f"{V3}/openorders"
        cost = DERIVATIVES_COSTS["openorders"]
        body = await self._t.call("GET", path, private=True, cost=cost, priority=priority)
        return PA.parse_open_orders(body, path)

    async def fills(self, last_fill_time_ms: int | None = None) -> list[Fill]:
        """The 100 most recent fills, or the 100 before ``last_fill_time_ms`` (spec §4.9; cost 2 / 25)."""
        path = f"{V3}/fills"
        q: list[tuple[str, str]] = []
        cost = DERIVATIVES_COSTS["fills"]
        if last_fill_time_ms is not None:
            q = [("lastFillTime", _iso(last_fill_time_ms))]
            cost = DERIVATIVES_COSTS["fills_paged"]
        body = await self._t.call("GET", path, query=q, private=True, cost=cost)
        return PA.parse_fills(body, path)

    async def fills_since(self, since_ms: int, *, max_pages: int = 20) -> list[Fill]:
        """Fills with ``ts_ms >= since_ms``, newest first, paging back with ``lastFillTime``."""
        out: list[Fill] = []
        seen: set[str] = set()
        cursor: int | None = None
        for _ in range(max_pages):
            page = await self.fills(cursor)
            new = [f for f in page if f.fill_id not in seen]
            for f in new:
                seen.add(f.fill_id)
                if f.ts_ms >= since_ms:
                    out.append(f)
            if not new or min(f.ts_ms for f in new) < since_ms:
                break
            cursor = min(f.ts_ms for f in new)
        return out

    async def orders_status(
        self, *, order_ids: Sequence[str] = (), cli_ord_ids: Sequence[str] = ()
    ) -> list[PO.OrderStatusInfo]:
        """Status of open orders and of orders closed in the last ~5 s (spec §4.16), by repeated keys."""
        path = f"{V3}/orders/status"
        form = [("orderIds", o) for o in order_ids] + [("cliOrdIds", c) for c in cli_ord_ids]
        body = await self._t.call(
            "POST", path, form=form, private=True, cost=DERIVATIVES_COSTS["orders/status"]
        )
        return PO.parse_orders_status(body, path)

    async def leverage_preferences(self) -> list[LeveragePreference]:
        """Symbols in isolated margin with their max leverage; absent symbols are cross (spec §4.17)."""
        path = f"{V3}/leveragepreferences"
        body = await self._t.call(
            "GET", path, private=True, cost=DERIVATIVES_COSTS["leveragepreferences_get"]
        )
        return PA.parse_leverage_preferences(body, path)

    async def set_leverage_preference(self, symbol: str, max_leverage: Decimal | None) -> None:
        """PUT leveragepreferences (spec §4.17): a max leverage selects isolated margin; None selects cross."""
        form = [("symbol", symbol.upper())]
        if max_leverage is not None:
            form.append(("maxLeverage", format(max_leverage.normalize(), "f")))
        await self._t.call(
            "PUT",
            f"{V3}/leveragepreferences",
            form=form,
            private=True,
            cost=DERIVATIVES_COSTS["leveragepreferences_put"],
        )

    async def account_log(
        self,
        *,
        since_ms: int | None = None,
        before_ms: int | None = None,
        sort: str = "desc",
        count: int | None = None,
        info: Sequence[str] = (),
    ) -> list[AccountLogEntry]:
        """History account log (spec §4.18): funding payments, trade legs, transfers. ``since``/``before``
        are epoch ms; ``info`` filters by category (repeatable). History-pool cost by ``count`` (§5.2).

        Raises:
            ValueError: ``sort`` not asc/desc or ``count`` < 1.
        """
        if sort not in ("asc", "desc") or (count is not None and count < 1):
            raise ValueError("sort must be asc or desc and count >= 1")
        q = [(k, str(v)) for k, v in (("since", since_ms), ("before", before_ms)) if v is not None]
        q.append(("sort", sort))
        if count is not None:
            q.append(("count", str(count)))
        q += [("info", i) for i in info]
        body = await self._t.call(
            "GET", ACCOUNT_LOG_PATH, query=q, private=True, history_cost=account_log_cost(count)
        )
        return P.parse_account_log(body, ACCOUNT_LOG_PATH)


def _iso(ts_ms: int) -> str:
    """Epoch ms -> ``2016-02-26T12:09:38.830Z`` (REST time format, spec §1)."""
    return (
        datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"
    )
