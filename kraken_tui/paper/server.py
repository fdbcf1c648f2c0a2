"""The paper exchange's HTTP face: Kraken's REST v3 routes, history account-log, charts and the WS endpoint.

Owns: ``PaperServer`` (aiohttp app on loopback with a clean async ``start``/``stop``; optionally pumps a
``MarketSource`` into the exchange), parameter parsing (query string and/or x-www-form-urlencoded body,
spec §2.1), the ``Authent`` check over the raw query + body received (spec §2.2; ``authenticationError``,
``nonceDuplicate``, ``nonceBelowThreshold``: ``paper.nonces``), the per-key rate-limit budgets (spec §5,
``paper.ratelimit``), required-argument checks before auth (spec §3.2 item 5), error envelopes (spec §3.2;
unknown paths get the Spring-style 404, never a traceback) and fault injection (``paper.faults``).
The route table is ``paper.routes``; WebSocket feeds in ``paper.ws_feeds``.
The paper key pair is fixed and NOT a secret: it only opens this local simulator.
Must not import: textual, the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kraken_tui.kraken import jsoncodec
from kraken_tui.kraken.auth import sign_rest
from kraken_tui.paper import routes, wire
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.faults import Faults
from kraken_tui.paper.funding_backfill import backfill
from kraken_tui.paper.nonces import NonceGuard
from kraken_tui.paper.params import BadParam
from kraken_tui.paper.ratelimit import ServerBudget, request_cost
from kraken_tui.paper.routes import POOL_HISTORY
from kraken_tui.paper.sources.base import MarketSource
from kraken_tui.paper.ws_feeds import WsHub

__all__ = ["PAPER_API_KEY", "PAPER_API_SECRET", "PaperServer", "Request"]

log = logging.getLogger(__name__)

#: Fixed paper credentials (public, documented; they only open the local paper exchange).
PAPER_API_KEY = "paper-kraken-tui-public-key"
PAPER_API_SECRET = "a3Jha2VuLXR1aSBwYXBlciBleGNoYW5nZSAtIG5vdCBhIHJlYWwgc2VjcmV0IQ=="
ORDER_PATHS = ("sendorder", "editorder", "cancelorder", "cancelallorders", "batchorder", "cancelallordersafter")


class Request:
    """One parsed REST request: ``params`` (first value per name), ``multi`` (all values), ``path``, ``args``
    (path segments captured by the route, e.g. the symbol of /tickers/{symbol})."""

    def __init__(self, path: str, pairs: list[tuple[str, str]], args: tuple[str, ...] = ()) -> None:
        self.path = path
        self.args = args
        self.multi: dict[str, list[str]] = {}
        for k, v in pairs:
            self.multi.setdefault(k, []).append(v)
        self.params = {k: v[0] for k, v in self.multi.items()}


Handler = Callable[[PaperExchange, Request], Any]


class PaperServer:
    """Serve a ``PaperExchange`` over Kraken's protocol on ``host:port`` (port 0 = ephemeral).

    Args:
        exchange: the exchange to serve.
        host, port: listen address; loopback by default.
        api_key, api_secret: the key pair requests must be signed with (default: the fixed paper pair).
        faults: fault injection (default none).
        source: a market source to pump into the exchange while serving (optional).
        wall_clock: also advance the exchange clock from the wall clock every 0.25 s (live/synthetic sources,
            so the dead man's switch fires even when the market is quiet). Leave False for replays.
        ticker_interval_s: WS ticker throttle per product (Kraken: 1 s, spec §7.3).
        heartbeat_interval_s: WS heartbeat feed interval.
        rate_limits: enforce Kraken's budgets per API key (spec §5; ``paper.ratelimit``): over budget, a
            /derivatives call gets HTTP 429 ``apiLimitExceeded`` with a ``Retry-After`` header (seconds), a
            history call HTTP 429 text/plain with ``rate-limit-reset``. None (default) = on, except while
            the server pumps a ``replay`` source: a replay runs on data time, faster than the wall-clock
            buckets, and the project's client runs without a budget then too (``runtime``). False: off
            (benchmarks).
    """

    def __init__(self, exchange: PaperExchange, *, host: str = "127.0.0.1", port: int = 0,
                 api_key: str = PAPER_API_KEY, api_secret: str = PAPER_API_SECRET, faults: Faults | None = None,
                 source: MarketSource | None = None, wall_clock: bool = False, ticker_interval_s: float = 1.0,
                 heartbeat_interval_s: float = 5.0, rate_limits: bool | None = None) -> None:
        self.exchange = exchange
        self.host, self.port = host, port
        self.api_key, self._api_secret = api_key, api_secret
        self.faults = faults or Faults()
        self.source = source
        self.wall_clock = wall_clock
        self.hub = WsHub(exchange, api_key, api_secret, self.faults, ticker_interval_s, heartbeat_interval_s)
        self._nonces = NonceGuard()
        if rate_limits is None:
            rate_limits = source is None or getattr(source, "name", "") != "replay"
        self.budget = ServerBudget() if rate_limits else None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.source_error: BaseException | None = None
        self.source_done: asyncio.Event | None = None  # created in start() (needs a running loop)

    def __repr__(self) -> str:
        return f"PaperServer(rest_url={self.rest_url!r})"

    @property
    def api_secret(self) -> str:
        """The paper secret (a fixed public test value unless one was configured)."""
        return self._api_secret

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:N`` (REST paths below it are Kraken's)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:N/ws/v1``."""
        return f"ws://{self.host}:{self.port}/ws/v1"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind and serve; after it returns ``port`` is the real port. Loads the source's backfilled candle
        history when it has one (``history()``), then starts the source pump if any."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/ws/v1", self.hub.handle)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self.source_done = asyncio.Event()
        history = getattr(self.source, "history", None)
        if callable(history):  # a backfilled history (synthetic): the charts API serves it from the start
            # in a worker thread (about a second for 48 h of five symbols): the event loop keeps drawing
            await asyncio.to_thread(lambda: self.exchange.backfill_candles(history()))
        if self.source is not None:
            self._tasks.append(asyncio.create_task(self._pump(self.source), name="paper-source"))
        else:
            self.source_done.set()
        if self.wall_clock:
            self._tasks.append(asyncio.create_task(self._wall_clock(), name="paper-clock"))

    async def stop(self) -> None:
        """Stop the pump, close WebSockets and the listener. Safe to call twice."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.source is not None:
            with contextlib.suppress(Exception):
                await self.source.close()
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PaperServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _pump(self, source: MarketSource) -> None:
        first = True
        try:
            async for event in source.events():
                if first and source.name == "synthetic":  # seeded past funding for historicalfundingrates
                    first = False
                    for market in self.exchange.markets.values():
                        backfill(market, event.ts_ms, int(getattr(source, "seed", 0)))
                self.exchange.apply_event(event)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken source stops the pump, not the server
            self.source_error = exc
            log.exception("paper market source %s failed", getattr(source, "name", source))
        finally:
            if self.source_done is not None:
                self.source_done.set()

    async def _wall_clock(self) -> None:
        while True:
            self.exchange.advance_clock(int(time.time() * 1000))
            await asyncio.sleep(0.25)

    # ------------------------------------------------------------------ HTTP
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:  # never a traceback to the client
            log.exception("paper exchange error on %s %s", request.method, request.path)
            return web.json_response(wire.error(self.exchange.now_ms, "Server Error"), status=500)

    def _check_auth(self, request: web.Request, raw_query: str, raw_body: str) -> str | None:
        key = request.headers.get("APIKey", "")
        authent = request.headers.get("Authent", "")
        nonce = request.headers.get("Nonce", "")
        if not key or not authent or not hmac.compare_digest(key, self.api_key):
            return "authenticationError"
        expected = sign_rest(self._api_secret, raw_query + raw_body, nonce, request.path)
        if not hmac.compare_digest(expected, authent):
            return "authenticationError"
        return self._nonces.check(key, nonce)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        now = self.exchange.now_ms
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.roll(self.faults.http_429_rate):
            return web.json_response(wire.error(now, "apiLimitExceeded"), status=429)
        if self.faults.roll(self.faults.http_5xx_rate):
            return web.json_response(wire.error(now, "Unavailable"), status=503)
        found = routes.resolve(request.method, request.path)
        if found is None:
            body = {"timestamp": int(time.time() * 1000), "path": request.path, "status": 404, "error": "Not Found",
                    "message": "", "requestId": "paper"}
            return web.json_response(body, status=404)
        handler, route, args = found
        private, required = route.private, route.required
        raw_query = request.rel_url.raw_query_string
        try:
            raw_body = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response(wire.error(now, "invalidArgument"))
        req = Request(request.path, parse_qsl(raw_query, keep_blank_values=True)
                      + (parse_qsl(raw_body, keep_blank_values=True) if raw_body else []), args)
        if any(not any(req.params.get(k) for k in alts.split("|")) for alts in required):
            return web.json_response(wire.error(now, "requiredArgumentMissing"))
        if private:
            err = self._check_auth(request, raw_query, raw_body)
            if err is not None:
                return web.json_response(wire.error(now, err))
            if self.budget is not None and route.pool is not None:
                wait = self.budget.charge(request.headers["APIKey"], route.pool, request_cost(route, req))
                if wait is not None:
                    if route.pool == POOL_HISTORY:
                        return web.Response(text="Rate limit exceeded", status=429, content_type="text/plain",
                                            headers={"rate-limit-reset": str(wait)})
                    return web.json_response(wire.error(now, "apiLimitExceeded"), status=429,
                                             headers={"Retry-After": str(wait)})
        try:
            result = handler(self.exchange, req)
        except BadParam as exc:
            if request.path.startswith("/derivatives/"):
                return web.json_response(wire.error(now, "invalidArgument"))
            return web.Response(text=f"Invalid {exc.name}", status=400)
        status = 200
        if isinstance(result, tuple):
            result, status = result
        if private and request.path.rsplit("/", 1)[-1] in ORDER_PATHS and self.faults.roll(
                self.faults.lost_response_rate):
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=504)
        if isinstance(result, str):
            return web.Response(text=result, status=status)
        return web.Response(body=jsoncodec.dumps_bytes(result), status=status, content_type="application/json",
                            charset="utf-8")
