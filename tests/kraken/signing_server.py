"""A loopback aiohttp server that VERIFIES Kraken Futures REST signatures and serves canned answers.

Owns: a test double of Kraken's REST host for the client's end-to-end tests. It listens on
127.0.0.1 with an ephemeral port, records every request (method, path, the RAW query string and the
RAW body bytes, headers), recomputes ``Authent`` over exactly those raw bytes (spec §2.2: query +
body, nonce, path without ``/derivatives``) and answers a bad or missing signature with Kraken's
``authenticationError`` envelope (HTTP 200, spec §3.2 item 4) and a non-increasing nonce with
``nonceDuplicate``. Otherwise it serves the canned answers queued per path (FIFO; the last one
repeats), or a Spring-style 404 body (spec §3.2 item 3) for unknown paths. Also holds ``FakeClock``,
the injected monotonic clock the REST and rate-limit tests share (time moves only when slept).
Must not import: httpx, textual.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from kraken_tui.kraken.auth import sign_rest

__all__ = ["Canned", "FakeClock", "Recorded", "SigningServer"]

PUBLIC_PREFIXES = (
    "/derivatives/api/v3/instruments",
    "/derivatives/api/v3/tickers",
    "/derivatives/api/v4/historicalfundingrates",
    "/derivatives/api/v3/historical-funding-rates",
    "/api/charts/",
)
SERVER_TIME = "2026-01-01T00:00:00.000Z"


class FakeClock:
    """Monotonic seconds that only move when ``sleep`` is awaited; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s
        await asyncio.sleep(0)


@dataclass
class Canned:
    """One answer: ``body`` is JSON-encoded unless it is ``str``/``bytes``; ``delay_s`` sleeps first."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Recorded:
    """One request as received: raw query string and raw body, plus whether its signature verified."""

    method: str
    path: str
    raw_query: str
    raw_body: bytes
    headers: dict[str, str]
    verified: bool | None  # None = public path, no signature needed

    @property
    def params(self) -> list[tuple[str, str]]:
        """Decoded (key, value) pairs of query then body, in order."""
        pairs = parse_qsl(self.raw_query, keep_blank_values=True)
        if self.raw_body:
            pairs += parse_qsl(self.raw_body.decode("ascii"), keep_blank_values=True)
        return pairs


class SigningServer:
    """``async with SigningServer(key, secret) as srv: srv.base_url ...``; queue answers with ``reply``."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self.requests: list[Recorded] = []
        self._canned: dict[str, list[Canned]] = {}
        self._last_nonce = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def reply(self, path: str, *answers: Canned) -> None:
        """Queue answers for ``path`` (served in order; the last one repeats)."""
        self._canned.setdefault(path, []).extend(answers)

    def seen(self, path: str) -> list[Recorded]:
        """Requests received for ``path``."""
        return [r for r in self.requests if r.path == path]

    def _verify(self, request: web.Request, raw_query: str, raw_body: bytes) -> str | None:
        """None when the signature is good, else Kraken's error string."""
        key, authent, nonce = (request.headers.get(h) for h in ("APIKey", "Authent", "Nonce"))
        if key != self.api_key or not authent:
            return "authenticationError"
        expected = sign_rest(
            self._secret, raw_query + raw_body.decode("ascii", "replace"), nonce or "", request.path
        )
        if not hmac.compare_digest(expected, authent):
            return "authenticationError"
        if nonce is not None:
            if not nonce.isdigit() or int(nonce) <= self._last_nonce:
                return "nonceDuplicate"
            self._last_nonce = int(nonce)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.read()
        public = request.path.startswith(PUBLIC_PREFIXES)
        error = None if public else self._verify(request, raw_query, raw_body)
        verified = None if public else error is None
        self.requests.append(
            Recorded(request.method, request.path, raw_query, raw_body, dict(request.headers), verified)
        )
        if error is not None:
            return web.json_response({"result": "error", "serverTime": SERVER_TIME, "error": error})
        queue = self._canned.get(request.path)
        if not queue:
            body = {
                "timestamp": 1627618268981,
                "path": request.path,
                "status": 404,
                "error": "Not Found",
                "message": "",
                "requestId": "7ad2fe97-69108954",
            }
            return web.json_response(body, status=404)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if isinstance(answer.body, bytes | str):
            data = answer.body.encode() if isinstance(answer.body, str) else answer.body
            return web.Response(
                body=data, status=answer.status, headers=answer.headers, content_type="text/plain"
            )
        return web.Response(
            text=json.dumps(answer.body),
            status=answer.status,
            headers=answer.headers,
            content_type="application/json",
        )

    async def __aenter__(self) -> SigningServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
